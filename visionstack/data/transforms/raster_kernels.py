"""Kernels of the annotations that live on the pixel grid: the image, the semantic map, instance masks.

See :mod:`.annotation_kernels` for the contract and the coordinate convention. Raster warps go
through OpenCV with the operation's matrix converted to pixel-index coordinates
(:meth:`WarpOp.pixel_matrix`), so they agree with the coordinate kernels to the half pixel.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ...structures.masks import BitmapMasks, PolygonMasks, clip_polygon
from . import image_ops
from .annotation_kernels import (
    PAD_VALUES,
    AnnotationKernel,
    CropOp,
    FlipOp,
    PadOp,
    ResizeOp,
    WarpOp,
    register_annotation_kernel,
)

__all__ = ["ImageKernel", "SegMapKernel", "MasksKernel", "fill_value", "pad_array", "warp_array"]


def fill_value(value: float | Sequence[float], channels: int) -> tuple[float, ...]:
    """An OpenCV border value (4 floats) from a scalar (every channel) or one value per channel."""
    values = [float(value)] * channels if isinstance(value, (int, float)) else [float(v) for v in value]
    return tuple(values + [0.0] * (4 - len(values)))


def _keep_channel_axis(original: np.ndarray, out: np.ndarray) -> np.ndarray:
    """OpenCV drops the channel axis of an (H, W, 1) array; put it back."""
    return out[..., None] if original.ndim == 3 and out.ndim == 2 else out


def pad_array(array: np.ndarray, op: PadOp, value: float | Sequence[float]) -> np.ndarray:
    """Place an (H, W[, C]) array at ``op.offset`` on an ``op.size`` canvas filled with ``value``.

    Raises:
        ValueError: the canvas does not hold the array at that offset.
    """
    height, width = array.shape[:2]
    left, top = op.offset
    right, bottom = op.size[0] - width - left, op.size[1] - height - top
    if left < 0 or top < 0 or right < 0 or bottom < 0:
        raise ValueError(
            f"a {width}x{height} array at offset {(left, top)} does not fit a {op.size[0]}x{op.size[1]} canvas"
        )
    channels = array.shape[2] if array.ndim == 3 else 1
    padded = cv2.copyMakeBorder(
        array, top, bottom, left, right, cv2.BORDER_CONSTANT, value=fill_value(value, channels)
    )
    return _keep_channel_axis(array, padded)


def warp_array(
    array: np.ndarray, op: WarpOp, interpolation: str, value: float | Sequence[float]
) -> np.ndarray:
    """Warp an (H, W[, C]) array through ``op`` onto an ``op.size`` canvas filled with ``value``."""
    channels = array.shape[2] if array.ndim == 3 else 1
    matrix = op.pixel_matrix()
    size = (int(op.size[0]), int(op.size[1]))
    flags = image_ops.interpolation_flag(interpolation)
    border = fill_value(value, channels)
    if op.is_affine:
        out = cv2.warpAffine(
            array, matrix[:2], size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=border
        )
    else:
        out = cv2.warpPerspective(
            array, matrix, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=border
        )
    return _keep_channel_axis(array, out)


def _check_array(value: object, name: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim not in (2, 3):
        shape = getattr(value, "shape", None)
        raise TypeError(
            f"expected an (H, W) or (H, W, C) ndarray {name}, got {type(value).__name__}"
            + (f" of shape {shape}" if shape is not None else "")
        )
    return value


class _ArrayKernel(AnnotationKernel):
    """An (H, W) or (H, W, C) array on the pixel grid: OpenCV resampling, filled with ``pad_val[pad_val_key]``.

    Attributes:
        array_name: what the array is, in the error for a value that is not one ("image", "map").
        interpolation: the resampling of resize and warp; None takes the operation's ``interpolation``.
    """

    array_name: str = "array"
    interpolation: str | None = None

    def flip(self, value: np.ndarray, op: FlipOp, results: dict) -> np.ndarray:
        return image_ops.flip(_check_array(value, self.array_name), op.direction)

    def resize(self, value: np.ndarray, op: ResizeOp, results: dict) -> np.ndarray:
        return image_ops.resize(_check_array(value, self.array_name), op.size, self._interpolation(op))

    def crop(self, value: np.ndarray, op: CropOp, results: dict) -> np.ndarray:
        x1, y1, x2, y2 = op.window
        return np.ascontiguousarray(_check_array(value, self.array_name)[y1:y2, x1:x2])

    def pad(self, value: np.ndarray, op: PadOp, results: dict) -> np.ndarray:
        return pad_array(_check_array(value, self.array_name), op, self._fill(op))

    def warp(self, value: np.ndarray, op: WarpOp, results: dict) -> np.ndarray:
        array = _check_array(value, self.array_name)
        return warp_array(array, op, self._interpolation(op), self._fill(op))

    def _interpolation(self, op: ResizeOp | WarpOp) -> str:
        return op.interpolation if self.interpolation is None else self.interpolation

    def _fill(self, op: PadOp | WarpOp) -> float | Sequence[float]:
        return op.pad_val.get(self.pad_val_key, PAD_VALUES[self.pad_val_key])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ImageKernel(_ArrayKernel):
    """An (H, W) or (H, W, C) image: interpolated with the operation's ``interpolation``, filled with ``pad_val["img"]``."""

    pad_val_key = "img"
    array_name = "image"


