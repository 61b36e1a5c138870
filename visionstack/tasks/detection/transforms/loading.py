"""Filtering instances that are too small.

``LoadAnnotations`` (instances and semantic maps) lives in :mod:`visionstack.data.transforms.annotations`,
shared with segmentation; it is re-exported here for the detection imports.
"""

from __future__ import annotations

import numpy as np

from ....data.transforms.annotation_kernels import keep_instances
from ....data.transforms.annotations import LoadAnnotations
from ....data.transforms.base import BaseTransform
from ....registry import TRANSFORMS

__all__ = ["LoadAnnotations", "FilterAnnotations"]


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
