"""The synthetic COCO-format shapes dataset: determinism, exact masks, COCO area buckets."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from visionstack.data.datasets.coco import CocoDataset
from visionstack.data.transforms import LoadImage
from visionstack.tasks.detection.synthetic import (
    HARD_VISIBLE_FRACTION,
    MIN_VISIBLE_FRACTION,
    SHAPE_CLASSES,
    _annotation,
    render_scene,
    synth_detection,
    write_synthetic_detection,
)
from visionstack.tasks.detection.transforms import LoadAnnotations


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    write_synthetic_detection(root, num_train=40, num_val=8, seed=0)
    return root


def test_layout_and_categories(synth_root):
    for split, count in (("train", 40), ("val", 8)):
        content = json.loads((synth_root / "annotations" / f"instances_{split}.json").read_text())
        assert len(content["images"]) == count and len(list((synth_root / split).glob("*.png"))) == count
        assert [c["name"] for c in content["categories"]] == list(SHAPE_CLASSES)
        for image in content["images"]:
            assert 128 <= image["height"] <= 256 and 128 <= image["width"] <= 256


def test_same_seed_gives_identical_files_and_another_seed_differs(synth_root, tmp_path):
    write_synthetic_detection(tmp_path / "again", num_train=40, num_val=8, seed=0)
    for relative in (
        "annotations/instances_train.json",
        "annotations/instances_val.json",
        "train/000007.png",
        "val/000003.png",
    ):
        assert (synth_root / relative).read_bytes() == (tmp_path / "again" / relative).read_bytes(), relative
    write_synthetic_detection(tmp_path / "other", num_train=2, num_val=0, seed=1)
    assert (tmp_path / "other" / "train" / "000000.png").read_bytes() != (
        synth_root / "train" / "000000.png"
    ).read_bytes()


def test_masks_match_the_painted_pixels(synth_root):
    dataset = CocoDataset(
        data_root=str(synth_root),
        ann_file="annotations/instances_train.json",
        data_prefix=dict(img="train/"),
        pipeline=[LoadImage(), LoadAnnotations(with_mask=True)],
    )
    content = json.loads((synth_root / "annotations" / "instances_train.json").read_text())
    kinds = {type(a["segmentation"]).__name__ for a in content["annotations"]}
    assert kinds == {"list", "dict"}  # polygons and RLE both occur
    checked = 0
    for index in range(len(dataset)):
        results = dataset[index]
        img = results["img"].astype(np.int32)
        masks = results["gt_masks"]
        np.testing.assert_array_equal(masks.get_bboxes(), results["gt_bboxes"])  # boxes are tight
        for mask in masks.masks.astype(bool):
            colors = img[mask]
            assert (colors == colors[0]).all()  # one flat colour under the mask
            ring = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~mask
            same = (img[ring] == colors[0]).all(axis=1).mean() if ring.any() else 0.0
            assert same < 0.5  # the colour stops where the mask stops
            checked += 1
        # visible masks of one image never overlap (occlusion is resolved)
        assert masks.masks.sum(axis=0).max() <= 1
    assert checked > 60


def test_area_buckets_and_occlusion(synth_root):
    content = json.loads((synth_root / "annotations" / "instances_train.json").read_text())
    areas = np.array([a["area"] for a in content["annotations"]])
    assert (areas < 32**2).any() and ((areas >= 32**2) & (areas < 96**2)).any() and (areas >= 96**2).any()
    for annotation in content["annotations"]:
        x, y, w, h = annotation["bbox"]
        assert w >= 1 and h >= 1 and annotation["area"] <= w * h and annotation["iscrowd"] in (0, 1)
    crowd = [a for a in content["annotations"] if a["iscrowd"]]
    assert 0 < len(crowd) < 0.4 * len(content["annotations"])
    assert all(isinstance(a["segmentation"], dict) for a in crowd)  # partly hidden: never an exact polygon


def test_hard_instances_are_crowd_by_visible_fraction():
    """Visibility counts occlusion and truncation: the visible pixels over the whole outline's area."""
    rng = np.random.default_rng(7)
    seen = {0: 0, 1: 0}
    for _ in range(40):
        _, shapes = render_scene(rng, 96, 96)
        for shape in shapes:
            whole = cv2.contourArea(shape.outline.astype(np.float32))  # independent of the module
            fraction = shape.visible_mask.sum() / whole
            assert fraction >= MIN_VISIBLE_FRACTION - 1e-9
            crowd = _annotation(shape, 1, 1)["iscrowd"]
            assert crowd == int(fraction < HARD_VISIBLE_FRACTION)
            seen[crowd] += 1
            if crowd == 0 and not shape.inside_image:
                assert (
                    fraction >= HARD_VISIBLE_FRACTION
                )  # truncated but mostly inside: still a normal instance
    assert seen[0] > 0 and seen[1] > 0


def test_counts_and_cli_entry(tmp_path):
    summary = synth_detection(tmp_path, seed=0, num_train=100, num_val=20)
    assert summary["train"]["images"] == 100 and summary["val"]["images"] == 20
    with pytest.raises(ValueError, match="image_size"):
        write_synthetic_detection(tmp_path, image_size=(8, 4))
