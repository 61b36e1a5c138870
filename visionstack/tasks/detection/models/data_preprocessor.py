"""DetDataPreprocessor: the detection flavour of the data preprocessor.

Same normalise / pad / stack as :class:`visionstack.models.DataPreprocessor`, with the detection
defaults (padding to multiples of 32 so every FPN stride divides the batch), the padded size written
to every sample (``batch_input_shape``, ``pad_shape``), optional padding of ground-truth masks to that
size, and batch augmentations that see ``gt_instances`` (e.g. multi-scale resizing of the batch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ....models.data_preprocessor import DataPreprocessor
from ....registry import MODELS
from ....structures import BitmapMasks, PolygonMasks

DetBatchAugment = Callable[[torch.Tensor, list], tuple[torch.Tensor, list]]


@MODELS.register()
class DetDataPreprocessor(DataPreprocessor):
    """Normalise, pad (to multiples of ``pad_size_divisor``) and stack a detection batch.

    Args:
        mean: per-channel mean (0-255 units, channel order after the optional BGR -> RGB swap).
        std: per-channel standard deviation.
        bgr_to_rgb: reverse the channel order of 3-channel inputs.
        pad_size_divisor: batch height and width are multiples of this (32 covers strides 8..32 and
            an FPN with extra levels rounds down harmlessly).
        pad_value: value of padded pixels, in normalised units.
        pad_mask: pad ``gt_instances.masks`` of each sample to the batch size (for mask heads); polygon
            masks are rasterised first.
        mask_pad_value: value of padded mask pixels.
        batch_augments: callables ``(inputs, data_samples) -> (inputs, data_samples)`` applied in
            order while training, after padding; they must keep ``gt_instances`` consistent.
        non_blocking: ``non_blocking`` of the host-to-device copies.

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
        bgr_to_rgb: bool = False,
        pad_size_divisor: int = 32,
        pad_value: float = 0.0,
        pad_mask: bool = False,
        mask_pad_value: int = 0,
        batch_augments: Sequence[DetBatchAugment] | None = None,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(
            mean=mean,
            std=std,
            bgr_to_rgb=bgr_to_rgb,
            pad_size_divisor=pad_size_divisor,
            pad_value=pad_value,
            non_blocking=non_blocking,
        )
        self.pad_mask = pad_mask
        self.mask_pad_value = mask_pad_value
        self.det_batch_augments = list(batch_augments or [])

    def forward(self, data: dict[str, Any], training: bool = False) -> dict[str, Any]:
        """Preprocess one collated detection batch (see the class docstring)."""
        data = super().forward(data, training=False)
        inputs, data_samples = data["inputs"], data["data_samples"]
        if data_samples is not None and self.pad_mask:
            self._pad_gt_masks(data_samples, tuple(inputs.shape[-2:]))
        if training and self.det_batch_augments:
            if data_samples is None:
                raise ValueError(
                    "DetDataPreprocessor: batch augmentations need data_samples with gt_instances"
                )
            for augment in self.det_batch_augments:
                inputs, data_samples = augment(inputs, data_samples)
        return {"inputs": inputs, "data_samples": data_samples}

    def _pad_gt_masks(self, data_samples: list, shape: tuple[int, int]) -> None:
        """Pad each sample's ``gt_instances.masks`` (bottom/right) to the batch ``shape`` (H, W)."""
        for sample in data_samples:
            instances = sample.get("gt_instances")
            if instances is None or "masks" not in instances:
                continue
            masks = instances.masks
            if isinstance(masks, PolygonMasks):
                masks = masks.to_bitmap()
            if not isinstance(masks, BitmapMasks):
                raise TypeError(
                    f"DetDataPreprocessor: pad_mask=True needs BitmapMasks or PolygonMasks in gt_instances.masks, "
                    f"got {type(masks).__name__}"
                )
            instances.masks = masks.pad((shape[1], shape[0]), pad_val=self.mask_pad_value)  # pad takes (w, h)
