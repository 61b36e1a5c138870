"""Decoding image files with OpenCV (NumPy + OpenCV only, so the torch-free deploy runtime can use it).

The one image decoder of the package: the ``LoadImage`` transform and the ONNX Runtime inferencer
read files through :func:`read_image`, so training, ``infer`` and the runtime see the same pixels.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

__all__ = ["COLOR_TYPES", "IMAGE_SUFFIXES", "image_header_size", "read_image"]

# EXIF orientations that swap width and height (OpenCV's decoder applies them, so the header must too).
_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)

# the file suffixes taken as images (a folder given to `infer` expands to these; datasets list these)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

# color_type -> OpenCV imdecode flag
COLOR_TYPES = {
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
    if color_type not in COLOR_TYPES:
        raise ValueError(f"unknown color_type {color_type!r}; choose one of {sorted(COLOR_TYPES)}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path!r}")
    # np.fromfile + imdecode instead of imread: works for any path encoding and lets us tell an empty
    # file from an undecodable one.
    encoded = np.fromfile(path, dtype=np.uint8)
    if encoded.size == 0:
        raise ValueError(f"image file is empty (0 bytes): {path!r}")
    img = cv2.imdecode(encoded, COLOR_TYPES[color_type])
    if img is None:
        raise ValueError(
            f"OpenCV cannot decode the image file {path!r} ({encoded.size} bytes); is it an image?"
        )
    return img


def image_header_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header, as OpenCV will decode it (EXIF rotation applied).

    Raises:
        OSError: the file is missing or not an image; the message names it.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(274, 1)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise OSError(f"cannot read the image {str(path)!r}: {error}") from error
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    return int(height), int(width)
