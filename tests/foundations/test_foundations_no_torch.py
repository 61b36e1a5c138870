"""visionstack.foundations is NumPy only: no module imports torch, directly or indirectly."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import visionstack.foundations

FOUNDATIONS_DIR = Path(visionstack.foundations.__file__).resolve().parent
PACKAGE_DIR = FOUNDATIONS_DIR.parent
TORCH_IMPORT = re.compile(r"^\s*(import\s+torch\b|from\s+torch\b)", re.MULTILINE)

# Imports every foundations module under a stub ``visionstack`` parent (so the real,
# torch-importing visionstack/__init__.py never runs), trains the XOR demo, and reports
# whether torch got imported along the way.
ISOLATED_IMPORT_SCRIPT = textwrap.dedent(
    """
    import importlib, sys, tempfile, types
    from pathlib import Path

    package_dir = Path(sys.argv[1])
    parent = types.ModuleType("visionstack")
    parent.__path__ = [str(package_dir)]
    sys.modules["visionstack"] = parent
    importlib.import_module("visionstack.foundations")
    for module_file in sorted((package_dir / "foundations").glob("*.py")):
        importlib.import_module(f"visionstack.foundations.{module_file.stem}".removesuffix(".__init__"))
    from visionstack.foundations.demos import run_demo
    with tempfile.TemporaryDirectory() as out_dir:
        assert run_demo("xor", Path(out_dir))["accuracy"] == 1.0
    loaded = sorted(name for name in sys.modules if name == "torch" or name.startswith("torch."))
    print("TORCH_MODULES", loaded)
    sys.exit(1 if loaded else 0)
    """
)


def test_no_source_file_imports_torch() -> None:
    sources = sorted(FOUNDATIONS_DIR.glob("*.py"))
    assert len(sources) >= 10
    offenders = [path.name for path in sources if TORCH_IMPORT.search(path.read_text())]
    assert offenders == []


def test_importing_every_module_and_running_a_demo_never_loads_torch() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", ISOLATED_IMPORT_SCRIPT, str(PACKAGE_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "TORCH_MODULES []" in completed.stdout
