"""Image geometry and normalisation in NumPy and OpenCV, with no PyTorch.

The training transforms (:mod:`visionstack.data.transforms`), the data preprocessors and the
ONNX Runtime inferencer (:mod:`visionstack.deploy`) all size, crop, pad and normalise images with
these functions, so a deployed model sees exactly the inputs of the PyTorch path.

Sizes are ``(width, height)`` as OpenCV takes them; shapes are ``(height, width)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = [
    "INTERPOLATIONS",
    "center_crop_box",
    "edge_size",
    "interpolation_flag",
    "keep_ratio_size",
    "normalize_image",
    "pad_bottom_right",
    "padded_shape",
    "resize_image",
    "scaled_size",
]

INTERPOLATIONS: dict[str, int] = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}


def interpolation_flag(name: str) -> int:
    """OpenCV flag for an interpolation name (``nearest, bilinear, bicubic, area, lanczos``)."""
    if name not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {name!r}; choose one of {sorted(INTERPOLATIONS)}")
    return INTERPOLATIONS[name]


def resize_image(img: np.ndarray, size: tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    """Resize to ``size = (width, height)``; keeps a trailing channel axis of length 1."""
    width, height = int(size[0]), int(size[1])
    if width <= 0 or height <= 0:
        raise ValueError(f"cannot resize to a non-positive size (w, h) = {(width, height)}")
    out = cv2.resize(img, (width, height), interpolation=interpolation_flag(interpolation))
    if img.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[..., None]
    return out


def scaled_size(width: int, height: int, factor_w: float, factor_h: float) -> tuple[int, int]:
    """``(w, h)`` multiplied by the factors, rounded half up, at least 1."""
    return max(1, int(width * factor_w + 0.5)), max(1, int(height * factor_h + 0.5))


def keep_ratio_size(width: int, height: int, scale: tuple[int, int]) -> tuple[int, int]:
    """The size of an image scaled by one factor to fit ``scale`` (MMCV's ``rescale``).

    The long edge ends at most ``max(scale)`` and the short edge at most ``min(scale)``.
    """
    factor = min(max(scale) / max(width, height), min(scale) / min(width, height))
    return scaled_size(width, height, factor, factor)


def edge_size(width: int, height: int, scale: int, edge: str) -> tuple[int, int]:
    """The size with one edge (``short, long, width, height``) at ``scale``, the other truncated."""
    along_width = {"short": width < height, "long": width > height, "width": True, "height": False}[edge]
    if along_width:
        return scale, max(1, int(scale * height / width))
    return max(1, int(scale * width / height)), scale


def center_crop_box(width: int, height: int, crop_w: int, crop_h: int) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)`` of the centre crop, top-left at ``round((size - crop) / 2)``, clipped."""
    y1 = max(0, int(round((height - crop_h) / 2.0)))
    x1 = max(0, int(round((width - crop_w) / 2.0)))
    return x1, y1, min(width, x1 + crop_w), min(height, y1 + crop_h)


def padded_shape(
    shapes: Sequence[tuple[int, int]], size_divisor: int = 1, min_size: tuple[int, int] | None = None
) -> tuple[int, int]:
    """``(h, w)`` a batch of ``(h, w)`` images is padded to: the largest side, at least ``min_size``
    (a ``(w, h)`` pair), rounded up to a multiple of ``size_divisor``."""
    height = max(shape[0] for shape in shapes)
    width = max(shape[1] for shape in shapes)
    height = math.ceil(height / size_divisor) * size_divisor
    width = math.ceil(width / size_divisor) * size_divisor
    if min_size is not None:
        width = max(width, math.ceil(min_size[0] / size_divisor) * size_divisor)
        height = max(height, math.ceil(min_size[1] / size_divisor) * size_divisor)
    return height, width


def pad_bottom_right(
    img: np.ndarray, height: int, width: int, value: float | Sequence[float] = 0
) -> np.ndarray:
    """Pad an (H, W[, C]) image at the bottom and right to ``height`` x ``width`` with ``value``."""
    if img.shape[0] > height or img.shape[1] > width:
        raise ValueError(f"cannot pad a {img.shape[1]}x{img.shape[0]} image to the smaller {width}x{height}")
    out = np.empty((height, width, *img.shape[2:]), dtype=img.dtype)
    out[...] = np.asarray(value, dtype=img.dtype)
    out[: img.shape[0], : img.shape[1]] = img
    return out


def normalize_image(
    img: np.ndarray, mean: Sequence[float] | None, std: Sequence[float] | None, bgr_to_rgb: bool
) -> np.ndarray:
    """(H, W, C) image -> (C, H, W) float32: channels reversed if ``bgr_to_rgb``, then ``(x - mean) / std``.

    The arithmetic is the data preprocessor's (float32 subtract, then divide), so both give the same bits.
    """
    chw = np.ascontiguousarray(np.asarray(img, dtype=np.float32).transpose(2, 0, 1))
    if bgr_to_rgb:
        if chw.shape[0] != 3:
            raise ValueError(f"bgr_to_rgb needs a 3-channel image, got {chw.shape[0]} channels")
        chw = chw[::-1]
    if mean is not None:
        mean_array = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        std_array = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        chw = (chw - mean_array) / std_array
    return np.ascontiguousarray(chw, dtype=np.float32)
