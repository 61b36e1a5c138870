"""Binary cross-entropy on logits, with per-element weights and an explicit normaliser."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...registry import MODELS
from .utils import ElementwiseLoss, Reduction

__all__ = ["BCEWithLogitsLoss"]


@MODELS.register()
class BCEWithLogitsLoss(ElementwiseLoss):
    """``-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]`` per element, weighted and reduced.

    Detection heads sample a subset of anchors or RoIs and divide the summed loss by the number of
    sampled elements across the batch (``avg_factor``), not by the number of elements in the
    tensor; that normaliser is passed per call (MMDetection's ``CrossEntropyLoss(use_sigmoid=True)``).

    Args:
        loss_weight: multiplies the loss.
        reduction: ``"mean"`` (over elements, or ``sum / avg_factor`` when ``avg_factor`` is
            given), ``"sum"`` or ``"none"``.
        pos_weight: optional weight of the positive term (``F.binary_cross_entropy_with_logits``).

    Shapes:
        logits and target: any equal shape, target in [0, 1]; weight broadcastable to it.
        Returns a scalar, or the logits' shape for ``reduction="none"``.
    """

    def __init__(
        self,
        loss_weight: float = 1.0,
        reduction: Reduction = "mean",
        pos_weight: float | None = None,
    ) -> None:
        super().__init__(loss_weight, reduction)
        self.pos_weight = pos_weight

    def elementwise_loss(
        self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-element loss of ``logits`` against ``target`` (same shape), and ``weight`` in its dtype."""
        if logits.shape != target.shape:
            raise ValueError(
                f"BCEWithLogitsLoss: logits {tuple(logits.shape)} and target {tuple(target.shape)} differ in shape"
            )
        pos_weight = None if self.pos_weight is None else logits.new_tensor(self.pos_weight)
        loss = F.binary_cross_entropy_with_logits(
            logits, target.to(logits.dtype), reduction="none", pos_weight=pos_weight
        )
        return loss, None if weight is None else weight.to(loss.dtype)
