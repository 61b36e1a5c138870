"""The import-direction rule of docs/architecture.md, read from the source with ``ast``.

Layers, bottom up (a module imports only from its own layer or below):

0. the floor: ``registry``, ``config``, ``structures``, ``utils``, ``imaging``, ``foundations``
   (and the package's own ``__init__``);
1. ``models``, ``data``, ``evaluation``, ``visualization``;
2. ``engine``;
3. ``tasks`` (every ``tasks/<task>/`` folder, ``tasks/__init__.py`` and ``tasks/adapter.py``);
4. ``export``, ``deploy``, ``inference``, ``cli``, ``demo``, ``__main__``, ``testing``, ``interop``.

Besides the layer order: ``utils`` and ``foundations`` import nothing of the rest of the package; no
task folder (a package under ``tasks/``) imports another task folder; the shared part of ``tasks``
(the modules directly in ``tasks/``: ``__init__.py``, ``adapter.py``) imports none; and the top-layer
modules that loop over the task adapters (``cli``, ``inference``, ``demo``, ``export``, ``deploy``)
import none either: they reach a task only through ``visionstack.tasks`` and the ``TASKS`` registry.
Each violation is printed as ``path:line: importer -> target: why``.

Every ``import`` statement counts, wherever it is (module level, inside a function, under
``if TYPE_CHECKING``); relative imports are resolved against the importing module. Imports by
string (``importlib.import_module``) are the registries' plugin mechanism and are not read.
"""

from __future__ import annotations

import ast
import functools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "visionstack"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE

LAYERS: dict[str, int] = {
    "registry": 0,
    "config": 0,
    "structures": 0,
    "utils": 0,
    "imaging": 0,
    "foundations": 0,
    "models": 1,
    "data": 1,
    "evaluation": 1,
    "visualization": 1,
    "engine": 2,
    "tasks": 3,
    "export": 4,
    "deploy": 4,
    "inference": 4,
    "cli": 4,
    "demo": 4,
    "__main__": 4,
    "testing": 4,
    "interop": 4,
}
LAYER_NAMES = ("floor", "models/data/evaluation/visualization", "engine", "tasks", "top")
# Top-layer parts that must stay task-agnostic: they know tasks only through the adapters.
TASK_AGNOSTIC = frozenset({"cli", "inference", "demo", "export", "deploy", "interop"})
# Floor parts that import nothing of the rest of the package (only from themselves).
SELF_CONTAINED = frozenset({"utils", "foundations"})


@dataclass(frozen=True)
class Edge:
    """One import statement: ``importer`` (a dotted module name) imports ``target`` at ``path:line``."""

    importer: str
    target: str
    path: Path
    line: int


@dataclass(frozen=True)
class Place:
    """Where a module of the package sits: its top-level part, layer and task folder (if any)."""

    part: str
    layer: int
    task: str | None


