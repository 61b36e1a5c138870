"""Reading images from disk into the results dict."""

from __future__ import annotations

import os

import cv2
import numpy as np

from ...registry import TRANSFORMS
from .base import BaseTransform

__all__ = ["LoadImage", "read_image"]

_COLOR_TYPES = {
    "color": cv2.IMREAD_COLOR,
    "grayscale": cv2.IMREAD_GRAYSCALE,
    "unchanged": cv2.IMREAD_UNCHANGED,
}


def read_image(path: str | os.PathLike, color_type: str = "color") -> np.ndarray:
    """Decode an image file with OpenCV.

    Args:
        path: the image file.
        color_type: ``color`` -> (H, W, 3) uint8 BGR; ``grayscale`` -> (H, W) uint8;
            ``unchanged`` -> as stored (alpha and 16-bit kept).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is empty or OpenCV cannot decode it.
    """
    if color_type not in _COLOR_TYPES:
        raise ValueError(f"unknown color_type {color_type!r}; choose one of {sorted(_COLOR_TYPES)}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path!r}")
    # np.fromfile + imdecode instead of imread: works for any path encoding and lets us tell an empty
    # file from an undecodable one.
    encoded = np.fromfile(path, dtype=np.uint8)
    if encoded.size == 0:
        raise ValueError(f"image file is empty (0 bytes): {path!r}")
    img = cv2.imdecode(encoded, _COLOR_TYPES[color_type])
    if img is None:
        raise ValueError(
            f"OpenCV cannot decode the image file {path!r} ({encoded.size} bytes); is it an image?"
        )
    return img


@TRANSFORMS.register()
class LoadImage(BaseTransform):
    """Load ``results["img_path"]`` as an (H, W, 3) uint8 BGR array (OpenCV's ``IMREAD_COLOR``).

    Sets ``img``, ``img_shape`` and ``ori_shape`` (both (h, w)). If the results already hold an
    ``img`` array and no ``img_path`` (inference on arrays), that array is used as loaded.

    Args:
        to_float32: convert the image to float32 (values stay 0..255).
        color_type: ``color`` (3-channel BGR), ``grayscale`` ((H, W)) or ``unchanged``.
        ignore_empty: return None (the dataset then draws another sample in training) instead of
            raising when the file is missing, empty or unreadable.

    Raises:
        FileNotFoundError / ValueError: naming the file, unless ``ignore_empty``.
    """

    def __init__(
        self, to_float32: bool = False, color_type: str = "color", ignore_empty: bool = False
    ) -> None:
        if color_type not in _COLOR_TYPES:
            raise ValueError(
                f"LoadImage: unknown color_type {color_type!r}; choose one of {sorted(_COLOR_TYPES)}"
            )
        self.to_float32 = to_float32
        self.color_type = color_type
        self.ignore_empty = ignore_empty

    def transform(self, results: dict) -> dict | None:
        path = results.get("img_path")
        if path is None and isinstance(results.get("img"), np.ndarray):
            img = results["img"]
        elif path is None:
            raise KeyError("LoadImage: the results have neither `img_path` nor an `img` array")
        else:
            try:
                img = read_image(path, self.color_type)
            except (OSError, ValueError):
                if self.ignore_empty:
                    return None
                raise
        if self.to_float32:
            img = img.astype(np.float32)
        results["img"] = img
        results["img_shape"] = tuple(img.shape[:2])
        results["ori_shape"] = tuple(img.shape[:2])
        return results
