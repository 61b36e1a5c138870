"""Random resize, random crop and pad: the spatial transforms of detection and segmentation training.

Like every geometric transform they move whatever annotations the sample holds through the kernels
of :mod:`.annotation_kernels` (see :mod:`.geometric`); what they add is the instance bookkeeping of
MMDetection: :class:`RandomCrop` drops the instances whose box is left empty, from every
per-instance key at once (``gt_bboxes`` (N, 4) float32 x1 y1 x2 y2, ``gt_bboxes_labels`` (N,)
int64, ``gt_ignore_flags`` (N,) bool, ``gt_masks``, and keypoints or polygons when present), and
semantic segmentation's ``cat_max_ratio`` rule. Every size here is ``(w, h)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ...registry import TRANSFORMS
from .annotation_kernels import image_size, keep_instances, pad_value_keys
from .base import BaseTransform
from .coordinate_kernels import boxes_inside
from .geometric import Resize, crop_results, pad_results, resize_results

__all__ = ["RandomResize", "RandomCrop", "Pad"]


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
        size = Resize(scale=scale, keep_ratio=self.keep_ratio).target_size(*image_size(results))
        results["scale"] = scale
        return resize_results(results, size, self.interpolation)


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
        width, height = image_size(results)
        crop_w, crop_h = self.crop_shape(width, height)
        x1, y1 = self._offset(width, height, crop_w, crop_h)
        seg_map = results.get("gt_seg_map")
        if self.cat_max_ratio < 1 and seg_map is not None:
            for _ in range(self.CAT_MAX_TRIES - 1):
                if self.class_balanced(seg_map[y1 : y1 + crop_h, x1 : x1 + crop_w]):
                    break
                x1, y1 = self._offset(width, height, crop_w, crop_h)
        crop_results(results, x1, y1, x1 + crop_w, y1 + crop_h)
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
        pad_val: ``dict(img=0 or a BGR triple, seg=255, masks=0)``, and the fill of any kind whose
            registered kernel reads one (its ``pad_val_key``).
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
        known = pad_value_keys()
        unknown = set(pad_val or {}) - set(known)
        if unknown:
            raise ValueError(f"Pad: unknown pad_val key(s) {sorted(unknown)}; use {', '.join(known)}")
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
        size = self.target_size(*image_size(results))
        pad_results(results, size, pad_val=self.pad_val)
        results["pad_shape"] = (size[1], size[0])
        results["pad_fixed_size"] = self.size
        results["pad_size_divisor"] = self.size_divisor
        return results
