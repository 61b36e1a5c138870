"""Dice loss for dense prediction (Milletari et al., "V-Net", 3DV 2016, eq. 1), MMSegmentation 1.x style.

Per image, the predicted class probabilities ``p`` and the one-hot target ``t`` of all classes and
pixels are flattened into one vector each, and

- V-Net form (``naive_dice=False``): ``dice = 2 sum(p t) / (sum(p^2) + eps + sum(t^2) + eps)``;
- naive form (``naive_dice=True``): ``dice = (2 sum(p t) + eps) / (sum(p) + sum(t) + eps)``;

the loss is ``1 - dice`` per image, reduced over the batch.

One deliberate difference from MMSegmentation 1.x: there, ``ignore_index`` removes the *class
channel* whose index equals it (a no-op for 255) and ignored pixels still count in ``sum(p)``;
here ignored pixels are excluded from every sum, which is what "ignore" means for the other losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...registry import MODELS
from .utils import ElementwiseLoss, Reduction

__all__ = ["DiceLoss"]


@MODELS.register()
class DiceLoss(ElementwiseLoss):
    """Dice loss over class probabilities and one-hot labels, ignored pixels excluded.

    Args:
        use_sigmoid: independent per-class sigmoids (MMSegmentation's default); False gives a softmax
            over the classes (the usual choice for multi-class segmentation; a single-channel
            prediction is left as is, since its softmax is constant).
        activate: apply the sigmoid/softmax; False when the predictions already are probabilities.
        reduction: over images: ``"mean"``, ``"sum"`` or ``"none"`` ((N,) per-image losses).
        naive_dice: the first-power denominator ``sum(p) + sum(t)`` instead of V-Net's squares.
        loss_weight: multiplies the loss.
        ignore_index: label value whose pixels take no part in the loss; a call may override it.
        eps: smoothing term (see the module docstring for where it enters).
        loss_name: the key under which a decode head reports this loss.

    Call:
        ``loss(pred, target, weight=None, avg_factor=None, reduction_override=None, ignore_index=None)``
        with ``pred`` (N, C, H, W) logits and ``target`` (N, H, W) int64 class indices (or a float
        (N, C, H, W) target of the shape of ``pred``). ``weight`` is either (N, H, W) pixel weights
        (e.g. OHEM's 0/1 keep mask; they weight every pixel sum) or (N,) image weights (MMSegmentation's
        meaning, applied to the per-image losses).
    """

    def __init__(
        self,
        use_sigmoid: bool = True,
        activate: bool = True,
        reduction: Reduction = "mean",
        naive_dice: bool = False,
        loss_weight: float = 1.0,
        ignore_index: int | None = 255,
        eps: float = 1e-3,
        loss_name: str = "loss_dice",
    ) -> None:
        super().__init__(loss_weight, reduction)
        if eps < 0:
            raise ValueError(f"DiceLoss: eps must be >= 0, got {eps}")
        self.use_sigmoid = use_sigmoid
        self.activate = activate
        self.naive_dice = naive_dice
        self.ignore_index = ignore_index
        self.eps = eps
        self.loss_name = loss_name

    def elementwise_loss(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        weight: torch.Tensor | None,
        ignore_index: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N,) per-image ``1 - dice`` and the (N,) image weights (pixel weights enter the sums)."""
        if pred.ndim < 2:
            raise ValueError(f"DiceLoss: pred must be (N, C, ...), got shape {tuple(pred.shape)}")
        ignore_index = self.ignore_index if ignore_index is None else ignore_index
        probs = self._activate(pred)
        onehot, pixel_mask = self._dense_target(pred, target, ignore_index)
        image_weight = None
        if weight is not None:
            if weight.ndim == 1 and weight.shape[0] == pred.shape[0] and pred.ndim > 2:
                image_weight = weight
            else:
                pixel_mask = pixel_mask * weight.to(pixel_mask.dtype).expand_as(pixel_mask)
        return 1.0 - self._dice(probs, onehot, pixel_mask.unsqueeze(1)), image_weight

    def _activate(self, pred: torch.Tensor) -> torch.Tensor:
        if not self.activate:
            return pred
        if self.use_sigmoid:
            return pred.sigmoid()
        return pred.softmax(dim=1) if pred.shape[1] != 1 else pred

    @staticmethod
    def _dense_target(
        pred: torch.Tensor, target: torch.Tensor, ignore_index: int | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One-hot (N, C, ...) float target and (N, ...) float mask of the pixels that count."""
        if target.shape == pred.shape:
            return target.to(pred.dtype), pred.new_ones(pred.shape[:1] + pred.shape[2:])
        if target.shape != pred.shape[:1] + pred.shape[2:]:
            raise ValueError(
                f"DiceLoss: target must be class indices of shape {tuple(pred.shape[:1] + pred.shape[2:])} or "
                f"match pred's shape {tuple(pred.shape)}, got {tuple(target.shape)}"
            )
        num_classes = pred.shape[1]
        target = target.long()
        valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
        # labels outside [0, C) (the ignore value among them) become all-zero rows
        onehot = F.one_hot(target.clamp(0, num_classes), num_classes + 1)[..., :num_classes]
        onehot = onehot.movedim(-1, 1).to(pred.dtype)
        return onehot, valid.to(pred.dtype)

    def _dice(self, probs: torch.Tensor, onehot: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(N,) dice coefficients; ``mask`` (N, 1, ...) weights every pixel of every class."""
        intersection = (mask * probs * onehot).flatten(1).sum(1)
        if self.naive_dice:
            pred_sum = (mask * probs).flatten(1).sum(1)
            target_sum = (mask * onehot).flatten(1).sum(1)
            return (2 * intersection + self.eps) / (pred_sum + target_sum + self.eps)
        pred_sum = (mask * probs * probs).flatten(1).sum(1) + self.eps
        target_sum = (mask * onehot * onehot).flatten(1).sum(1) + self.eps
        return 2 * intersection / (pred_sum + target_sum)
