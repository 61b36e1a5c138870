"""The batch-augment contract shared by the task preprocessors, and the one task-free augment.

A batch augment is a callable ``(inputs, data_samples) -> (inputs, data_samples)`` on the
preprocessed (normalised, padded, stacked) batch, run by a task's data preprocessor while training
only. What it may change is the task's business: classification's Mixup/CutMix
(:mod:`visionstack.tasks.classification.batch_augments`) mix images and soft labels; a detection
augment must keep ``gt_instances`` consistent with the images. Randomness comes from torch's global
generator, so ``torch.manual_seed`` (set by the runner) makes a run reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..registry import MODELS

__all__ = ["BatchAugment", "RandomBatchAugment", "run_batch_augments"]

BatchAugment = Callable[[Any, list], tuple[Any, list]]


def run_batch_augments(
    augments: Sequence[BatchAugment], inputs: Any, data_samples: list | None, owner: str, needs: str
) -> tuple[Any, list | None]:
    """Apply ``augments`` in order; they need the data samples (``needs`` names what they read).

    Args:
        augments: the batch augments; an empty sequence returns the batch unchanged.
        inputs: the preprocessed batch, e.g. float (N, C, H, W).
        data_samples: one per image, or None (an error when there is an augment to run).
        owner: the preprocessor's name, for the error message.
        needs: the sample field the augments use (``"gt_label"``), for the error message.
    """
    if not augments:
        return inputs, data_samples
    if data_samples is None:
        raise ValueError(f"{owner}: batch augmentations need data_samples with {needs}")
    for augment in augments:
        inputs, data_samples = augment(inputs, data_samples)
    return inputs, data_samples


@MODELS.register()
class RandomBatchAugment:
    """Apply one of ``augments`` per batch, chosen at random (e.g. Mixup or CutMix, as in DeiT).

    Args:
        augments: the candidate batch augmentations.
        probs: probability of each; when they sum to less than 1 the rest is the probability of
            leaving the batch unchanged. Default: uniform over ``augments``.
    """

    def __init__(self, augments: Sequence[BatchAugment], probs: Sequence[float] | None = None) -> None:
        if not augments:
            raise ValueError("RandomBatchAugment: augments must not be empty")
        probs = [1.0 / len(augments)] * len(augments) if probs is None else list(probs)
        if len(probs) != len(augments):
            raise ValueError(f"RandomBatchAugment: {len(augments)} augments but {len(probs)} probs")
        if any(p < 0 for p in probs) or sum(probs) > 1.0 + 1e-6:
            raise ValueError(f"RandomBatchAugment: probs must be >= 0 and sum to at most 1, got {probs}")
        self.augments = list(augments)
        self.probs = probs
        self._choices = torch.tensor(probs + [max(1.0 - sum(probs), 0.0)], dtype=torch.float64)

    def __call__(self, inputs: Any, data_samples: list) -> tuple[Any, list]:
        choice = int(torch.multinomial(self._choices, 1))
        if choice == len(self.augments):
            return inputs, data_samples
        return self.augments[choice](inputs, data_samples)

    def __repr__(self) -> str:
        return f"RandomBatchAugment(augments={self.augments}, probs={self.probs})"
