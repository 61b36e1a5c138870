"""Element-wise box-regression losses: Smooth L1 (Girshick, "Fast R-CNN", eq. 3) and L1."""

from __future__ import annotations

import torch

from ...registry import MODELS
from .utils import ElementwiseLoss, Reduction

__all__ = ["L1Loss", "SmoothL1Loss", "smooth_l1"]


def smooth_l1(pred: torch.Tensor, target: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Element-wise ``0.5 d^2 / beta`` for ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = pred - target``).

    ``beta = 0`` is the plain L1 distance.
    """
    diff = (pred - target).abs()
    if beta <= 0:
        return diff
    return torch.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)


class _ElementwiseRegressionLoss(ElementwiseLoss):
    """Shared call: check shapes, compute the element-wise distance; ``forward`` weights and reduces.

    Call: ``loss(pred, target, weight=None, avg_factor=None, reduction_override=None)`` with ``pred``
    and ``target`` of one shape (e.g. (N, 4) box deltas), ``weight`` broadcastable to them (e.g.
    (N, 4), 1 for positive priors and 0 elsewhere) and ``avg_factor`` the divisor of the summed loss
    for ``"mean"`` (e.g. the number of positives).
    """

    def distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).abs()

    def elementwise_loss(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Element-wise distance of ``pred`` and ``target`` (same shape), and ``weight`` as given."""
        if pred.shape != target.shape:
            raise ValueError(
                f"{type(self).__name__}: pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}"
            )
        if pred.numel() == 0:
            # no positives: a 0-dim exact zero that keeps the graph (every reduction of it is 0, not NaN)
            return pred.sum() * 0.0, None
        return self.distance(pred, target.to(pred.dtype)), weight


@MODELS.register()
class SmoothL1Loss(_ElementwiseRegressionLoss):
    """Smooth L1 loss (Huber loss divided by ``beta``), as Fast R-CNN's box regression.

    Args:
        beta: where the quadratic part meets the linear one (1.0 in Fast R-CNN; 1/9 in Detectron's RPN).
        loss_weight: multiplies the loss.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(self, beta: float = 1.0, loss_weight: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(loss_weight, reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = beta

    def distance(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return smooth_l1(pred, target, self.beta)


@MODELS.register()
class L1Loss(_ElementwiseRegressionLoss):
    """Absolute error ``|pred - target|`` (RetinaNet's box loss in MMDetection 3.x).

    Args:
        loss_weight: multiplies the loss.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(loss_weight, reduction)
