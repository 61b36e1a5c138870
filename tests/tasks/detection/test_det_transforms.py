"""LoadAnnotations, FilterAnnotations, RandomResize, RandomCrop, Pad and PackDetInputs against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.data.transforms import flip_results
from visionstack.registry import TRANSFORMS, build
from visionstack.structures import DataSample, InstanceData
from visionstack.structures.masks import BitmapMasks, PolygonMasks
from visionstack.tasks.detection.transforms import (
    FilterAnnotations,
    LoadAnnotations,
    PackDetInputs,
    Pad,
    RandomCrop,
    RandomResize,
)


def coordinate_image(height: int, width: int) -> np.ndarray:
    """Channel 0 holds x, channel 1 holds y (so a crop's offset can be read off its first pixel)."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs, ys, np.zeros_like(xs)], axis=2).astype(np.uint8)


def record(height: int = 20, width: int = 40) -> dict:
    """A record with three instances: two boxes with polygon masks and a crowd box with an RLE-less mask."""
    return {
        "img": coordinate_image(height, width),
        "img_shape": (height, width),
        "ori_shape": (height, width),
        "img_path": "coords.png",
        "instances": [
            {
                "bbox": [2, 3, 12, 13],
                "bbox_label": 0,
                "ignore_flag": 0,
                "mask": [[2, 3, 12, 3, 12, 13, 2, 13]],
            },
            {
                "bbox": [30, 4, 38, 16],
                "bbox_label": 2,
                "ignore_flag": 0,
                "mask": [[30, 4, 38, 4, 38, 16, 30, 16]],
            },
            {
                "bbox": [20, 0, 24, 4],
                "bbox_label": 1,
                "ignore_flag": 1,
                "mask": [[20, 0, 24, 0, 24, 4, 20, 4]],
            },
        ],
    }


def loaded(poly2mask: bool = True, **shape) -> dict:
    return LoadAnnotations(with_mask=True, poly2mask=poly2mask)(record(**shape))


def test_load_annotations_arrays():
    results = loaded()
    assert results["gt_bboxes"].dtype == np.float32 and results["gt_bboxes"].shape == (3, 4)
    assert results["gt_bboxes_labels"].dtype == np.int64 and results["gt_bboxes_labels"].tolist() == [0, 2, 1]
    assert results["gt_ignore_flags"].dtype == bool and results["gt_ignore_flags"].tolist() == [
        False,
        False,
        True,
    ]
    assert isinstance(results["gt_masks"], BitmapMasks)
    np.testing.assert_array_equal(results["gt_masks"].get_bboxes(), results["gt_bboxes"])
    polygons = loaded(poly2mask=False)["gt_masks"]
    assert isinstance(polygons, PolygonMasks) and len(polygons) == 3


def test_load_annotations_unusable_mask_is_ignored():
    results = record()
    results["instances"][0]["mask"] = [[1, 2, 3, 4]]  # under three points
    del results["instances"][1]["mask"]
    out = LoadAnnotations(with_mask=True)(results)
    assert out["gt_ignore_flags"].tolist() == [True, True, True]
    assert out["gt_masks"].areas[:2].tolist() == [0, 0]
    with pytest.raises(KeyError, match="no `instances`"):
        LoadAnnotations()({"img_path": "x.png"})


def test_resize_keeps_whole_extent_boxes_when_asked():
    results = {
        "img": np.zeros((20, 40, 3), np.uint8),
        "gt_bboxes": np.array([[-4.0, 2.0, 10.0, 30.0]], np.float32),
    }
    clipped = build(dict(type="Resize", scale=(80, 40)), TRANSFORMS)(dict(results))
    whole = build(dict(type="Resize", scale=(80, 40), clip_object_border=False), TRANSFORMS)(dict(results))
    np.testing.assert_allclose(clipped["gt_bboxes"], [[0.0, 4.0, 20.0, 40.0]])
    np.testing.assert_allclose(whole["gt_bboxes"], [[-8.0, 4.0, 20.0, 60.0]])


def test_random_resize_fixed_ratio_by_hand():
    results = RandomResize(scale=(40, 20), ratio_range=(2.0, 2.0), keep_ratio=True)(loaded())
    assert results["img"].shape[:2] == (40, 80) and results["img_shape"] == (40, 80)
    assert results["scale"] == (80, 40) and results["scale_factor"] == (2.0, 2.0)
    np.testing.assert_allclose(results["gt_bboxes"][0], [4, 6, 24, 26])
    np.testing.assert_array_equal(results["gt_masks"].get_bboxes()[0], [4, 6, 24, 26])


def test_random_resize_keep_ratio_fits_inside_the_scale():
    results = RandomResize(scale=(100, 30), keep_ratio=True)(loaded())
    assert results["img"].shape[:2] == (30, 60)  # factor min(100/40, 30/20) = 1.5
    np.testing.assert_allclose(results["gt_bboxes"][1], [45, 6, 57, 24])
    polygon = RandomResize(scale=(100, 30), keep_ratio=True)(loaded(poly2mask=False))["gt_masks"]
    np.testing.assert_allclose(polygon.get_bboxes()[1], [45, 6, 57, 24])


def test_random_resize_two_scales_draws_each_side_in_range():
    transform = RandomResize(scale=[(30, 10), (50, 16)], keep_ratio=False)
    np.random.seed(0)
    expected = []
    for _ in range(5):
        expected.append((np.random.randint(30, 51), np.random.randint(10, 17)))
    np.random.seed(0)
    for width, height in expected:
        out = transform(loaded())
        assert out["img"].shape[:2] == (height, width) and out["gt_masks"].masks.shape[1:] == (height, width)
    with pytest.raises(ValueError, match="not both"):
        RandomResize(scale=[(30, 10), (50, 16)], ratio_range=(0.5, 1.5))


def test_random_crop_shifts_clips_and_drops():
    np.random.seed(0)
    for _ in range(10):
        results = RandomCrop(crop_size=(16, 12), allow_negative_crop=True)(loaded())
        img = results["img"]
        x0, y0 = int(img[0, 0, 0]), int(img[0, 0, 1])
        assert img.shape[:2] == (12, 16)
        boxes = np.float32([[2, 3, 12, 13], [30, 4, 38, 16], [20, 0, 24, 4]]) - [x0, y0, x0, y0]
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, 16)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, 12)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        np.testing.assert_allclose(results["gt_bboxes"], boxes[keep])
        np.testing.assert_array_equal(results["gt_bboxes_labels"], np.array([0, 2, 1])[keep])
        np.testing.assert_array_equal(results["gt_ignore_flags"], np.array([False, False, True])[keep])
        np.testing.assert_array_equal(results["gt_masks"].get_bboxes(), boxes[keep])


