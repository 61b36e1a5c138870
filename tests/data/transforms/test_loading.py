from __future__ import annotations

import cv2
import numpy as np
import pytest

from visionstack.data import LoadImage, read_image


def test_loads_bgr_uint8_as_written(tmp_path, image_writer, random_image):
    path = image_writer(tmp_path / "a.png", random_image)
    results = LoadImage()({"img_path": path})
    np.testing.assert_array_equal(results["img"], random_image)
    assert results["img"].dtype == np.uint8
    assert results["img_shape"] == results["ori_shape"] == (24, 32)


def test_grayscale_file_becomes_three_equal_channels(tmp_path, image_writer):
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    path = image_writer(tmp_path / "g.png", gray)
    color = LoadImage()({"img_path": path})["img"]
    assert color.shape == (6, 8, 3)
    for channel in range(3):
        np.testing.assert_array_equal(color[..., channel], gray)
    np.testing.assert_array_equal(LoadImage(color_type="grayscale")({"img_path": path})["img"], gray)


def test_to_float32_and_unchanged(tmp_path, image_writer):
    rgba = np.random.default_rng(0).integers(0, 256, size=(5, 7, 4), dtype=np.uint8)
    path = image_writer(tmp_path / "alpha.png", rgba)
    assert LoadImage(color_type="unchanged")({"img_path": path})["img"].shape == (5, 7, 4)
    loaded = LoadImage(to_float32=True)({"img_path": path})["img"]
    assert loaded.dtype == np.float32 and loaded.shape == (5, 7, 3)
    np.testing.assert_array_equal(loaded, cv2.imread(path, cv2.IMREAD_COLOR).astype(np.float32))


def test_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(FileNotFoundError, match="missing.png"):
        LoadImage()({"img_path": str(missing)})
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty \(0 bytes\).*empty.jpg"):
        LoadImage()({"img_path": str(empty)})
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not a png" * 10)
    with pytest.raises(ValueError, match="cannot decode.*garbage.png"):
        read_image(garbage)
    with pytest.raises(KeyError, match="neither `img_path`"):
        LoadImage()({})
    with pytest.raises(ValueError, match="color_type"):
        LoadImage(color_type="rgb")


def test_ignore_empty_returns_none(tmp_path):
    assert LoadImage(ignore_empty=True)({"img_path": str(tmp_path / "missing.png")}) is None


def test_an_array_without_path_is_used_as_loaded(random_image):
    results = LoadImage()({"img": random_image})
    assert results["img"] is random_image and results["ori_shape"] == (24, 32)
