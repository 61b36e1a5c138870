from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from visionstack.data import CenterCrop, RandomFlip, RandomResizedCrop, Resize, ResizeEdge


def _results(height: int = 30, width: int = 40, **extra) -> dict:
    img = np.random.default_rng(height * width).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return {"img": img, "img_shape": (height, width), "ori_shape": (height, width), **extra}


def test_resize_to_fixed_size_equals_opencv():
    results = _results()
    original = results["img"].copy()
    out = Resize(scale=(25, 17), interpolation="area")(results)
    np.testing.assert_array_equal(out["img"], cv2.resize(original, (25, 17), interpolation=cv2.INTER_AREA))
    assert out["img_shape"] == (17, 25) == out["img"].shape[:2]
    assert out["scale_factor"] == pytest.approx((25 / 40, 17 / 30))


def test_resize_keep_ratio_fits_inside_the_scale():
    out = Resize(scale=(1333, 800), keep_ratio=True)(_results(480, 640))
    assert out["img_shape"] == (800, 1067)  # factor min(1333/640, 800/480) = 5/3
    tall = Resize(scale=(1333, 800), keep_ratio=True)(_results(1000, 300))
    assert tall["img_shape"] == (1333, 400)


def test_resize_by_factor_and_cumulative_scale_factor():
    results = Resize(scale_factor=0.5)(_results(30, 40))
    assert results["img_shape"] == (15, 20)
    results = Resize(scale=(10, 10))(results)
    assert results["scale_factor"] == pytest.approx((10 / 40, 10 / 30))
    assert Resize(scale_factor=(2.0, 1.0))(_results(30, 40))["img_shape"] == (30, 80)
    with pytest.raises(ValueError, match="exactly one"):
        Resize(scale=10, scale_factor=2.0)
    with pytest.raises(ValueError, match="keep_ratio"):
        Resize(scale_factor=(2.0, 1.0), keep_ratio=True)


def test_resize_moves_boxes_and_maps():
    seg = np.arange(30 * 40, dtype=np.uint8).reshape(30, 40)
    results = _results(30, 40, gt_bboxes=np.array([[4, 3, 20, 15]], np.float32), gt_seg_map=seg)
    out = Resize(scale=(80, 15))(results)
    np.testing.assert_allclose(out["gt_bboxes"], [[8, 1.5, 40, 7.5]])
    np.testing.assert_array_equal(
        out["gt_seg_map"], cv2.resize(seg, (80, 15), interpolation=cv2.INTER_NEAREST)
    )


@pytest.mark.parametrize(
    ("edge", "size_hw", "expected_hw"),
    [
        ("short", (375, 500), (224, 298)),
        ("short", (500, 375), (298, 224)),
        ("short", (64, 64), (224, 224)),
        ("long", (375, 500), (168, 224)),
        ("width", (100, 50), (448, 224)),
        ("height", (100, 50), (224, 112)),
    ],
)
def test_resize_edge_sizes(edge, size_hw, expected_hw):
    out = ResizeEdge(224, edge=edge)(_results(*size_hw))
    assert out["img_shape"] == expected_hw == out["img"].shape[:2]


def test_center_crop_equals_slicing():
    results = _results(31, 40)
    original = results["img"].copy()
    out = CenterCrop(crop_size=(20, 10))(results)
    top, left = int(round((31 - 10) / 2.0)), int(round((40 - 20) / 2.0))
    np.testing.assert_array_equal(out["img"], original[top : top + 10, left : left + 20])
    assert out["img_shape"] == (10, 20)


def test_center_crop_larger_than_image_clips_or_pads():
    clipped = CenterCrop(crop_size=50)(_results(30, 40))
    assert clipped["img_shape"] == (30, 40)
    results = _results(30, 40, gt_bboxes=np.array([[0, 0, 10, 10]], np.float32))
    original = results["img"].copy()
    padded = CenterCrop(crop_size=(44, 35), auto_pad=True, pad_val=7)(results)
    assert padded["img"].shape == (35, 44, 3)
    np.testing.assert_array_equal(padded["img"][2:32, 2:42], original)
    assert (padded["img"][:2] == 7).all() and (padded["img"][:, :2] == 7).all()
    np.testing.assert_allclose(padded["gt_bboxes"], [[2, 2, 12, 12]])


