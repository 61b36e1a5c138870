"""Geometric transforms: resize, crop, flip; and the functions that apply one operation to a sample.

Every transform here moves whatever annotations the sample holds, through the kernels of
:mod:`.annotation_kernels` (image, boxes, masks, semantic map, keypoints, polygons, and any kind
registered later), and keeps the results consistent: ``img_shape`` is the (h, w) of the image
after it, and ``scale_factor`` (w, h) is the product of all resize factors applied so far (so a
prediction divided by it lands in original-image pixels). The ``*_results`` functions are the
building blocks of every geometric transform, shared by all tasks (detection's Mosaic and MixUp
use them too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...imaging import center_crop_box, edge_size, keep_ratio_size, scaled_size
from ...registry import TRANSFORMS
from . import coordinate_kernels, image_ops, raster_kernels  # noqa: F401  (register the built-in kernels)
from .annotation_kernels import (
    FLIP_DIRECTIONS,
    PAD_VALUES,
    CropOp,
    FlipOp,
    PadOp,
    ResizeOp,
    WarpOp,
    apply_geometry,
    image_size,
)
from .base import BaseTransform

__all__ = [
    "Resize",
    "ResizeEdge",
    "RandomResizedCrop",
    "CenterCrop",
    "RandomFlip",
    "resize_results",
    "crop_results",
    "flip_results",
    "pad_results",
    "warp_results",
]


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or a (w, h) pair, got {value!r}")
    return int(value[0]), int(value[1])


def resize_results(
    results: dict, size: tuple[int, int], interpolation: str = "bilinear", clip_boxes: bool = True
) -> dict:
    """Resize the sample to ``size = (w, h)``; ``img_shape`` follows and ``scale_factor`` accumulates.

    ``interpolation`` is the image's; maps and bitmap masks use nearest neighbour. ``clip_boxes``: see
    :class:`Resize`'s ``clip_object_border``.
    """
    width, height = image_size(results)
    new_width, new_height = int(size[0]), int(size[1])
    scale_w, scale_h = new_width / width, new_height / height
    apply_geometry(results, ResizeOp((new_width, new_height), (scale_w, scale_h), interpolation, clip_boxes))
    previous_w, previous_h = results.get("scale_factor", (1.0, 1.0))
    results["scale_factor"] = (previous_w * scale_w, previous_h * scale_h)
    results["img_shape"] = (new_height, new_width)
    return results


def crop_results(results: dict, x1: int, y1: int, x2: int, y2: int) -> dict:
    """Crop the sample to ``[x1, x2) x [y1, y2)``; boxes are shifted and clipped, never dropped."""
    apply_geometry(results, CropOp((int(x1), int(y1), int(x2), int(y2))))
    results["img_shape"] = (y2 - y1, x2 - x1)
    return results


def flip_results(results: dict, direction: str) -> dict:
    """Mirror the sample in ``direction`` (``horizontal``, ``vertical`` or ``diagonal``).

    ``flip`` and ``flip_direction`` are :class:`RandomFlip`'s to record. Keypoints swap left and
    right by the results' ``flip_indices`` (see :mod:`.coordinate_kernels`).
    """
    if direction not in FLIP_DIRECTIONS:
        raise ValueError(f"unknown flip direction {direction!r}; choose horizontal, vertical or diagonal")
    apply_geometry(results, FlipOp(direction, image_size(results)))
    return results


def pad_results(
    results: dict,
    size: tuple[int, int],
    offset: tuple[int, int] = (0, 0),
    pad_val: Mapping[str, Any] | None = None,
) -> dict:
    """Place the sample at ``offset = (left, top)`` on a canvas of ``size = (w, h)``; ``img_shape`` follows.

    Args:
        results: the results dict.
        size: the output ``(w, h)``, holding the image at ``offset``.
        offset: where the image's top-left corner lands; (0, 0) pads at the bottom and right only
            (then boxes, keypoints and polygons do not move).
        pad_val: fill values by kind: ``dict(img=0 or a BGR triple, seg=255, masks=0)`` and any key
            a registered kernel reads; missing keys take these defaults.

    Raises:
        ValueError: the canvas is smaller than the image at ``offset``.
    """
    width, height = image_size(results)
    new_width, new_height = int(size[0]), int(size[1])
    left, top = int(offset[0]), int(offset[1])
    if left < 0 or top < 0 or new_width < width + left or new_height < height + top:
        at = f" at offset {(left, top)}" if (left, top) != (0, 0) else ""
        raise ValueError(
            f"Pad: cannot pad a {width}x{height} image{at} to the smaller size {new_width}x{new_height}"
        )
    fill = {**PAD_VALUES, **pad_val} if pad_val else PAD_VALUES
    apply_geometry(results, PadOp((new_width, new_height), (left, top), fill))
    results["img_shape"] = (new_height, new_width)
    return results


def warp_results(
    results: dict,
    matrix: np.ndarray,
    size: tuple[int, int] | None = None,
    interpolation: str = "bilinear",
    pad_val: Mapping[str, Any] | None = None,
) -> dict:
    """Warp the sample through an affine (2, 3) or projective (3, 3) ``matrix``; ``img_shape`` follows.

    Args:
        results: the results dict.
        matrix: maps continuous input coordinates (pixel ``(row, col)`` covers ``[col, col + 1)``)
            to continuous output coordinates.
        size: the output ``(w, h)``; the input's size when None.
        interpolation: the image's interpolation; maps and bitmap masks use nearest neighbour.
        pad_val: fill values by kind, as :func:`pad_results`.

    Raises:
        ValueError: ``matrix`` is not (2, 3) or (3, 3).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape == (2, 3):
        matrix = np.vstack([matrix, [0.0, 0.0, 1.0]])
    if matrix.shape != (3, 3):
        raise ValueError(f"warp_results: expected a (2, 3) or (3, 3) matrix, got shape {matrix.shape}")
    image_ops.interpolation_flag(interpolation)
    width, height = image_size(results) if size is None else (int(size[0]), int(size[1]))
    fill = {**PAD_VALUES, **pad_val} if pad_val else PAD_VALUES
    apply_geometry(results, WarpOp(matrix, (width, height), interpolation, fill))
    results["img_shape"] = (height, width)
    return results


