"""The test pipeline and data preprocessor of a config, in NumPy and OpenCV (no PyTorch).

``deploy.json`` lists the pipeline's transforms with their arguments (``preprocess.pipeline``) and
the data preprocessor's normalisation and padding; :class:`Preprocessor` replays them with the
functions of :mod:`visionstack.imaging` that the training transforms use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from ..imaging import (
    center_crop_box,
    edge_size,
    keep_ratio_size,
    normalize_image,
    pad_bottom_right,
    padded_shape,
    resize_image,
    scaled_size,
)
from ..utils.image_io import read_image

__all__ = ["SUPPORTED_TRANSFORMS", "Preprocessor", "is_supported", "read_bgr_image"]

# Transforms of a test pipeline that carry nothing the runtime needs to do: loading, and every packer
# (``PackInputs`` and each task's ``Pack*Inputs``: they only arrange what the pipeline made).
PASS_THROUGH = ("LoadImage", "Pack*")
SUPPORTED_TRANSFORMS = ("Resize", "ResizeEdge", "CenterCrop", "Pad", *PASS_THROUGH)


def is_supported(kind: str | None) -> bool:
    """Whether the runtime replays the test-pipeline transform ``kind``."""
    return _passes_through(kind) or kind in SUPPORTED_TRANSFORMS


def _passes_through(kind: str | None) -> bool:
    return kind == "LoadImage" or (isinstance(kind, str) and kind.startswith("Pack"))


def read_bgr_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 BGR, as the ``LoadImage`` transform does (same decoder)."""
    return read_image(path, "color")


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    return int(value[0]), int(value[1])


def _fill(value: Any, channels: int) -> list[float]:
    if isinstance(value, (int, float, np.integer, np.floating)):
        return [float(value)] * channels
    return [float(v) for v in value]


class Preprocessor:
    """Image -> network input, as the config's test pipeline plus its data preprocessor.

    Args:
        spec: ``deploy.json``'s ``preprocess``: ``pipeline`` (transform dicts with ``type``),
            ``mean``, ``std``, ``bgr_to_rgb``, ``pad_size_divisor``, ``pad_min_size`` ((w, h) or
            None) and ``pad_value``.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.steps = [dict(step) for step in spec.get("pipeline", [])]
        for index, step in enumerate(self.steps):
            if not is_supported(step.get("type")):
                raise ValueError(
                    f"deploy.json preprocess.pipeline[{index}]: transform {step.get('type')!r} has no "
                    f"runtime equivalent (supported: {', '.join(SUPPORTED_TRANSFORMS)})"
                )
        self.mean = spec.get("mean")
        self.std = spec.get("std")
        self.bgr_to_rgb = bool(spec.get("bgr_to_rgb", False))
        self.size_divisor = int(spec.get("pad_size_divisor", 1) or 1)
        min_size = spec.get("pad_min_size")
        self.min_size = None if min_size is None else _pair(min_size)
        self.pad_value = float(spec.get("pad_value", 0.0))

    @staticmethod
    def read(path: str | os.PathLike) -> np.ndarray:
        """One input file: the (H, W, 3) uint8 BGR image (:func:`read_bgr_image`)."""
        return read_bgr_image(path)

    def image(self, img: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """One (H, W, 3) BGR image -> ((C, h, w) float32 normalised, metainfo).

        The metainfo holds ``ori_shape``, ``img_shape`` ((h, w) after the pipeline) and
        ``scale_factor`` ((w, h) factors of the resizes), as the PyTorch pipeline records them.
        """
        meta: dict[str, Any] = {"ori_shape": tuple(img.shape[:2]), "scale_factor": (1.0, 1.0)}
        for step in self.steps:
            img = self._apply(step, img, meta)
        meta["img_shape"] = tuple(img.shape[:2])
        return normalize_image(img, self.mean, self.std, self.bgr_to_rgb), meta

    def batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Normalised (C, h, w) images -> one (B, C, H, W) float32 batch padded at the bottom/right."""
        height, width = padded_shape([image.shape[1:] for image in images], self.size_divisor, self.min_size)
        out = np.full((len(images), images[0].shape[0], height, width), self.pad_value, dtype=np.float32)
        for index, image in enumerate(images):
            out[index, :, : image.shape[1], : image.shape[2]] = image
        return out

    @staticmethod
    def _apply(step: Mapping[str, Any], img: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
        kind = step["type"]
        if _passes_through(kind):
            if kind == "LoadImage" and step.get("color_type", "color") != "color":
                raise ValueError("deploy runtime: LoadImage must load colour images (color_type='color')")
            return img
        height, width = img.shape[:2]
        if kind in ("Resize", "ResizeEdge"):
            interpolation = step.get("interpolation", "bilinear")
            if kind == "ResizeEdge":
                size = edge_size(width, height, int(step["scale"]), step.get("edge", "short"))
            elif step.get("scale") is not None:
                scale = _pair(step["scale"])
                size = keep_ratio_size(width, height, scale) if step.get("keep_ratio") else scale
            else:
                factor = step["scale_factor"]
                factor_w, factor_h = (factor, factor) if isinstance(factor, (int, float)) else factor
                size = scaled_size(width, height, float(factor_w), float(factor_h))
            previous_w, previous_h = meta["scale_factor"]
            meta["scale_factor"] = (previous_w * size[0] / width, previous_h * size[1] / height)
            return resize_image(img, size, interpolation)
        if kind == "CenterCrop":
            crop_w, crop_h = _pair(step["crop_size"])
            if step.get("auto_pad") and (width < crop_w or height < crop_h):
                left, top = max(0, crop_w - width) // 2, max(0, crop_h - height) // 2
                right, bottom = max(0, crop_w - width) - left, max(0, crop_h - height) - top
                value = (float(step.get("pad_val", 0)),) * 4
                img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=value)
                height, width = img.shape[:2]
            x1, y1, x2, y2 = center_crop_box(width, height, crop_w, crop_h)
            return img[y1:y2, x1:x2]
        # Pad
        if step.get("pad_to_square"):
            width = height = max(width, height)
        if step.get("size") is not None:
            width, height = _pair(step["size"])
        elif step.get("size_divisor"):
            height, width = padded_shape([(height, width)], int(step["size_divisor"]))
        pad_val = (step.get("pad_val") or {}).get("img", 0)
        return pad_bottom_right(img, height, width, _fill(pad_val, img.shape[2]))
