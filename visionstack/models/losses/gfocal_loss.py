"""Quality Focal Loss (Li et al., "Generalized Focal Loss", NeurIPS 2020, section 3.2).

The classification branch predicts a joint "class x localization quality" score: the target of the
positive class is a soft label in [0, 1] (the IoU of the predicted box with its ground truth), the
other classes' targets are 0. With ``sigma = sigmoid(x)`` and soft target ``y``:

    QFL(x, y) = BCE(sigma, y) * |y - sigma| ** beta

summed over classes. For hard targets ``y`` in {0, 1} it is the sigmoid focal loss with
``gamma = beta`` and no alpha balance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...registry import MODELS
from .utils import ElementwiseLoss, Reduction

__all__ = ["QualityFocalLoss", "quality_focal_loss"]


def quality_focal_loss(
    pred: torch.Tensor, soft_target: torch.Tensor, beta: float = 2.0, activated: bool = False
) -> torch.Tensor:
    """Element-wise QFL.

    Args:
        pred: (N, C) logits, or probabilities when ``activated``.
        soft_target: (N, C) targets in [0, 1].
        beta: exponent of the modulating factor ``|y - sigma|``.
        activated: ``pred`` already holds probabilities.

    Returns:
        (N, C) loss per sample and class.
    """
    if activated:
        probability = pred
        bce = F.binary_cross_entropy(pred, soft_target, reduction="none")
    else:
        probability = pred.sigmoid()
        bce = F.binary_cross_entropy_with_logits(pred, soft_target, reduction="none")
    # The modulating factor is a weight, but GFL back-propagates through it (as the focal loss does).
    return bce * (soft_target - probability).abs().pow(beta)


@MODELS.register()
class QualityFocalLoss(ElementwiseLoss):
    """QFL with sigmoid classification (MMDetection's ``QualityFocalLoss``).

    The target is either a pair ``(labels, scores)`` with (N,) int64 labels in ``[0, C]`` (``C``
    is the background: all-zero target) and (N,) float quality scores for the labelled class, or a
    dense (N, C) soft-target tensor.

    Args:
        beta: exponent of the modulating factor (2 in the paper).
        loss_weight: multiplies the loss.
        use_sigmoid: must be True: QFL is defined on independent per-class sigmoids.
        activated: the predictions are already probabilities.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``; RTMDet passes the sum of the positives' IoUs
            as the ``avg_factor`` of ``"mean"``. Reduction ``"none"`` gives the (N,) per-sample loss.
    """

    def __init__(
        self,
        beta: float = 2.0,
        loss_weight: float = 1.0,
        use_sigmoid: bool = True,
        activated: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        if not use_sigmoid:
            raise ValueError("QualityFocalLoss: only use_sigmoid=True is defined (per-class sigmoid scores)")
        super().__init__(loss_weight, reduction)
        self.beta = beta
        self.activated = activated

    def elementwise_loss(
        self,
        pred: torch.Tensor,
        target: tuple[torch.Tensor, torch.Tensor] | torch.Tensor,
        weight: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N,) per-sample QFL (summed over classes) and the (N,) sample weights.

        Args:
            pred: (N, C) logits (or probabilities when ``activated``).
            target: ``(labels (N,), scores (N,))`` or a dense (N, C) soft target.
            weight: (N,) per-sample weights (e.g. 0 for ignored priors).
        """
        soft_target = self._dense_target(pred, target)
        loss = quality_focal_loss(pred, soft_target, self.beta, self.activated).sum(dim=1)
        if weight is not None and weight.shape != loss.shape:
            raise ValueError(
                f"QualityFocalLoss: weight must have shape {tuple(loss.shape)}, got {tuple(weight.shape)}"
            )
        return loss, weight

    @staticmethod
    def _dense_target(
        pred: torch.Tensor, target: tuple[torch.Tensor, torch.Tensor] | torch.Tensor
    ) -> torch.Tensor:
        """(N, C) soft target: the score at each sample's label column, zeros elsewhere."""
        if pred.dim() != 2:
            raise ValueError(f"QualityFocalLoss: pred must be (N, C), got shape {tuple(pred.shape)}")
        if isinstance(target, torch.Tensor):
            if target.shape != pred.shape:
                raise ValueError(
                    f"QualityFocalLoss: a dense target must have the shape of pred {tuple(pred.shape)}, "
                    f"got {tuple(target.shape)}"
                )
            return target.to(pred.dtype)
        labels, scores = target
        num_samples, num_classes = pred.shape
        if labels.shape != (num_samples,) or scores.shape != (num_samples,):
            raise ValueError(
                f"QualityFocalLoss: labels and scores must be ({num_samples},), got {tuple(labels.shape)} and "
                f"{tuple(scores.shape)}"
            )
        soft_target = pred.new_zeros(num_samples, num_classes + 1)  # last column: background
        soft_target[torch.arange(num_samples, device=pred.device), labels.long()] = scores.to(pred.dtype)
        return soft_target[:, :num_classes]
