"""What every loss shares: the reduction type, the weighted reduction, and the base classes.

The convention is MMDetection's: a loss is computed per element, multiplied by an optional
per-element ``weight``, then reduced by ``"mean"`` / ``"sum"`` / ``"none"``, where ``"mean"`` may
divide the sum by an explicit ``avg_factor`` (e.g. the number of positive samples) instead of the
element count; the result is multiplied by the loss's ``loss_weight``.
"""

from __future__ import annotations

import abc
from typing import Any, Literal

import torch
from torch import nn

__all__ = [
    "REDUCTIONS",
    "ElementwiseLoss",
    "Reduction",
    "WeightedLoss",
    "check_reduction",
    "reduce_weighted_loss",
]

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")


def check_reduction(reduction: str, owner: str) -> Reduction:
    """Return ``reduction`` if it is one of :data:`REDUCTIONS`, else raise a ValueError naming ``owner``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{owner}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def reduce_weighted_loss(
    loss: torch.Tensor,
    weight: torch.Tensor | None = None,
    reduction: Reduction = "mean",
    avg_factor: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Multiply an element-wise loss by ``weight`` and reduce it.

    Args:
        loss: element-wise loss, any shape.
        weight: broadcastable to ``loss`` (or None for all ones).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        avg_factor: with ``"mean"``, divide the sum by this number instead of ``loss.numel()``
            (MMDetection's convention: e.g. the number of positive samples). A tiny epsilon keeps
            a zero ``avg_factor`` (an image batch without objects) finite.

    Returns:
        A scalar for ``"mean"``/``"sum"``, else the weighted loss of the shape of ``loss``.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduce_weighted_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if weight is not None:
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        if avg_factor is not None:
            raise ValueError("reduce_weighted_loss: avg_factor only applies to reduction='mean', got 'sum'")
        return loss.sum()
    if avg_factor is None:
        return loss.mean()
    return loss.sum() / (avg_factor + torch.finfo(torch.float32).eps)


class WeightedLoss(nn.Module):
    """Base of the losses called as ``loss(pred, target, weight=None, avg_factor=None,
    reduction_override=None)``: holds ``loss_weight`` and the default ``reduction``.

    Args:
        loss_weight: multiplies the reduced loss.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``; a call may override it.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.reduction = check_reduction(reduction, type(self).__name__)

    def reduction_for(self, reduction_override: Reduction | None) -> Reduction:
        """The reduction of one call: the override when given, else the constructor's (checked)."""
        return check_reduction(reduction_override or self.reduction, type(self).__name__)

    def weight_and_reduce(
        self,
        loss: torch.Tensor,
        weight: torch.Tensor | None = None,
        avg_factor: float | torch.Tensor | None = None,
        reduction_override: Reduction | None = None,
    ) -> torch.Tensor:
        """``loss_weight * reduce_weighted_loss(loss, weight, reduction, avg_factor)``."""
        reduction = self.reduction_for(reduction_override)
        return self.loss_weight * reduce_weighted_loss(loss, weight, reduction, avg_factor)


class ElementwiseLoss(WeightedLoss, abc.ABC):
    """A :class:`WeightedLoss` whose call is one recipe: an element-wise loss, then weight and reduce.

    Subclasses implement :meth:`elementwise_loss` (shape checks, the per-element loss and the
    adaptation of the call's ``weight`` to it); ``forward`` multiplies by the weight, reduces and
    scales by ``loss_weight`` (:meth:`WeightedLoss.weight_and_reduce`).
    """

    @abc.abstractmethod
    def elementwise_loss(
        self, pred: torch.Tensor, target: Any, weight: torch.Tensor | None, **options: Any
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The unreduced loss of one call and the weight to multiply it by.

        Args:
            pred: the predictions, in the shape the subclass documents.
            target: the targets, in the form the subclass documents.
            weight: the call's ``weight`` as given (or None).
            **options: the subclass's own call arguments (e.g. a dense loss's ``ignore_index``).

        Returns:
            ``(loss, weight)``: the element-wise loss, any shape, and the weight broadcastable to
            it (or None).
        """

    def forward(
        self,
        pred: torch.Tensor,
        target: Any,
        weight: torch.Tensor | None = None,
        avg_factor: float | torch.Tensor | None = None,
        reduction_override: Reduction | None = None,
        **options: Any,
    ) -> torch.Tensor:
        """Loss of ``pred`` against ``target``, weighted, reduced and times ``loss_weight``.

        Args:
            pred: predictions (see the subclass for the shape).
            target: targets (see the subclass).
            weight: per-element (or per-sample) weights, as the subclass documents.
            avg_factor: with ``"mean"``, divide the sum by this instead of the element count.
            reduction_override: use this reduction instead of the constructor's.
            **options: passed on to :meth:`elementwise_loss` (e.g. ``ignore_index`` of
                :class:`~.dice_loss.DiceLoss`).

        Returns:
            A scalar, or the element-wise loss for reduction ``"none"``.
        """
        loss, weight = self.elementwise_loss(pred, target, weight, **options)
        return self.weight_and_reduce(loss, weight, avg_factor, reduction_override)