def module_name(path: Path, root: Path) -> str:
    """The dotted name of the module in ``path`` (``pkg/a/__init__.py`` -> ``pkg.a``)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package_module(name: str, root: Path) -> bool:
    """True when the dotted ``name`` is a module or a package inside ``root``."""
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    base = root / relative
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


@dataclass(frozen=True)
class ImportStatement:
    """One ``import`` (``level`` None) or ``from ... import`` statement as written."""

    level: int | None
    module: str
    names: tuple[str, ...]
    line: int


@functools.cache
def import_statements(source: str) -> tuple[ImportStatement, ...]:
    """Every import statement of a module's source, wherever it is (cached: probes re-read the tree)."""
    statements = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            statements.append(ImportStatement(None, "", tuple(a.name for a in node.names), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            statements.append(ImportStatement(node.level, node.module or "", names, node.lineno))
    return tuple(statements)


def _resolve_base(statement: ImportStatement, importer: str, is_init: bool) -> str:
    """The absolute module name a ``from ... import`` statement reads from."""
    if not statement.level:
        return statement.module
    package = importer.split(".") if is_init else importer.split(".")[:-1]
    if statement.level - 1 > len(package):
        raise ValueError(f"{importer}: relative import beyond the top-level package")
    anchor = package[: len(package) - (statement.level - 1)]
    return ".".join(anchor + ([statement.module] if statement.module else []))


def read_edges(root: Path) -> list[Edge]:
    """Every import of a module inside ``root`` (the package directory) by a module inside it."""
    edges = []
    for path in sorted(root.rglob("*.py")):
        importer = module_name(path, root)
        for statement in import_statements(path.read_text(encoding="utf-8")):
            if statement.level is None:
                targets = list(statement.names)
            else:
                base = _resolve_base(statement, importer, path.name == "__init__.py")
                # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one.
                targets = [
                    f"{base}.{name}" if name != "*" and is_package_module(f"{base}.{name}", root) else base
                    for name in statement.names
                ]
            for target in targets:
                if target == root.name or target.startswith(root.name + "."):
                    edges.append(Edge(importer, target, path, statement.line))
    return edges


def place_of(name: str, root: Path = PACKAGE_DIR) -> Place:
    """The layer of the dotted module ``name`` inside ``root`` (the package itself is on the floor)."""
    parts = name.split(".")[1:]
    if not parts:
        return Place("__init__", 0, None)
    part = parts[0]
    if part not in LAYERS:
        raise KeyError(f"{name}: part {part!r} has no layer; add it to LAYERS in tests/test_layers.py")
    # a task folder is a package directly under tasks/; modules there (adapter.py) are the shared part
    is_task = part == "tasks" and len(parts) > 1 and (root / "tasks" / parts[1]).is_dir()
    return Place(part, LAYERS[part], parts[1] if is_task else None)


def violation(edge: Edge, root: Path = PACKAGE_DIR) -> str | None:
    """Why ``edge`` (an import inside the package at ``root``) breaks the layer rule, or None."""
    source, target = place_of(edge.importer, root), place_of(edge.target, root)
    if source.part in SELF_CONTAINED and target.part != source.part:
        return f"{source.part} imports nothing of the rest of the package, but imports {target.part}"
    if target.layer > source.layer:
        return (
            f"{source.part} ({LAYER_NAMES[source.layer]}, layer {source.layer}) imports "
            f"{target.part} ({LAYER_NAMES[target.layer]}, layer {target.layer})"
        )
    if target.task is not None and target.task != source.task:
        if source.task is not None:
            return f"task folder {source.task!r} imports task folder {target.task!r}"
        if source.part == "tasks":
            return f"the shared tasks module imports task folder {target.task!r}"
        if source.part in TASK_AGNOSTIC:
            return f"{source.part} imports task folder {target.task!r} (use the task adapters / TASKS)"
    return None


def find_violations(root: Path) -> list[str]:
    """One line per violating import: ``path:line: importer -> target: why``."""
    lines = []
    for edge in read_edges(root):
        why = violation(edge, root)
        if why is not None:
            where = edge.path.relative_to(root.parent).as_posix()
            lines.append(f"{where}:{edge.line}: {edge.importer} -> {edge.target}: {why}")
    return lines


def test_every_module_has_a_layer() -> None:
    layers = {place_of(module_name(path, PACKAGE_DIR)).layer for path in PACKAGE_DIR.rglob("*.py")}
    assert layers <= set(LAYERS.values()) | {
        0
    }  # place_of raises, naming the part, for a part without a layer


def test_imports_point_down_the_layers() -> None:
    found = find_violations(PACKAGE_DIR)
    for line in found:
        print(line)
    assert not found, f"{len(found)} import(s) against the layer rule:\n" + "\n".join(found)


def test_relative_imports_are_resolved() -> None:
    edges = {(edge.importer, edge.target) for edge in read_edges(PACKAGE_DIR)}
    # ``from ..registry import DATA_SAMPLERS`` in data/samplers.py; ``from . import dist`` in engine/runner.py
    assert ("visionstack.data.samplers", "visionstack.registry") in edges
    assert ("visionstack.engine.runner", "visionstack.engine.dist") in edges


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A copy of the package's sources (probes go there, never into the real tree) and its violations."""
    root = tmp_path_factory.mktemp("layers") / PACKAGE
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root, set(find_violations(root))


# probe file (inside the package), its source, the line of its import, what the report line must say
PROBES = [
    (
        "models/_layer_probe.py",
        "from ..engine import runner\n",
        1,
        "models (models/data/evaluation/visualization, layer 1) imports engine (engine, layer 2)",
    ),
    (
        "utils/_layer_probe.py",
        "from __future__ import annotations\n\n\ndef late():\n    import visionstack.data\n",
        5,
        "utils imports nothing of the rest of the package, but imports data",
    ),
    (
        "evaluation/_layer_probe.py",
        "from visionstack.tasks.classification import metrics\n",
        1,
        "evaluation (models/data/evaluation/visualization, layer 1) imports tasks (tasks, layer 3)",
    ),
    (
        "tasks/detection/_layer_probe.py",
        "from ..segmentation import models\n",
        1,
        "task folder 'detection' imports task folder 'segmentation'",
    ),
    (
        "tasks/_layer_probe.py",
        "from .classification.adapter import ClassificationAdapter\n",
        1,
        "the shared tasks module imports task folder 'classification'",
    ),
    (
        "export/_layer_probe.py",
        "from ..tasks.detection import records\n",
        1,
        "export imports task folder 'detection' (use the task adapters / TASKS)",
    ),
    (
        "foundations/_layer_probe.py",
        "from ..registry import MODELS\n",
        1,
        "foundations imports nothing of the rest of the package, but imports registry",
    ),
]


@pytest.mark.parametrize(("probe", "source", "line", "why"), PROBES, ids=[probe[0] for probe in PROBES])
def test_the_check_fails_on_an_added_violating_import(
    package_copy: tuple[Path, set[str]], probe: str, source: str, line: int, why: str
) -> None:
    """Adding one module with one violating import adds exactly one report line, naming file and line."""
    root, before = package_copy
    path = root / probe
    path.write_text(source)
    try:
        added = [found for found in find_violations(root) if found not in before]
    finally:
        path.unlink()
    assert len(added) == 1, added
    assert added[0].startswith(f"{PACKAGE}/{probe}:{line}: "), added[0]
    assert added[0].endswith(why), added[0]


def test_allowed_imports_are_not_reported(package_copy: tuple[Path, set[str]]) -> None:
    root, before = package_copy
    path = root / "tasks" / "detection" / "_layer_probe.py"
    path.write_text(
        "from visionstack.engine import Runner\nfrom ...models import ops\n"
        "from ..adapter import TaskAdapter\n"
        "from . import records\nfrom ...utils import dist\n"
    )
    try:
        assert set(find_violations(root)) == before
    finally:
        path.unlink()


def test_a_new_top_level_part_needs_a_layer(package_copy: tuple[Path, set[str]]) -> None:
    root, _ = package_copy
    path = root / "newpart.py"
    path.write_text("from . import registry\n")
    try:
        with pytest.raises(KeyError, match="'newpart' has no layer"):
            find_violations(root)
    finally:
        path.unlink()
