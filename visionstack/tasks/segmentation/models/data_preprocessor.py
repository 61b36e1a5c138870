"""The segmentation data preprocessor: the shared image-only one, padding the label maps with their
image (with the ignore value) and running the segmentation batch augments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ....models.batch_augments import BatchAugment, run_batch_augments
from ....models.data_preprocessor import DataPreprocessor
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
        if size is not None and (len(size) != 2 or min(size) <= 0):
            raise ValueError(f"SegDataPreProcessor: size must be a positive (w, h) pair, got {size!r}")
        super().__init__(
            mean=mean,
            std=std,
            bgr_to_rgb=bgr_to_rgb,
            pad_size_divisor=size_divisor or 1,
            pad_value=pad_val,
            pad_min_size=size,
            non_blocking=non_blocking,
        )
        self.seg_pad_value = seg_pad_val
        self.batch_augments = list(batch_augments or [])

    @property
    def size(self) -> tuple[int, int] | None:
        """MMSegmentation's name of ``pad_min_size``: the smallest padded ``(w, h)``."""
        return self.pad_min_size

    def pad_annotations(self, sample: Any, height: int, width: int) -> None:
        """Pad ``sample.gt_sem_seg.data`` (bottom and right) to (height, width) with ``seg_pad_value``."""
        seg = getattr(sample, "gt_sem_seg", None)
        data = getattr(seg, "data", None) if seg is not None else None
        if data is None or tuple(data.shape[-2:]) == (height, width):
            return
        if data.shape[-2] > height or data.shape[-1] > width:
            raise ValueError(
                f"SegDataPreProcessor: gt_sem_seg of {sample.metainfo.get('img_path')!r} is "
                f"{tuple(data.shape[-2:])}, larger than the batch {(height, width)}; the map and its image "
                "must have the same size"
            )
        pad = (0, width - data.shape[-1], 0, height - data.shape[-2])
        seg.data = F.pad(data, pad, value=self.seg_pad_value)

    def augment_batch(
        self, inputs: torch.Tensor, data_samples: list | None
    ) -> tuple[torch.Tensor, list | None]:
        """The batch augments in order (training only); they must keep ``gt_sem_seg`` consistent."""
        return run_batch_augments(
            self.batch_augments, inputs, data_samples, type(self).__name__, "gt_sem_seg"
        )
