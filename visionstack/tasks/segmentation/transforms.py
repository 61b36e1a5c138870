"""Packing a semantic-segmentation results dict into ``{"inputs", "data_samples"}``.

The loading and augmentation transforms of segmentation are the shared ones of
:mod:`visionstack.data.transforms` (``LoadAnnotations``, ``RandomResize``, ``RandomCrop`` with
``cat_max_ratio``, ``RandomFlip``, ``PhotoMetricDistortion``, ``Pad``): they move ``gt_seg_map`` with
the image (nearest neighbour, padding 255).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ...data.transforms.formatting import BasePackInputs
from ...registry import TRANSFORMS
from ...structures import DataSample, PixelData

__all__ = ["PackSegInputs", "SEG_META_KEYS"]

SEG_META_KEYS = (
    "img_path",
    "seg_map_path",
    "ori_shape",
    "img_shape",
    "pad_shape",
    "scale_factor",
    "flip",
    "flip_direction",
    "reduce_zero_label",
)


@TRANSFORMS.register()
class PackSegInputs(BasePackInputs):
    """Make ``{"inputs": (C, H, W) tensor, "data_samples": DataSample}`` for semantic segmentation.

    ``inputs`` keeps the image's dtype and BGR order (the data preprocessor normalises it).
    ``gt_seg_map`` (when loaded) becomes ``data_samples.gt_sem_seg = PixelData(data=(1, H, W) int64)``
    with 255 marking ignored pixels; test pipelines often resize the image but load the map at its
    original size afterwards, so the map may differ from the image in size (the metric compares it
    with predictions in original-image coordinates).

    Args:
        meta_keys: results keys copied into the metainfo (missing ones skipped).

    Raises:
        KeyError: the results have no ``img``.
        ValueError: ``gt_seg_map`` is not 2-D.
    """

    def __init__(self, meta_keys: Sequence[str] = SEG_META_KEYS) -> None:
        super().__init__(meta_keys)

    def pack_annotations(self, results: dict, sample: DataSample) -> None:
        seg_map = results.get("gt_seg_map")
        if seg_map is not None:
            seg_map = np.asarray(seg_map)
            if seg_map.ndim != 2:
                raise ValueError(
                    f"PackSegInputs: gt_seg_map of {results.get('img_path')!r} must be (H, W), "
                    f"got shape {seg_map.shape}"
                )
            data = torch.from_numpy(np.ascontiguousarray(seg_map.astype(np.int64)))[None]
            sample.gt_sem_seg = PixelData(data=data)
