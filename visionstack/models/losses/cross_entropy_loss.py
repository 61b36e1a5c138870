"""Cross-entropy with hard labels or soft targets, label smoothing, class and element weights.

The dense (segmentation) conventions follow MMSegmentation: per-pixel weights (e.g. from an OHEM
sampler), an ``ignore_index`` given per call by the decode head, and ``avg_non_ignore`` choosing
what ``"mean"`` divides by.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ...registry import MODELS
from .utils import Reduction, WeightedLoss


@MODELS.register()
class CrossEntropyLoss(WeightedLoss):
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
        ignore_index: hard-label value that contributes nothing (dense tasks); a call may override it.
        reduction: ``"mean"`` over samples (and positions), ``"sum"`` or ``"none"``.
        avg_non_ignore: what ``"mean"`` divides the summed (class- and element-weighted) loss by:

            - ``None`` (default): torch's convention, the summed class weights of the non-ignored
              targets (the number of non-ignored targets without class weights), i.e. exactly
              ``F.cross_entropy``; used by classification and detection.
            - ``False``: every element, ignored ones included (MMSegmentation's default,
              ``avg_non_ignore=False``: ``sum / (N * H * W)``).
            - ``True``: the number of non-ignored elements (MMSegmentation's ``avg_non_ignore=True``;
              class weights are not part of the divisor).
        loss_name: the key under which a decode head reports this loss (MMSegmentation's ``loss_name``).

    Call:
        ``loss(logits, target, weight=None, avg_factor=None, reduction_override=None,
        ignore_index=None)``: ``weight`` multiplies the per-element loss (shape of ``target``, e.g.
        OHEM's 0/1 pixel weights); ``avg_factor`` replaces the divisor of ``"mean"``.

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
        reduction: Reduction = "mean",
        avg_non_ignore: bool | None = None,
        loss_name: str = "loss_ce",
    ) -> None:
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1), got {label_smoothing}")
        super().__init__(loss_weight, reduction)
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index
        self.avg_non_ignore = avg_non_ignore
        self.loss_name = loss_name
        weight = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
        self.register_buffer("class_weight", weight, persistent=False)

    def forward(
        self,
        logits: torch.Tensor,
        target: torch.Tensor,
        weight: torch.Tensor | None = None,
        avg_factor: float | torch.Tensor | None = None,
        reduction_override: Reduction | None = None,
        ignore_index: int | None = None,
    ) -> torch.Tensor:
        reduction = self.reduction_for(reduction_override)
        ignore_index = self.ignore_index if ignore_index is None else ignore_index
        if target.is_floating_point():
            loss = self._soft_target_loss(logits, target)
            return self.weight_and_reduce(loss, weight, avg_factor, reduction)
        target = target.long()
        if weight is None and avg_factor is None and self.avg_non_ignore is None:
            loss = F.cross_entropy(
                logits,
                target,
                weight=self._weight_for(logits),
                ignore_index=ignore_index,
                reduction=reduction,
                label_smoothing=self.label_smoothing,
            )
            return self.loss_weight * loss
        class_weight = self._weight_for(logits)
        loss = F.cross_entropy(
            logits,
            target,
            weight=class_weight,
            ignore_index=ignore_index,
            reduction="none",
            label_smoothing=self.label_smoothing,
        )
        if reduction == "mean" and avg_factor is None:
            avg_factor = self._mean_divisor(target, ignore_index, class_weight)
        return self.weight_and_reduce(loss, weight, avg_factor, reduction)

    def _mean_divisor(
        self, target: torch.Tensor, ignore_index: int, class_weight: torch.Tensor | None
    ) -> torch.Tensor | None:
        """What ``"mean"`` divides by (see ``avg_non_ignore``); None means ``loss.numel()``."""
        if self.avg_non_ignore is False:
            return None
        valid = target != ignore_index
        if self.avg_non_ignore or class_weight is None:
            return valid.sum()
        return class_weight[target[valid]].sum()

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
        return -(target * F.log_softmax(logits, dim=1)).sum(dim=1)
