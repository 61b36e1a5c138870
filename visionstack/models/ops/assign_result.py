"""The outcome of matching priors (anchors, points, proposals) to ground-truth boxes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["AssignResult"]


@dataclass
class AssignResult:
    """Per-prior assignment.

    Attributes:
        num_gts: number of ground-truth boxes.
        gt_inds: (N,) int64: ``0`` negative (background), ``-1`` ignored (no loss), ``k > 0``
            positive, matched to ground truth ``k - 1``.
        max_overlaps: (N,) float: the IoU of each prior with its assigned ground truth for
            positives, and with its best-overlapping ground truth otherwise (0 when there is none).
        labels: (N,) int64 class of the assigned ground truth, ``-1`` for non-positives.
    """

    num_gts: int
    gt_inds: torch.Tensor
    max_overlaps: torch.Tensor
    labels: torch.Tensor

    @property
    def num_priors(self) -> int:
        """Number of assigned priors N."""
        return self.gt_inds.numel()

    @property
    def pos_mask(self) -> torch.Tensor:
        """(N,) bool, priors matched to a ground truth."""
        return self.gt_inds > 0

    @property
    def neg_mask(self) -> torch.Tensor:
        """(N,) bool, background priors."""
        return self.gt_inds == 0

    def with_gts_prepended(self, gt_labels: torch.Tensor) -> AssignResult:
        """A new result where the ground-truth boxes themselves come first as perfect positives
        (R-CNN samplers add them to the proposals): ``gt_inds = [1, ..., G, old]``."""
        num = gt_labels.numel()
        gt_self = torch.arange(1, num + 1, dtype=torch.long, device=self.gt_inds.device)
        return AssignResult(
            num_gts=self.num_gts,
            gt_inds=torch.cat([gt_self, self.gt_inds]),
            max_overlaps=torch.cat([self.max_overlaps.new_ones(num), self.max_overlaps]),
            labels=torch.cat([gt_labels.to(self.labels), self.labels]),
        )

    @classmethod
    def all_negative(cls, num_gts: int, num_priors: int, device: torch.device | str = "cpu") -> AssignResult:
        """Every prior background (no ground truth, or no prior can match)."""
        return cls(
            num_gts=num_gts,
            gt_inds=torch.zeros(num_priors, dtype=torch.long, device=device),
            max_overlaps=torch.zeros(num_priors, device=device),
            labels=torch.full((num_priors,), -1, dtype=torch.long, device=device),
        )
