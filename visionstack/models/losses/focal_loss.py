"""Sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, eq. 5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...registry import MODELS
from .utils import ElementwiseLoss, Reduction

__all__ = ["FocalLoss", "sigmoid_focal_loss"]


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25
) -> torch.Tensor:
    """Element-wise focal loss ``-alpha_t (1 - p_t)^gamma log(p_t)`` on independent sigmoids.

    ``p = sigmoid(x)``; for a 0/1 target ``p_t`` is ``p`` where the target is 1 and ``1 - p``
    elsewhere, ``alpha_t`` is ``alpha`` for positives and ``1 - alpha`` for negatives. The
    modulating factor is written ``|t - p|^gamma`` (equal to ``(1 - p_t)^gamma`` for 0/1 targets).

    Args:
        logits: (N, C) raw scores (any shape works).
        targets: float 0/1 targets of the same shape.
        gamma: focusing parameter (2 in the paper).
        alpha: weight of the positive term (0.25 in the paper); a negative value disables it.

    Returns:
        The unreduced loss, shape of ``logits``.
    """
    targets = targets.to(logits.dtype)
    probs = logits.sigmoid()
    modulating = (targets - probs).abs().pow(gamma)
    loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * modulating
    if alpha >= 0:
        loss = loss * (alpha * targets + (1.0 - alpha) * (1.0 - targets))
    return loss


@MODELS.register()
class FocalLoss(ElementwiseLoss):
    """Sigmoid focal loss for dense classification, weighted and normalised.

    Args:
        gamma: focusing parameter.
        alpha: balance of positives vs negatives.
        loss_weight: multiplies the loss.
        reduction: ``"mean"`` (``sum / avg_factor`` when an ``avg_factor`` is given), ``"sum"`` or
            ``"none"``.

    Call:
        ``loss(logits (N, C), target, weight=None, avg_factor=None, reduction_override=None)``.
        ``target`` is (N,) int64 class indices where ``C`` (or any value outside ``[0, C)``) means
        background (MMDetection's convention), or a float (N, C) 0/1 matrix. ``weight`` is (N,)
        per sample or (N, C) per element. Dense heads pass the number of positive priors as
        ``avg_factor`` (the paper normalises by the number of anchors assigned to objects).
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float = 0.25,
        loss_weight: float = 1.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(loss_weight, reduction)
        if gamma < 0:
            raise ValueError(f"FocalLoss: gamma must be >= 0, got {gamma}")
        self.gamma = gamma
        self.alpha = alpha

    def elementwise_loss(
        self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N, C) focal loss and the weight as (N, 1) or (N, C) in the loss's dtype."""
        if logits.dim() != 2:
            raise ValueError(f"FocalLoss: logits must be (N, C), got {tuple(logits.shape)}")
        targets = self._dense_targets(logits, target)
        loss = sigmoid_focal_loss(logits, targets, self.gamma, self.alpha)
        if weight is not None:
            if weight.dim() == 1:
                weight = weight[:, None]
            if weight.shape not in ((logits.shape[0], 1), logits.shape):
                raise ValueError(
                    f"FocalLoss: weight must be (N,) or (N, C) for logits {tuple(logits.shape)}, "
                    f"got {tuple(weight.shape)}"
                )
            weight = weight.to(loss.dtype)
        return loss, weight

    @staticmethod
    def _dense_targets(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Class indices -> (N, C) one-hot (background rows all zero); a float matrix passes."""
        num, num_classes = logits.shape
        if target.is_floating_point():
            if target.shape != logits.shape:
                raise ValueError(
                    f"FocalLoss: a float target must have the logits' shape {tuple(logits.shape)}, "
                    f"got {tuple(target.shape)}"
                )
            return target
        if target.shape != (num,):
            raise ValueError(f"FocalLoss: class-index target must be ({num},), got {tuple(target.shape)}")
        foreground = (target >= 0) & (target < num_classes)
        dense = torch.zeros_like(logits)
        rows = torch.nonzero(foreground).flatten()
        dense[rows, target[rows]] = 1.0
        return dense