def test_random_crop_without_boxes_left_returns_none_unless_allowed():
    results = loaded()
    results.update(
        gt_bboxes=np.float32([[0, 0, 2, 2]]),
        gt_bboxes_labels=np.int64([0]),
        gt_ignore_flags=np.zeros(1, bool),
    )
    results["gt_masks"] = results["gt_masks"][[0]]
    np.random.seed(1)
    outcomes = [RandomCrop(crop_size=(5, 5))(dict(results)) for _ in range(20)]
    assert any(out is None for out in outcomes)
    kept = [out for out in outcomes if out is not None]
    assert all(len(out["gt_bboxes"]) == 1 for out in kept)
    np.random.seed(1)
    assert all(
        RandomCrop(crop_size=(5, 5), allow_negative_crop=True)(dict(results)) is not None for _ in range(20)
    )


def test_random_crop_sizes_and_recompute_bbox():
    np.random.seed(0)
    assert RandomCrop((0.5, 0.25), crop_type="relative").crop_shape(40, 20) == (20, 5)
    for _ in range(10):
        width, height = RandomCrop((0.5, 0.5), crop_type="relative_range").crop_shape(40, 20)
        assert 20 <= width <= 40 and 10 <= height <= 20
        width, height = RandomCrop((5, 15), crop_type="absolute_range").crop_shape(40, 12)
        assert 5 <= width <= 15 and 5 <= height <= 12
    results = loaded()
    results["gt_bboxes"][0] = [0, 0, 20, 20]  # a loose box around mask 0
    out = RandomCrop((40, 20), recompute_bbox=True)(results)
    np.testing.assert_allclose(out["gt_bboxes"][0], [2, 3, 12, 13])
    with pytest.raises(ValueError, match="crop_type"):
        RandomCrop((1, 1), crop_type="square")


