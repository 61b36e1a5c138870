"""Packing a detection results dict into ``{"inputs", "data_samples"}``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ....data.transforms.formatting import IMAGE_META_KEYS, BasePackInputs
from ....registry import TRANSFORMS
from ....structures import DataSample, InstanceData, PixelData

__all__ = ["DET_META_KEYS", "PackDetInputs"]

DET_META_KEYS = ("img_id", *IMAGE_META_KEYS, "sample_idx", "pad_shape")


def _instances(results: dict, keep: np.ndarray) -> InstanceData:
    """The instances selected by ``keep``: ``bboxes`` (K, 4) float32, ``labels`` (K,) int64, ``masks``."""
    instances = InstanceData()
    boxes = np.asarray(results.get("gt_bboxes", np.zeros((len(keep), 4))), dtype=np.float32).reshape(-1, 4)
    instances.bboxes = torch.from_numpy(np.ascontiguousarray(boxes[keep]))
    if results.get("gt_bboxes_labels") is not None:
        labels = np.asarray(results["gt_bboxes_labels"], dtype=np.int64)
        instances.labels = torch.from_numpy(np.ascontiguousarray(labels[keep]))
    if results.get("gt_masks") is not None:
        instances.masks = results["gt_masks"][keep]
    return instances


def _check_mask_size(results: dict) -> None:
    """Masks that no longer match the image were left behind by a transform that ignores ``gt_masks``."""
    masks = results.get("gt_masks")
    height, width = results["img"].shape[:2]
    if masks is not None and (masks.height, masks.width) != (height, width):
        raise ValueError(
            f"PackDetInputs: gt_masks are {masks.width}x{masks.height} but the image of "
            f"{results.get('img_path')!r} is {width}x{height}; a transform in the pipeline moved the image "
            "without the masks (the geometric transforms of visionstack.data.transforms move both; a custom "
            "one should go through resize_results, crop_results ... or apply_geometry)"
        )


@TRANSFORMS.register()
class PackDetInputs(BasePackInputs):
    """Make ``{"inputs": uint8 (C, H, W) tensor, "data_samples": DataSample}`` for detection.

    ``data_samples.gt_instances`` holds the instances without ``gt_ignore_flags`` and
    ``data_samples.ignored_instances`` the ignored ones (crowd, difficult), each an
    :class:`InstanceData` with ``bboxes`` (K, 4) float32 x1 y1 x2 y2 (absolute pixels of the
    transformed image), ``labels`` (K,) int64 and ``masks`` (the BitmapMasks / PolygonMasks, not a
    tensor, so a model chooses how to rasterise). ``gt_seg_map`` becomes ``gt_sem_seg``
    (PixelData ``sem_seg`` (1, H, W) int64). The image keeps its dtype and BGR order.

    Args:
        meta_keys: results keys copied into the metainfo (missing ones skipped).
    """

    def __init__(self, meta_keys: Sequence[str] = DET_META_KEYS) -> None:
        super().__init__(meta_keys)

    def pack_annotations(self, results: dict, sample: DataSample) -> None:
        if results.get("gt_bboxes") is not None or results.get("gt_masks") is not None:
            count = (
                len(results["gt_bboxes"])
                if results.get("gt_bboxes") is not None
                else len(results["gt_masks"])
            )
            ignored = np.asarray(results.get("gt_ignore_flags", np.zeros(count, dtype=bool)), dtype=bool)
            if len(ignored) != count:
                raise ValueError(
                    f"PackDetInputs: {len(ignored)} ignore flags for {count} instances in {results.get('img_path')!r}"
                )
            _check_mask_size(results)
            sample.gt_instances = _instances(results, ~ignored)
            sample.ignored_instances = _instances(results, ignored)
        if results.get("gt_seg_map") is not None:
            seg = np.asarray(results["gt_seg_map"]).astype(np.int64)
            sample.gt_sem_seg = PixelData(sem_seg=torch.from_numpy(np.ascontiguousarray(seg)))
