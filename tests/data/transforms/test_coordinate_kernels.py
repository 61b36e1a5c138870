"""Keypoints and polygons through flip, resize, crop, pad and warp, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.data.transforms import (
    CenterCrop,
    Pad,
    RandomAffine,
    RandomFlip,
    Resize,
    crop_results,
    flip_results,
    pad_results,
    warp_results,
)
from visionstack.data.transforms.affine import affine_matrix

# Four keypoints: nose, left eye, right eye, tail; the eyes are a flip pair.
KEYPOINTS = np.float32([[[10, 5], [12, 4], [8, 4], [20, 29]]])
VISIBLE = np.float32([[1, 1, 0, 1]])
POLYGONS = [
    np.array([[2.0, 3.0], [12.0, 3.0], [12.0, 13.0], [2.0, 13.0]]),
    np.array([[30.0, 20.0], [38.0, 20.0], [34.0, 28.0]]),
]


def sample(**extra) -> dict:
    """A 40x30 sample with one skeleton (COCO-like flip pairs) and two polygons."""
    return {
        "img": np.zeros((30, 40, 3), np.uint8),
        "img_shape": (30, 40),
        "gt_keypoints": KEYPOINTS.copy(),
        "gt_keypoints_visible": VISIBLE.copy(),
        "gt_polygons": [p.copy() for p in POLYGONS],
        **extra,
    }


def test_horizontal_flip_mirrors_and_swaps_the_flip_pairs():
    out = RandomFlip(prob=1.0)(sample(flip_pairs=[(1, 2)]))
    # x -> 40 - x, then the left eye takes the (mirrored) right eye's place and its visibility.
    np.testing.assert_array_equal(out["gt_keypoints"], [[[30, 5], [32, 4], [28, 4], [20, 29]]])
    np.testing.assert_array_equal(out["gt_keypoints_visible"], [[1, 0, 1, 1]])
    np.testing.assert_array_equal(out["gt_polygons"][1], [[10, 20], [2, 20], [6, 28]])


def test_flip_indices_come_from_the_results_or_the_metainfo():
    from_indices = flip_results(sample(flip_indices=[0, 2, 1, 3]), "horizontal")
    from_metainfo = flip_results(sample(metainfo=dict(flip_indices=[0, 2, 1, 3])), "horizontal")
    from_pairs = flip_results(sample(metainfo=dict(flip_pairs=[[1, 2]])), "horizontal")
    for out in (from_metainfo, from_pairs):
        np.testing.assert_array_equal(out["gt_keypoints"], from_indices["gt_keypoints"])
        np.testing.assert_array_equal(out["gt_keypoints_visible"], from_indices["gt_keypoints_visible"])


def test_vertical_flip_swaps_and_diagonal_flip_does_not():
    vertical = flip_results(sample(flip_indices=[0, 2, 1, 3]), "vertical")
    np.testing.assert_array_equal(vertical["gt_keypoints"], [[[10, 25], [8, 26], [12, 26], [20, 1]]])
    np.testing.assert_array_equal(vertical["gt_keypoints_visible"], [[1, 0, 1, 1]])
    diagonal = flip_results(sample(), "diagonal")  # a half turn keeps sides: no flip_indices needed
    np.testing.assert_array_equal(diagonal["gt_keypoints"], [[[30, 25], [28, 26], [32, 26], [20, 1]]])
    np.testing.assert_array_equal(diagonal["gt_keypoints_visible"], VISIBLE)


@pytest.mark.parametrize("direction", ["horizontal", "vertical", "diagonal"])
def test_flip_twice_is_identity(direction):
    out = flip_results(flip_results(sample(flip_indices=[0, 2, 1, 3]), direction), direction)
    np.testing.assert_array_equal(out["gt_keypoints"], KEYPOINTS)
    np.testing.assert_array_equal(out["gt_keypoints_visible"], VISIBLE)
    for polygon, expected in zip(out["gt_polygons"], POLYGONS):
        np.testing.assert_array_equal(polygon, expected)


def test_resize_scales_points():
    out = Resize(scale=(80, 15))(sample())  # sx = 2, sy = 0.5
    np.testing.assert_array_equal(out["gt_keypoints"], [[[20, 2.5], [24, 2], [16, 2], [40, 14.5]]])
    np.testing.assert_array_equal(out["gt_keypoints_visible"], VISIBLE)
    np.testing.assert_array_equal(out["gt_polygons"][0], [[4, 1.5], [24, 1.5], [24, 6.5], [4, 6.5]])
    assert out["gt_keypoints"].dtype == np.float32


def test_crop_shifts_points_and_hides_the_ones_outside():
    out = crop_results(sample(), 9, 2, 29, 12)  # a 20x10 window
    np.testing.assert_array_equal(out["gt_keypoints"], [[[1, 3], [3, 2], [-1, 2], [11, 27]]])
    np.testing.assert_array_equal(out["gt_keypoints_visible"], [[1, 1, 0, 0]])
    # The square is clipped to the window: x in [0, 3], y in [1, 10]; the triangle is outside.
    square = out["gt_polygons"][0]
    np.testing.assert_array_equal(square.min(axis=0), [0, 1])
    np.testing.assert_array_equal(square.max(axis=0), [3, 10])
    assert out["gt_polygons"][1].shape == (0, 2)


def test_crop_without_visibility_creates_one():
    results = sample()
    del results["gt_keypoints_visible"]
    out = crop_results(results, 0, 0, 11, 30)
    np.testing.assert_array_equal(out["gt_keypoints_visible"], [[1, 0, 1, 0]])


def test_pad_at_the_bottom_right_keeps_points_and_centre_pad_shifts_them():
    out = Pad(size=(64, 32))(sample())
    np.testing.assert_array_equal(out["gt_keypoints"], KEYPOINTS)
    np.testing.assert_array_equal(out["gt_polygons"][1], POLYGONS[1])
    centred = CenterCrop(crop_size=(46, 34), auto_pad=True)(sample())  # offset (3, 2)
    np.testing.assert_array_equal(centred["gt_keypoints"], KEYPOINTS + np.float32([3, 2]))
    np.testing.assert_array_equal(centred["gt_polygons"][0], POLYGONS[0] + [3, 2])
    shifted = pad_results(sample(), (50, 40), offset=(5, 7))
    np.testing.assert_array_equal(shifted["gt_keypoints"], KEYPOINTS + np.float32([5, 7]))
    assert shifted["img_shape"] == (40, 50) and shifted["img"].shape[:2] == (40, 50)


def test_quarter_turn_about_the_centre():
    # 90 degrees clockwise about (20, 15): (x, y) -> (20 - (y - 15), 15 + (x - 20)) = (35 - y, x - 5).
    matrix = affine_matrix(rotate_degree=90, in_center=(20, 15), out_center=(20, 15))
    out = warp_results(sample(), matrix)
    np.testing.assert_allclose(out["gt_keypoints"], [[[30, 5], [31, 7], [31, 3], [6, 15]]], atol=1e-5)
    np.testing.assert_array_equal(out["gt_keypoints_visible"], [[1, 1, 0, 1]])
    # The square (2..12, 3..13) turns into (22..32, -3..7), clipped at y = 0.
    square = out["gt_polygons"][0]
    np.testing.assert_allclose(square.min(axis=0), [22, 0], atol=1e-9)
    np.testing.assert_allclose(square.max(axis=0), [32, 7], atol=1e-9)


def test_warp_hides_points_that_leave_the_image():
    matrix = np.array([[1.0, 0.0, 25.0], [0.0, 1.0, 0.0]])  # 25 pixels to the right (a (2, 3) matrix)
    out = warp_results(sample(), matrix)
    np.testing.assert_array_equal(out["gt_keypoints"], KEYPOINTS + np.float32([25, 0]))
    np.testing.assert_array_equal(out["gt_keypoints_visible"], [[1, 1, 0, 0]])  # x = 45 >= 40; x = 37 stays
    assert out["gt_polygons"][1].shape == (0, 2)


def test_random_affine_with_a_fixed_scale():
    transform = RandomAffine(
        max_rotate_degree=0,
        max_translate_ratio=0,
        scaling_ratio_range=(0.5, 0.5),
        max_shear_degree=0,
        border=(5, 0),
    )
    out = transform(sample())  # scale 1/2 about (20, 15), onto a 50x30 canvas centred at (25, 15)
    np.testing.assert_allclose(out["gt_keypoints"], [[[20, 10], [21, 9.5], [19, 9.5], [25, 22]]])
    np.testing.assert_array_equal(out["gt_keypoints_visible"], VISIBLE)
    np.testing.assert_allclose(out["gt_polygons"][0], [[16, 9], [21, 9], [21, 14], [16, 14]])
    assert out["img"].shape == (30, 50, 3) and out["img_shape"] == (30, 50)
    assert (out["img"] == 0).sum() > 0 and (out["img"] == 114).sum() > 0  # the border value fills the canvas
