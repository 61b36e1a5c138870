"""OCR transforms (MMOCR's names and semantics): loading, detection geometry and packing (the recognition
transforms are in :mod:`.recog_transforms`).

Detection results keys (see :class:`LoadOCRAnnotations`): ``gt_polygons`` (list of N (P, 2) float32
x y pixels), ``gt_bboxes`` (N, 4) float32 x1 y1 x2 y2 (the polygons' boxes), ``gt_ignore_flags`` (N,)
bool, ``gt_texts`` (list of N str), optionally ``gt_bboxes_labels`` (N,) int64. Every shared
geometric transform (``Resize``, ``RandomFlip``, ``RandomCrop``, ``Pad``, ``RandomAffine`` ...) moves
them: polygons and boxes have kernels in :mod:`visionstack.data.transforms`, and this module registers
one for ``gt_texts`` so :func:`~visionstack.data.transforms.keep_instances` drops a text with its polygon.

Randomness comes from ``numpy.random`` (seeded per worker by the runner).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import shapely
import torch
from shapely.geometry import Polygon

from ...data.transforms import (
    AnnotationKernel,
    BasePackInputs,
    annotation_kernels,
    crop_results,
    image_size,
    keep_instances,
    pad_results,
    register_annotation_kernel,
    warp_results,
)
from ...data.transforms.affine import affine_matrix
from ...data.transforms.base import BaseTransform
from ...data.transforms.formatting import IMAGE_META_KEYS
from ...registry import TRANSFORMS
from ...structures import DataSample, InstanceData

__all__ = [
    "FixInvalidPolygon",
    "LoadOCRAnnotations",
    "PackTextDetInputs",
    "RandomRotate",
    "TextDetRandomCrop",
    "TextsKernel",
    "drop_empty_polygons",
    "polygon_area",
]


# ---- the texts kernel and polygon bookkeeping ------------------------------------------------------
class TextsKernel(AnnotationKernel):
    """``gt_texts``: one string per instance; geometry leaves it as is, instance selection filters it."""

    per_instance = True

    def _texts(self, value: Any) -> list[str]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TypeError(f"expected a list of N strings, got {type(value).__name__}")
        return list(value)

    def flip(self, value, op, results):
        return self._texts(value)

    def resize(self, value, op, results):
        return self._texts(value)

    def crop(self, value, op, results):
        return self._texts(value)

    def pad(self, value, op, results):
        return self._texts(value)

    def warp(self, value, op, results):
        return self._texts(value)

    def select(self, value: Any, keep: np.ndarray, results: dict) -> list[str]:
        texts = self._texts(value)
        if len(keep) != len(texts):
            raise IndexError(f"gt_texts: {len(keep)} keep flags for {len(texts)} texts")
        return [text for text, kept in zip(texts, keep) if kept]

    def __repr__(self) -> str:
        return "TextsKernel()"


if "gt_texts" not in annotation_kernels():
    register_annotation_kernel("gt_texts", TextsKernel())


def polygon_area(polygon: np.ndarray) -> float:
    """The unsigned shoelace area of a (P, 2) polygon (0 for fewer than three points)."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(points) < 3:
        return 0.0
    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def _polygon_boxes(polygons: Sequence[np.ndarray]) -> np.ndarray:
    boxes = [np.concatenate([p.min(axis=0), p.max(axis=0)]) for p in polygons if len(p)]
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def drop_empty_polygons(results: dict, min_area: float = 0.0) -> dict:
    """Drop the instances whose polygon has fewer than 3 points or area <= ``min_area`` (left outside the
    image by a crop or a warp), then reset ``gt_bboxes`` to the remaining polygons' boxes."""
    polygons = results.get("gt_polygons")
    if polygons is None:
        return results
    keep = np.array([len(p) >= 3 and polygon_area(p) > min_area for p in polygons], dtype=bool)
    if not keep.all():
        keep_instances(results, keep)
    if results.get("gt_bboxes") is not None:
        results["gt_bboxes"] = _polygon_boxes(results["gt_polygons"])
    return results


