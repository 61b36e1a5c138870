"""Online hard example mining over pixels (Shrivastava et al., "Training Region-based Object Detectors
with Online Hard Example Mining", CVPR 2016), in MMSegmentation's ``OHEMPixelSampler`` form.

The sampler returns 0/1 pixel weights; the decode head multiplies them into its losses, so only the
hard pixels train (the mean still divides by the head loss's own divisor, as in MMSegmentation).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ....registry import MODELS

__all__ = ["OHEMPixelSampler"]

PixelLossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@MODELS.register()
class OHEMPixelSampler:
    """Keep the hard pixels of a batch.

    With ``thresh``: a pixel is kept when the softmax probability of its true class is below
    ``max(thresh, p_k)``, where ``p_k`` is the ``min(batch_kept, V - 1)``-th smallest such
    probability among the V valid pixels (0-based) and ``batch_kept = min_kept * N``; so at least
    about ``batch_kept`` pixels are kept even when the model is confident. Without ``thresh``: the
    ``batch_kept`` valid pixels of largest loss (the head's per-pixel losses) are kept.

    Args:
        thresh: probability threshold, or None to rank by loss.
        min_kept: pixels kept per image at least (MMSegmentation's default 100000).
    """

    def __init__(self, thresh: float | None = None, min_kept: int = 100000) -> None:
        if min_kept <= 1:
            raise ValueError(f"OHEMPixelSampler: min_kept must be > 1, got {min_kept}")
        if thresh is not None and not 0.0 < thresh <= 1.0:
            raise ValueError(f"OHEMPixelSampler: thresh must be a probability in (0, 1], got {thresh}")
        self.thresh = thresh
        self.min_kept = int(min_kept)

    @torch.no_grad()
    def sample(
        self,
        seg_logits: torch.Tensor,
        seg_label: torch.Tensor,
        ignore_index: int = 255,
        loss_fn: PixelLossFn | None = None,
    ) -> torch.Tensor:
        """0/1 pixel weights.

        Args:
            seg_logits: (N, C, H, W) logits at the label size.
            seg_label: (N, H, W) or (N, 1, H, W) int64 labels.
            ignore_index: label of pixels that are never kept.
            loss_fn: ``loss_fn(seg_logits, seg_label) -> (N, H, W)`` per-pixel losses; needed
                without ``thresh``.

        Returns:
            (N, H, W) float weights of the logits' dtype, 1 for kept pixels.
        """
        if seg_label.ndim == 4:
            seg_label = seg_label.squeeze(1)
        if seg_logits.shape[-2:] != seg_label.shape[-2:]:
            raise ValueError(
                f"OHEMPixelSampler: logits {tuple(seg_logits.shape)} and labels {tuple(seg_label.shape)} differ in size"
            )
        seg_label = seg_label.long()
        batch_kept = self.min_kept * seg_label.shape[0]
        valid = seg_label != ignore_index
        weight = seg_logits.new_zeros(seg_label.shape)
        if self.thresh is not None:
            safe_label = seg_label.masked_fill(~valid, 0).unsqueeze(1)
            true_prob = F.softmax(seg_logits, dim=1).gather(1, safe_label).squeeze(1)[valid]
            if true_prob.numel() > 0:
                sorted_prob = true_prob.sort().values
                min_threshold = float(sorted_prob[min(batch_kept, sorted_prob.numel() - 1)])
            else:
                min_threshold = 0.0
            threshold = max(min_threshold, self.thresh)
            weight[valid] = (true_prob < threshold).to(weight.dtype)
            return weight
        if loss_fn is None:
            raise ValueError(
                "OHEMPixelSampler: without thresh the sampler ranks pixels by loss and needs loss_fn"
            )
        losses = loss_fn(seg_logits, seg_label)[valid]
        order = losses.sort(descending=True).indices
        kept = torch.zeros_like(losses, dtype=weight.dtype)
        kept[order[:batch_kept]] = 1.0
        weight[valid] = kept
        return weight

    def __repr__(self) -> str:
        return f"OHEMPixelSampler(thresh={self.thresh}, min_kept={self.min_kept})"
