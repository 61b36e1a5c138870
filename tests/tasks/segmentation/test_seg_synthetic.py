"""The synthetic segmentation generator: determinism, label range, map/image alignment, meta.json, class balance."""

from __future__ import annotations

import colorsys
import json

import cv2
import numpy as np
import pytest

from visionstack.tasks.segmentation.synthetic import (
    COLOR_BANDS,
    SEG_CLASSES,
    SEG_PALETTE,
    STUFF_CLASSES,
    THING_CLASSES,
    render_segmentation_scene,
    write_synthetic_segmentation,
)


def all_files(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    first = write_synthetic_segmentation(tmp_path / "a", num_train=4, num_val=2, image_size=64, seed=3)
    write_synthetic_segmentation(tmp_path / "b", num_train=4, num_val=2, image_size=64, seed=3)
    write_synthetic_segmentation(tmp_path / "c", num_train=4, num_val=2, image_size=64, seed=4)
    files_a, files_b, files_c = (all_files(tmp_path / name) for name in "abc")
    expected = {f"{kind}/{split}/{i:06d}.{ext}" for split, n in (("train", 4), ("val", 2)) for i in range(n)
                for kind, ext in (("img_dir", "jpg"), ("ann_dir", "png"))} | {"meta.json"}  # fmt: skip
    assert set(files_a) == expected
    assert files_a == files_b
    assert files_a["img_dir/train/000000.jpg"] != files_c["img_dir/train/000000.jpg"]
    assert files_a["img_dir/val/000000.jpg"] != files_a["img_dir/train/000000.jpg"]  # splits differ
    assert first["train"]["images"] == 4 and first["val"]["images"] == 2


def test_files_are_images_and_maps_with_labels_in_range(tmp_path):
    write_synthetic_segmentation(tmp_path, num_train=5, num_val=1, image_size=48, seed=0)
    for index in range(5):
        img = cv2.imread(str(tmp_path / "img_dir" / "train" / f"{index:06d}.jpg"), cv2.IMREAD_UNCHANGED)
        label = cv2.imread(str(tmp_path / "ann_dir" / "train" / f"{index:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert img.shape == (48, 48, 3) and img.dtype == np.uint8
        assert label.shape == (48, 48) and label.dtype == np.uint8
        assert label.max() < len(SEG_CLASSES)  # no ignore pixel: every pixel is painted by a class
        assert len(np.unique(label)) >= 3  # two stuff classes at least, and shapes


def test_meta_json(tmp_path):
    summary = write_synthetic_segmentation(tmp_path, num_train=1, num_val=1, image_size=32)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert summary["meta_file"] == str(tmp_path / "meta.json")
    assert meta["classes"] == list(SEG_CLASSES) == summary["classes"]
    assert meta["palette"] == SEG_PALETTE and len(meta["palette"]) == len(SEG_CLASSES) == 8
    assert all(len(color) == 3 and all(0 <= v <= 255 for v in color) for color in meta["palette"])
    assert len({tuple(color) for color in meta["palette"]}) == 8
    assert SEG_CLASSES == STUFF_CLASSES + THING_CLASSES


def region_matches_band(img: np.ndarray, region: np.ndarray, name: str) -> bool:
    """The mean colour of ``region`` has the hue (or, for low-saturation sand, the look) of class ``name``."""
    blue, green, red = img[region].reshape(-1, 3).mean(axis=0) / 255.0
    hue, saturation, value = colorsys.rgb_to_hsv(red, green, blue)
    (low, high), (sat_low, _), _ = COLOR_BANDS[name]
    if sat_low < 0.3:  # sand: pale and bright, hue poorly defined
        return saturation < 0.45 and value > 0.55
    distance = min(abs(hue * 360 - (low + high) / 2), 360 - abs(hue * 360 - (low + high) / 2))
    return distance <= (high - low) / 2 + 15 and saturation > 0.3


def interior_regions(label: np.ndarray, minimum: int = 25):
    kernel = np.ones((5, 5), np.uint8)
    for index, name in enumerate(SEG_CLASSES):
        region = cv2.erode((label == index).astype(np.uint8), kernel).astype(bool)
        if region.sum() >= minimum:
            yield name, region


def test_maps_are_aligned_with_the_painted_pixels():
    aligned = regions = wrong = wrong_regions = 0
    for index in range(12):
        img, label = render_segmentation_scene(np.random.default_rng([9, index]), 128)
        for name, region in interior_regions(label):
            regions += 1
            aligned += region_matches_band(img, region, name)
        for name, region in interior_regions(label[::-1, ::-1]):  # a map that does not belong to the image
            wrong_regions += 1
            wrong += region_matches_band(img, region, name)
    assert regions > 60
    assert aligned == regions  # every class region shows its class's colour
    assert wrong < 0.3 * wrong_regions  # and the check notices a map that is not the image's


def test_every_class_is_frequent_and_the_summary_reports_it(tmp_path):
    summary = write_synthetic_segmentation(tmp_path, num_train=120, num_val=0, image_size=48, seed=0)
    frequencies = summary["class_frequencies"]
    assert list(frequencies) == list(SEG_CLASSES)
    assert sum(frequencies.values()) == pytest.approx(1.0)
    assert min(frequencies.values()) >= 0.03, frequencies
    assert max(frequencies.values()) <= 0.3, frequencies
    counts = np.zeros(len(SEG_CLASSES))
    for index in range(120):
        label = cv2.imread(str(tmp_path / "ann_dir" / "train" / f"{index:06d}.png"), cv2.IMREAD_GRAYSCALE)
        counts += np.bincount(label.ravel(), minlength=len(SEG_CLASSES))
    np.testing.assert_allclose(counts / counts.sum(), list(frequencies.values()))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="image_size"):
        write_synthetic_segmentation(tmp_path, num_train=1, num_val=1, image_size=16)
    with pytest.raises(ValueError, match="negative"):
        write_synthetic_segmentation(tmp_path, num_train=-1)
