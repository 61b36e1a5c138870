"""Memory of DataLoader workers over one epoch: serialized annotation list versus a list of dicts.

Python reference counting writes to every object a worker touches, so a plain list of dicts is
copied page by page into each forked worker as the epoch reads it ("copy-on-read"); the serialized
list (one NumPy buffer of pickled records) has no per-record objects and stays shared. This script
reads every record of a 200k-record detection-like annotation list once with 2 workers and prints,
per worker, the growth of its RSS and of its private memory (from /proc, Linux only).

Run: ``.venv/bin/python benchmarks/dataset_memory.py [--records 200000] [--workers 2]``.
The dataset and the private-memory reading are those of ``benchmarks/data_pipeline.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_pipeline import SyntheticAnnotations, _private_mib  # noqa: E402


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def epoch_growth(records: int, serialize_data: bool, workers: int) -> dict[str, float]:
    """Mean per-worker growth (MiB) of RSS and private memory over one epoch, and the main RSS."""
    dataset = SyntheticAnnotations(records, serialize_data)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=1024,
        num_workers=workers,
        persistent_workers=True,
        collate_fn=lambda batch: len(batch),
    )
    iterator = iter(loader)
    pids = [process.pid for process in iterator._workers]
    rss_before, private_before = [_rss_mib(p) for p in pids], [_private_mib(p) for p in pids]
    seen = sum(iterator)
    rss_after, private_after = [_rss_mib(p) for p in pids], [_private_mib(p) for p in pids]
    assert seen == records
    del iterator, loader
    return {
        "rss_growth": float(np.mean(np.subtract(rss_after, rss_before))),
        "private_growth": float(np.mean(np.subtract(private_after, private_before))),
        "main_rss": _rss_mib(__import__("os").getpid()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"{args.records} records, {args.workers} workers, one epoch; growth per worker (MiB):")
    for serialize in (True, False):
        figures = epoch_growth(args.records, serialize, args.workers)
        name = "serialized list" if serialize else "list of dicts  "
        print(
            f"  {name}: RSS +{figures['rss_growth']:8.1f}   private +{figures['private_growth']:8.1f}   "
            f"(main process RSS {figures['main_rss']:.0f})"
        )


if __name__ == "__main__":
    main()
