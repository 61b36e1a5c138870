"""Cross-entropy with hard labels or soft targets, label smoothing and class weights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS


@MODELS.register()
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy ``-sum_c q_c log softmax(x)_c``.

    Targets are either class indices (hard labels) or distributions over classes (soft targets,
    e.g. from Mixup/CutMix). Label smoothing (Szegedy et al., "Rethinking the Inception
    Architecture", section 7) replaces the target q by ``(1 - eps) * q + eps / C``; with hard labels
    this is exactly ``F.cross_entropy(label_smoothing=eps)``, and it is applied to soft targets too
    (MMPretrain's LabelSmoothLoss, "original" mode).

    Args:
        label_smoothing: eps in [0, 1).
        loss_weight: multiplies the loss.
        class_weight: optional per-class weights (C,), as ``F.cross_entropy``'s ``weight``.
        ignore_index: hard-label value that contributes nothing (dense tasks).
        reduction: ``"mean"`` over samples (and positions), ``"sum"`` or ``"none"``.

    Shapes:
        logits (N, C) or (N, C, d1, ...); target (N,) / (N, d1, ...) int64 class indices, or a
        float (N, C, ...) distribution of the shape of ``logits``. Returns a scalar, or (N, ...)
        for ``reduction="none"``.
    """

    def __init__(
        self,
        label_smoothing: float = 0.0,
        loss_weight: float = 1.0,
        class_weight: Sequence[float] | None = None,
        ignore_index: int = -100,
        reduction: Literal["mean", "sum", "none"] = "mean",
    ) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1), got {label_smoothing}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.label_smoothing = label_smoothing
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self.reduction = reduction
        weight = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
        self.register_buffer("class_weight", weight, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.is_floating_point():
            loss = self._soft_target_loss(logits, target)
        else:
            loss = F.cross_entropy(
                logits,
                target.long(),
                weight=self._weight_for(logits),
                ignore_index=self.ignore_index,
                reduction=self.reduction,
                label_smoothing=self.label_smoothing,
            )
        return self.loss_weight * loss

    def _weight_for(self, logits: torch.Tensor) -> torch.Tensor | None:
        if self.class_weight is None:
            return None
        if self.class_weight.numel() != logits.shape[1]:
            raise ValueError(
                f"CrossEntropyLoss: class_weight has {self.class_weight.numel()} entries but the logits have "
                f"{logits.shape[1]} classes"
            )
        return self.class_weight.to(logits.dtype)

    def _soft_target_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.shape != logits.shape:
            raise ValueError(
                f"CrossEntropyLoss: soft targets must have the logits' shape {tuple(logits.shape)}, got "
                f"{tuple(target.shape)}; pass int64 class indices for hard labels"
            )
        num_classes = logits.shape[1]
        target = (1.0 - self.label_smoothing) * target + self.label_smoothing / num_classes
        weight = self._weight_for(logits)
        if weight is not None:
            target = target * weight.view(1, -1, *([1] * (logits.ndim - 2)))
        loss = -(target * F.log_softmax(logits, dim=1)).sum(dim=1)
        if self.reduction == "mean":
            return loss.mean()
        return loss.sum() if self.reduction == "sum" else loss
