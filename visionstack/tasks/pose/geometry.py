"""The top-down crop's geometry (NumPy only: the transforms and the deploy runtime share it).

A crop maps the box centre ``c`` and size ``s`` (widened to the input aspect ratio) onto an input of ``(w, h)``:
``x' = w / s_w * R(x - c) + w / 2``; with UDP (unbiased data processing) the factor is ``(w - 1) / s_w`` and the
centre lands on ``(w - 1) / 2``. Coordinates are pixel indices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["crop_person", "fix_aspect_ratio", "topdown_warp_matrix", "warp_to_input"]


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Widen the (..., 2) box sizes ``scale`` (w, h) to the aspect ratio ``w / h`` (never shrink a side)."""
    scale = np.asarray(scale, dtype=np.float32)
    w, h = scale[..., 0], scale[..., 1]
    wider = w > h * aspect_ratio
    return np.stack([np.where(wider, w, h * aspect_ratio), np.where(wider, w / aspect_ratio, h)], axis=-1)


def topdown_warp_matrix(
    center: Sequence[float],
    scale: Sequence[float],
    rotation: float,
    output_size: Sequence[int],
    use_udp: bool = False,
) -> np.ndarray:
    """The 2x3 matrix that maps the box of centre ``center`` and size ``scale`` (w, h), turned by ``rotation``
    degrees (anticlockwise in the image), onto an ``output_size`` (w, h) crop (see the module docstring)."""
    out_w, out_h = float(output_size[0]), float(output_size[1])
    if use_udp:
        factor_x, factor_y = (out_w - 1.0) / float(scale[0]), (out_h - 1.0) / float(scale[1])
        target = np.array([(out_w - 1.0) / 2, (out_h - 1.0) / 2])
    else:
        factor_x = factor_y = out_w / float(scale[0])
        target = np.array([out_w / 2, out_h / 2])
    theta = math.radians(rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    linear = np.array([[factor_x * cos, factor_x * sin], [-factor_y * sin, factor_y * cos]])
    offset = target - linear @ np.asarray(center, dtype=np.float64)
    return np.concatenate([linear, offset[:, None]], axis=1).astype(np.float32)


def warp_to_input(
    image: np.ndarray,
    center: Sequence[float],
    scale: Sequence[float],
    rotation: float,
    input_size: Sequence[int],
    use_udp: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(crop, 2x3 matrix, scale)``: the box of ``center`` and ``scale`` widened to the input aspect ratio,
    turned by ``rotation`` degrees and warped to ``input_size`` (w, h) (``TopdownAffine``'s step)."""
    width, height = int(input_size[0]), int(input_size[1])
    fixed = fix_aspect_ratio(np.asarray(scale, dtype=np.float32), width / height)
    matrix = topdown_warp_matrix(center, fixed, rotation, (width, height), use_udp)
    crop = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR)
    return crop, matrix, fixed


def crop_person(
    image: np.ndarray,
    bbox: Sequence[float],
    input_size: Sequence[int],
    padding: float = 1.25,
    use_udp: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The crop of one person box ``bbox`` (x1, y1, x2, y2) as the test pipeline makes it
    (``GetBBoxCenterScale(padding)`` then ``TopdownAffine(input_size, use_udp)``): ``(crop, centre, scale)``."""
    box = np.asarray(bbox, dtype=np.float32).reshape(4)
    center = (box[:2] + box[2:]) / 2
    crop, _, scale = warp_to_input(image, center, (box[2:] - box[:2]) * padding, 0.0, input_size, use_udp)
    return crop, center.astype(np.float32), scale.astype(np.float32)