def test_pad_to_divisor_and_size():
    results = loaded(height=21, width=33)
    results["gt_seg_map"] = np.zeros((21, 33), dtype=np.uint8)
    out = Pad(size_divisor=8, pad_val=dict(img=(1, 2, 3)))(results)
    assert out["img"].shape == (24, 40, 3) and out["img_shape"] == (24, 40) and out["pad_shape"] == (24, 40)
    assert out["img"][23, 39].tolist() == [1, 2, 3] and out["gt_seg_map"][23, 39] == 255
    assert out["gt_masks"].masks.shape == (3, 24, 40) and out["gt_masks"].masks[:, 21:].sum() == 0
    np.testing.assert_allclose(out["gt_bboxes"][0], [2, 3, 12, 13])
    assert Pad(size=(50, 30))(loaded())["img"].shape[:2] == (30, 50)
    assert Pad(pad_to_square=True)(loaded())["img"].shape[:2] == (40, 40)
    with pytest.raises(ValueError, match="smaller size"):
        Pad(size=(10, 10))(loaded())


def test_flip_helper_moves_masks_with_boxes():
    out = flip_results(loaded(), "horizontal")
    np.testing.assert_allclose(out["gt_bboxes"][0], [40 - 12, 3, 40 - 2, 13])
    np.testing.assert_array_equal(out["gt_masks"].get_bboxes(), out["gt_bboxes"])


def test_filter_annotations():
    results = loaded()
    results["gt_bboxes"][1] = [30, 4, 31, 16]  # width 1: not > 1
    out = FilterAnnotations(min_gt_bbox_wh=(1, 1))(results)
    assert out["gt_bboxes_labels"].tolist() == [0, 1] and len(out["gt_masks"]) == 2
    by_mask = FilterAnnotations(by_box=False, by_mask=True, min_gt_mask_area=50)(loaded())
    assert by_mask["gt_bboxes_labels"].tolist() == [0, 2]
    assert FilterAnnotations(min_gt_bbox_wh=(100, 100))(loaded()) is None
    empty = FilterAnnotations(min_gt_bbox_wh=(100, 100), keep_empty=False)(loaded())
    assert len(empty["gt_bboxes"]) == 0 and len(empty["gt_masks"]) == 0


def test_pack_det_inputs_splits_ignored_instances():
    results = loaded()
    results.update(img_id=7, scale_factor=(1.0, 1.0), flip=False, flip_direction=None)
    packed = build(dict(type="PackDetInputs"), TRANSFORMS)(results)
    inputs, sample = packed["inputs"], packed["data_samples"]
    assert inputs.dtype == torch.uint8 and tuple(inputs.shape) == (3, 20, 40)
    assert isinstance(sample, DataSample) and sample.img_id == 7 and sample.img_shape == (20, 40)
    assert isinstance(sample.gt_instances, InstanceData) and isinstance(
        sample.ignored_instances, InstanceData
    )
    assert (
        sample.gt_instances.bboxes.dtype == torch.float32 and sample.gt_instances.labels.dtype == torch.int64
    )
    assert sample.gt_instances.labels.tolist() == [0, 2] and sample.ignored_instances.labels.tolist() == [1]
    assert torch.equal(sample.ignored_instances.bboxes, torch.tensor([[20.0, 0, 24, 4]]))
    assert isinstance(sample.gt_instances.masks, BitmapMasks) and len(sample.gt_instances.masks) == 2
    no_annotations = PackDetInputs()({"img": np.zeros((4, 5, 3), np.uint8)})
    assert "gt_instances" not in no_annotations["data_samples"]


def test_pack_det_inputs_rejects_masks_left_behind():
    results = loaded()
    results["img"] = np.zeros((10, 20, 3), np.uint8)  # resized without the masks
    with pytest.raises(ValueError, match="moved the image without the masks"):
        PackDetInputs()(results)
