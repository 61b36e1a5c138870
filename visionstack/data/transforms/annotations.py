"""Turning a record's annotations into arrays: instances (boxes, labels, masks) and semantic maps.

One transform serves detection, instance segmentation and semantic segmentation. What it loads is
decided per record by default: the instance keys when the record has ``instances`` (detection
datasets), the semantic map when it has ``seg_map_path`` (segmentation datasets).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ...registry import TRANSFORMS
from ...structures.masks import (
    BitmapMasks,
    PolygonMasks,
    bitmap_to_polygons,
    polygons_to_bitmap,
    rle_to_bitmap,
)
from .base import BaseTransform

__all__ = ["LoadAnnotations", "read_seg_map", "reduce_zero_label_map", "apply_label_map"]

SEG_IGNORE_INDEX = 255


def _valid_polygons(mask: list) -> list[np.ndarray]:
    """Polygons usable by COCO: even length, at least three points."""
    return [np.asarray(p, dtype=np.float64) for p in mask if len(p) % 2 == 0 and len(p) >= 6]


def read_seg_map(path: str | os.PathLike) -> np.ndarray:
    """Read a label PNG as an (H, W) array of class indices with Pillow.

    A palette ("P" mode) image gives its palette indices, not the colours, which is how Pascal VOC's
    ``SegmentationClass`` maps store the classes; a grey image gives its values.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is empty, cannot be decoded, or is not a single-channel map; naming the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"segmentation map file not found: {path!r}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"segmentation map file is empty (0 bytes): {path!r}")
    try:
        with Image.open(path) as image:
            mode = image.mode
            label = np.array(image)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"cannot decode the segmentation map {path!r}: {error}") from error
    if label.ndim != 2:
        raise ValueError(
            f"segmentation map {path!r} is {mode!r} with shape {label.shape}, not a 2-D map of class "
            "indices; store it as a grey (L) or palette (P) PNG"
        )
    return label


def reduce_zero_label_map(label: np.ndarray, ignore_index: int = SEG_IGNORE_INDEX) -> np.ndarray:
    """Shift labels down by one: 0 (e.g. ADE20K's "other") becomes ``ignore_index``, k becomes k - 1.

    Pixels already at ``ignore_index`` stay there.
    """
    label = np.asarray(label)
    reduced = label.astype(np.int64) - 1
    reduced[(label == 0) | (label == ignore_index)] = ignore_index
    return reduced.astype(label.dtype)


def apply_label_map(label: np.ndarray, label_map: Mapping[int, int]) -> np.ndarray:
    """Replace each ``old`` value by ``label_map[old]``, all at once (so chains do not cascade)."""
    mapped = label.copy()
    for old, new in label_map.items():
        mapped[label == int(old)] = int(new)
    return mapped


