"""Data pipeline figures measured in one run.

1. Copy-on-read: the private memory that each DataLoader worker gains while reading every record
   of a large annotation list once, with the list serialized (one NumPy buffer) versus kept as
   Python dicts.
2. Throughput of the classification pipelines on this machine (samples per second, one process).

Run: ``.venv/bin/python benchmarks/data_pipeline.py [--records 300000]`` (Linux: reads /proc).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import cv2
import numpy as np
import torch

from visionstack.data import (
    BaseDataset,
    ColorJitter,
    Digits,
    LoadImage,
    PackInputs,
    RandAugment,
    RandomFlip,
    RandomResizedCrop,
)


class SyntheticAnnotations(BaseDataset):
    """A detection-like annotation list of ``size`` records (no images), for memory measurements."""

    def __init__(self, size: int, serialize_data: bool) -> None:
        self.size = size
        super().__init__(serialize_data=serialize_data, pipeline=[_index_only])

    def load_data_list(self) -> list[dict]:
        return [
            {
                "img_path": f"images/{i:08d}.jpg",
                "width": 640,
                "height": 480,
                "instances": [
                    {"bbox": [1.0 * k, 2.0, 30.0, 40.0], "bbox_label": k, "ignore_flag": 0} for k in range(3)
                ],
            }
            for i in range(self.size)
        ]


def _index_only(results: dict) -> int:
    return results["sample_idx"]


def _private_mib(pid: int) -> float:
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    return (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) / 1024


def worker_private_memory(size: int, serialize_data: bool, workers: int = 2) -> tuple[float, float]:
    """(private MiB per worker after one pass, size of the stored list in MiB)."""
    dataset = SyntheticAnnotations(size, serialize_data)
    stored = dataset._records.nbytes / 2**20 if serialize_data else float("nan")
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=1024,
        num_workers=workers,
        persistent_workers=True,
        collate_fn=lambda batch: len(batch),
    )
    iterator = iter(loader)
    before = [_private_mib(process.pid) for process in iterator._workers]
    sum(iterator)
    after = [_private_mib(process.pid) for process in iterator._workers]
    del iterator, loader
    return float(np.mean(np.subtract(after, before))), stored


def throughput(pipeline: list, data_info: dict, seconds: float = 2.0) -> float:
    """Samples per second of ``pipeline`` on copies of ``data_info``."""
    np.random.seed(0)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        results = dict(data_info)
        for transform in pipeline:
            results = transform(results)
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)

    print(f"copy-on-read, {args.records} records, 2 workers, one pass over every record:")
    serialized_growth, stored = worker_private_memory(args.records, serialize_data=True)
    list_growth, _ = worker_private_memory(args.records, serialize_data=False)
    print(
        f"  serialized buffer: {stored:.1f} MiB shared; private growth per worker {serialized_growth:.1f} MiB"
    )
    print(f"  list of dicts:                    private growth per worker {list_growth:.1f} MiB")
    print(f"  ratio list / serialized: {list_growth / max(serialized_growth, 0.1):.1f}x")

    with tempfile.TemporaryDirectory() as folder:
        digits = Digits(data_root=os.path.join(folder, "digits"))
        photo = np.random.default_rng(0).integers(0, 256, size=(375, 500, 3), dtype=np.uint8)
        photo_path = os.path.join(folder, "photo.jpg")
        cv2.imwrite(photo_path, cv2.GaussianBlur(photo, (9, 9), 3))
        digits_pipeline = [
            LoadImage(),
            RandomResizedCrop(scale=32),
            RandomFlip(prob=0.5),
            RandAugment(),
            PackInputs(),
        ]
        imagenet_pipeline = [LoadImage(), RandomResizedCrop(scale=224), RandomFlip(prob=0.5), PackInputs()]
        jitter_pipeline = [*imagenet_pipeline[:3], ColorJitter(0.4, 0.4, 0.4, 0.1), PackInputs()]
        randaug_pipeline = [*imagenet_pipeline[:3], RandAugment(magnitude_std=0.5, prob=1.0), PackInputs()]
        print("throughput, one process, one thread:")
        print(
            f"  Digits 32x32 train pipeline (with RandAugment): {throughput(digits_pipeline, digits.get_data_info(0)):8.0f} samples/s"
        )
        info = {"img_path": photo_path, "gt_label": 0}
        base = throughput(imagenet_pipeline, info)
        print(f"  500x375 JPEG -> RandomResizedCrop 224 + flip:    {base:8.0f} samples/s")
        print(
            f"    + ColorJitter(0.4, 0.4, 0.4, 0.1):              {throughput(jitter_pipeline, info):8.0f} samples/s"
        )
        print(
            f"    + RandAugment(2 ops, prob 1):                   {throughput(randaug_pipeline, info):8.0f} samples/s"
        )


if __name__ == "__main__":
    main()
