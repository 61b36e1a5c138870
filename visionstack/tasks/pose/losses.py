"""Pose losses (registered in MODELS): heatmap MSE and SimCC's discrete KL divergence, as MMPose computes them.

- :class:`KeypointMSELoss`: the squared error of predicted and target heatmaps, each pixel
  multiplied by its keypoint's weight (and an optional pixel mask), averaged over all pixels of all
  keypoints and images (SimpleBaseline, Xiao et al. 2018; MMPose 1.x's ``KeypointMSELoss``).
- :class:`KLDiscretLoss`: per keypoint and axis, ``KL(labels || softmax(beta * pred))`` averaged
  over the bins, weighted per keypoint, summed over the batch and both axes and divided by the
  number of keypoints (SimCC, Li et al. 2022; RTMPose trains with ``beta=10, label_softmax=True``).
  Like MMPose's, it is a sum over the images, not a mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS

__all__ = ["KLDiscretLoss", "KeypointMSELoss"]


@MODELS.register()
class KeypointMSELoss(nn.Module):
    """Weighted MSE of heatmaps.

    Args:
        use_target_weight: multiply each keypoint's squared errors by its target weight. (MMPose
            1.x applies weights whenever they are passed; here the flag decides, as its name says.)
        skip_empty_channel: leave out target channels without any non-zero pixel (keypoints
            without a label); they still count in the mean's denominator, as in MMPose.
        loss_weight: multiplies the loss.

    Call:
        ``loss(output, target, target_weights=None, mask=None)`` with ``output`` and ``target``
        (B, K, H, W) heatmaps, ``target_weights`` (B, K) keypoint weights (or (B, K, H, W) pixel
        weights), ``mask`` (B, K, H, W) or (B, 1, H, W) valid pixels. Returns a scalar.
    """

    def __init__(
        self, use_target_weight: bool = False, skip_empty_channel: bool = False, loss_weight: float = 1.0
    ) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.skip_empty_channel = skip_empty_channel
        self.loss_weight = loss_weight

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        target_weights: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if output.shape != target.shape or output.ndim < 3:
            raise ValueError(
                f"KeypointMSELoss: output and target must be (B, K, H, W) of one shape, got "
                f"{tuple(output.shape)} and {tuple(target.shape)}"
            )
        pixel_mask = self._pixel_mask(target, target_weights, mask)
        squared = (output - target) ** 2
        loss = squared.mean() if pixel_mask is None else (squared * pixel_mask).mean()
        return loss * self.loss_weight

    def _pixel_mask(
        self, target: torch.Tensor, target_weights: torch.Tensor | None, mask: torch.Tensor | None
    ) -> torch.Tensor | None:
        """The product of the given mask, the keypoint weights and the non-empty channels, broadcastable
        to ``target``; None when nothing masks."""
        factors = []
        if mask is not None:
            if mask.ndim != target.ndim or any(m not in (1, t) for m, t in zip(mask.shape, target.shape)):
                raise ValueError(
                    f"KeypointMSELoss: mask of shape {tuple(mask.shape)} does not broadcast to the target's "
                    f"{tuple(target.shape)}"
                )
            factors.append(mask)
        if self.use_target_weight:
            if target_weights is None:
                raise ValueError("KeypointMSELoss: use_target_weight=True needs target_weights (B, K)")
            if (
                target_weights.ndim not in (2, target.ndim)
                or target_weights.shape != target.shape[: target_weights.ndim]
            ):
                raise ValueError(
                    f"KeypointMSELoss: target_weights must be (B, K) or (B, K, H, W) of the target "
                    f"{tuple(target.shape)}, got {tuple(target_weights.shape)}"
                )
            factors.append(
                target_weights.reshape(*target_weights.shape, *(1,) * (target.ndim - target_weights.ndim))
            )
        if self.skip_empty_channel:
            non_empty = (target != 0).flatten(2).any(dim=2)
            factors.append(non_empty.reshape(*non_empty.shape, *(1,) * (target.ndim - 2)))
        if not factors:
            return None
        pixel_mask = factors[0].to(target.dtype)
        for factor in factors[1:]:
            pixel_mask = pixel_mask * factor.to(target.dtype)
        return pixel_mask


@MODELS.register()
class KLDiscretLoss(nn.Module):
    """SimCC's KL-divergence loss over the x and y bin vectors.

    Args:
        beta: temperature of the prediction softmax (``log_softmax(beta * pred)``).
        label_softmax: turn the labels into a distribution by ``softmax(label_beta * labels)``.
        label_beta: temperature of that label softmax.
        use_target_weight: multiply each keypoint's loss by its target weight.
        mask: indices of keypoints whose loss is multiplied by ``mask_weight``.
        mask_weight: the factor for the keypoints in ``mask``.
        loss_weight: multiplies the loss (not in MMPose, where it is always 1).

    Call:
        ``loss(pred_simcc, gt_simcc, target_weight)`` with ``pred_simcc`` = (x (B, K, Wx), y (B, K, Wy))
        logits, ``gt_simcc`` the labels of the same shapes and ``target_weight`` (B, K). Returns a scalar.
    """

    def __init__(
        self,
        beta: float = 1.0,
        label_softmax: bool = False,
        label_beta: float = 10.0,
        use_target_weight: bool = True,
        mask: Sequence[int] | None = None,
        mask_weight: float = 1.0,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.beta = beta
        self.label_softmax = label_softmax
        self.label_beta = label_beta
        self.use_target_weight = use_target_weight
        self.mask = None if mask is None else list(mask)
        self.mask_weight = mask_weight
        self.loss_weight = loss_weight

    def forward(
        self,
        pred_simcc: Sequence[torch.Tensor],
        gt_simcc: Sequence[torch.Tensor],
        target_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if len(pred_simcc) != len(gt_simcc):
            raise ValueError(
                f"KLDiscretLoss: pred_simcc and gt_simcc need one tensor per axis each, got "
                f"{len(pred_simcc)} and {len(gt_simcc)}"
            )
        batch, num_keypoints = pred_simcc[0].shape[:2]
        weight = self._keypoint_weight(target_weight, batch, num_keypoints, pred_simcc[0])
        loss = pred_simcc[0].new_zeros(())
        for axis, (pred, target) in enumerate(zip(pred_simcc, gt_simcc)):
            if pred.shape != target.shape or pred.shape[:2] != (batch, num_keypoints):
                raise ValueError(
                    f"KLDiscretLoss: axis {axis}: prediction {tuple(pred.shape)} and label {tuple(target.shape)} "
                    f"must both be (B, K, L) with (B, K) = {(batch, num_keypoints)}"
                )
            loss = loss + (self._kl_per_keypoint(pred, target) * weight).sum()
        return loss / num_keypoints * self.loss_weight

    def _kl_per_keypoint(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B, K, L) logits and labels -> (B, K) KL divergence averaged over the bins."""
        log_prob = F.log_softmax(pred * self.beta, dim=-1)
        if self.label_softmax:
            target = F.softmax(target * self.label_beta, dim=-1)
        # kl_div(input=log q, target=p) = p * (log p - log q), 0 where p = 0
        return F.kl_div(log_prob, target, reduction="none").mean(dim=-1)

    def _keypoint_weight(
        self, target_weight: torch.Tensor | None, batch: int, num_keypoints: int, like: torch.Tensor
    ) -> torch.Tensor:
        """(B, K) factor per keypoint: the target weight (if used) times ``mask_weight`` on the masked keypoints."""
        weight = like.new_ones((batch, num_keypoints))
        if self.use_target_weight:
            if target_weight is None or tuple(target_weight.shape) != (batch, num_keypoints):
                got = None if target_weight is None else tuple(target_weight.shape)
                raise ValueError(
                    f"KLDiscretLoss: use_target_weight=True needs target_weight of shape {(batch, num_keypoints)}, "
                    f"got {got}"
                )
            weight = weight * target_weight.to(like.dtype)
        if self.mask is not None:
            factors = like.new_ones(num_keypoints)
            factors[self.mask] = self.mask_weight
            weight = weight * factors
        return weight
