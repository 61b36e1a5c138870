"""Classification batch augmentations (Mixup, CutMix), run by ``ClsDataPreprocessor`` while training.

Each augmentation is a callable ``(inputs, data_samples) -> (inputs, data_samples)`` on a normalised
float batch (N, C, H, W). It mixes every image with another image of the batch (a random
permutation) and writes the mixed soft target ``gt_label.score`` (num_classes,) float, summing to
1 for single-label data. Randomness comes from torch's global generator, so ``torch.manual_seed``
(set by the runner) makes a run reproducible. ``RandomBatchAugment`` (choose one per batch) is
shared by every task and lives in :mod:`visionstack.models.batch_augments`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ...registry import MODELS
from ...structures import LabelData

__all__ = ["CutMix", "Mixup", "batch_scores", "cutmix_box", "write_scores"]


def batch_scores(data_samples: Sequence, num_classes: int, device: torch.device) -> torch.Tensor:
    """Stack the samples' soft targets: ``gt_label.score`` when present, else a one-hot of the label.

    Returns:
        (N, num_classes) float.
    """
    rows = []
    for index, sample in enumerate(data_samples):
        gt_label = sample.get("gt_label") if hasattr(sample, "get") else None
        if gt_label is None:
            raise ValueError(f"batch augment: data sample {index} has no gt_label to mix")
        if "score" in gt_label:
            score = gt_label.score.to(device=device, dtype=torch.float32)
        else:
            score = LabelData.label_to_onehot(torch.as_tensor(gt_label.label, device=device), num_classes)
        if score.shape != (num_classes,):
            raise ValueError(
                f"batch augment: data sample {index} has a score of shape {tuple(score.shape)}, expected "
                f"({num_classes},); does num_classes match the dataset?"
            )
        rows.append(score)
    return torch.stack(rows)


def write_scores(data_samples: Sequence, scores: torch.Tensor) -> None:
    """Set each sample's ``gt_label.score`` to its row of ``scores`` (N, num_classes)."""
    for sample, score in zip(data_samples, scores):
        sample.gt_label.score = score


def _sample_lambda(alpha: float) -> float:
    """lambda ~ Beta(alpha, alpha), drawn from torch's global generator."""
    concentration = torch.tensor(float(alpha))
    return float(torch.distributions.Beta(concentration, concentration).sample())


def _check_alpha(alpha: float, name: str) -> None:
    if alpha <= 0:
        raise ValueError(f"{name}: alpha must be > 0, got {alpha}")


@MODELS.register()
class Mixup:
    """Mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018).

    ``x = lam * x + (1 - lam) * x[perm]`` and the same for the targets, with
    ``lam ~ Beta(alpha, alpha)`` once per batch and ``perm`` a random permutation of the batch.

    Args:
        alpha: Beta distribution parameter (0.8 or 0.2 are usual on ImageNet).
        num_classes: length of the soft targets.
    """

    def __init__(self, alpha: float, num_classes: int) -> None:
        _check_alpha(alpha, "Mixup")
        self.alpha = alpha
        self.num_classes = num_classes
        self.last_lambda: float | None = None  # the lambda of the last call, for inspection

    def __call__(self, inputs: torch.Tensor, data_samples: list) -> tuple[torch.Tensor, list]:
        scores = batch_scores(data_samples, self.num_classes, inputs.device)
        lam = _sample_lambda(self.alpha)
        perm = torch.randperm(inputs.shape[0]).to(inputs.device)
        mixed = lam * inputs + (1.0 - lam) * inputs[perm]
        write_scores(data_samples, lam * scores + (1.0 - lam) * scores[perm])
        self.last_lambda = lam
        return mixed, data_samples

    def __repr__(self) -> str:
        return f"Mixup(alpha={self.alpha}, num_classes={self.num_classes})"


def cutmix_box(height: int, width: int, lam: float) -> tuple[int, int, int, int]:
    """The CutMix box (y1, y2, x1, x2) for mixing ratio ``lam``.

    The box has sides ``H * sqrt(1 - lam)`` and ``W * sqrt(1 - lam)`` and a centre drawn uniformly
    over the image (torch's global generator); it is clipped to the image, so its area can be
    smaller than ``(1 - lam) * H * W``.
    """
    ratio = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    center_y = int(torch.randint(0, height, (1,)))
    center_x = int(torch.randint(0, width, (1,)))
    y1, y2 = max(center_y - cut_h // 2, 0), min(center_y + cut_h // 2, height)
    x1, x2 = max(center_x - cut_w // 2, 0), min(center_x + cut_w // 2, width)
    return y1, y2, x1, x2


@MODELS.register()
class CutMix:
    """CutMix (Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers", ICCV 2019).

    A box of area about ``(1 - lam) * H * W`` (``lam ~ Beta(alpha, alpha)``, centre uniform) is cut
    from ``x[perm]`` and pasted into ``x``; the targets are mixed with lam corrected to the pasted
    area: ``lam = 1 - box_area / (H * W)`` (section 3.1).

    Args:
        alpha: Beta distribution parameter (1.0 in the paper).
        num_classes: length of the soft targets.
    """

    def __init__(self, alpha: float, num_classes: int) -> None:
        _check_alpha(alpha, "CutMix")
        self.alpha = alpha
        self.num_classes = num_classes
        self.last_lambda: float | None = None
        self.last_box: tuple[int, int, int, int] | None = None

    def __call__(self, inputs: torch.Tensor, data_samples: list) -> tuple[torch.Tensor, list]:
        scores = batch_scores(data_samples, self.num_classes, inputs.device)
        height, width = inputs.shape[-2:]
        lam = _sample_lambda(self.alpha)
        perm = torch.randperm(inputs.shape[0]).to(inputs.device)
        y1, y2, x1, x2 = cutmix_box(height, width, lam)
        mixed = inputs.clone()
        mixed[..., y1:y2, x1:x2] = inputs[perm][..., y1:y2, x1:x2]
        lam = 1.0 - (y2 - y1) * (x2 - x1) / (height * width)
        write_scores(data_samples, lam * scores + (1.0 - lam) * scores[perm])
        self.last_lambda, self.last_box = lam, (y1, y2, x1, x2)
        return mixed, data_samples

    def __repr__(self) -> str:
        return f"CutMix(alpha={self.alpha}, num_classes={self.num_classes})"
