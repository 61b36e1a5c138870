"""What the issues' floor benchmarks share (``action_floors.py``, ``ocr_floors.py``): running the command line
and reporting the floors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def visionstack(*args: str) -> float:
    """Run ``python -m visionstack ARGS``; the wall time in seconds (an error stops the benchmark)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "visionstack", *args], cwd=REPO, check=True)
    return time.perf_counter() - started


def report(results: dict, checks: list[tuple[str, bool]], out: Path) -> int:
    """Print the checks (PASS/FAIL), write ``out/floors.json``; 0 when every check passed, else 1."""
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "floors.json").write_text(json.dumps({"results": results, "floors": checks}, indent=2))
    return 0 if all(ok for _, ok in checks) else 1
