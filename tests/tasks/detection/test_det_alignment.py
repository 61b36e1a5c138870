"""Seeded fuzz: masks stay aligned with boxes, and boxes inside the image, through every transform."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from visionstack.data.datasets.coco import CocoDataset
from visionstack.data.transforms import LoadImage, flip_results
from visionstack.registry import TRANSFORMS, build
from visionstack.structures.masks import BitmapMasks, PolygonMasks
from visionstack.tasks.detection.synthetic import write_synthetic_detection
from visionstack.tasks.detection.transforms import LoadAnnotations

# Every detection transform registered here, with a config for the contract test below.
CONFIGS: dict[str, dict] = {
    "LoadAnnotations": dict(with_mask=True),
    "FilterAnnotations": dict(min_gt_bbox_wh=(1, 1), keep_empty=False),
    "RandomResize": dict(scale=(96, 80), ratio_range=(0.5, 1.5), keep_ratio=True),
    "RandomCrop": dict(crop_size=(0.3, 0.7), crop_type="relative_range", allow_negative_crop=True),
    "Pad": dict(size_divisor=32),
    "PhotoMetricDistortion": dict(),
    "PackDetInputs": dict(),
    "Mosaic": dict(img_scale=(48, 48)),
    "MixUp": dict(img_scale=(48, 48)),
}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_fuzz")
    write_synthetic_detection(root, num_train=10, num_val=1, image_size=(40, 72), seed=5)
    dataset = CocoDataset(
        data_root=str(root), ann_file="annotations/instances_train.json", data_prefix=dict(img="train/")
    )
    return [LoadImage()(dataset.get_data_info(i)) for i in range(len(dataset))]


def check_aligned(results: dict, where: str, tolerance: float = 1.0) -> None:
    """Boxes inside the image; every mask inside its box within ``tolerance`` pixels."""
    height, width = results["img"].shape[:2]
    assert tuple(results["img_shape"]) == (height, width), where
    boxes, masks = results["gt_bboxes"], results["gt_masks"]
    assert len(boxes) == len(masks) == len(results["gt_bboxes_labels"]) == len(results["gt_ignore_flags"]), (
        where
    )
    assert (masks.height, masks.width) == (height, width), where
    assert (boxes[:, 0::2] >= 0).all() and (boxes[:, 0::2] <= width).all(), where
    assert (boxes[:, 1::2] >= 0).all() and (boxes[:, 1::2] <= height).all(), where
    bitmaps = masks.to_bitmap() if isinstance(masks, PolygonMasks) else masks
    for index, (box, tight) in enumerate(zip(boxes, bitmaps.get_bboxes())):
        if bitmaps.areas[index] == 0:
            continue
        assert tight[0] >= box[0] - tolerance and tight[1] >= box[1] - tolerance, (where, index, box, tight)
        assert tight[2] <= box[2] + tolerance and tight[3] <= box[3] + tolerance, (where, index, box, tight)


def random_step(results: dict, rng: np.random.Generator, others: list[dict]) -> tuple[str, dict | None]:
    choice = int(rng.integers(6))
    if choice == 0:
        return "resize", build(dict(type="RandomResize", **CONFIGS["RandomResize"]), TRANSFORMS)(results)
    if choice == 1:
        return "crop", build(dict(type="RandomCrop", **CONFIGS["RandomCrop"]), TRANSFORMS)(results)
    if choice == 2:
        return "pad", build(dict(type="Pad", size_divisor=int(rng.integers(1, 20))), TRANSFORMS)(results)
    if choice == 3:
        return "flip", flip_results(results, ["horizontal", "vertical", "diagonal"][int(rng.integers(3))])
    name = "Mosaic" if choice == 4 else "MixUp"
    mixed = dict(results, mix_results=[copy.deepcopy(o) for o in others[: 3 if choice == 4 else 1]])
    return name, build(dict(type=name, **CONFIGS[name]), TRANSFORMS)(mixed)


def grown_tolerance(tolerance: float, step: str, before: tuple, after: tuple) -> float:
    """How far a bitmap mask may stick out of its box after ``step``.

    Polygons transform exactly, so one pixel (rasterisation) always suffices. A bitmap resampled
    with nearest neighbour gains up to one output pixel per resampling, and earlier errors scale
    with the image; crops, pads and flips add nothing. Mixed-in samples start exact and are
    resampled at most twice.
    """
    scale = max(after[0] / before[0], after[1] / before[1])
    if step == "resize":
        return tolerance * scale + 1
    if step == "Mosaic":
        return max(tolerance * max(48 / before[0], 48 / before[1]), 1.0) + 1
    if step == "MixUp":
        return max(tolerance, 3.0)
    return tolerance


@pytest.mark.parametrize("poly2mask", [True, False])
def test_masks_follow_boxes_through_random_pipelines(records, poly2mask):
    load = LoadAnnotations(with_mask=True, poly2mask=poly2mask)
    loaded = [load(copy.deepcopy(r)) for r in records]
    steps_run = 0
    for trial in range(16):
        rng = np.random.default_rng(trial)
        np.random.seed(trial)
        results = copy.deepcopy(loaded[trial % len(loaded)])
        tolerance = 1.0
        check_aligned(results, "loaded", tolerance)
        for position in range(4):
            others = [loaded[int(i)] for i in rng.integers(len(loaded), size=3)]
            before = results["img"].shape[:2]
            step, results = random_step(results, rng, others)
            if results is None:
                break
            steps_run += 1
            if poly2mask:
                tolerance = grown_tolerance(tolerance, step, before, results["img"].shape[:2])
            check_aligned(results, f"trial {trial}, step {position} ({step})", tolerance)
            assert isinstance(results["gt_masks"], BitmapMasks if poly2mask else PolygonMasks)
    assert steps_run >= 40


# The box/mask-aware transforms shared with segmentation moved to visionstack.data.transforms.
DETECTION_MODULES = (
    "visionstack.tasks.detection",
    "visionstack.data.transforms.annotations",
    "visionstack.data.transforms.spatial",
    "visionstack.data.transforms.photometric_distortion",
)


def test_every_detection_transform_has_a_contract_config():
    ours = [name for name, cls in TRANSFORMS.items() if cls.__module__.startswith(DETECTION_MODULES)]
    assert sorted(ours) == sorted(CONFIGS)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_transform_contract(name, records):
    transform = build(dict(type=name, **CONFIGS[name]), TRANSFORMS)
    assert name in repr(transform)
    for seed in range(3):
        np.random.seed(seed)
        results = LoadAnnotations(with_mask=True)(copy.deepcopy(records[seed]))
        if hasattr(transform, "get_indexes"):
            others = [LoadAnnotations(with_mask=True)(copy.deepcopy(r)) for r in records[3:6]]
            results["mix_results"] = others[: len(transform.get_indexes(records))]
        out = transform(results)
        if name == "PackDetInputs":
            assert tuple(out["inputs"].shape[1:]) == out["data_samples"].img_shape
            continue
        assert out["img"].dtype == np.uint8 and out["img"].ndim == 3
        check_aligned(out, name)
