"""Samplers: which assigned priors contribute to the loss (R-CNN mini-batches)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...registry import MODELS
from .assign_result import AssignResult

__all__ = ["PseudoSampler", "RandomSampler", "SamplingResult"]


@dataclass
class SamplingResult:
    """Sampled positives and negatives of one image.

    Attributes:
        pos_inds: (P,) int64 indices into ``priors`` (which include the prepended ground truths
            when the sampler added them).
        neg_inds: (Q,) int64 indices into ``priors``.
        priors: (N', 4) xyxy boxes the indices refer to.
        pos_assigned_gt_inds: (P,) int64 ground-truth index (0-based) of each positive.
        pos_gt_boxes: (P, 4) xyxy matched ground-truth boxes.
        pos_gt_labels: (P,) int64 their classes.
        pos_is_gt: (P,) bool, the positive is a ground-truth box added as a proposal.
    """

    pos_inds: torch.Tensor
    neg_inds: torch.Tensor
    priors: torch.Tensor
    pos_assigned_gt_inds: torch.Tensor
    pos_gt_boxes: torch.Tensor
    pos_gt_labels: torch.Tensor
    pos_is_gt: torch.Tensor

    @property
    def pos_priors(self) -> torch.Tensor:
        """(P, 4) positive priors."""
        return self.priors[self.pos_inds]

    @property
    def neg_priors(self) -> torch.Tensor:
        """(Q, 4) negative priors."""
        return self.priors[self.neg_inds]


def _sampling_result(
    assign: AssignResult,
    priors: torch.Tensor,
    gt_boxes: torch.Tensor,
    pos_inds: torch.Tensor,
    neg_inds: torch.Tensor,
    is_gt: torch.Tensor,
) -> SamplingResult:
    assigned = assign.gt_inds[pos_inds] - 1
    return SamplingResult(
        pos_inds=pos_inds,
        neg_inds=neg_inds,
        priors=priors,
        pos_assigned_gt_inds=assigned,
        pos_gt_boxes=gt_boxes[assigned] if gt_boxes.numel() else gt_boxes.new_zeros(0, 4),
        pos_gt_labels=assign.labels[pos_inds],
        pos_is_gt=is_gt[pos_inds],
    )


@MODELS.register()
class PseudoSampler:
    """Every positive and every negative (dense heads that weigh all priors in the loss)."""

    def sample(self, assign: AssignResult, priors: torch.Tensor, gt_boxes: torch.Tensor) -> SamplingResult:
        """(N, 4) xyxy priors and (G, 4) xyxy ground truths -> all positives and negatives."""
        pos_inds = torch.nonzero(assign.pos_mask).flatten()
        neg_inds = torch.nonzero(assign.neg_mask).flatten()
        is_gt = torch.zeros(priors.shape[0], dtype=torch.bool, device=priors.device)
        return _sampling_result(assign, priors, gt_boxes, pos_inds, neg_inds, is_gt)


@MODELS.register()
class RandomSampler:
    """Uniformly sample ``num`` priors, at most ``num * pos_fraction`` of them positive
    (Girshick, "Fast R-CNN", section 2.3: 128 RoIs, 25% foreground; Faster R-CNN's RPN: 256, 50%).

    Randomness comes from torch's global generator, so ``torch.manual_seed`` (the runner's seed)
    makes sampling reproducible.

    Args:
        num: priors per image.
        pos_fraction: largest share of positives.
        neg_pos_ub: at most ``neg_pos_ub * max(1, positives)`` negatives (< 0: no bound).
        add_gt_as_proposals: put the ground-truth boxes in front of the priors as positives.
    """

    def __init__(
        self, num: int, pos_fraction: float, neg_pos_ub: float = -1, add_gt_as_proposals: bool = True
    ) -> None:
        if num < 1 or not 0.0 <= pos_fraction <= 1.0:
            raise ValueError(
                f"RandomSampler: need num >= 1 and pos_fraction in [0, 1], got {num}, {pos_fraction}"
            )
        self.num = num
        self.pos_fraction = pos_fraction
        self.neg_pos_ub = neg_pos_ub
        self.add_gt_as_proposals = add_gt_as_proposals

    def sample(
        self, assign: AssignResult, priors: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor
    ) -> SamplingResult:
        """Sample from an assignment of (N, 4) xyxy priors to (G, 4) xyxy ground truths with (G,) labels."""
        is_gt = torch.zeros(priors.shape[0], dtype=torch.bool, device=priors.device)
        if self.add_gt_as_proposals and gt_boxes.numel():
            priors = torch.cat([gt_boxes.to(priors.dtype), priors])
            assign = assign.with_gts_prepended(gt_labels)
            is_gt = torch.cat([torch.ones(gt_boxes.shape[0], dtype=torch.bool, device=priors.device), is_gt])
        pos_inds = self._choose(torch.nonzero(assign.pos_mask).flatten(), int(self.num * self.pos_fraction))
        num_neg = self.num - pos_inds.numel()
        if self.neg_pos_ub >= 0:
            num_neg = min(num_neg, int(self.neg_pos_ub * max(1, pos_inds.numel())))
        neg_inds = self._choose(torch.nonzero(assign.neg_mask).flatten(), num_neg)
        return _sampling_result(assign, priors, gt_boxes, pos_inds, neg_inds, is_gt)

    @staticmethod
    def _choose(indices: torch.Tensor, count: int) -> torch.Tensor:
        """``count`` of ``indices`` without replacement (all of them when there are fewer)."""
        if indices.numel() <= count:
            return indices
        return indices[torch.randperm(indices.numel(), device=indices.device)[:count]]
