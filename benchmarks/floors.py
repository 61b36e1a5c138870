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


def parse_args(doc: str, data: str, out: str, models: list[str], skip_help: str):
    """The floor benchmarks' command line: ``--data``, ``--out``, ``--models``, ``--skip-train``."""
    import argparse

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=data)
    parser.add_argument("--out", default=out)
    parser.add_argument("--models", nargs="+", default=list(models), choices=list(models))
    parser.add_argument("--skip-train", action="store_true", help=skip_help)
    return parser.parse_args()


def training_time_checks(results: dict, limit_s: float) -> list[tuple[str, bool]]:
    """One check per trained model: its training took at most ``limit_s`` seconds."""
    return [
        (
            f"{name} trains in {entry['train_s'] / 60:.1f} min <= {limit_s / 60:.0f}",
            entry["train_s"] <= limit_s,
        )
        for name, entry in results.items()
        if "train_s" in entry
    ]
