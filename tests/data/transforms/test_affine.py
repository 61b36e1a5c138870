"""RandomAffine keeps boxes, masks, keypoints and maps consistent; its box filter and matrix by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from visionstack.data.transforms import RandomAffine, affine_matrix
from visionstack.structures import BitmapMasks, PolygonMasks

BOXES = [(4, 5, 15, 16), (30, 8, 41, 27), (50, 30, 63, 45), (1, 34, 12, 46)]


def instances_sample(polygons: bool = False) -> dict:
    """A 64x48 sample: each box filled as its mask, a keypoint at the centre of its middle pixel."""
    height, width = 48, 64
    masks = np.zeros((len(BOXES), height, width), np.uint8)
    keypoints = np.zeros((len(BOXES), 1, 2), np.float32)
    for index, (x1, y1, x2, y2) in enumerate(BOXES):
        masks[index, y1:y2, x1:x2] = 1
        keypoints[index, 0] = ((x1 + x2) // 2 + 0.5, (y1 + y2) // 2 + 0.5)
    gt_masks = BitmapMasks(masks, height, width)
    if polygons:
        gt_masks = PolygonMasks(
            [[np.float64([x1, y1, x2, y1, x2, y2, x1, y2])] for x1, y1, x2, y2 in BOXES], height, width
        )
    return {
        "img": np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8),
        "img_shape": (height, width),
        "gt_bboxes": np.float32(BOXES),
        "gt_bboxes_labels": np.arange(len(BOXES), dtype=np.int64),
        "gt_ignore_flags": np.zeros(len(BOXES), bool),
        "gt_masks": gt_masks,
        "gt_keypoints": keypoints,
        "gt_keypoints_visible": np.ones((len(BOXES), 1), np.float32),
        "gt_seg_map": masks.argmax(axis=0).astype(np.uint8) + masks.any(axis=0),
    }


KEEP_ALL = dict(min_bbox_size=0, min_area_ratio=0, max_aspect_ratio=math.inf)


@pytest.mark.parametrize("polygons", [False, True])
def test_masks_stay_in_their_boxes_and_keypoints_on_their_masks(polygons):
    transform = RandomAffine(
        max_rotate_degree=40,
        max_translate_ratio=0.2,
        scaling_ratio_range=(0.6, 1.6),
        max_shear_degree=8,
        border=(4, -2),
        **KEEP_ALL,
    )
    checked_points = 0
    for seed in range(25):
        np.random.seed(seed)
        out = transform(instances_sample(polygons))
        height, width = out["img"].shape[:2]
        assert (height, width) == (44, 72) == tuple(out["img_shape"]) == out["gt_seg_map"].shape
        count = len(out["gt_bboxes"])
        assert len(out["gt_bboxes_labels"]) == len(out["gt_masks"]) == len(out["gt_keypoints"]) == count
        assert len(out["gt_keypoints_visible"]) == len(out["gt_ignore_flags"]) == count
        boxes = out["gt_bboxes"]
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert (boxes[:, 0::2] >= 0).all() and (boxes[:, 0::2] <= width).all()
        assert (boxes[:, 1::2] >= 0).all() and (boxes[:, 1::2] <= height).all()
        bitmaps = out["gt_masks"].to_bitmap() if polygons else out["gt_masks"]
        for index, (box, tight) in enumerate(zip(boxes, bitmaps.get_bboxes())):
            if bitmaps.areas[index] == 0:
                continue
            assert (tight[:2] >= box[:2] - 1).all() and (tight[2:] <= box[2:] + 1).all(), (seed, box, tight)
            if not polygons:  # nearest-neighbour warps of a bitmap and of the map agree pixel for pixel
                label = out["gt_bboxes_labels"][index] + 1
                assert (out["gt_seg_map"][bitmaps.masks[index] == 1] == label).all()
            (x, y), visible = out["gt_keypoints"][index, 0], out["gt_keypoints_visible"][index, 0]
            assert visible == (0 <= x < width and 0 <= y < height)
            if visible:
                checked_points += 1
                assert bitmaps.masks[index, int(y), int(x)] == 1, (seed, index, x, y)
    assert checked_points > 40


def test_instances_leaving_the_image_are_dropped_from_every_key():
    transform = RandomAffine(
        max_rotate_degree=0, max_translate_ratio=0, scaling_ratio_range=(3, 3), max_shear_degree=0, **KEEP_ALL
    )
    out = transform(instances_sample())  # three times larger about the centre: only the middle stays
    # x' = 3 (x - 32) + 32, y' = 3 (y - 24) + 24: box 1 (30, 8, 41, 27) -> (26, -24, 59, 33), clipped.
    np.testing.assert_allclose(out["gt_bboxes"], [[26, 0, 59, 33]])
    assert out["gt_bboxes_labels"].tolist() == [1] and len(out["gt_masks"]) == 1
    np.testing.assert_allclose(out["gt_keypoints"], [[[3 * (35.5 - 32) + 32, 3 * (17.5 - 24) + 24]]])


def test_box_filter_rules():
    transform = RandomAffine()  # min_bbox_size 2, min_area_ratio 0.2, max_aspect_ratio 20
    original = np.float32([[0, 0, 10, 10]] * 5)
    warped = np.float32(
        [
            [0, 0, 10, 10],  # kept
            [0, 0, 2, 10],  # width not above 2
            [0, 0, 4, 4],  # 16 / 100 of the area
            [0, 0, 30, 1.4],  # too thin (and too low)
            [50, 50, 60, 60],  # outside a 40x40 image
        ]
    )
    assert transform.box_filter(original, warped, 1.0, (40, 40)).tolist() == [
        True,
        False,
        False,
        False,
        False,
    ]
    # The area is compared with the original scaled by the drawn factor: 4x4 of a 10x10 at scale 0.5 is kept.
    assert transform.box_filter(original[:1], np.float32([[0, 0, 4, 4]]), 0.5, (40, 40)).tolist() == [True]


def test_affine_matrix_by_hand():
    np.testing.assert_allclose(affine_matrix(), np.eye(3))
    np.testing.assert_allclose(
        affine_matrix(rotate_degree=90), [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12
    )  # (1, 0) -> (0, 1): clockwise on screen, y pointing down
    shear = affine_matrix(shear_degrees=(45, 0))
    np.testing.assert_allclose(shear @ [0, 2, 1], [2, 2, 1])
    moved = affine_matrix(scale=2, translate=(1, -1), in_center=(10, 5), out_center=(20, 10))
    np.testing.assert_allclose(moved @ [10, 5, 1], [21, 9, 1])
    np.testing.assert_allclose(moved @ [11, 5, 1], [23, 9, 1])


def test_draws_are_seeded_and_arguments_checked():
    transform = RandomAffine()
    np.random.seed(3)
    first = transform(instances_sample())
    np.random.seed(3)
    second = transform(instances_sample())
    np.testing.assert_array_equal(first["img"], second["img"])
    np.testing.assert_array_equal(first["gt_bboxes"], second["gt_bboxes"])
    assert "RandomAffine(max_rotate_degree=10.0" in repr(transform)
    with pytest.raises(ValueError, match="scaling_ratio_range"):
        RandomAffine(scaling_ratio_range=(0, 1))
    with pytest.raises(ValueError, match="max_shear_degree"):
        RandomAffine(max_shear_degree=90)
    with pytest.raises(ValueError, match="border"):
        RandomAffine(border=(-40, 0))(instances_sample())