@TRANSFORMS.register()
class Resize(BaseTransform):
    """Resize to a fixed size or by a factor.

    Args:
        scale: target ``(w, h)`` (an int means square). With ``keep_ratio`` the image is scaled by
            one factor so that it fits inside the scale: long edge <= max(scale) and short edge
            <= min(scale) (MMCV's ``rescale``), size rounded half up. A -1 side (MMAction2's
            ``scale=(-1, 256)``) leaves that side unbounded: the short edge becomes the other value
            and the aspect ratio is kept, whatever ``keep_ratio`` says.
        scale_factor: multiply width and height by this (a float or a (w, h) pair) instead.
        keep_ratio: keep the aspect ratio (see ``scale``).
        interpolation: ``nearest, bilinear, bicubic, area, lanczos``.
        clip_object_border: clip boxes to the resized image (MMDetection's default). False keeps the whole
            extent of objects cut by the border, as MOT17's boxes are annotated.
    """

    def __init__(
        self,
        scale: int | tuple[int, int] | None = None,
        scale_factor: float | tuple[float, float] | None = None,
        keep_ratio: bool = False,
        interpolation: str = "bilinear",
        clip_object_border: bool = True,
    ) -> None:
        if (scale is None) == (scale_factor is None):
            raise ValueError("Resize: give exactly one of `scale` and `scale_factor`")
        if scale_factor is not None and not isinstance(scale_factor, (int, float)):
            if keep_ratio and scale_factor[0] != scale_factor[1]:
                raise ValueError(f"Resize: keep_ratio=True contradicts scale_factor={tuple(scale_factor)}")
        image_ops.interpolation_flag(interpolation)
        self.scale = None if scale is None else _pair(scale, "Resize.scale")
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation
        self.clip_object_border = clip_object_border

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """The output ``(w, h)`` for an input of ``width`` x ``height``."""
        if self.scale is not None:
            if -1 in self.scale:  # MMAction2: the -1 side is unbounded, so the short edge decides
                return keep_ratio_size(width, height, (math.inf, max(self.scale)))
            return keep_ratio_size(width, height, self.scale) if self.keep_ratio else self.scale
        if isinstance(self.scale_factor, (int, float)):
            factor_w = factor_h = float(self.scale_factor)
        else:
            factor_w, factor_h = (float(f) for f in self.scale_factor)
        return scaled_size(width, height, factor_w, factor_h)

    def transform(self, results: dict) -> dict:
        size = self.target_size(*image_size(results))
        return resize_results(results, size, self.interpolation, self.clip_object_border)


