"""Speed of visionstack's NMS paths against OpenCV's C++ NMS, measured in one run, same answers checked.

Three candidate sets, the kind a dense detector hands to NMS after its per-level top-k:

- ``untrained``: 5 levels x 1000 candidates spread over 80 classes (RetinaNet at random init with
  ``score_thr=0``, the case that reaches NMS with the most boxes);
- ``trained``: 3000 candidates in clusters around 40 objects of 5 classes (a trained detector's
  overlapping boxes);
- ``one class``: 1000 candidates of one class (plain ``nms``).

For each set it times ``batched_nms`` (or ``nms``) as it runs by default (small categories settled
together on one grid), with the per-category loop forced (``PAIR_BUDGET = 0``; the same path for
one class) and ``cv2.dnn.NMSBoxesBatched`` / ``NMSBoxes`` (C++), checks the three keep the same
boxes in the same order, and prints medians and the ratios.

Run: ``.venv/bin/python benchmarks/nms_speed.py [--rounds 30]``.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time

import cv2
import numpy as np
import torch

from visionstack.models.ops import batched_nms, nms

nms_module = importlib.import_module("visionstack.models.ops.nms")


def untrained(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    centres = torch.rand(5000, 2, generator=generator) * 320
    sizes = (
        16
        * 2 ** (torch.randint(0, 5, (5000, 1), generator=generator).float())
        * (0.7 + 0.6 * torch.rand(5000, 2, generator=generator))
    )
    boxes = torch.cat([centres - sizes / 2, centres + sizes / 2], 1).clamp(0, 320)
    scores = torch.rand(5000, generator=generator) * 0.02 + 0.005
    return boxes, scores, torch.randint(0, 80, (5000,), generator=generator)


def trained(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    objects = torch.rand(40, 4, generator=generator) * torch.tensor([600.0, 400.0, 150.0, 150.0])
    pick = torch.randint(0, 40, (3000,), generator=generator)
    jitter = (torch.randn(3000, 4, generator=generator) * 8).clamp(-10, 10)  # boxes stay valid
    x1y1 = objects[pick, :2] + jitter[:, :2]
    boxes = torch.cat([x1y1, x1y1 + objects[pick, 2:] + 20 + jitter[:, 2:]], 1)
    scores = torch.rand(3000, generator=generator)
    return boxes, scores, pick % 5


def one_class(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    boxes, scores, _ = trained(generator)
    return boxes[:1000], scores[:1000], torch.zeros(1000, dtype=torch.long)


def median_ms(fn, rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def opencv_call(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor | None):
    """A function running OpenCV's NMS on the candidates (its inputs converted beforehand)."""
    xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).tolist()
    score_list = scores.tolist()
    if classes is None:
        return lambda: cv2.dnn.NMSBoxes(xywh, score_list, 0.0, 0.5)
    class_list = classes.tolist()
    return lambda: cv2.dnn.NMSBoxesBatched(xywh, score_list, class_list, 0.0, 0.5)


def in_score_order(kept, scores: torch.Tensor) -> list[int]:
    """OpenCV's batched variant returns its own order; compare as a score-ordered list."""
    return sorted(np.asarray(kept, dtype=np.int64).ravel().tolist(), key=lambda i: (-float(scores[i]), i))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(2)
    budget = nms_module.PAIR_BUDGET
    print(
        f"{'candidates':>12} {'boxes':>6} {'default ms':>10} {'loop ms':>11} {'opencv ms':>10} "
        f"{'loop/default':>15} {'default/opencv':>14}  same"
    )
    for name, make in (("untrained", untrained), ("trained", trained), ("one class", one_class)):
        boxes, scores, classes = make(torch.Generator().manual_seed(0))
        single = name == "one class"

        def run(boxes=boxes, scores=scores, classes=classes, single=single):
            return nms(boxes, scores, 0.5) if single else batched_nms(boxes, scores, classes, 0.5)

        matrix_keep = run().tolist()
        matrix_ms = median_ms(run, args.rounds)
        nms_module.PAIR_BUDGET = 0
        try:
            blocked_keep = run().tolist()
            blocked_ms = median_ms(run, args.rounds)
        finally:
            nms_module.PAIR_BUDGET = budget
        opencv = opencv_call(boxes, scores, None if single else classes)
        reference = in_score_order(opencv(), scores)
        opencv_ms = median_ms(opencv, args.rounds)
        same = matrix_keep == blocked_keep == reference
        print(
            f"{name:>12} {len(boxes):>6} {matrix_ms:>10.2f} {blocked_ms:>11.2f} {opencv_ms:>10.2f} "
            f"{blocked_ms / matrix_ms:>15.2f} {matrix_ms / opencv_ms:>14.2f}  {same}"
        )
        if not same:
            raise SystemExit(f"{name}: the NMS paths disagree")


if __name__ == "__main__":
    main()