@TRANSFORMS.register()
@dataclass(repr=False, eq=False)
class LoadAnnotations(BaseTransform):
    """Load the annotations of a record: instances (MMDetection) and / or a semantic map (MMSegmentation).

    Instances: reads ``results["instances"]`` (each ``{"bbox": [x1, y1, x2, y2], "bbox_label",
    "ignore_flag", "mask"}``) into:

    * ``gt_bboxes``: (N, 4) float32 x1 y1 x2 y2, absolute pixels;
    * ``gt_bboxes_labels``: (N,) int64;
    * ``gt_ignore_flags``: (N,) bool (crowd regions, VOC ``difficult``, unusable masks);
    * ``gt_masks``: :class:`BitmapMasks` (``poly2mask=True``) or :class:`PolygonMasks` of the
      image's ``ori_shape`` (so ``LoadImage`` must come first, or the record must carry ``height``
      and ``width``). ``mask`` may be polygons or an RLE dict (compressed or uncompressed ``counts``).

    An instance whose mask has no usable polygon is kept with an empty mask and ``ignore_flag`` set
    (as MMDetection). With ``poly2mask=False`` an RLE mask becomes the polygons of its outer
    contours (through boundary pixel centres, so within one pixel of the RLE) instead of being ignored.

    Semantic map: reads the PNG at ``results["seg_map_path"]`` with Pillow (palette images give their
    indices) into ``gt_seg_map`` ((H, W), 255 = ignore) and appends ``"gt_seg_map"`` to
    ``seg_fields``. With ``reduce_zero_label`` label 0 becomes 255 and every other label k becomes
    k - 1 (255 stays 255); then the record's optional ``label_map`` (``{old: new}``) is applied. The
    map must have the image's size (``ori_shape``, set by ``LoadImage``, or the record's ``height``
    and ``width``).

    ``None`` for ``with_bbox``, ``with_label`` and ``with_seg`` means "when the record has it":
    ``instances`` for the first two, ``seg_map_path`` for the last. ``True`` demands the key.

    Args:
        with_bbox: load ``gt_bboxes`` and ``gt_ignore_flags``.
        with_label: load ``gt_bboxes_labels``.
        with_mask: load ``gt_masks``.
        with_seg: load ``gt_seg_map``.
        poly2mask: rasterise polygons into bitmaps (otherwise keep polygons).
        reduce_zero_label: see above; None takes the record's ``reduce_zero_label`` (default False).
            An explicit value that contradicts the record's is an error (the map would be shifted
            twice or not at all).

    Raises:
        KeyError: a requested key is missing from the record, or the record has nothing to load.
        FileNotFoundError / ValueError: the map is missing, unreadable, not 2-D or of the wrong size,
            naming the file.
    """

    with_bbox: bool | None = None
    with_label: bool | None = None
    with_mask: bool = False
    with_seg: bool | None = None
    poly2mask: bool = True
    reduce_zero_label: bool | None = None

    def transform(self, results: dict) -> dict:
        has_instances = results.get("instances") is not None
        has_seg = results.get("seg_map_path") is not None
        if not has_instances and not has_seg and not self._explicit():
            raise KeyError(
                f"LoadAnnotations: the record of {results.get('img_path')!r} has no `instances` and no "
                "`seg_map_path`, so there is nothing to load; use a detection dataset (CocoDataset, "
                "VOCDataset) or a segmentation dataset"
            )
        instance_flags = {
            "with_bbox": self.with_bbox,
            "with_label": self.with_label,
            "with_mask": self.with_mask,
        }
        wanted = {
            name: (has_instances if flag is None else bool(flag)) for name, flag in instance_flags.items()
        }
        if any(wanted.values()):
            if not has_instances:
                requested = ", ".join(f"{name}=True" for name, flag in wanted.items() if flag)
                raise KeyError(
                    f"LoadAnnotations({requested}): the record of {results.get('img_path')!r} has no "
                    "`instances`; use a detection dataset (CocoDataset, VOCDataset)"
                )
            self._load_instances(results, results["instances"], wanted)
        if has_seg if self.with_seg is None else self.with_seg:
            if not has_seg:
                raise KeyError(
                    f"LoadAnnotations(with_seg=True): the record of {results.get('img_path')!r} has no "
                    "`seg_map_path`; use a segmentation dataset"
                )
            self._load_seg_map(results)
        return results

    def _explicit(self) -> bool:
        """Whether a flag was set explicitly (then an absent key is either an error or not wanted)."""
        return self.with_mask or any(
            flag is not None for flag in (self.with_bbox, self.with_label, self.with_seg)
        )

    # ---- instances ------------------------------------------------------------------------------
    def _load_instances(self, results: dict, instances: Sequence[dict], wanted: Mapping[str, bool]) -> None:
        ignore = np.array([bool(inst.get("ignore_flag", 0)) for inst in instances], dtype=bool)
        if wanted["with_mask"]:
            results["gt_masks"], unusable = self._load_masks(results, instances)
            ignore |= unusable
        if wanted["with_bbox"]:
            boxes = [inst["bbox"] for inst in instances]
            results["gt_bboxes"] = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
            results["gt_ignore_flags"] = ignore
        if wanted["with_label"]:
            results["gt_bboxes_labels"] = np.array([inst["bbox_label"] for inst in instances], dtype=np.int64)

    def _image_shape(self, results: dict) -> tuple[int, int] | None:
        if "ori_shape" in results:
            return int(results["ori_shape"][0]), int(results["ori_shape"][1])
        if results.get("height") is not None and results.get("width") is not None:
            return int(results["height"]), int(results["width"])
        return None

    def _load_masks(
        self, results: dict, instances: Sequence[dict]
    ) -> tuple[BitmapMasks | PolygonMasks, np.ndarray]:
        shape = self._image_shape(results)
        if shape is None:
            raise KeyError(
                f"LoadAnnotations: masks of {results.get('img_path')!r} need the image size; put LoadImage first"
            )
        height, width = shape
        unusable = np.zeros(len(instances), dtype=bool)
        polygons_per_instance: list[list[np.ndarray]] = []
        bitmaps: list[np.ndarray] = []
        for index, instance in enumerate(instances):
            mask = instance.get("mask")
            if isinstance(mask, dict):
                bitmap = rle_to_bitmap(mask, height, width)
                polygons = bitmap_to_polygons(bitmap) if not self.poly2mask else []
            elif isinstance(mask, list):
                polygons = _valid_polygons(mask)
                bitmap = polygons_to_bitmap(polygons, height, width) if self.poly2mask else None
                unusable[index] = not polygons
            else:
                polygons, bitmap = [], np.zeros((height, width), dtype=np.uint8)
                unusable[index] = True
            if not self.poly2mask and not polygons:
                unusable[index] = True
            polygons_per_instance.append(polygons)
            bitmaps.append(bitmap)
        if self.poly2mask:
            return BitmapMasks(bitmaps, height, width), unusable
        return PolygonMasks(polygons_per_instance, height, width), unusable

    # ---- semantic map ---------------------------------------------------------------------------
    def _reduce_zero_label(self, results: dict) -> bool:
        recorded: Any = results.get("reduce_zero_label")
        if self.reduce_zero_label is None:
            return bool(recorded) if recorded is not None else False
        if recorded is not None and bool(recorded) != bool(self.reduce_zero_label):
            raise ValueError(
                f"LoadAnnotations(reduce_zero_label={self.reduce_zero_label}) contradicts the record of "
                f"{results.get('img_path')!r} (reduce_zero_label={recorded}); set it on the dataset and leave "
                "the transform's at None"
            )
        return bool(self.reduce_zero_label)

    def _load_seg_map(self, results: dict) -> None:
        path = os.fspath(results["seg_map_path"])
        label = read_seg_map(path)
        shape = self._image_shape(results)
        if shape is not None and tuple(label.shape) != shape:
            raise ValueError(
                f"segmentation map {path!r} is {label.shape[1]}x{label.shape[0]} but the image "
                f"{results.get('img_path')!r} is {shape[1]}x{shape[0]}"
            )
        if label.dtype != np.uint8 and label.size and 0 <= label.min() and label.max() <= 255:
            label = label.astype(np.uint8)
        reduce = self._reduce_zero_label(results)
        if reduce:
            label = reduce_zero_label_map(label)
        label_map = results.get("label_map")
        if label_map:
            label = apply_label_map(label, label_map)
        results["gt_seg_map"] = np.ascontiguousarray(label)
        results["reduce_zero_label"] = reduce
        fields = list(results.get("seg_fields") or [])
        if "gt_seg_map" not in fields:
            fields.append("gt_seg_map")
        results["seg_fields"] = fields
