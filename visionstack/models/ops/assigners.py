"""IoU-based prior assigners: max-IoU (Faster R-CNN, RetinaNet) and ATSS.

Priors and ground truths are (N, 4) / (G, 4) xyxy boxes in image pixels; the result is an
:class:`AssignResult`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...registry import MODELS
from .assign_result import AssignResult
from .boxes import box_iou

__all__ = ["ATSSAssigner", "MaxIoUAssigner"]


def _ignored_priors(
    priors: torch.Tensor, ignore_boxes: torch.Tensor | None, iof_threshold: float
) -> torch.Tensor:
    """(N,) bool: priors that lie more than ``iof_threshold`` inside some ignore region."""
    if ignore_boxes is None or ignore_boxes.numel() == 0 or iof_threshold <= 0:
        return torch.zeros(priors.shape[0], dtype=torch.bool, device=priors.device)
    return box_iou(priors, ignore_boxes, kind="iof").max(dim=1).values > iof_threshold


def _finish(
    num_gts: int, gt_inds: torch.Tensor, overlaps: torch.Tensor, gt_labels: torch.Tensor
) -> AssignResult:
    """Fill ``max_overlaps`` and ``labels`` from ``gt_inds`` and the (G, N) overlaps."""
    positive = gt_inds > 0
    max_overlaps = overlaps.max(dim=0).values.clamp(min=0)
    matched = overlaps[(gt_inds - 1).clamp(min=0), torch.arange(gt_inds.numel(), device=gt_inds.device)]
    max_overlaps = torch.where(positive, matched, max_overlaps)
    labels = torch.full_like(gt_inds, -1)
    labels[positive] = gt_labels.long()[gt_inds[positive] - 1]
    return AssignResult(num_gts=num_gts, gt_inds=gt_inds, max_overlaps=max_overlaps, labels=labels)


@MODELS.register()
class MaxIoUAssigner:
    """Assign each prior to the ground truth it overlaps most (Ren et al., "Faster R-CNN", 3.1.2).

    1. Priors whose best IoU is in the negative range become background (0).
    2. Priors whose best IoU is ``>= pos_iou_thr`` take that ground truth.
    3. With ``match_low_quality``, each ground truth whose best IoU is ``>= min_pos_iou`` also
       takes its best prior (all priors tied at that IoU with ``gt_max_assign_all``), so that no
       object is left without a positive. Later ground truths overwrite earlier ones.
    Everything else is ignored (-1). Priors more than ``ignore_iof_thr`` inside an ignore box are
    ignored as well.

    Args:
        pos_iou_thr: IoU from which a prior is positive.
        neg_iou_thr: priors with best IoU in ``[0, neg_iou_thr)``, or in ``[lo, hi)`` for a pair,
            are negative.
        min_pos_iou: least IoU for a low-quality match.
        gt_max_assign_all: a low-quality match takes every prior tied at the best IoU.
        ignore_iof_thr: IoF above which a prior inside an ignore box is ignored (<= 0: off).
        match_low_quality: enable step 3 (on for RPN and RetinaNet, off for R-CNN stage two).
    """

    def __init__(
        self,
        pos_iou_thr: float,
        neg_iou_thr: float | Sequence[float],
        min_pos_iou: float = 0.0,
        gt_max_assign_all: bool = True,
        ignore_iof_thr: float = -1.0,
        match_low_quality: bool = True,
    ) -> None:
        if isinstance(neg_iou_thr, (int, float)):
            neg_iou_thr = (0.0, float(neg_iou_thr))
        if len(neg_iou_thr) != 2:
            raise ValueError(f"MaxIoUAssigner: neg_iou_thr must be a number or (lo, hi), got {neg_iou_thr!r}")
        self.pos_iou_thr = pos_iou_thr
        self.neg_iou_range = (float(neg_iou_thr[0]), float(neg_iou_thr[1]))
        self.min_pos_iou = min_pos_iou
        self.gt_max_assign_all = gt_max_assign_all
        self.ignore_iof_thr = ignore_iof_thr
        self.match_low_quality = match_low_quality

    def assign(
        self,
        priors: torch.Tensor,
        gt_boxes: torch.Tensor,
        gt_labels: torch.Tensor,
        gt_boxes_ignore: torch.Tensor | None = None,
    ) -> AssignResult:
        """Assign (N, 4) xyxy priors to (G, 4) xyxy ground truths with (G,) labels.

        ``gt_boxes_ignore`` is an optional (I, 4) xyxy set of regions to ignore.
        """
        num_gts, num_priors = gt_boxes.shape[0], priors.shape[0]
        if num_gts == 0 or num_priors == 0:
            return AssignResult.all_negative(num_gts, num_priors, priors.device)
        overlaps = box_iou(gt_boxes, priors)  # (G, N)
        ignored = _ignored_priors(priors, gt_boxes_ignore, self.ignore_iof_thr)
        overlaps[:, ignored] = -1.0
        best_iou, best_gt = overlaps.max(dim=0)
        gt_inds = torch.full((num_priors,), -1, dtype=torch.long, device=priors.device)
        low, high = self.neg_iou_range
        gt_inds[(best_iou >= low) & (best_iou < high)] = 0
        positive = best_iou >= self.pos_iou_thr
        gt_inds[positive] = best_gt[positive] + 1
        if self.match_low_quality:
            self._match_low_quality(overlaps, gt_inds)
        return _finish(num_gts, gt_inds, overlaps, gt_labels)

    def _match_low_quality(self, overlaps: torch.Tensor, gt_inds: torch.Tensor) -> None:
        """Step 3 in place; ground truths in order, so a later one wins a shared prior."""
        gt_best_iou, gt_best_prior = overlaps.max(dim=1)
        for gt_index in range(overlaps.shape[0]):
            if gt_best_iou[gt_index] < self.min_pos_iou:
                continue
            if self.gt_max_assign_all:
                gt_inds[overlaps[gt_index] == gt_best_iou[gt_index]] = gt_index + 1
            else:
                gt_inds[gt_best_prior[gt_index]] = gt_index + 1


@MODELS.register()
class ATSSAssigner:
    """Adaptive Training Sample Selection (Zhang et al., "Bridging the Gap Between Anchor-based and
    Anchor-free Detection", CVPR 2020, Algorithm 1).

    For each ground truth: on every pyramid level take the ``topk`` priors whose centers are
    closest to its center; the IoU threshold is the mean plus the (unbiased) standard deviation of
    these candidates' IoUs; candidates at or above it whose centers lie inside the box (by more
    than 0.01 px) are positive. A prior positive for several ground truths takes the one of highest
    IoU. All other priors are negative; priors inside ignore boxes are ignored.

    Args:
        topk: candidates per level and ground truth (9 in the paper).
        ignore_iof_thr: IoF above which a prior inside an ignore box is ignored (<= 0: off).
    """

    def __init__(self, topk: int = 9, ignore_iof_thr: float = -1.0) -> None:
        if topk < 1:
            raise ValueError(f"ATSSAssigner: topk must be >= 1, got {topk}")
        self.topk = topk
        self.ignore_iof_thr = ignore_iof_thr

    def assign(
        self,
        priors: torch.Tensor,
        num_level_priors: Sequence[int],
        gt_boxes: torch.Tensor,
        gt_labels: torch.Tensor,
        gt_boxes_ignore: torch.Tensor | None = None,
    ) -> AssignResult:
        """Assign (N, 4) xyxy priors, concatenated level by level with ``num_level_priors`` per
        level, to (G, 4) xyxy ground truths with (G,) labels."""
        num_gts, num_priors = gt_boxes.shape[0], priors.shape[0]
        if sum(num_level_priors) != num_priors:
            raise ValueError(
                f"ATSSAssigner: num_level_priors sum to {sum(num_level_priors)}, priors are {num_priors}"
            )
        if num_gts == 0 or num_priors == 0:
            return AssignResult.all_negative(num_gts, num_priors, priors.device)
        overlaps = box_iou(gt_boxes, priors)  # (G, N)
        prior_centers = (priors[:, :2] + priors[:, 2:]) / 2
        gt_centers = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
        distances = torch.cdist(gt_centers.double(), prior_centers.double())  # (G, N)
        ignored = _ignored_priors(priors, gt_boxes_ignore, self.ignore_iof_thr)
        distances[:, ignored] = float("inf")
        candidates = self._closest_per_level(distances, num_level_priors)  # (G, L * k)
        candidate_ious = overlaps.gather(1, candidates)
        threshold = candidate_ious.mean(dim=1) + candidate_ious.std(dim=1)
        centers = prior_centers[candidates]  # (G, L * k, 2)
        inside = torch.cat([centers - gt_boxes[:, None, :2], gt_boxes[:, None, 2:] - centers], dim=-1)
        is_positive = (candidate_ious >= threshold[:, None]) & (inside.min(dim=-1).values > 0.01)
        is_positive &= ~ignored[candidates]
        # A prior chosen by several ground truths goes to the one it overlaps most.
        positive_ious = torch.full_like(overlaps, -1.0)
        gt_rows = torch.arange(num_gts, device=priors.device)[:, None].expand_as(candidates)
        positive_ious[gt_rows[is_positive], candidates[is_positive]] = candidate_ious[is_positive]
        best_iou, best_gt = positive_ious.max(dim=0)
        gt_inds = torch.where(best_iou >= 0, best_gt + 1, torch.zeros_like(best_gt))
        gt_inds[ignored] = -1
        return _finish(num_gts, gt_inds, overlaps, gt_labels)

    def _closest_per_level(self, distances: torch.Tensor, num_level_priors: Sequence[int]) -> torch.Tensor:
        """(G, N) center distances -> (G, sum_l min(k, N_l)) indices of the closest priors per level."""
        candidates, start = [], 0
        for count in num_level_priors:
            if count:
                k = min(self.topk, count)
                closest = distances[:, start : start + count].topk(k, dim=1, largest=False).indices
                candidates.append(closest + start)
            start += count
        return torch.cat(candidates, dim=1)
