"""Batch-hard triplet loss (Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person
Re-Identification", 2017, section 2, eq. 5), as MMTracking's ``TripletLoss`` uses it for its re-id head.

For every anchor a of a batch of embeddings f with identity labels y:

    loss_a = max(0, margin + max_{p: y_p = y_a, p != a} d(f_a, f_p) - min_{n: y_n != y_a} d(f_a, f_n))

with d the Euclidean distance, averaged over the anchors that have at least one positive and one
negative (an identity-balanced batch gives every anchor both; see ``IdentityBalancedSampler``).
"""

from __future__ import annotations

import torch
from torch import nn

from ....registry import MODELS

__all__ = ["TripletLoss", "batch_hard_triplet_loss", "pairwise_distances"]


def pairwise_distances(features: torch.Tensor) -> torch.Tensor:
    """(N, N) Euclidean distances of (N, D) features; clamped at 1e-12 before the square root so that
    the gradient stays finite on the diagonal."""
    squared = features.pow(2).sum(dim=1, keepdim=True)
    gram = features @ features.t()
    return (squared + squared.t() - 2.0 * gram).clamp(min=1e-12).sqrt()


def batch_hard_triplet_loss(features: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean batch-hard triplet loss (module doc) of (N, D) features with (N,) int labels; a scalar.

    Anchors without a positive or without a negative are left out; a batch with no valid anchor gives
    a zero that keeps the graph (so ``backward`` still runs).
    """
    distances = pairwise_distances(features)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive = same & ~eye
    negative = ~same
    valid = positive.any(dim=1) & negative.any(dim=1)
    if not bool(valid.any()):
        return features.sum() * 0.0
    hardest_positive = distances.masked_fill(~positive, float("-inf")).amax(dim=1)
    hardest_negative = distances.masked_fill(~negative, float("inf")).amin(dim=1)
    per_anchor = (hardest_positive - hardest_negative + margin).clamp(min=0)
    return per_anchor[valid].mean()


@MODELS.register()
class TripletLoss(nn.Module):
    """Batch-hard triplet loss as a module (MMTracking's ``TripletLoss`` with ``hard_mining=True``).

    Args:
        margin: the margin between the hardest positive and the hardest negative distance
            (0.3 in MMTracking's re-id configs, after Luo et al.'s "Bag of Tricks" baseline).
        loss_weight: multiplies the loss.

    Call:
        ``loss(features (N, D), labels (N,) int64) -> scalar``.
    """

    def __init__(self, margin: float = 0.3, loss_weight: float = 1.0) -> None:
        super().__init__()
        if margin < 0:
            raise ValueError(f"TripletLoss: margin must be >= 0, got {margin}")
        self.margin = margin
        self.loss_weight = loss_weight

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * batch_hard_triplet_loss(features, labels, self.margin)