class SegMapKernel(_ArrayKernel):
    """An (H, W) map of class indices: nearest neighbour, filled with ``pad_val["seg"]`` (255, ignored)."""

    pad_val_key = "seg"
    array_name = "map"
    interpolation = "nearest"


def _warp_polygons(masks: PolygonMasks, op: WarpOp) -> PolygonMasks:
    """Project every polygon vertex, then clip to the canvas; polygons left with < 3 points are dropped."""
    width, height = int(op.size[0]), int(op.size[1])
    warped = []
    for polygons in masks.masks:
        kept = []
        for polygon in polygons:
            points = clip_polygon(op.project(polygon.reshape(-1, 2)), width, height)
            if len(points) >= 3:
                kept.append(points.ravel())
        warped.append(kept)
    return PolygonMasks(warped, height, width)


def _check_masks(value: object) -> BitmapMasks | PolygonMasks:
    if not isinstance(value, (BitmapMasks, PolygonMasks)):
        raise TypeError(f"expected BitmapMasks or PolygonMasks, got {type(value).__name__}")
    return value


class MasksKernel(AnnotationKernel):
    """Instance masks (:class:`BitmapMasks` or :class:`PolygonMasks`) through their own geometry methods.

    Bitmaps resample with nearest neighbour and fill with ``pad_val["masks"]`` (0); polygons move
    exactly and are clipped to the image.
    """

    per_instance = True
    pad_val_key = "masks"

    def flip(self, value, op: FlipOp, results: dict):
        return _check_masks(value).flip(op.direction)

    def resize(self, value, op: ResizeOp, results: dict):
        return _check_masks(value).resize(op.size)

    def crop(self, value, op: CropOp, results: dict):
        return _check_masks(value).crop(op.window)

    def pad(self, value, op: PadOp, results: dict):
        fill = int(op.pad_val.get("masks", PAD_VALUES["masks"]))
        if tuple(op.offset) == (0, 0):
            return _check_masks(value).pad(op.size, fill)
        return _check_masks(value).expand(op.size, op.offset, fill)

    def warp(self, value, op: WarpOp, results: dict):
        if isinstance(_check_masks(value), PolygonMasks):
            return _warp_polygons(value, op)
        width, height = int(op.size[0]), int(op.size[1])
        if len(value) == 0:
            return BitmapMasks([], height, width)
        fill = int(op.pad_val.get("masks", PAD_VALUES["masks"]) != 0)
        warped = [warp_array(mask, op, "nearest", fill) for mask in value.masks]
        return BitmapMasks(np.stack(warped), height, width)

    def select(self, value, keep: np.ndarray, results: dict):
        return value[keep]

    def __repr__(self) -> str:
        return "MasksKernel()"


register_annotation_kernel("img", ImageKernel())
register_annotation_kernel("gt_masks", MasksKernel())
register_annotation_kernel("gt_seg_map", SegMapKernel())
