"""The segmentation data preprocessor: the shared one, padding the label maps with the ignore value."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ....models.data_preprocessor import BatchAugment, DataPreprocessor
from ....registry import MODELS

__all__ = ["SegDataPreProcessor"]


@MODELS.register()
class SegDataPreProcessor(DataPreprocessor):
    """Normalise, pad and stack a segmentation batch (MMSegmentation's ``SegDataPreProcessor``).

    Images are padded at the bottom and right to the batch size (at least ``size``, a multiple of
    ``size_divisor``) with ``pad_val``, and each ``gt_sem_seg`` with ``seg_pad_val`` (255: ignored by
    the losses and the metric). ``EncoderDecoder`` removes the padding again from predictions (it
    keeps ``img_shape``).

    Args:
        mean, std, bgr_to_rgb: as :class:`~visionstack.models.DataPreprocessor`.
        size: the smallest padded ``(w, h)`` (MMSeg pads training batches to the crop size).
        size_divisor: the padded height and width are multiples of this.
        pad_val: value of padded image pixels, in normalised units.
        seg_pad_val: value of padded label pixels.
        batch_augments: callables ``(inputs, data_samples) -> (inputs, data_samples)`` while training.
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        bgr_to_rgb: bool = False,
        size: tuple[int, int] | None = None,
        size_divisor: int | None = None,
        pad_val: float = 0.0,
        seg_pad_val: int = 255,
        batch_augments: Sequence[BatchAugment] | None = None,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(
            mean=mean,
            std=std,
            bgr_to_rgb=bgr_to_rgb,
            pad_size_divisor=size_divisor or 1,
            pad_value=pad_val,
            seg_pad_value=seg_pad_val,
            batch_augments=batch_augments,
            non_blocking=non_blocking,
        )
        if size is not None and (len(size) != 2 or min(size) <= 0):
            raise ValueError(f"SegDataPreProcessor: size must be a positive (w, h) pair, got {size!r}")
        self.size = None if size is None else (int(size[0]), int(size[1]))

    def _padded_size(self, images: list[torch.Tensor]) -> tuple[int, int]:
        height, width = super()._padded_size(images)
        if self.size is not None:
            divisor = self.pad_size_divisor
            width = max(width, math.ceil(self.size[0] / divisor) * divisor)
            height = max(height, math.ceil(self.size[1] / divisor) * divisor)
        return height, width
