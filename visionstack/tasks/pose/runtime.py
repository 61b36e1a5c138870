"""The deploy runtime's preprocessing of a top-down pose model (NumPy and OpenCV, no PyTorch).

``deploy.json``'s ``preprocess`` holds ``padding``, ``input_size`` (w, h), ``use_udp``, ``mean``, ``std`` and
``bgr_to_rgb``. An image becomes one crop of the whole image (the box ``0, 0, w - 1, h - 1``; what ``infer``
does without a person detector), or of ``bbox`` when the caller gives one, made exactly as the test pipeline
makes it (``GetBBoxCenterScale`` then ``TopdownAffine``); the crop's ``input_center`` and ``input_scale`` go to
the graph, which returns image pixels.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...imaging import normalize_image
from ...utils.image_io import read_image
from .geometry import crop_person

__all__ = ["TopdownRuntimePreprocessor"]


class TopdownRuntimePreprocessor:
    """Image -> normalised person crop and its metainfo (the runtime's ``Preprocessor`` interface)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        try:
            self.input_size = (int(spec["input_size"][0]), int(spec["input_size"][1]))
        except (KeyError, TypeError, IndexError) as error:
            raise ValueError(
                f"deploy.json preprocess: a top-down pose model needs `input_size` (w, h) ({error!r})"
            ) from error
        self.padding = float(spec.get("padding", 1.25))
        self.use_udp = bool(spec.get("use_udp", False))
        self.mean, self.std = spec.get("mean"), spec.get("std")
        self.bgr_to_rgb = bool(spec.get("bgr_to_rgb", False))

    @staticmethod
    def read(path: str | os.PathLike) -> np.ndarray:
        """The (H, W, 3) uint8 BGR image (the decoder of ``LoadImage``)."""
        return read_image(path, "color")

    def image(
        self, img: np.ndarray, bbox: Sequence[float] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """((3, h, w) float32 normalised crop, metainfo) of the person in ``bbox`` (default: the whole image)."""
        height, width = img.shape[:2]
        box = np.asarray(bbox if bbox is not None else [0.0, 0.0, width - 1.0, height - 1.0], np.float32)
        crop, center, scale = crop_person(img, box, self.input_size, self.padding, self.use_udp)
        meta = {
            "ori_shape": (height, width),
            "img_shape": (self.input_size[1], self.input_size[0]),
            "scale_factor": (1.0, 1.0),
            "input_size": self.input_size,
            "input_center": center.tolist(),
            "input_scale": scale.tolist(),
            "bbox": box.reshape(1, 4).tolist(),
            "bbox_score": [1.0],
        }
        return normalize_image(crop, self.mean, self.std, self.bgr_to_rgb), meta

    @staticmethod
    def batch(images: Sequence[np.ndarray]) -> np.ndarray:
        """Crops of one size -> one (B, 3, h, w) float32 batch."""
        return np.stack(images).astype(np.float32)
