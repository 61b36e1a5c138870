"""Shared geometric transforms move instance masks with the image and boxes."""

from __future__ import annotations

import numpy as np

from visionstack.data.transforms.geometric import CenterCrop, RandomFlip, Resize
from visionstack.structures import BitmapMasks


def make_results():
    img = np.zeros((20, 30, 3), np.uint8)
    mask = np.zeros((1, 20, 30), np.uint8)
    mask[0, 2:6, 3:9] = 1  # box x 3..9, y 2..6
    return {
        "img": img,
        "img_shape": (20, 30),
        "gt_bboxes": np.float32([[3, 2, 9, 6]]),
        "gt_masks": BitmapMasks(mask, 20, 30),
    }


def test_flip_moves_masks_with_boxes():
    results = RandomFlip(prob=1.0, direction="horizontal")(make_results())
    assert np.allclose(results["gt_masks"].get_bboxes(), results["gt_bboxes"])
    assert results["gt_bboxes"].tolist() == [[21, 2, 27, 6]]


def test_resize_and_center_crop_move_masks():
    results = Resize(scale=(60, 40))(make_results())
    assert results["gt_masks"].to_ndarray().shape == (1, 40, 60)
    assert np.allclose(results["gt_masks"].get_bboxes(), results["gt_bboxes"], atol=1)
    results = CenterCrop(crop_size=(40, 30), auto_pad=True)(make_results())
    assert results["gt_masks"].to_ndarray().shape[1:] == results["img"].shape[:2]
    assert np.allclose(results["gt_masks"].get_bboxes(), results["gt_bboxes"], atol=1)
