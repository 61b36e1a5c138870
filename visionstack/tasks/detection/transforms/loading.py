"""Turning a record's ``instances`` into arrays, and filtering instances that are too small."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ....data.transforms.base import BaseTransform
from ....registry import TRANSFORMS
from ....structures.masks import (
    BitmapMasks,
    PolygonMasks,
    bitmap_to_polygons,
    polygons_to_bitmap,
    rle_to_bitmap,
)
from .geometric import keep_instances

__all__ = ["LoadAnnotations", "FilterAnnotations"]


def _valid_polygons(mask: list) -> list[np.ndarray]:
    """Polygons usable by COCO: even length, at least three points."""
    return [np.asarray(p, dtype=np.float64) for p in mask if len(p) % 2 == 0 and len(p) >= 6]


@TRANSFORMS.register()
class LoadAnnotations(BaseTransform):
    """Load the instance annotations of a detection record (MMDetection's ``LoadAnnotations``).

    Reads ``results["instances"]`` (each ``{"bbox": [x1, y1, x2, y2], "bbox_label", "ignore_flag",
    "mask"}``) into:

    * ``gt_bboxes``: (N, 4) float32 x1 y1 x2 y2, absolute pixels;
    * ``gt_bboxes_labels``: (N,) int64;
    * ``gt_ignore_flags``: (N,) bool (crowd regions, VOC ``difficult``, unusable masks);
    * ``gt_masks``: :class:`BitmapMasks` (``poly2mask=True``) or :class:`PolygonMasks` of the
      image's ``ori_shape`` (so ``LoadImage`` must come first, or the record must carry ``height``
      and ``width``). ``mask`` may be polygons or an RLE dict (compressed or uncompressed ``counts``).

    An instance whose mask has no usable polygon is kept with an empty mask and ``ignore_flag`` set
    (as MMDetection). With ``poly2mask=False`` an RLE mask becomes the polygons of its outer
    contours (through boundary pixel centres, so within one pixel of the RLE) instead of being ignored.

    Args:
        with_bbox: load ``gt_bboxes`` and ``gt_ignore_flags``.
        with_label: load ``gt_bboxes_labels``.
        with_mask: load ``gt_masks``.
        poly2mask: rasterise polygons into bitmaps (otherwise keep polygons).
    """

    def __init__(
        self, with_bbox: bool = True, with_label: bool = True, with_mask: bool = False, poly2mask: bool = True
    ) -> None:
        self.with_bbox = with_bbox
        self.with_label = with_label
        self.with_mask = with_mask
        self.poly2mask = poly2mask

    def transform(self, results: dict) -> dict:
        instances = results.get("instances")
        if instances is None:
            raise KeyError(
                f"LoadAnnotations: the record of {results.get('img_path')!r} has no `instances`; "
                "use a detection dataset (CocoDataset, VOCDataset)"
            )
        ignore = np.array([bool(inst.get("ignore_flag", 0)) for inst in instances], dtype=bool)
        if self.with_mask:
            results["gt_masks"], unusable = self._load_masks(results, instances)
            ignore |= unusable
        if self.with_bbox:
            boxes = [inst["bbox"] for inst in instances]
            results["gt_bboxes"] = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
            results["gt_ignore_flags"] = ignore
        if self.with_label:
            results["gt_bboxes_labels"] = np.array([inst["bbox_label"] for inst in instances], dtype=np.int64)
        return results

    def _image_shape(self, results: dict) -> tuple[int, int]:
        if "ori_shape" in results:
            return int(results["ori_shape"][0]), int(results["ori_shape"][1])
        if "height" in results and "width" in results:
            return int(results["height"]), int(results["width"])
        raise KeyError(
            f"LoadAnnotations: masks of {results.get('img_path')!r} need the image size; put LoadImage first"
        )

    def _load_masks(
        self, results: dict, instances: Sequence[dict]
    ) -> tuple[BitmapMasks | PolygonMasks, np.ndarray]:
        height, width = self._image_shape(results)
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


@TRANSFORMS.register()
class FilterAnnotations(BaseTransform):
    """Drop instances whose box is too small or whose mask is too small (MMDetection's semantics).

    Args:
        min_gt_bbox_wh: an instance survives when its box width > w and height > h.
        min_gt_mask_area: an instance survives when its mask area >= this (with ``by_mask``).
        by_box: filter by box size.
        by_mask: filter by mask area.
        keep_empty: when no instance survives, return None (the dataset then draws another
            sample); when False, return the results with zero instances. (The name is
            MMDetection's; it means "keep the empty result out of training".)
    """

    def __init__(
        self,
        min_gt_bbox_wh: tuple[float, float] = (1.0, 1.0),
        min_gt_mask_area: int = 1,
        by_box: bool = True,
        by_mask: bool = False,
        keep_empty: bool = True,
    ) -> None:
        if not by_box and not by_mask:
            raise ValueError("FilterAnnotations: enable by_box or by_mask (or drop the transform)")
        self.min_gt_bbox_wh = tuple(min_gt_bbox_wh)
        self.min_gt_mask_area = min_gt_mask_area
        self.by_box = by_box
        self.by_mask = by_mask
        self.keep_empty = keep_empty

    def transform(self, results: dict) -> dict | None:
        boxes = results.get("gt_bboxes")
        if boxes is None or len(boxes) == 0:
            return results
        keep = np.ones(len(boxes), dtype=bool)
        if self.by_box:
            widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
            keep &= (widths > self.min_gt_bbox_wh[0]) & (heights > self.min_gt_bbox_wh[1])
        if self.by_mask:
            if results.get("gt_masks") is None:
                raise KeyError(
                    "FilterAnnotations(by_mask=True) needs `gt_masks`; use LoadAnnotations(with_mask=True)"
                )
            keep &= results["gt_masks"].areas >= self.min_gt_mask_area
        if not keep.any() and self.keep_empty:
            return None
        return keep_instances(results, keep)
