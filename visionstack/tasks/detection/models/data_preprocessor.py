"""DetDataPreprocessor: the detection flavour of the data preprocessor.

The shared image-only :class:`visionstack.models.DataPreprocessor` (normalise / pad / stack, the
padded size written to every sample as ``batch_input_shape`` and ``pad_shape``) with the detection
defaults (padding to multiples of 32 so every FPN stride divides the batch), optional padding of the
ground-truth masks with their image, and batch augmentations that see ``gt_instances`` (e.g.
multi-scale resizing of the batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ....models.batch_augments import BatchAugment, run_batch_augments
from ....models.data_preprocessor import DataPreprocessor
from ....registry import MODELS
from ....structures import BitmapMasks, PolygonMasks


@MODELS.register()
class DetDataPreprocessor(DataPreprocessor):
    """Normalise, pad (to multiples of ``pad_size_divisor``) and stack a detection batch.

    Args:
        mean, std: as :class:`~visionstack.models.DataPreprocessor`; its other options
            (``bgr_to_rgb``, ``pad_value``, ``pad_min_size``, ``non_blocking`` ...) pass through by
            keyword.
        pad_size_divisor: batch height and width are multiples of this (32 covers strides 8..32 and
            an FPN with extra levels rounds down harmlessly).
        pad_mask: pad ``gt_instances.masks`` of each sample to the batch size (for mask heads); polygon
            masks are rasterised first.
        mask_pad_value: value of padded mask pixels.
        batch_augments: callables ``(inputs, data_samples) -> (inputs, data_samples)`` applied in
            order while training, after padding; they must keep ``gt_instances`` consistent.

    Call:
        ``preprocessor({"inputs": list of uint8 (3, H_i, W_i), "data_samples": list[DataSample]},
        training)`` -> ``{"inputs": float (N, 3, H, W), "data_samples": ...}``; every sample gets
        ``batch_input_shape`` and ``pad_shape`` = (H, W) of the stacked batch. The images are padded
        at the bottom and right, so box coordinates are unchanged.
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        *,
        pad_size_divisor: int = 32,
        pad_mask: bool = False,
        mask_pad_value: int = 0,
        batch_augments: Sequence[BatchAugment] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(mean, std, pad_size_divisor=pad_size_divisor, **kwargs)
        self.pad_mask = pad_mask
        self.mask_pad_value = mask_pad_value
        self.batch_augments = list(batch_augments or [])

    def pad_annotations(self, sample: Any, height: int, width: int) -> None:
        """Pad the sample's ``gt_instances.masks`` (bottom/right) to the batch size when ``pad_mask``;
        polygon masks are rasterised first."""
        if not self.pad_mask:
            return
        instances = sample.get("gt_instances")
        if instances is None or "masks" not in instances:
            return
        masks = instances.masks
        if isinstance(masks, PolygonMasks):
            masks = masks.to_bitmap()
        if not isinstance(masks, BitmapMasks):
            raise TypeError(
                f"DetDataPreprocessor: pad_mask=True needs BitmapMasks or PolygonMasks in gt_instances.masks, "
                f"got {type(masks).__name__}"
            )
        instances.masks = masks.pad((width, height), pad_val=self.mask_pad_value)  # pad takes (w, h)

    def augment_batch(
        self, inputs: torch.Tensor, data_samples: list | None
    ) -> tuple[torch.Tensor, list | None]:
        """The batch augments in order (training only); they must keep ``gt_instances`` consistent."""
        return run_batch_augments(
            self.batch_augments, inputs, data_samples, type(self).__name__, "gt_instances"
        )
