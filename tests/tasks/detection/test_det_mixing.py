"""Mosaic, MixUp and MultiImageMixDataset against hand-computed placements."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.data.datasets.coco import CocoDataset
from visionstack.data.transforms import LoadImage
from visionstack.structures.masks import BitmapMasks
from visionstack.tasks.detection.mix_dataset import MultiImageMixDataset
from visionstack.tasks.detection.synthetic import write_synthetic_detection
from visionstack.tasks.detection.transforms import LoadAnnotations, MixUp, Mosaic, PackDetInputs, RandomResize


def sample(value: int, box: list[float], label: int, height: int = 30, width: int = 40) -> dict:
    """A loaded sample: a flat image of ``value`` with one box and its box-shaped mask."""
    mask = np.zeros((1, height, width), dtype=np.uint8)
    x1, y1, x2, y2 = (int(v) for v in box)
    mask[0, y1:y2, x1:x2] = 1
    return {
        "img": np.full((height, width, 3), value, dtype=np.uint8),
        "img_shape": (height, width),
        "gt_bboxes": np.float32([box]),
        "gt_bboxes_labels": np.int64([label]),
        "gt_ignore_flags": np.zeros(1, dtype=bool),
        "gt_masks": BitmapMasks(mask, height, width),
    }


def test_mosaic_with_centre_at_the_middle_tiles_the_four_images():
    results = sample(10, [5, 5, 15, 20], 0)
    results["mix_results"] = [
        sample(20, [0, 0, 40, 30], 1),
        sample(30, [30, 10, 40, 30], 2),
        sample(40, [1, 2, 3, 4], 3),
    ]
    np.random.seed(0)
    out = Mosaic(img_scale=(40, 30), center_ratio_range=(1.0, 1.0))(results)
    assert out["img"].shape == (60, 80, 3) and out["img_shape"] == (60, 80) and "mix_results" not in out
    assert (
        out["img"][0, 0, 0] == 10
        and out["img"][0, 79, 0] == 20
        and out["img"][59, 0, 0] == 30
        and out["img"][59, 79, 0] == 40
    )
    np.testing.assert_allclose(
        out["gt_bboxes"], [[5, 5, 15, 20], [40, 0, 80, 30], [30, 40, 40, 60], [41, 32, 43, 34]]
    )
    assert out["gt_bboxes_labels"].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(out["gt_masks"].get_bboxes(), out["gt_bboxes"])


def test_mosaic_off_centre_crops_and_drops():
    results = sample(10, [5, 5, 15, 20], 0)
    results["mix_results"] = [
        sample(20, [0, 0, 40, 30], 1),
        sample(30, [30, 10, 40, 30], 2),
        sample(40, [1, 2, 3, 4], 3),
    ]
    np.random.seed(0)
    out = Mosaic(img_scale=(40, 30), center_ratio_range=(0.5, 0.5))(results)
    # centre (20, 15): top-left shows its right-bottom 20x15 part, so box 0 moves by (-20, -15) and
    # is clipped away; top-right keeps its left 40 columns (all of them, from x=20); bottom-left
    # shows columns 20..40 of its image at x 0..20; bottom-right's box moves by (20, 15).
    np.testing.assert_allclose(out["gt_bboxes"], [[20, 0, 60, 15], [10, 25, 20, 45], [21, 17, 23, 19]])
    assert out["gt_bboxes_labels"].tolist() == [1, 2, 3]
    assert out["img"][0, 0, 0] == 10 and out["img"][0, 79, 0] == 114  # beyond the top-right image: padding
    np.testing.assert_array_equal(out["gt_masks"].get_bboxes(), out["gt_bboxes"])
    with pytest.raises(KeyError, match="MultiImageMixDataset"):
        Mosaic()(sample(1, [0, 0, 1, 1], 0))


def test_mixup_without_jitter_or_flip_averages_and_concatenates():
    results = sample(100, [5, 5, 15, 20], 0)
    results["mix_results"] = [sample(50, [20, 10, 30, 25], 1)]
    np.random.seed(0)
    out = MixUp(img_scale=(40, 30), ratio_range=(1.0, 1.0), flip_ratio=1.0)(results)
    assert out["img"].shape == (30, 40, 3) and int(out["img"][0, 0, 0]) == 75
    np.testing.assert_allclose(out["gt_bboxes"], [[5, 5, 15, 20], [20, 10, 30, 25]])
    assert out["gt_bboxes_labels"].tolist() == [0, 1] and len(out["gt_masks"]) == 2


def test_mixup_flip_and_scale_move_boxes_with_pixels():
    results = sample(100, [5, 5, 15, 20], 0)
    results["mix_results"] = [sample(50, [20, 10, 30, 25], 1, height=15, width=20)]
    np.random.seed(0)
    out = MixUp(img_scale=(40, 30), ratio_range=(1.0, 1.0), flip_ratio=0.0)(results)
    # the 20x15 image is scaled by 2 to 40x30, then mirrored: box [40, 20, 60, 50] -> clipped [40, 20, 40, 30]?
    # its mask and box are both clipped to the 40x30 canvas first: [40, 20, 40, 30] has no area and is dropped.
    assert out["gt_bboxes_labels"].tolist() == [0]
    results = sample(100, [5, 5, 15, 20], 0)
    results["mix_results"] = [sample(50, [2, 1, 6, 9], 1, height=15, width=20)]
    np.random.seed(0)
    out = MixUp(img_scale=(40, 30), ratio_range=(1.0, 1.0), flip_ratio=0.0)(results)
    np.testing.assert_allclose(out["gt_bboxes"][1], [40 - 12, 2, 40 - 4, 18])
    np.testing.assert_array_equal(out["gt_masks"].get_bboxes(), out["gt_bboxes"])


def test_mixup_ignores_a_sample_without_boxes():
    results = sample(100, [5, 5, 15, 20], 0)
    empty = sample(50, [0, 0, 1, 1], 1)
    empty.update(gt_bboxes=np.zeros((0, 4), np.float32))
    results["mix_results"] = [empty]
    out = MixUp(img_scale=(40, 30))(results)
    assert int(out["img"][0, 0, 0]) == 100 and len(out["gt_bboxes"]) == 1


@pytest.fixture(scope="module")
def synth_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    write_synthetic_detection(root, num_train=6, num_val=1, image_size=(48, 64), seed=1)
    return CocoDataset(
        data_root=str(root),
        ann_file="annotations/instances_train.json",
        data_prefix=dict(img="train/"),
        pipeline=[LoadImage(), LoadAnnotations(with_mask=True)],
    )


def test_multi_image_mix_dataset_feeds_mosaic_and_mixup(synth_dataset):
    dataset = MultiImageMixDataset(
        synth_dataset,
        pipeline=[
            Mosaic(img_scale=(64, 64)),
            MixUp(img_scale=(64, 64)),
            RandomResize(scale=(64, 64), keep_ratio=True),
            PackDetInputs(),
        ],
    )
    assert len(dataset) == 6 and dataset.metainfo["classes"][0] == "circle"
    np.random.seed(0)
    packed = dataset[2]
    sample_ = packed["data_samples"]
    assert tuple(packed["inputs"].shape) == (3, 64, 64)
    instances = sample_.gt_instances
    assert len(instances.masks) == len(instances.bboxes) == len(instances.labels)
    assert (instances.bboxes[:, 2:] <= 64).all() and (instances.bboxes >= 0).all()
    dataset.update_skip_type_keys(["Mosaic", "MixUp"])
    plain = dataset[2]
    assert (
        plain["data_samples"].img_shape
        == RandomResize(scale=(64, 64), keep_ratio=True)(synth_dataset[2])["img_shape"]
    )


def test_mixing_refuses_per_instance_kinds_it_cannot_move():
    results = sample(10, [5, 5, 15, 20], 0)
    results["gt_keypoints"] = np.zeros((1, 3, 2), np.float32)
    results["mix_results"] = [sample(20, [0, 0, 40, 30], 1) for _ in range(3)]
    with pytest.raises(ValueError, match="holds 'gt_keypoints'"):
        Mosaic(img_scale=(40, 30))(results)
