"""``visionstack demo``: the embedded default job that ``make demo`` runs.

It trains the ResNet-18 Digits config (scikit-learn's bundled digits, written once as PNG files
so the real loading path runs), reports validation top-1, then runs inference on a few
validation images through the same command-line path a user would take. Then it writes the
synthetic shapes dataset (once), trains the FCOS config on it for a short schedule, reports COCO box
AP and draws the detector's predictions on a few validation images.
"""

from __future__ import annotations

import time
from pathlib import Path

from .config import Config

DEMO_CONFIG = "configs/classification/resnet18_digits.py"
TOP1_FLOOR = 97.0
DET_CONFIG = "configs/detection/fcos_r18_fpn_synth.py"
DET_EPOCHS = 2  # the config's full schedule is 9 epochs (~15 min); the demo trains 2 (~3 min)
DET_AP_FLOOR = 0.10


def find_config(relative: str) -> Path:
    """A config shipped in the repository's ``configs/`` (next to the package or the cwd)."""
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (root / relative).is_file():
            return root / relative
    raise FileNotFoundError(f"{relative} not found next to the package or in the current folder")


def run_demo(work_root: Path) -> int:
    """Train, evaluate and infer; returns 0 when validation top-1 reaches the floor."""
    from .cli import main as cli_main
    from .engine import Runner

    config_path = find_config(DEMO_CONFIG)
    cfg = Config.fromfile(config_path)
    cfg["work_dir"] = str(work_root / "resnet18_digits")
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val()
    seconds = time.perf_counter() - start
    top1 = float(metrics["accuracy/top1"])
    print(f"\n[demo] ResNet-18 on Digits: val top-1 = {top1:.2f}% after {seconds:.0f} s of training")

    checkpoint = Path(cfg["work_dir"]) / "latest.pth"
    val_root = Path(cfg["val_dataloader"]["dataset"]["data_root"]) / "val"
    images = [sorted((val_root / str(digit)).glob("*.png"))[0] for digit in range(0, 10, 2)]
    infer_dir = work_root / "infer"
    print("[demo] visionstack infer on a few validation images (the folder name is the true digit):")
    cli_main(["infer", str(config_path), str(checkpoint), *map(str, images), "--out-dir", str(infer_dir), "--topk", "3"])
    ok = top1 >= TOP1_FLOOR
    print(f"[demo] {'PASS' if ok else 'FAIL'}: top-1 {top1:.2f}% (floor {TOP1_FLOOR}%)")
    det_ok = run_detection_demo(work_root)
    return 0 if ok and det_ok else 1


def run_detection_demo(work_root: Path, epochs: int = DET_EPOCHS) -> bool:
    """Train FCOS briefly on the synthetic shapes, evaluate, and draw predictions; True if AP >= the floor."""
    from .cli import main as cli_main
    from .engine import Runner
    from .tasks.detection.synthetic import synth_detection

    config_path = find_config(DET_CONFIG)
    cfg = Config.fromfile(config_path)
    data_root = Path(cfg["data_root"])
    if not (data_root / "annotations" / "instances_train.json").is_file():
        print(f"[demo] writing the synthetic shapes dataset to {data_root}")
        synth_detection(data_root)
    cfg["work_dir"] = str(work_root / "fcos_synth")
    cfg["train_cfg"]["max_epochs"] = epochs
    cfg["train_cfg"]["val_interval"] = epochs
    cfg["default_hooks"]["checkpoint"]["interval"] = epochs
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val()
    seconds = time.perf_counter() - start
    box_ap, ap50 = float(metrics["coco/bbox_mAP"]), float(metrics["coco/bbox_mAP_50"])
    print(
        f"\n[demo] FCOS on the synthetic shapes, {epochs} epochs: box AP = {box_ap:.3f}, AP50 = {ap50:.3f} "
        f"after {seconds:.0f} s (the full {DET_CONFIG} schedule reaches more: docs/results.md)"
    )
    images = sorted((data_root / "val").glob("*.png"))[:4]
    infer_dir = work_root / "infer_detection"
    print("[demo] visionstack infer with the detector (boxes, classes and scores drawn):")
    cli_main(["infer", str(config_path), str(Path(cfg["work_dir"]) / "latest.pth"), *map(str, images),
              "--out-dir", str(infer_dir)])
    ok = box_ap >= DET_AP_FLOOR
    print(f"[demo] {'PASS' if ok else 'FAIL'}: box AP {box_ap:.3f} (floor {DET_AP_FLOOR}); pictures in {infer_dir}")
    return ok
