"""Pixel-wise losses of the restoration and inpainting models, with MMagic's masked reduction.

Each loss compares two (N, C, H, W) images element by element (``|d|``, ``d^2`` or
``sqrt(d^2 + eps)`` with ``d = pred - target``) and reduces with an optional ``weight`` (a mask):

- no weight: the mean (or sum) over every element;
- a weight with ``reduction="mean"``: the mean over the *weighted* pixels, ``sum(loss * w) / sum(w)``
  where a one-channel weight (N, 1, H, W) counts once per channel of the loss (MMagic's
  ``mask_reduce_loss``), so an L1 over the hole of an inpainting mask is the mean error per hole
  pixel and channel, whatever the hole's size;
- ``sample_wise=True``: that mean is taken per image, then averaged over the batch (small holes
  weigh as much as large ones);
- ``reduction="sum"``: ``sum(loss * w)``; ``"none"``: ``loss * w``.

Registered names: ``"MSELoss"`` and ``"CharbonnierLoss"`` as in MMagic; the L1 loss is registered
as ``"PixelL1Loss"`` because ``"L1Loss"`` names the box-regression loss of
:mod:`visionstack.models.losses` (equal to this one without a weight, but its weighted mean divides
by the element count, not by the weight's sum). Import :class:`L1Loss` from here, or write
``dict(type="PixelL1Loss")`` in configs.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

from ....registry import MODELS

__all__ = ["CharbonnierLoss", "L1Loss", "MSELoss", "mask_reduce_loss"]

_REDUCTIONS = ("mean", "sum", "none")
_EPS = 1e-12  # keeps an empty mask's mean finite (0 / eps = 0), as MMagic


def mask_reduce_loss(
    loss: torch.Tensor,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
    sample_wise: bool = False,
) -> torch.Tensor:
    """Weight and reduce an element-wise loss (see the module docstring).

    Args:
        loss: (N, C, H, W) element-wise loss.
        weight: None, or (N, 1, H, W) / (N, C, H, W) non-negative weights (1 = counted).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        sample_wise: with a weight and ``"mean"``, average per image first.

    Returns:
        A scalar, or the weighted (N, C, H, W) loss for ``"none"``.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"mask_reduce_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if weight is not None:
        if weight.dim() != loss.dim() or weight.shape[1] not in (1, loss.shape[1]):
            raise ValueError(
                f"mask_reduce_loss: weight {tuple(weight.shape)} must be (N, 1, H, W) or (N, C, H, W) "
                f"for a loss of shape {tuple(loss.shape)}"
            )
        weight = weight.to(loss.dtype)
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if weight is None:
        return loss.mean()
    weight = weight.expand_as(loss)
    if sample_wise:
        per_sample = loss.flatten(1).sum(1) / (weight.flatten(1).sum(1) + _EPS)
        return per_sample.mean()
    return loss.sum() / (weight.sum() + _EPS)


class _PixelLoss(nn.Module, abc.ABC):
    """Shared arguments and call of the pixel losses.

    Args:
        loss_weight: multiplies the reduced loss.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        sample_wise: with a ``weight`` and ``"mean"``, average the masked mean per image.

    Call:
        ``loss(pred, target, weight=None)`` with ``pred`` and ``target`` (N, C, H, W) of one shape
        and ``weight`` (N, 1, H, W) or (N, C, H, W); returns ``loss_weight`` times the reduced loss.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = "mean", sample_wise: bool = False) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, got {reduction!r}"
            )
        self.loss_weight = loss_weight
        self.reduction = reduction
        self.sample_wise = sample_wise

    @abc.abstractmethod
    def elementwise(self, diff: torch.Tensor) -> torch.Tensor:
        """The loss of each element from ``pred - target``."""

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(
                f"{type(self).__name__}: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape"
            )
        loss = self.elementwise(pred - target.to(pred.dtype))
        return self.loss_weight * mask_reduce_loss(loss, weight, self.reduction, self.sample_wise)

    def extra_repr(self) -> str:
        return f"loss_weight={self.loss_weight}, reduction={self.reduction!r}, sample_wise={self.sample_wise}"


class L1Loss(_PixelLoss):
    """Mean absolute error ``|pred - target|`` with the masked reduction (registered as ``PixelL1Loss``)."""

    def elementwise(self, diff: torch.Tensor) -> torch.Tensor:
        return diff.abs()


@MODELS.register()
class MSELoss(_PixelLoss):
    """Mean squared error ``(pred - target)^2`` with the masked reduction."""

    def elementwise(self, diff: torch.Tensor) -> torch.Tensor:
        return diff * diff


@MODELS.register()
class CharbonnierLoss(_PixelLoss):
    """Charbonnier loss ``sqrt((pred - target)^2 + eps)``, a differentiable L1 (Lai et al., LapSRN 2017).

    Args:
        eps: added under the square root; 1e-12 as MMagic (the loss is then ``|d|`` to float precision,
            with a finite gradient at 0).
        loss_weight, reduction, sample_wise: as :class:`L1Loss`.
    """

    def __init__(
        self, loss_weight: float = 1.0, reduction: str = "mean", sample_wise: bool = False, eps: float = 1e-12
    ) -> None:
        super().__init__(loss_weight, reduction, sample_wise)
        self.eps = eps

    def elementwise(self, diff: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(diff * diff + self.eps)


MODELS.register(L1Loss, name="PixelL1Loss")
