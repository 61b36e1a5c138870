"""ClsDataPreprocessor: the classification data preprocessor (MMPretrain's ``ClsDataPreprocessor``).

The shared image-only :class:`~visionstack.models.DataPreprocessor` plus classification's batch
work: while training, samples without a soft target get a one-hot ``gt_label.score`` and the batch
augments (Mixup, CutMix, :class:`~visionstack.models.batch_augments.RandomBatchAugment`) mix images
and targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ...models.batch_augments import BatchAugment, run_batch_augments
from ...models.data_preprocessor import DataPreprocessor
from ...registry import MODELS
from ...structures import LabelData

__all__ = ["ClsDataPreprocessor"]


@MODELS.register()
class ClsDataPreprocessor(DataPreprocessor):
    """Normalise, pad and stack a classification batch; mix it while training.

    Args:
        mean, std: as :class:`~visionstack.models.DataPreprocessor`; its other options
            (``bgr_to_rgb``, ``pad_size_divisor``, ``pad_value``, ``pad_min_size``, ``non_blocking``
            ...) pass through by keyword.
        num_classes: when given and batch augmentations run, samples without ``gt_label.score`` get
            a one-hot (multi-hot) score of this length before mixing.
        batch_augments: callables ``(inputs, data_samples) -> (inputs, data_samples)`` applied in
            order, only when ``training=True``.

    Call:
        ``preprocessor({"inputs": list of uint8 (C, H_i, W_i), "data_samples": list[DataSample]},
        training)`` -> ``{"inputs": float (N, C, H, W), "data_samples": ...}``; after a training
        call with batch augments every sample has ``gt_label.score`` (num_classes,) float.
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        *,
        num_classes: int | None = None,
        batch_augments: Sequence[BatchAugment] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(mean, std, **kwargs)
        self.num_classes = num_classes
        self.batch_augments = list(batch_augments or [])

    def augment_batch(self, inputs: torch.Tensor, data_samples: list | None) -> tuple[Any, list | None]:
        """One-hot targets for the samples without a soft one, then the batch augments in order."""
        if self.batch_augments and data_samples is not None and self.num_classes is not None:
            for sample in data_samples:
                if "score" not in sample.gt_label:
                    sample.gt_label.score = LabelData.label_to_onehot(sample.gt_label.label, self.num_classes)
        return run_batch_augments(self.batch_augments, inputs, data_samples, type(self).__name__, "gt_label")
