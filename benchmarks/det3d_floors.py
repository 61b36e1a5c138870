"""Issue 19's 3D detection floors on the synthetic LiDAR scenes (KITTI layout), measured in one run.

    python benchmarks/det3d_floors.py [--data data/synth_det3d] [--out work_dirs/det3d_floors]
                                      [--models pointpillars centerpoint] [--skip-train]

Writes the synthetic scenes first when ``--data`` has none (800 training and 200 validation frames, the
ground-truth database). Trains each model with its shipped CPU config through ``visionstack train`` (one at a
time: the wall time is the training's alone), tests it, and checks the floors: car BEV AP40 at IoU 0.7 on the
moderate difficulty >= 0.70 (PointPillars) and >= 0.65 (CenterPoint), each trained within 20 minutes. Prints the
3D AP, the LiDAR-only (distance and point count) difficulties and the centre-distance errors beside, and writes
everything as JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from floors import parse_args, report, training_time_checks, visionstack

CONFIGS = {
    "pointpillars": "configs/det3d/pointpillars_hv_secfpn_c32_synth-kitti-3class.py",
    "centerpoint": "configs/det3d/centerpoint_pillar02_secfpn_c32_synth-kitti-3class.py",
}
FLOORS = {"pointpillars": 0.70, "centerpoint": 0.65}
TRAIN_LIMIT_S = 20 * 60
KEY = "kitti/Car/BEV_AP40_moderate"
SHOWN = (
    "kitti/Car/BEV_AP40_easy",
    "kitti/Car/BEV_AP40_moderate",
    "kitti/Car/BEV_AP40_hard",
    "kitti/Car/3D_AP40_moderate",
    "kitti/Car/BEV_AP11_moderate",
    "kitti/Pedestrian/BEV_AP40_moderate",
    "kitti/Cyclist/BEV_AP40_moderate",
    "center/mAP",
    "center/Car/AP",
    "center/Car/ATE",
    "center/Car/ASE",
    "center/Car/AOE",
)


def measure(name: str, data: Path, out: Path, skip_train: bool) -> dict:
    config, work = CONFIGS[name], out / name
    overrides = ["--set", f"data_root={data}/"]
    entry: dict = {"config": config}
    if not skip_train:
        entry["train_s"] = visionstack("train", config, "--work-dir", str(work), *overrides)
        entry["train_iterations"] = _iterations(work)
    metrics_file, results = work / "test_metrics.json", work / "results"
    started = time.perf_counter()
    visionstack("test", config, str(work / "latest.pth"), "--work-dir", str(work), "--out", str(metrics_file),
                "--out-format", str(results), *overrides)  # fmt: skip
    entry["test_s"] = time.perf_counter() - started
    entry["metrics"] = json.loads(metrics_file.read_text())
    lidar_file = work / "lidar_mode_metrics.json"
    visionstack("eval", "det3d", "--gt", str(data / "ImageSets" / "val.txt"), "--pred", str(results),
                "--difficulty-mode", "lidar", "--config", config, "--out", str(lidar_file), *overrides)  # fmt: skip
    entry["lidar_mode"] = json.loads(lidar_file.read_text())
    return entry


def _iterations(work: Path) -> int:
    lines = (work / "scalars.jsonl").read_text().splitlines() if (work / "scalars.jsonl").exists() else []
    steps = [json.loads(line).get("step", 0) for line in lines if '"loss"' in line]
    return max(steps, default=0)


def main() -> int:
    args = parse_args(__doc__, "data/synth_det3d", "work_dirs/det3d_floors", list(CONFIGS),
                      "test the checkpoints already in --out")  # fmt: skip
    data, out = Path(args.data), Path(args.out)
    if not (data / "meta.json").exists():
        visionstack("data", "synth", "det3d", "--out", str(data))
    results = {name: measure(name, data, out, args.skip_train) for name in args.models}
    checks = training_time_checks(results, TRAIN_LIMIT_S)
    for name, entry in results.items():
        metrics = entry["metrics"]
        print(f"{name}: " + ", ".join(f"{key} {metrics[key]:.3f}" for key in SHOWN if key in metrics))
        lidar = entry["lidar_mode"]
        print(f"{name} (LiDAR-only difficulties): " + ", ".join(
            f"{key} {lidar[key]:.3f}" for key in ("kitti/Car/BEV_AP40_easy", KEY, "kitti/Car/BEV_AP40_hard") if key in lidar))  # fmt: skip
        value = metrics[KEY]
        checks.append((f"{name} car BEV AP40 (IoU 0.7, moderate) {value:.3f} (floor {FLOORS[name]:.2f}); "
                       f"3D AP40 {metrics['kitti/Car/3D_AP40_moderate']:.3f}", value >= FLOORS[name]))  # fmt: skip
    return report(results, checks, out)


if __name__ == "__main__":
    raise SystemExit(main())