# ---- loading ----------------------------------------------------------------------------------------
@TRANSFORMS.register()
class LoadOCRAnnotations(BaseTransform):
    """Turn a record's ``instances`` into the OCR results keys (MMOCR's ``LoadOCRAnnotations``).

    Detection records (instances with ``polygon`` or ``bbox``) give ``gt_polygons`` (list of (P, 2)
    float32), ``gt_bboxes`` ((N, 4) float32: the polygon's box, or the instance's ``bbox`` without a
    polygon), ``gt_ignore_flags`` ((N,) bool from ``ignore``, or ``ignore_flag``), ``gt_bboxes_labels``
    ((N,) int64, ``with_label``) and ``gt_texts``. Recognition records (instances with only ``text``)
    give ``gt_texts`` and ``gt_text`` (the single word), whatever the geometry flags say, so MMOCR's
    recognition configs run unchanged.

    Args:
        with_polygon: load ``gt_polygons``.
        with_bbox: load ``gt_bboxes``.
        with_label: load ``gt_bboxes_labels``.
        with_text: load ``gt_texts`` (and ``gt_text`` for a recognition record).

    Raises:
        KeyError: the record has no ``instances``, or a detection instance lacks its polygon.
    """

    def __init__(
        self,
        with_polygon: bool = True,
        with_bbox: bool = True,
        with_label: bool = False,
        with_text: bool = True,
    ) -> None:
        self.with_polygon = with_polygon
        self.with_bbox = with_bbox
        self.with_label = with_label
        self.with_text = with_text

    def transform(self, results: dict) -> dict:
        instances = results.get("instances")
        if instances is None:
            raise KeyError(
                f"LoadOCRAnnotations: the record {results.get('img_path')!r} has no `instances`; "
                "use an OCR dataset (TextDetDataset, TextRecogDataset, OCRDataset)"
            )
        recognition = len(instances) > 0 and not any("polygon" in i or "bbox" in i for i in instances)
        if self.with_text:
            results["gt_texts"] = [str(instance.get("text", "")) for instance in instances]
            if recognition and len(instances) == 1:
                results["gt_text"] = results["gt_texts"][0]
        if recognition:
            return results
        polygons = [self._polygon(instance, index, results) for index, instance in enumerate(instances)]
        if self.with_polygon:
            results["gt_polygons"] = polygons
        if self.with_bbox:
            boxes = [
                np.concatenate([p.min(axis=0), p.max(axis=0)]) if p is not None else instance["bbox"]
                for p, instance in zip(polygons, instances)
            ]
            results["gt_bboxes"] = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        if self.with_polygon or self.with_bbox:
            flags = [
                bool(instance.get("ignore", instance.get("ignore_flag", False))) for instance in instances
            ]
            results["gt_ignore_flags"] = np.asarray(flags, dtype=bool).reshape(-1)
        if self.with_label:
            labels = [int(instance.get("bbox_label", 0)) for instance in instances]
            results["gt_bboxes_labels"] = np.asarray(labels, dtype=np.int64).reshape(-1)
        return results

    def _polygon(self, instance: dict, index: int, results: dict) -> np.ndarray | None:
        if instance.get("polygon") is None:
            if self.with_polygon:
                raise KeyError(
                    f"LoadOCRAnnotations: instance {index} of {results.get('img_path')!r} has no `polygon` "
                    "(pass with_polygon=False to load boxes only)"
                )
            return None
        return np.asarray(instance["polygon"], dtype=np.float32).reshape(-1, 2)


# ---- detection geometry ------------------------------------------------------------------------------
def _fill_outside(results: dict, matrix: np.ndarray, source_size: tuple[int, int], patch: np.ndarray) -> None:
    """Fill the pixels a warp left uncovered with ``patch`` (already at the output size)."""
    width, height = source_size
    out_height, out_width = results["img"].shape[:2]
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    pixel_matrix = np.linalg.inv(shift) @ matrix @ shift
    covered = cv2.warpAffine(
        np.ones((height, width), np.uint8), pixel_matrix[:2], (out_width, out_height), flags=cv2.INTER_NEAREST
    )
    outside = covered == 0
    results["img"] = np.where(
        outside[..., None] if results["img"].ndim == 3 else outside, patch, results["img"]
    )


