"""Reading images from disk into the results dict (decoding: :func:`visionstack.utils.image_io.read_image`)."""

from __future__ import annotations

import numpy as np

from ...registry import TRANSFORMS
from ...utils.image_io import COLOR_TYPES as _COLOR_TYPES
from ...utils.image_io import read_image
from .base import BaseTransform

__all__ = ["LoadImage", "read_image"]


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
