"""Throughput of a detection config's training data pipeline, measured in one run.

Loading + transforms + collate, no model: the training dataloader of the config is built as the
Runner builds it and iterated with ``num_workers=0`` and ``num_workers=2``; the script prints
images per second of each and their ratio. When the config's ``data_root`` does not exist, a small
synthetic dataset (the generator of ``visionstack data synth detection``) is written to a temporary
folder and used instead.

Run: ``.venv/bin/python benchmarks/det_pipeline.py [CONFIG] [--batches 150] [--set key=value ...]``
(default CONFIG: configs/detection/rtmdet_tiny_synth.py).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import cv2
import torch

from visionstack.config import Config
from visionstack.engine.data_loading import build_dataloader, release_workers
from visionstack.tasks.detection.synthetic import write_synthetic_detection

DEFAULT_CONFIG = "configs/detection/rtmdet_tiny_synth.py"
WORKER_COUNTS = (0, 2)


def load_config(path: str, overrides: list[str], scratch: Path) -> tuple[Config, str]:
    """The config, pointed at synthetic data in ``scratch`` when its ``data_root`` is missing."""
    cfg = Config.fromfile(path, overrides)
    data_root = cfg.get("data_root")
    if data_root and Path(data_root).is_dir():
        return cfg, str(data_root)
    synthetic = scratch / "synth_det"
    write_synthetic_detection(synthetic, num_train=200, num_val=1)
    cfg = Config.fromfile(path, [*overrides, f"data_root={synthetic.as_posix()}/"])
    return cfg, f"{synthetic} (synthetic)"


def images_per_second(loader_cfg: dict, num_workers: int, batches: int, warmup: int = 2) -> float:
    """Images per second over ``batches`` batches, after ``warmup`` batches (worker start-up, first reads).

    The loader is iterated over as many epochs as needed to draw ``warmup + batches`` batches; its
    workers persist across epochs (as in training with ``persistent_workers=True``), so worker
    start-up is not timed.
    """
    cfg = copy.deepcopy(loader_cfg)
    cfg.update(num_workers=num_workers, persistent_workers=num_workers > 0)
    loader = build_dataloader(cfg, seed=0, shuffle=True, path="train_dataloader")
    images, start, drawn = 0, 0.0, 0
    while drawn < warmup + batches:
        for batch in loader:
            drawn += 1
            if drawn == warmup:
                start = time.perf_counter()
            elif drawn > warmup:
                images += len(batch["inputs"])
            if drawn == warmup + batches:
                break
    elapsed = time.perf_counter() - start
    release_workers(loader)
    return images / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=DEFAULT_CONFIG)
    parser.add_argument("--batches", type=int, default=150, help="timed batches per worker count")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)

    with tempfile.TemporaryDirectory() as scratch:
        cfg, data_root = load_config(args.config, args.set, Path(scratch))
        loader_cfg = dict(cfg["train_dataloader"])
        transforms = _transform_names(loader_cfg["dataset"])
        print(
            f"{args.config}: data {data_root}, batch size {loader_cfg['batch_size']}, {args.batches} batches"
        )
        print(f"  pipeline: {' -> '.join(transforms)}")
        rates = {}
        for workers in WORKER_COUNTS:
            rates[workers] = images_per_second(loader_cfg, workers, args.batches)
            print(f"  num_workers={workers}: {rates[workers]:8.1f} images/s")
        print(f"  ratio workers={WORKER_COUNTS[1]} / workers={WORKER_COUNTS[0]}: {rates[2] / rates[0]:.2f}x")


def _transform_names(dataset_cfg: dict) -> list[str]:
    """Transform names in the order they run (an inner dataset's loading pipeline first)."""
    names = _transform_names(dataset_cfg["dataset"]) if isinstance(dataset_cfg.get("dataset"), dict) else []
    for transform in dataset_cfg.get("pipeline", []):
        kind = transform.get("type") if isinstance(transform, dict) else type(transform)
        names.append(kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind)))
    return names


if __name__ == "__main__":
    main()
