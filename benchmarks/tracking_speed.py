"""Association speed of the trackers: frames per second on 1,000 frames with 50 objects, one core.

    python benchmarks/tracking_speed.py [--frames 1000] [--objects 50]

Detections are made up in memory (no images, no detector): 50 boxes moving at constant velocity with 3 %
jitter, 8 % of them missed per frame, two low-score false positives per frame, and 20 % of the scores under
ByteTrack's high threshold, so every stage of every tracker runs. Only ``tracker.update`` is timed. BLAS is
held to one thread (the issue's floor: ByteTrack >= 200 frames/s on one core); the ratio to the floor is
printed.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

FLOOR = 200.0  # frames/s, ByteTrack


def make_frames(frames: int, objects: int, seed: int = 0) -> list:
    from visionstack.tasks.tracking.trackers import Detections

    rng = np.random.default_rng(seed)
    position = rng.uniform([0, 0], [1800, 1000], size=(objects, 2))
    velocity = rng.normal(0, 3, size=(objects, 2))
    size = rng.uniform([20, 50], [60, 150], size=(objects, 2))
    out = []
    for _ in range(frames):
        position = (position + velocity) % [1800, 1000]
        shown = rng.random(objects) > 0.08
        jitter = rng.normal(0, 0.03, size=(objects, 4)) * np.tile(size, 2)
        boxes = np.concatenate([position, position + size], axis=1) + jitter
        scores = np.where(
            rng.random(objects) < 0.2, rng.uniform(0.15, 0.55, objects), rng.uniform(0.7, 0.99, objects)
        )
        false = rng.uniform(0, 1800, size=(2, 2))
        boxes = np.concatenate([boxes[shown], np.concatenate([false, false + 40], axis=1)])
        scores = np.concatenate([scores[shown], rng.uniform(0.1, 0.4, 2)])
        out.append(Detections(boxes, scores, np.zeros(len(boxes), np.int64)))
    return out


def measure(tracker, frames: list) -> float:
    tracker.reset()
    started = time.perf_counter()
    for index, detections in enumerate(frames):
        tracker.update(detections, frame_id=index + 1)
    return len(frames) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=50)
    args = parser.parse_args()
    from visionstack.tasks.tracking.trackers import ByteTracker, OCSortTracker, SortTracker

    frames = make_frames(args.frames, args.objects)
    print(
        f"{args.frames} frames x {args.objects} objects, one thread ({platform.processor() or platform.machine()})"
    )
    for name, tracker in (
        ("ByteTrack", ByteTracker()),
        ("SORT", SortTracker()),
        ("OC-SORT", OCSortTracker()),
    ):
        measure(tracker, frames[:50])  # warm-up
        fps = measure(tracker, frames)
        note = f"  ({fps / FLOOR:.1f}x the 200 frames/s floor)" if name == "ByteTrack" else ""
        print(f"{name:<10} {fps:8.0f} frames/s  {1000 / fps:6.2f} ms/frame{note}")


if __name__ == "__main__":
    main()
