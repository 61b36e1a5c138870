"""The one image decoder: the transform's and the deploy runtime's reads are the same function."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visionstack.data.transforms.loading import read_image as transform_read_image
from visionstack.deploy.preprocess import read_bgr_image
from visionstack.utils.image_io import read_image


def test_decodes_like_opencv_and_is_shared(tmp_path) -> None:
    image = np.random.default_rng(0).integers(0, 256, size=(6, 9, 3), dtype=np.uint8)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), image)
    np.testing.assert_array_equal(read_image(path), image)
    np.testing.assert_array_equal(read_bgr_image(path), image)
    assert read_image(path, "grayscale").shape == (6, 9)
    assert transform_read_image is read_image


def test_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="image file not found: .*missing.png"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=r"image file is empty \(0 bytes\): .*empty.jpg"):
        read_bgr_image(tmp_path / "empty.jpg")
    (tmp_path / "bad.png").write_bytes(b"not an image" * 4)
    with pytest.raises(ValueError, match=r"OpenCV cannot decode the image file .*bad.png' \(48 bytes\)"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(ValueError, match="unknown color_type 'rgb'"):
        read_image(tmp_path / "bad.png", "rgb")