@pytest.mark.parametrize("direction", ["horizontal", "vertical", "diagonal"])
def test_flip_twice_is_identity(direction):
    boxes = np.array([[1, 2, 11, 22]], np.float32)
    results = _results(gt_bboxes=boxes.copy(), gt_seg_map=np.eye(30, 40, dtype=np.uint8))
    original = results["img"].copy()
    flip = RandomFlip(prob=1.0, direction=direction)
    once = flip(results)
    assert once["flip"] and once["flip_direction"] == direction
    assert not np.array_equal(once["img"], original)
    twice = flip(once)
    np.testing.assert_array_equal(twice["img"], original)
    np.testing.assert_allclose(twice["gt_bboxes"], boxes)
    np.testing.assert_array_equal(twice["gt_seg_map"], np.eye(30, 40, dtype=np.uint8))


def test_flip_moves_boxes_like_the_image():
    results = _results(30, 40, gt_bboxes=np.array([[1, 2, 11, 22]], np.float32))
    out = RandomFlip(prob=1.0, direction="horizontal")(results)
    np.testing.assert_allclose(out["gt_bboxes"], [[29, 2, 39, 22]])


def test_flip_probabilities(seeded):
    never = RandomFlip(prob=0.0)(_results())
    assert not never["flip"] and never["flip_direction"] is None
    flip = RandomFlip(prob=0.5)
    flips = sum(flip(_results(4, 4))["flip"] for _ in range(2000))
    assert 900 < flips < 1100
    split = RandomFlip(prob=[0.3, 0.6], direction=["horizontal", "vertical"])
    directions = [split(_results(4, 4))["flip_direction"] for _ in range(2000)]
    assert 500 < directions.count("horizontal") < 700 and 1100 < directions.count("vertical") < 1300
    with pytest.raises(ValueError, match="sum <= 1"):
        RandomFlip(prob=[0.6, 0.6], direction=["horizontal", "vertical"])
    with pytest.raises(ValueError, match="direction"):
        RandomFlip(direction="up")


def test_random_resized_crop_boxes_are_inside_and_within_ranges(seeded):
    transform = RandomResizedCrop(scale=16, crop_ratio_range=(0.2, 0.9), aspect_ratio_range=(0.5, 2.0))
    for _ in range(300):
        x1, y1, crop_w, crop_h = transform.crop_box(60, 40)
        assert 0 <= x1 and x1 + crop_w <= 60 and 0 <= y1 and y1 + crop_h <= 40
        area_ratio = crop_w * crop_h / (60 * 40)
        assert 0.2 * 0.85 <= area_ratio <= 0.9 * 1.15
        assert 0.5 * 0.85 <= crop_w / crop_h <= 2.0 * 1.15


def test_random_resized_crop_output_is_the_resized_crop():
    transform = RandomResizedCrop(scale=(24, 16), interpolation="bilinear")
    results = _results(30, 40)
    original = results["img"].copy()
    np.random.seed(5)
    x1, y1, crop_w, crop_h = transform.crop_box(40, 30)
    np.random.seed(5)
    out = transform(results)
    expected = cv2.resize(
        original[y1 : y1 + crop_h, x1 : x1 + crop_w], (24, 16), interpolation=cv2.INTER_LINEAR
    )
    np.testing.assert_array_equal(out["img"], expected)
    assert out["img_shape"] == (16, 24)
    assert out["scale_factor"] == pytest.approx((24 / crop_w, 16 / crop_h))


def test_random_resized_crop_falls_back_to_a_clamped_central_crop():
    transform = RandomResizedCrop(scale=8, max_attempts=0)
    assert transform.crop_box(100, 10) == (int((100 - round(10 * 4 / 3)) // 2), 0, round(10 * 4 / 3), 10)
    assert transform.crop_box(10, 100) == (0, (100 - round(10 / 0.75)) // 2, 10, round(10 / 0.75))
    assert transform.crop_box(30, 30) == (0, 0, 30, 30)
    with pytest.raises(ValueError, match="crop_ratio_range"):
        RandomResizedCrop(scale=8, crop_ratio_range=(0.5, 1.5))
    assert math.isclose(transform.aspect_ratio_range[0], 0.75)
