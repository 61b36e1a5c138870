"""Box-, mask- and map-aware spatial transforms: random resize, random crop, pad.

Shared by detection, instance segmentation and semantic segmentation. The annotation keys (set by
:class:`~visionstack.data.transforms.annotations.LoadAnnotations`) are ``gt_seg_map`` ((H, W) class
indices, 255 = ignore; nearest-neighbour resize, padded with 255) and the instance keys ``gt_bboxes``
(N, 4) float32 x1 y1 x2 y2 in absolute pixels, ``gt_bboxes_labels`` (N,) int64, ``gt_ignore_flags``
(N,) bool and ``gt_masks`` (:class:`~visionstack.structures.masks.BitmapMasks` or ``PolygonMasks`` of
N instances). The four instance keys always keep the same length and order. The ``*_det_results``
helpers move image, boxes, semantic map (via the shared helpers of
:mod:`visionstack.data.transforms.geometric`) and masks together; every size here is ``(w, h)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from ...registry import TRANSFORMS
from .base import BaseTransform
from .geometric import Resize, crop_results, flip_results, resize_results

__all__ = [
    "INSTANCE_KEYS",
    "RandomResize",
    "RandomCrop",
    "Pad",
    "resize_det_results",
    "crop_det_results",
    "flip_det_results",
    "pad_det_results",
    "keep_instances",
    "boxes_inside",
]

INSTANCE_KEYS = ("gt_bboxes", "gt_bboxes_labels", "gt_ignore_flags", "gt_masks")


def resize_det_results(results: dict, size: tuple[int, int], interpolation: str = "bilinear") -> dict:
    """Resize image, boxes, semantic map and masks to ``size = (w, h)``; ``scale_factor`` accumulates."""
    masks = results.pop("gt_masks", None)
    resize_results(results, size, interpolation)
    if masks is not None:
        results["gt_masks"] = masks.resize(size)
    return results


def crop_det_results(results: dict, x1: int, y1: int, x2: int, y2: int) -> dict:
    """Crop everything to ``[x1, x2) x [y1, y2)``; boxes are shifted and clipped (not dropped)."""
    masks = results.pop("gt_masks", None)
    crop_results(results, x1, y1, x2, y2)
    if masks is not None:
        results["gt_masks"] = masks.crop((x1, y1, x2, y2))
    return results


def flip_det_results(results: dict, direction: str) -> dict:
    """Mirror image, boxes, semantic map and masks (``horizontal``, ``vertical`` or ``diagonal``)."""
    masks = results.pop("gt_masks", None)
    flip_results(results, direction)
    if masks is not None:
        results["gt_masks"] = masks.flip(direction)
    return results


def _fill(value: float | Sequence[float], channels: int) -> tuple[float, ...]:
    values = [float(value)] * channels if isinstance(value, (int, float)) else [float(v) for v in value]
    return tuple(values + [0.0] * (4 - len(values)))


def pad_det_results(
    results: dict, size: tuple[int, int], pad_val: Mapping[str, float | Sequence[float]] | None = None
) -> dict:
    """Pad at the bottom and right to ``size = (w, h)``; boxes stay, masks and maps grow.

    Args:
        results: the results dict; ``img_shape`` becomes the padded (h, w) and ``pad_shape`` is set.
        size: the output ``(w, h)``, at least the current size.
        pad_val: ``dict(img=0 or a BGR triple, seg=255, masks=0)``.
    """
    pad_val = {"img": 0, "seg": 255, "masks": 0, **dict(pad_val or {})}
    img = results["img"]
    height, width = img.shape[:2]
    new_width, new_height = int(size[0]), int(size[1])
    if new_width < width or new_height < height:
        raise ValueError(
            f"Pad: cannot pad a {width}x{height} image to the smaller size {new_width}x{new_height}"
        )
    bottom, right = new_height - height, new_width - width
    channels = img.shape[2] if img.ndim == 3 else 1
    padded = cv2.copyMakeBorder(
        img, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=_fill(pad_val["img"], channels)
    )
    results["img"] = padded[..., None] if img.ndim == 3 and padded.ndim == 2 else padded
    results["img_shape"] = (new_height, new_width)
    results["pad_shape"] = (new_height, new_width)
    if "gt_seg_map" in results:
        results["gt_seg_map"] = cv2.copyMakeBorder(
            results["gt_seg_map"], 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=_fill(pad_val["seg"], 1)
        )
    if results.get("gt_masks") is not None:
        results["gt_masks"] = results["gt_masks"].pad((new_width, new_height), int(pad_val["masks"]))
    return results


def keep_instances(results: dict, keep: np.ndarray) -> dict:
    """Index every per-instance key (``INSTANCE_KEYS``) with the boolean array ``keep``."""
    keep = np.asarray(keep, dtype=bool)
    for key in INSTANCE_KEYS:
        if results.get(key) is not None:
            results[key] = results[key][keep] if key == "gt_masks" else np.asarray(results[key])[keep]
    return results


def boxes_inside(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N,) bool: the box overlaps the image with a positive width and height (MMDetection's ``is_inside``)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return (
        (boxes[:, 0] < width)
        & (boxes[:, 2] > 0)
        & (boxes[:, 1] < height)
        & (boxes[:, 3] > 0)
        & (boxes[:, 2] > boxes[:, 0])
        & (boxes[:, 3] > boxes[:, 1])
    )


def _scale_pair(value: Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    if len(value) != 2:
        raise ValueError(f"{name}: expected an int or a (w, h) pair, got {value!r}")
    return int(value[0]), int(value[1])


@TRANSFORMS.register()
class RandomResize(BaseTransform):
    """Resize to a randomly drawn scale (MMCV's ``RandomResize``), moving boxes and masks too.

    Three ways to draw the target scale ``(w, h)``:

    * ``scale=(w, h)``, ``ratio_range=(a, b)``: ``(int(w * r), int(h * r))`` with r ~ U(a, b);
    * ``scale=[(w1, h1), (w2, h2)]``: each side drawn as an integer uniformly between the two values
      (``randint(min, max + 1)``), independently;
    * ``scale=(w, h)`` alone: that scale (a deterministic resize that also moves masks).

    The image is then resized to the drawn scale as :class:`~visionstack.data.transforms.Resize`
    does (with ``keep_ratio``: the largest size fitting inside it). ``scale`` of the results is set
    to the drawn ``(w, h)``.

    Args:
        scale: the base scale or the two scales bounding the range.
        ratio_range: the range of the ratio applied to a single ``scale``.
        keep_ratio: keep the aspect ratio.
        interpolation: image interpolation (masks use nearest neighbour).
    """

    def __init__(
        self,
        scale: tuple[int, int] | Sequence[tuple[int, int]],
        ratio_range: tuple[float, float] | None = None,
        keep_ratio: bool = False,
        interpolation: str = "bilinear",
    ) -> None:
        two_scales = (
            isinstance(scale, Sequence) and len(scale) == 2 and all(isinstance(s, Sequence) for s in scale)
        )
        if two_scales and ratio_range is not None:
            raise ValueError("RandomResize: give either two scales or one scale with ratio_range, not both")
        if ratio_range is not None and not 0 < ratio_range[0] <= ratio_range[1]:
            raise ValueError(f"RandomResize: need 0 < min <= max in ratio_range={ratio_range}")
        self.scale = (
            [_scale_pair(s, "RandomResize.scale") for s in scale]
            if two_scales
            else _scale_pair(scale, "RandomResize.scale")
        )
        self.ratio_range = ratio_range
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

    def sample_scale(self) -> tuple[int, int]:
        """Draw the target ``(w, h)``."""
        if isinstance(self.scale, list):
            (w1, h1), (w2, h2) = self.scale
            return (
                int(np.random.randint(min(w1, w2), max(w1, w2) + 1)),
                int(np.random.randint(min(h1, h2), max(h1, h2) + 1)),
            )
        if self.ratio_range is not None:
            ratio = np.random.uniform(*self.ratio_range)
            return int(self.scale[0] * ratio), int(self.scale[1] * ratio)
        return self.scale

    def transform(self, results: dict) -> dict:
        scale = self.sample_scale()
        height, width = results["img"].shape[:2]
        size = Resize(scale=scale, keep_ratio=self.keep_ratio).target_size(width, height)
        results["scale"] = scale
        return resize_det_results(results, size, self.interpolation)


@TRANSFORMS.register()
class RandomCrop(BaseTransform):
    """Crop a random window; drop boxes (and their labels, flags, masks) that end up empty (MMDetection).

    The crop size is ``(crop_w, crop_h)`` given by ``crop_type``: ``absolute`` (``crop_size`` pixels,
    at most the image), ``absolute_range`` (each side an integer in ``[crop_size[0], crop_size[1]]``),
    ``relative`` (fractions ``crop_size = (w, h)`` of the image) or ``relative_range`` (fractions drawn
    uniformly in ``[crop_size, 1]``). The window's top-left corner is uniform over the valid offsets.
    Boxes are shifted and clipped to the window; a box left with no area is removed.

    Semantic segmentation (MMSegmentation's ``cat_max_ratio``): when the results hold a ``gt_seg_map``
    and ``cat_max_ratio < 1``, up to ``CAT_MAX_TRIES`` windows (of one drawn size) are tried and the
    first kept in which more than one class is present and the most frequent class covers less than
    ``cat_max_ratio`` of the pixels that are not ``ignore_index``; if none qualifies, the last one.
    This keeps crops from being all sky or all road. Note ``crop_size`` is ``(w, h)`` here, where
    MMSegmentation writes ``(h, w)``.

    Args:
        crop_size: see ``crop_type``.
        crop_type: ``absolute``, ``absolute_range``, ``relative`` or ``relative_range``.
        allow_negative_crop: keep a crop without any box left (otherwise return None, so the
            dataset draws another sample).
        recompute_bbox: replace each box by the tight box of its cropped mask.
        cat_max_ratio: the largest share of one class in a crop of the semantic map, in (0, 1];
            1 disables the rule.
        ignore_index: the map value not counted by ``cat_max_ratio``.
    """

    CROP_TYPES = ("absolute", "absolute_range", "relative", "relative_range")
    CAT_MAX_TRIES = 10

    def __init__(
        self,
        crop_size: tuple[float, float],
        crop_type: str = "absolute",
        allow_negative_crop: bool = False,
        recompute_bbox: bool = False,
        cat_max_ratio: float = 1.0,
        ignore_index: int = 255,
    ) -> None:
        if not 0 < cat_max_ratio <= 1:
            raise ValueError(f"RandomCrop: cat_max_ratio must be in (0, 1], got {cat_max_ratio}")
        if crop_type not in self.CROP_TYPES:
            raise ValueError(f"RandomCrop: crop_type must be one of {self.CROP_TYPES}, got {crop_type!r}")
        low, high = float(crop_size[0]), float(crop_size[1])
        if crop_type == "absolute_range" and not 0 < low <= high:
            raise ValueError(f"RandomCrop: absolute_range needs 0 < min <= max, got {tuple(crop_size)}")
        if crop_type.startswith("relative") and not (0 < low <= 1 and 0 < high <= 1):
            raise ValueError(f"RandomCrop: relative crop sizes must be in (0, 1], got {tuple(crop_size)}")
        if crop_type == "absolute" and min(low, high) <= 0:
            raise ValueError(f"RandomCrop: crop_size must be positive, got {tuple(crop_size)}")
        self.crop_size = tuple(crop_size)
        self.crop_type = crop_type
        self.allow_negative_crop = allow_negative_crop
        self.recompute_bbox = recompute_bbox
        self.cat_max_ratio = float(cat_max_ratio)
        self.ignore_index = int(ignore_index)

    def crop_shape(self, width: int, height: int) -> tuple[int, int]:
        """Draw the crop ``(w, h)`` for a ``width`` x ``height`` image."""
        if self.crop_type == "absolute":
            return min(int(self.crop_size[0]), width), min(int(self.crop_size[1]), height)
        if self.crop_type == "absolute_range":
            low, high = int(self.crop_size[0]), int(self.crop_size[1])
            crop_h = np.random.randint(min(height, low), min(height, high) + 1)
            crop_w = np.random.randint(min(width, low), min(width, high) + 1)
            return int(crop_w), int(crop_h)
        fraction_w, fraction_h = self.crop_size
        if self.crop_type == "relative_range":
            fraction_w, fraction_h = np.asarray(self.crop_size) + np.random.rand(2) * (
                1 - np.asarray(self.crop_size)
            )
        return max(1, int(width * fraction_w + 0.5)), max(1, int(height * fraction_h + 0.5))

    @staticmethod
    def _offset(width: int, height: int, crop_w: int, crop_h: int) -> tuple[int, int]:
        """A uniform top-left corner ``(x1, y1)``; the row offset is drawn first, as MMDetection."""
        y1 = int(np.random.randint(0, height - crop_h + 1))
        x1 = int(np.random.randint(0, width - crop_w + 1))
        return x1, y1

    def class_balanced(self, seg_map: np.ndarray) -> bool:
        """Whether a cropped map passes the ``cat_max_ratio`` rule (see the class docstring)."""
        labels, counts = np.unique(seg_map, return_counts=True)
        counts = counts[labels != self.ignore_index]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def transform(self, results: dict) -> dict | None:
        height, width = results["img"].shape[:2]
        crop_w, crop_h = self.crop_shape(width, height)
        x1, y1 = self._offset(width, height, crop_w, crop_h)
        seg_map = results.get("gt_seg_map")
        if self.cat_max_ratio < 1 and seg_map is not None:
            for _ in range(self.CAT_MAX_TRIES - 1):
                if self.class_balanced(seg_map[y1 : y1 + crop_h, x1 : x1 + crop_w]):
                    break
                x1, y1 = self._offset(width, height, crop_w, crop_h)
        crop_det_results(results, x1, y1, x1 + crop_w, y1 + crop_h)
        if results.get("gt_bboxes") is None:
            return results
        keep = boxes_inside(results["gt_bboxes"], crop_w, crop_h)
        if not keep.any() and not self.allow_negative_crop:
            return None
        keep_instances(results, keep)
        if self.recompute_bbox and results.get("gt_masks") is not None:
            results["gt_bboxes"] = results["gt_masks"].get_bboxes()
        return results


@TRANSFORMS.register()
class Pad(BaseTransform):
    """Pad at the bottom and right to a fixed size, a multiple of ``size_divisor``, or a square.

    Boxes do not move; masks, the semantic map and ``img_shape`` grow; ``pad_shape``,
    ``pad_fixed_size`` and ``pad_size_divisor`` are recorded.

    Args:
        size: the output ``(w, h)``.
        size_divisor: pad each side up to a multiple of this.
        pad_to_square: pad to a square of the longer side (then to ``size_divisor`` if given).
        pad_val: ``dict(img=0 or a BGR triple, seg=255, masks=0)``.
    """

    def __init__(
        self,
        size: int | tuple[int, int] | None = None,
        size_divisor: int | None = None,
        pad_to_square: bool = False,
        pad_val: Mapping[str, float | Sequence[float]] | None = None,
    ) -> None:
        if pad_to_square and size is not None:
            raise ValueError("Pad: pad_to_square=True and size are exclusive")
        if not pad_to_square and (size is None) == (size_divisor is None):
            raise ValueError("Pad: give exactly one of `size` and `size_divisor` (or pad_to_square=True)")
        if size_divisor is not None and size_divisor <= 0:
            raise ValueError(f"Pad: size_divisor must be positive, got {size_divisor}")
        unknown = set(pad_val or {}) - {"img", "seg", "masks"}
        if unknown:
            raise ValueError(f"Pad: unknown pad_val key(s) {sorted(unknown)}; use img, seg, masks")
        self.size = None if size is None else _scale_pair(size, "Pad.size")
        self.size_divisor = size_divisor
        self.pad_to_square = pad_to_square
        self.pad_val = {"img": 0, "seg": 255, **dict(pad_val or {})}

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """The padded ``(w, h)`` for a ``width`` x ``height`` image."""
        if self.pad_to_square:
            width = height = max(width, height)
        if self.size is not None:
            return self.size
        if self.size_divisor is not None:
            divisor = self.size_divisor
            return int(math.ceil(width / divisor)) * divisor, int(math.ceil(height / divisor)) * divisor
        return width, height

    def transform(self, results: dict) -> dict:
        height, width = results["img"].shape[:2]
        pad_det_results(results, self.target_size(width, height), self.pad_val)
        results["pad_fixed_size"] = self.size
        results["pad_size_divisor"] = self.size_divisor
        return results