@TRANSFORMS.register()
class ResizeEdge(BaseTransform):
    """Resize so that one edge has length ``scale``, keeping the aspect ratio.

    The other edge is ``int(scale * other / edge)`` (truncated, as torchvision's ``Resize(int)``).

    Args:
        scale: the target length of the chosen edge, in pixels.
        edge: ``short``, ``long``, ``width`` or ``height``.
        interpolation: ``nearest, bilinear, bicubic, area, lanczos``.
    """

    EDGES = ("short", "long", "width", "height")

    def __init__(self, scale: int, edge: str = "short", interpolation: str = "bilinear") -> None:
        if edge not in self.EDGES:
            raise ValueError(f"ResizeEdge: edge must be one of {self.EDGES}, got {edge!r}")
        if scale <= 0:
            raise ValueError(f"ResizeEdge: scale must be positive, got {scale}")
        image_ops.interpolation_flag(interpolation)
        self.scale = int(scale)
        self.edge = edge
        self.interpolation = interpolation

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """The output ``(w, h)`` for an input of ``width`` x ``height``."""
        return edge_size(width, height, self.scale, self.edge)

    def transform(self, results: dict) -> dict:
        return resize_results(results, self.target_size(*image_size(results)), self.interpolation)


@TRANSFORMS.register()
class RandomResizedCrop(BaseTransform):
    """Crop a random area and aspect ratio, then resize to ``scale`` (Inception / torchvision).

    Up to ``max_attempts`` times, draw an area fraction uniformly from ``crop_ratio_range`` and an
    aspect ratio (w / h) log-uniformly from ``aspect_ratio_range``; the first crop that fits is
    placed uniformly at random. If none fits, take the largest central crop whose aspect ratio is
    clamped into the range.

    Args:
        scale: output ``(w, h)`` (an int means square).
        crop_ratio_range: range of the crop area as a fraction of the image area.
        aspect_ratio_range: range of the crop's width / height.
        max_attempts: random draws before falling back to the central crop.
        interpolation: ``nearest, bilinear, bicubic, area, lanczos``.
    """

    def __init__(
        self,
        scale: int | tuple[int, int],
        crop_ratio_range: tuple[float, float] = (0.08, 1.0),
        aspect_ratio_range: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        max_attempts: int = 10,
        interpolation: str = "bilinear",
    ) -> None:
        if not 0 < crop_ratio_range[0] <= crop_ratio_range[1] <= 1:
            raise ValueError(
                f"RandomResizedCrop: need 0 < min <= max <= 1 in crop_ratio_range={crop_ratio_range}"
            )
        if not 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]:
            raise ValueError(
                f"RandomResizedCrop: need 0 < min <= max in aspect_ratio_range={aspect_ratio_range}"
            )
        if max_attempts < 0:
            raise ValueError(f"RandomResizedCrop: max_attempts must be >= 0, got {max_attempts}")
        image_ops.interpolation_flag(interpolation)
        self.scale = _pair(scale, "RandomResizedCrop.scale")
        self.crop_ratio_range = tuple(crop_ratio_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)
        self.max_attempts = max_attempts
        self.interpolation = interpolation

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Draw a crop ``(x1, y1, crop_w, crop_h)`` inside a ``width`` x ``height`` image."""
        area = width * height
        log_low, log_high = (math.log(r) for r in self.aspect_ratio_range)
        for _ in range(self.max_attempts):
            target_area = np.random.uniform(*self.crop_ratio_range) * area
            aspect_ratio = math.exp(np.random.uniform(log_low, log_high))
            crop_w = int(round(math.sqrt(target_area * aspect_ratio)))
            crop_h = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < crop_w <= width and 0 < crop_h <= height:
                y1 = np.random.randint(0, height - crop_h + 1)
                x1 = np.random.randint(0, width - crop_w + 1)
                return int(x1), int(y1), crop_w, crop_h
        return self._central_box(width, height)

    def _central_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        ratio = width / height
        low, high = self.aspect_ratio_range
        if ratio < low:
            crop_w, crop_h = width, max(1, int(round(width / low)))
        elif ratio > high:
            crop_w, crop_h = max(1, int(round(height * high))), height
        else:
            crop_w, crop_h = width, height
        return (width - crop_w) // 2, (height - crop_h) // 2, crop_w, crop_h

    def transform(self, results: dict) -> dict:
        x1, y1, crop_w, crop_h = self.crop_box(*image_size(results))
        crop_results(results, x1, y1, x1 + crop_w, y1 + crop_h)
        return resize_results(results, self.scale, self.interpolation)


@TRANSFORMS.register()
class CenterCrop(BaseTransform):
    """Crop the centre ``crop_size`` region (top-left at ``round((size - crop) / 2)``, as torchvision).

    Args:
        crop_size: ``(w, h)`` of the crop (an int means square).
        auto_pad: pad an image smaller than the crop symmetrically (with ``pad_val``; maps with 255,
            annotations move with it) so the output always has the crop size; otherwise the crop is
            clipped to the image.
        pad_val: the padding value of the image.
    """

    def __init__(self, crop_size: int | tuple[int, int], auto_pad: bool = False, pad_val: int = 0) -> None:
        self.crop_size = _pair(crop_size, "CenterCrop.crop_size")
        if min(self.crop_size) <= 0:
            raise ValueError(f"CenterCrop: crop_size must be positive, got {crop_size!r}")
        self.auto_pad = auto_pad
        self.pad_val = pad_val

    def transform(self, results: dict) -> dict:
        crop_w, crop_h = self.crop_size
        if self.auto_pad:
            self._pad_to_crop(results)
        width, height = image_size(results)
        return crop_results(results, *center_crop_box(width, height, crop_w, crop_h))

    def _pad_to_crop(self, results: dict) -> None:
        width, height = image_size(results)
        crop_w, crop_h = self.crop_size
        if width >= crop_w and height >= crop_h:
            return
        offset = (max(0, crop_w - width) // 2, max(0, crop_h - height) // 2)
        pad_results(results, (max(width, crop_w), max(height, crop_h)), offset, {"img": self.pad_val})


@TRANSFORMS.register()
class RandomFlip(BaseTransform):
    """Flip with probability ``prob`` in one of ``direction``.

    Sets ``flip`` (bool) and ``flip_direction`` (the direction, or None when not flipped).

    Args:
        prob: the flip probability; with several directions either one float (split equally) or
            one probability per direction (their sum at most 1).
        direction: ``horizontal``, ``vertical``, ``diagonal`` or a list of them.
    """

    DIRECTIONS = FLIP_DIRECTIONS

    def __init__(
        self, prob: float | Sequence[float] = 0.5, direction: str | Sequence[str] = "horizontal"
    ) -> None:
        directions = [direction] if isinstance(direction, str) else list(direction)
        for name in directions:
            if name not in self.DIRECTIONS:
                raise ValueError(f"RandomFlip: direction must be in {self.DIRECTIONS}, got {name!r}")
        if isinstance(prob, (int, float)):
            probs = [float(prob) / len(directions)] * len(directions)
        else:
            probs = [float(p) for p in prob]
            if len(probs) != len(directions):
                raise ValueError(f"RandomFlip: {len(probs)} probabilities for {len(directions)} directions")
        if min(probs) < 0 or sum(probs) > 1 + 1e-9:
            raise ValueError(f"RandomFlip: probabilities must be >= 0 with a sum <= 1, got prob={prob!r}")
        self.prob = prob
        self.direction = direction
        self._choices: list[str | None] = [*directions, None]
        self._probs = [*probs, max(0.0, 1.0 - sum(probs))]

    def transform(self, results: dict) -> dict:
        choice = self._choices[np.random.choice(len(self._choices), p=self._probs)]
        results["flip"] = choice is not None
        results["flip_direction"] = choice
        if choice is not None:
            flip_results(results, choice)
        return results
