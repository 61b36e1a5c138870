"""Issue 16's action-recognition floors on the synthetic set, measured in one run.

    python benchmarks/action_floors.py [--data data/synth_action] [--out work_dirs/action_floors]
                                       [--models tsm r2plus1d tsn stgcn] [--skip-train]

Writes the synthetic set first when ``--data`` has none. Trains each model with its shipped CPU config through
``visionstack train`` (one at a time: the wall time is the training's alone), tests it, and runs ``visionstack
analyze temporal`` on the video models. Prints per model the training wall time, top-1/top-5/mean class
accuracy, the accuracy on the direction pairs (move left/right, rotate clockwise/anticlockwise) on normal and
reversed clips, and the floors (pass/fail): TSM and R(2+1)D top-1 >= 0.95, TSN <= 0.60 on the direction pairs,
ST-GCN >= 0.90, each training <= 15 minutes; writes everything as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

from floors import parse_args, report, training_time_checks, visionstack

CONFIGS = {
    "tsm": "configs/action/tsm_r18-w16_1x1x8_synth-action.py",
    "r2plus1d": "configs/action/r2plus1d_r18-w16_8x4x1_synth-action.py",
    "tsn": "configs/action/tsn_r18-w16_1x1x8_synth-action.py",
    "stgcn": "configs/action/stgcn_w32_synth-skeleton.py",
}
VIDEO_MODELS = ("tsm", "r2plus1d", "tsn")
DIRECTION_CLASSES = ("move_left", "move_right", "rotate_clockwise", "rotate_anticlockwise")
TRAIN_LIMIT_S = 15 * 60


def direction_accuracy(report: dict, mode: str) -> float:
    """Top-1 on the videos of the direction pairs' classes, from ``analyze temporal``'s report."""
    rows = [row for row in report["classes"] if row["class"] in DIRECTION_CLASSES]
    videos = sum(row["videos"] for row in rows)
    return sum(row[mode] * row["videos"] for row in rows) / max(videos, 1)


def measure(name: str, data: Path, out: Path, skip_train: bool) -> dict:
    config = CONFIGS[name]
    work = out / name
    overrides = ["--set", f"data_root={data}/"]
    entry: dict = {"config": config}
    if not skip_train:
        entry["train_s"] = visionstack("train", config, "--work-dir", str(work), *overrides)
    checkpoint = work / "latest.pth"
    metrics_file = work / "test_metrics.json"
    visionstack(
        "test", config, str(checkpoint), "--work-dir", str(work), "--out", str(metrics_file), *overrides
    )
    entry["metrics"] = json.loads(metrics_file.read_text())
    if name in VIDEO_MODELS:
        analysis_dir = work / "temporal"
        visionstack(
            "analyze", "temporal", config, str(checkpoint), "--out-dir", str(analysis_dir), *overrides
        )
        report = json.loads((analysis_dir / "temporal.json").read_text())
        entry["temporal"] = report["summary"]
        entry["directions"] = {
            mode: direction_accuracy(report, mode) for mode in ("none", "reverse", "shuffle")
        }
    return entry


def floors(results: dict) -> list[tuple[str, bool]]:
    checks = []
    for name, floor in (("tsm", 0.95), ("r2plus1d", 0.95), ("stgcn", 0.90)):
        if name in results:
            top1 = results[name]["metrics"]["acc/top1"]
            checks.append((f"{name} top-1 {top1:.3f} >= {floor}", top1 >= floor))
    if "tsn" in results:
        value = results["tsn"]["directions"]["none"]
        checks.append((f"tsn on the direction pairs {value:.3f} <= 0.60", value <= 0.60))
    if "tsm" in results:
        value = results["tsm"]["directions"]["reverse"]
        checks.append(
            (f"tsm on reversed direction-pair clips {value:.3f} <= 0.5 (chance or below)", value <= 0.5)
        )
    checks += training_time_checks(results, TRAIN_LIMIT_S)
    return checks


def main() -> int:
    args = parse_args(
        __doc__,
        "data/synth_action",
        "work_dirs/action_floors",
        list(CONFIGS),
        "test and analyse the existing checkpoints",
    )
    data, out = Path(args.data).resolve(), Path(args.out).resolve()
    if not (data / "train_list_videos.txt").is_file():
        visionstack("data", "synth", "action", "--out", str(data))
    results = {name: measure(name, data, out, args.skip_train) for name in args.models}
    print(f"\n{'model':>9} {'train min':>9} {'top1':>6} {'top5':>6} {'mean1':>6} {'dir.':>6} {'dir.rev':>7}")
    for name, entry in results.items():
        metrics, directions = entry["metrics"], entry.get("directions", {})
        minutes = f"{entry['train_s'] / 60:.1f}" if "train_s" in entry else "-"
        cells = [f"{metrics.get(key, float('nan')):.3f}" for key in ("acc/top1", "acc/top5", "acc/mean1")]
        dirs = [f"{directions[m]:.3f}" if m in directions else "-" for m in ("none", "reverse")]
        print(f"{name:>9} {minutes:>9} {cells[0]:>6} {cells[1]:>6} {cells[2]:>6} {dirs[0]:>6} {dirs[1]:>7}")
    return report(results, floors(results), out)


if __name__ == "__main__":
    raise SystemExit(main())
