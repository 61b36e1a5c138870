"""``visionstack demo``: the embedded default job that ``make demo`` runs.

It trains the ResNet-18 Digits config (scikit-learn's bundled digits, written once as PNG files
so the real loading path runs), reports validation top-1, then runs inference on a few
validation images through the same command-line path a user would take.
"""

from __future__ import annotations

import time
from pathlib import Path

from .config import Config

DEMO_CONFIG = "configs/classification/resnet18_digits.py"
TOP1_FLOOR = 97.0


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
    return 0 if ok else 1