@TRANSFORMS.register()
class RandomRotate(BaseTransform):
    """Rotate the image and its polygons by a random angle about the centre (MMOCR's ``RandomRotate``).

    The angle is uniform in ``[-max_angle, max_angle]`` degrees, positive counter-clockwise on screen
    (``cv2.getRotationMatrix2D``'s convention); ``rotated_angle`` records it. With ``use_canvas`` the
    output grows to ``ceil(w |cos| + h |sin|) x ceil(w |sin| + h |cos|)`` so no text is cut; otherwise
    it keeps the input size and polygons are clipped to it. The uncovered corners are filled with
    ``pad_value`` (``pad_with_fixed_color``) or, as MMOCR, with a random patch of the image (1/9 of
    each side, from the top-left 7/8) stretched over the canvas. Instances whose polygon leaves the
    image are dropped (with their texts and flags); ``gt_bboxes`` become the rotated polygons' boxes.

    Args:
        max_angle: the largest rotation, degrees.
        pad_with_fixed_color: fill with ``pad_value`` instead of a patch of the image.
        pad_value: the BGR fill (a scalar for a grayscale image).
        use_canvas: enlarge the output to hold the whole rotated image.
        interpolation: the image's interpolation (``nearest, bilinear ...``).
    """

    def __init__(
        self,
        max_angle: float = 10,
        pad_with_fixed_color: bool = False,
        pad_value: int | Sequence[int] = (0, 0, 0),
        use_canvas: bool = False,
        interpolation: str = "bilinear",
    ) -> None:
        if max_angle < 0:
            raise ValueError(f"RandomRotate: max_angle must be >= 0, got {max_angle}")
        self.max_angle = max_angle
        self.pad_with_fixed_color = pad_with_fixed_color
        self.pad_value = pad_value
        self.use_canvas = use_canvas
        self.interpolation = interpolation

    def canvas_size(self, width: int, height: int, angle: float) -> tuple[int, int]:
        """The output ``(w, h)`` for a rotation by ``angle`` degrees."""
        if not self.use_canvas:
            return width, height
        cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
        # Rounded up (MMOCR truncates, which can shave half a pixel off the corners' text).
        return math.ceil(width * cos + height * sin - 1e-6), math.ceil(width * sin + height * cos - 1e-6)

    def transform(self, results: dict) -> dict:
        angle = float(np.random.random_sample() * 2 * self.max_angle - self.max_angle)
        width, height = image_size(results)
        size = self.canvas_size(width, height, angle)
        matrix = affine_matrix(
            -angle, in_center=(width / 2, height / 2), out_center=(size[0] / 2, size[1] / 2)
        )
        patch = None
        if not self.pad_with_fixed_color:
            img = results["img"]
            top, left = (
                np.random.randint(0, max(1, height * 7 // 8)),
                np.random.randint(0, max(1, width * 7 // 8)),
            )
            cut = img[top : top + max(1, height // 9), left : left + max(1, width // 9)]
            patch = cv2.resize(cut, size, interpolation=cv2.INTER_LINEAR).reshape(
                (size[1], size[0], *img.shape[2:])
            )
        fill = self.pad_value if self.pad_with_fixed_color else 0
        warp_results(results, matrix, size, self.interpolation, {"img": fill})
        if patch is not None:
            _fill_outside(results, matrix, (width, height), patch)
        results["rotated_angle"] = angle
        return drop_empty_polygons(results)


def _cut_free_starts(low: int, high: int, length: int, spans: np.ndarray) -> np.ndarray:
    """The starts s in [low, high] whose window edges s and s + length cut no span (x1, x2) open interval."""
    starts = np.arange(low, high + 1)
    if len(spans) == 0:
        return starts
    cuts = np.zeros(len(starts), dtype=bool)
    for edge in (starts, starts + length):
        cuts |= ((edge[:, None] > spans[None, :, 0]) & (edge[:, None] < spans[None, :, 1])).any(axis=1)
    return starts[~cuts]


@TRANSFORMS.register()
class TextDetRandomCrop(BaseTransform):
    """Crop a ``target_size`` window, around a text instance with probability ``positive_sample_ratio``
    (MMOCR's ``TextDetRandomCrop``), then pad to ``target_size``.

    A positive crop holds a randomly chosen instance (a non-ignored one when there is one) entirely
    when it fits; a negative crop is placed uniformly. Among the allowed positions, those whose edges
    cut no polygon's x (resp. y) extent are preferred, so words are not cut when avoidable; polygons
    left outside are dropped with their texts and flags, polygons partly inside are clipped, and
    ``gt_bboxes`` become the polygons' boxes. A smaller image is cropped to itself and padded (at the
    bottom and right, with ``pad_val``); an image of exactly ``target_size`` is left as is.

    Args:
        target_size: the output ``(w, h)`` (an int means square).
        positive_sample_ratio: the probability of a crop around a text instance.
        pad_val: the image's fill value.
    """

    def __init__(
        self,
        target_size: int | tuple[int, int] = (320, 320),
        positive_sample_ratio: float = 5.0 / 8.0,
        pad_val: int | Sequence[int] = 0,
    ) -> None:
        if not 0.0 <= positive_sample_ratio <= 1.0:
            raise ValueError(
                f"TextDetRandomCrop: positive_sample_ratio must be in [0, 1], got {positive_sample_ratio}"
            )
        size = (target_size, target_size) if isinstance(target_size, int) else tuple(target_size)
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"TextDetRandomCrop: target_size must be positive (w, h), got {target_size!r}")
        self.target_size = (int(size[0]), int(size[1]))
        self.positive_sample_ratio = float(positive_sample_ratio)
        self.pad_val = pad_val

    def crop_window(self, results: dict) -> tuple[int, int, int, int]:
        """Draw the window ``(x1, y1, x2, y2)`` (see the class docstring)."""
        width, height = image_size(results)
        crop_w, crop_h = min(self.target_size[0], width), min(self.target_size[1], height)
        polygons = [p for p in results.get("gt_polygons") or [] if len(p)]
        boxes = np.clip(_polygon_boxes(polygons), 0, [width, height, width, height])
        ranges = [(0, width - crop_w), (0, height - crop_h)]
        if len(boxes) and np.random.random_sample() < self.positive_sample_ratio:
            flags = np.asarray(results.get("gt_ignore_flags", np.zeros(len(boxes), bool)), dtype=bool)
            candidates = (
                np.flatnonzero(~flags[: len(boxes)])
                if (~flags[: len(boxes)]).any()
                else np.arange(len(boxes))
            )
            box = boxes[np.random.choice(candidates)]
            for axis, (length, limit) in enumerate(((crop_w, width), (crop_h, height))):
                a = int(np.clip(math.floor(box[axis]), 0, limit - length))
                b = int(np.clip(math.ceil(box[axis + 2]) - length, 0, limit - length))
                ranges[axis] = (min(a, b), max(a, b))
        starts = []
        for axis, length in enumerate((crop_w, crop_h)):
            low, high = ranges[axis]
            free = _cut_free_starts(low, high, length, boxes[:, [axis, axis + 2]])
            pool = free if len(free) else np.arange(low, high + 1)
            starts.append(int(np.random.choice(pool)))
        return starts[0], starts[1], starts[0] + crop_w, starts[1] + crop_h

    def transform(self, results: dict) -> dict:
        if image_size(results) == self.target_size:
            return results
        crop_results(results, *self.crop_window(results))
        drop_empty_polygons(results)
        if image_size(results) != self.target_size:
            pad_results(results, self.target_size, pad_val={"img": self.pad_val})
        return results


@TRANSFORMS.register()
class FixInvalidPolygon(BaseTransform):
    """Repair or flag invalid polygons (MMOCR's ``FixInvalidPolygon``).

    ``mode="fix"``: a polygon with fewer than 3 points is removed; a self-intersecting one is
    replaced by ``shapely.make_valid`` of it (the convex hull when that splits into several parts,
    as MMOCR's ``poly_make_valid``), keeping the original orientation; one that cannot be repaired
    (a line or a point) becomes its box when ``fix_from_bbox`` and the box has an area, else it is
    removed. ``mode="ignore"``: a polygon with fewer than ``min_poly_points`` points or invalid is
    flagged in ``gt_ignore_flags`` instead. Removed instances take their box, flag and text along.
    Returns None (another sample is drawn) when every polygon is removed.

    Args:
        mode: ``fix`` or ``ignore``.
        min_poly_points: (``ignore`` mode) the fewest points of a usable polygon, >= 3.
        fix_from_bbox: replace an unrepairable polygon by its box.
    """

    def __init__(self, mode: str = "fix", min_poly_points: int = 4, fix_from_bbox: bool = True) -> None:
        if mode not in ("fix", "ignore"):
            raise ValueError(f"FixInvalidPolygon: mode must be 'fix' or 'ignore', got {mode!r}")
        if min_poly_points < 3:
            raise ValueError(f"FixInvalidPolygon: min_poly_points must be >= 3, got {min_poly_points}")
        self.mode = mode
        self.min_poly_points = min_poly_points
        self.fix_from_bbox = fix_from_bbox

    @staticmethod
    def repair(polygon: np.ndarray) -> np.ndarray | None:
        """A valid (P, 2) float32 version of ``polygon``, or None when it has no area."""
        points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        if len(points) < 3:
            return None
        shape = Polygon(points)
        if shape.is_valid and shape.area > 0:
            return points.astype(np.float32)
        fixed = shapely.make_valid(shape)
        parts = [g for g in getattr(fixed, "geoms", [fixed]) if isinstance(g, Polygon) and g.area > 0]
        if not parts:
            return None
        fixed = parts[0] if len(parts) == 1 else shapely.union_all(parts).convex_hull
        if not isinstance(fixed, Polygon) or fixed.area <= 0:
            return None
        fixed = shapely.geometry.polygon.orient(fixed, sign=1.0 if Polygon(points).exterior.is_ccw else -1.0)
        return np.asarray(fixed.exterior.coords[:-1], dtype=np.float32)

    def transform(self, results: dict) -> dict | None:
        polygons = results.get("gt_polygons")
        if polygons is None or len(polygons) == 0:
            return results
        if self.mode == "ignore":
            flags = np.asarray(
                results.get("gt_ignore_flags", np.zeros(len(polygons), bool)), dtype=bool
            ).copy()
            for index, polygon in enumerate(polygons):
                if (
                    len(polygon) < self.min_poly_points
                    or not Polygon(np.asarray(polygon, np.float64)).is_valid
                ):
                    flags[index] = True
            results["gt_ignore_flags"] = flags
            return results
        keep = np.ones(len(polygons), dtype=bool)
        fixed_polygons = []
        for index, polygon in enumerate(polygons):
            fixed = self.repair(polygon)
            if fixed is None and self.fix_from_bbox and results.get("gt_bboxes") is not None:
                x1, y1, x2, y2 = np.asarray(results["gt_bboxes"][index], dtype=np.float32)
                box = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float32)
                fixed = box if (x2 - x1) * (y2 - y1) > 0 else None
            keep[index] = fixed is not None
            fixed_polygons.append(fixed if fixed is not None else np.zeros((0, 2), np.float32))
        if not keep.any():
            return None
        results["gt_polygons"] = fixed_polygons
        keep_instances(results, keep)
        if results.get("gt_bboxes") is not None:
            results["gt_bboxes"] = _polygon_boxes(results["gt_polygons"])
        return results


# ---- packing ----------------------------------------------------------------------------------------
@TRANSFORMS.register()
class PackTextDetInputs(BasePackInputs):
    """``{"inputs": (C, H, W) uint8 tensor, "data_samples": DataSample}`` for text detection.

    ``gt_instances = InstanceData(polygons=[(P, 2) float32 arrays], bboxes=(N, 4) float32 tensor,
    ignored=(N,) bool tensor, texts=[str], labels=(N,) int64 tensor if loaded)`` when the results hold
    polygons. The metainfo gets ``img_shape`` and ``scale_factor`` (1, 1) when no transform set them.

    Args:
        meta_keys: results keys copied into the metainfo.
    """

    def __init__(self, meta_keys: Sequence[str] = IMAGE_META_KEYS) -> None:
        super().__init__(meta_keys)

    def pack_annotations(self, results: dict, sample: DataSample) -> None:
        defaults = {"img_shape": tuple(results["img"].shape[:2]), "scale_factor": (1.0, 1.0)}
        sample.set_metainfo({k: v for k, v in defaults.items() if k in self.meta_keys and k not in sample})
        polygons = results.get("gt_polygons")
        if polygons is None:
            return
        polygons = [np.asarray(p, dtype=np.float32).reshape(-1, 2) for p in polygons]
        boxes = results.get("gt_bboxes")
        boxes = (
            _polygon_boxes(polygons) if boxes is None else np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        )
        flags = results.get("gt_ignore_flags")
        flags = np.zeros(len(polygons), bool) if flags is None else np.asarray(flags, dtype=bool)
        fields = {
            "polygons": polygons,
            "bboxes": torch.from_numpy(np.ascontiguousarray(boxes)),
            "ignored": torch.from_numpy(flags.copy()),
            "texts": list(results.get("gt_texts", [""] * len(polygons))),
        }
        if results.get("gt_bboxes_labels") is not None:
            fields["labels"] = torch.as_tensor(np.asarray(results["gt_bboxes_labels"], dtype=np.int64))
        sample.gt_instances = InstanceData(**fields)
