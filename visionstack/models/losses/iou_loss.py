"""IoU-based box regression losses over aligned pairs of xyxy boxes (IoU loss, GIoU loss).

The weighted reduction they share with the other losses is :func:`.utils.reduce_weighted_loss`
(re-exported here, where it used to live).
"""

from __future__ import annotations

import abc
from typing import Literal

import torch

from ...registry import MODELS
from ..ops.boxes import aligned_box_iou
from .utils import ElementwiseLoss, Reduction, reduce_weighted_loss

__all__ = ["GIoULoss", "IoULoss", "reduce_weighted_loss"]


def _box_weight(weight: torch.Tensor | None, num_boxes: int) -> torch.Tensor | None:
    """Accept a per-box (N,) weight or MMDetection's per-coordinate (N, 4) weight (averaged)."""
    if weight is None:
        return None
    if weight.dim() == 2 and weight.shape[-1] == 4:
        weight = weight.mean(dim=-1)
    if weight.shape != (num_boxes,):
        raise ValueError(
            f"IoU losses: weight must have shape ({num_boxes},) or ({num_boxes}, 4), got {tuple(weight.shape)}"
        )
    return weight


class _AlignedIouLoss(ElementwiseLoss):
    """Shared body: check shapes, adapt the weight, compute a per-pair loss.

    Call: ``loss(pred (N, 4), target (N, 4), weight=None, avg_factor=None, reduction_override=None)``,
    boxes xyxy in absolute pixels; ``weight`` (N,) per box or (N, 4) per coordinate (averaged per box);
    ``avg_factor`` the divisor of ``"mean"`` (e.g. the number of positives, or the sum of the
    positives' weights; default ``N``). Returns a scalar times ``loss_weight``, or (N,) for ``"none"``.
    """

    def __init__(self, loss_weight: float, eps: float, reduction: Reduction) -> None:
        super().__init__(loss_weight, reduction)
        self.eps = eps

    @abc.abstractmethod
    def pair_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(N,) loss of each aligned pair of (N, 4) xyxy boxes, before weighting."""

    def elementwise_loss(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N,) loss of the aligned (N, 4) xyxy box pairs and the (N,) box weights (or None)."""
        if pred.shape != target.shape or pred.dim() != 2 or pred.shape[-1] != 4:
            raise ValueError(
                f"{type(self).__name__}: pred and target must both be (N, 4) xyxy boxes, got "
                f"{tuple(pred.shape)} and {tuple(target.shape)}"
            )
        weight = _box_weight(weight, pred.shape[0])
        return self.pair_loss(pred, target), weight


@MODELS.register()
class IoULoss(_AlignedIouLoss):
    """IoU loss (Yu et al. 2016, "UnitBox"; MMDetection's ``IoULoss``).

    ``mode="log"``: ``-log(IoU)`` (UnitBox, MMDetection's default); ``"linear"``: ``1 - IoU``;
    ``"square"``: ``1 - IoU^2``. IoU is clamped to ``eps`` below so ``-log`` stays finite.

    Args:
        mode: ``"log"``, ``"linear"`` or ``"square"``.
        loss_weight: multiplies the loss.
        eps: lower clamp for the IoU and the union.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(
        self,
        mode: Literal["log", "linear", "square"] = "log",
        loss_weight: float = 1.0,
        eps: float = 1e-6,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(loss_weight, eps, reduction)
        if mode not in ("log", "linear", "square"):
            raise ValueError(f"IoULoss: mode must be 'log', 'linear' or 'square', got {mode!r}")
        self.mode = mode

    def pair_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        iou = aligned_box_iou(pred, target, kind="iou", eps=self.eps).clamp(min=self.eps)
        if self.mode == "log":
            return -iou.log()
        if self.mode == "linear":
            return 1.0 - iou
        return 1.0 - iou**2


@MODELS.register()
class GIoULoss(_AlignedIouLoss):
    """Generalized IoU loss ``1 - GIoU`` (Rezatofighi et al. 2019, "Generalized Intersection over Union").

    GIoU = IoU - (|C| - |A u B|) / |C| with C the smallest enclosing box; unlike IoU it has a
    gradient for disjoint boxes. The loss lies in [0, 2].

    Args:
        loss_weight: multiplies the loss (RTMDet and FCOS use 2.0 and 1.0 in their configs).
        eps: lower clamp for the union and enclosing areas.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(self, loss_weight: float = 1.0, eps: float = 1e-6, reduction: Reduction = "mean") -> None:
        super().__init__(loss_weight, eps, reduction)

    def pair_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 1.0 - aligned_box_iou(pred, target, kind="giou", eps=self.eps)
