"""Hypothesis fuzzing of the geometric transforms (shared and detection) on random boxes and masks.

After every step: boxes lie inside the image, and each instance mask lies inside its box, within a
tolerance of one pixel per resampling step (nearest-neighbour mask resizing can shift an edge by up
to a pixel), scaled up with any later upscaling.
"""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from visionstack.data.transforms.geometric import CenterCrop, RandomFlip, RandomResizedCrop, Resize
from visionstack.structures import BitmapMasks
from visionstack.tasks.detection.transforms import Pad, RandomCrop, RandomResize

RESAMPLING = {"Resize", "RandomResizedCrop", "RandomResize"}


def make_transform(name: str, draw_int) -> object:
    if name == "Resize":
        return Resize(scale=(draw_int(4, 80), draw_int(4, 80)))
    if name == "RandomFlip":
        return RandomFlip(prob=1.0, direction=["horizontal", "vertical", "diagonal"][draw_int(0, 2)])
    if name == "CenterCrop":
        return CenterCrop(crop_size=(draw_int(4, 70), draw_int(4, 70)), auto_pad=True)
    if name == "RandomResizedCrop":
        return RandomResizedCrop(scale=(draw_int(4, 48), draw_int(4, 48)))
    if name == "RandomResize":
        return RandomResize(scale=(draw_int(8, 64), draw_int(8, 64)), ratio_range=(0.5, 1.5), keep_ratio=True)
    if name == "RandomCrop":
        return RandomCrop(crop_size=(draw_int(4, 40), draw_int(4, 40)), allow_negative_crop=True)
    return Pad(size_divisor=draw_int(2, 16))


@st.composite
def samples(draw):
    height, width = draw(st.integers(6, 64)), draw(st.integers(6, 64))
    count = draw(st.integers(0, 5))
    boxes, masks = [], np.zeros((count, height, width), np.uint8)
    for index in range(count):
        x1, y1 = draw(st.integers(0, width - 2)), draw(st.integers(0, height - 2))
        x2, y2 = draw(st.integers(x1 + 1, width)), draw(st.integers(y1 + 1, height))
        boxes.append([x1, y1, x2, y2])
        masks[index, y1:y2, x1:x2] = 1  # the mask fills its box exactly
    results = {
        "img": draw(st.integers(0, 255)) * np.ones((height, width, 3), np.uint8),
        "img_shape": (height, width),
        "gt_bboxes": np.asarray(boxes, np.float32).reshape(-1, 4),
        "gt_bboxes_labels": np.arange(count, dtype=np.int64),
        "gt_ignore_flags": np.zeros(count, bool),
        "gt_masks": BitmapMasks(masks, height, width),
    }
    names = draw(
        st.lists(
            st.sampled_from(
                [
                    "Resize",
                    "RandomFlip",
                    "CenterCrop",
                    "RandomResizedCrop",
                    "RandomResize",
                    "RandomCrop",
                    "Pad",
                ]
            ),
            min_size=1,
            max_size=4,
        )
    )
    steps = [make_transform(name, lambda lo, hi: draw(st.integers(lo, hi))) for name in names]
    return results, list(zip(names, steps)), draw(st.integers(0, 2**31 - 1))


def check(results: dict, where: str, tolerance: float) -> None:
    height, width = results["img"].shape[:2]
    assert tuple(results["img_shape"]) == (height, width), where
    boxes, masks = results["gt_bboxes"], results["gt_masks"]
    assert len(boxes) == len(masks) == len(results["gt_bboxes_labels"]), where
    assert (masks.height, masks.width) == (height, width), where
    assert (boxes[:, 0::2] >= 0).all() and (boxes[:, 0::2] <= width).all(), (where, boxes, width)
    assert (boxes[:, 1::2] >= 0).all() and (boxes[:, 1::2] <= height).all(), (where, boxes, height)
    for index, (box, tight) in enumerate(zip(boxes, masks.get_bboxes())):
        if masks.areas[index] == 0:
            continue
        assert (tight[:2] >= box[:2] - tolerance).all() and (tight[2:] <= box[2:] + tolerance).all(), (
            where,
            index,
            box,
            tight,
        )


@settings(max_examples=150, deadline=None)
@given(samples())
def test_boxes_stay_inside_and_masks_stay_aligned(case):
    results, steps, seed = case
    random.seed(seed)
    np.random.seed(seed)
    tolerance = 0.5
    for name, transform in steps:
        before = results["img"].shape[:2]
        out = transform(results)
        if out is None:  # RandomCrop without allow_negative_crop may drop the sample
            return
        results = out
        if name in RESAMPLING:  # an edge error made earlier grows with the upscaling, plus a new pixel
            after = results["img"].shape[:2]
            tolerance = tolerance * max(1.0, after[0] / before[0], after[1] / before[1]) + 1.0
        check(results, name, tolerance)
    assert len(results["gt_masks"]) == len(results["gt_bboxes"])
