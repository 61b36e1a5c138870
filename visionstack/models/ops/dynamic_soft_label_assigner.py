"""RTMDet's dynamic soft-label assigner (Lyu et al., "RTMDet", 2022, section 3.2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...registry import MODELS
from .assign_result import AssignResult
from .boxes import box_iou

__all__ = ["DynamicSoftLabelAssigner"]

_LOG_EPS = 1e-7


@MODELS.register()
class DynamicSoftLabelAssigner:
    """Match predictions to ground truths by a cost of their current quality (SimOTA-like).

    Only priors whose point lies inside at least one ground-truth box are candidates. For a
    candidate i and ground truth j the cost is

    * soft classification: ``BCE(logit_i, IoU_ij * onehot_j) * |IoU_ij * onehot_j - sigmoid(logit_i)|^2``
      summed over classes (the IoU is the soft label, the quality-focal weight),
    * regression: ``-log(IoU_ij) * iou_weight``,
    * soft center prior: ``10 ** (distance(point_i, center_j) / stride_i - soft_center_radius)``.

    Each ground truth takes its ``k_j`` cheapest candidates, with the dynamic
    ``k_j = max(1, int(sum of its topk largest IoUs))``; a candidate taken by several ground truths
    keeps the cheapest one.

    Args:
        soft_center_radius: the distance (in strides) where the center prior costs 1.
        topk: how many IoUs are summed for the dynamic k.
        iou_weight: weight of the regression cost.
    """

    def __init__(self, soft_center_radius: float = 3.0, topk: int = 13, iou_weight: float = 3.0) -> None:
        self.soft_center_radius = soft_center_radius
        self.topk = topk
        self.iou_weight = iou_weight

    @torch.no_grad()
    def assign(
        self,
        pred_logits: torch.Tensor,
        pred_boxes: torch.Tensor,
        priors: torch.Tensor,
        gt_boxes: torch.Tensor,
        gt_labels: torch.Tensor,
    ) -> AssignResult:
        """Assign predictions to ground truths.

        Args:
            pred_logits: (N, C) classification logits (before sigmoid).
            pred_boxes: (N, 4) decoded xyxy predictions, image pixels.
            priors: (N, 4) ``(x, y, stride_w, stride_h)`` from
                ``MlvlPointGenerator.grid_priors(..., with_stride=True)``.
            gt_boxes: (G, 4) xyxy, image pixels.
            gt_labels: (G,) int64 classes.

        Returns:
            The assignment; ``max_overlaps`` holds each positive's IoU with its ground truth.
        """
        num_gts, num_priors = gt_boxes.shape[0], priors.shape[0]
        result = AssignResult.all_negative(num_gts, num_priors, priors.device)
        if num_gts == 0 or num_priors == 0:
            return result
        points = priors[:, :2]
        inside = torch.cat(
            [points[:, None] - gt_boxes[None, :, :2], gt_boxes[None, :, 2:] - points[:, None]], -1
        )
        candidate = inside.min(dim=-1).values.gt(0).any(dim=1)  # (N,)
        if not candidate.any():
            return result
        ious = box_iou(pred_boxes[candidate], gt_boxes)  # (V, G)
        cost = self._cost(pred_logits[candidate], priors[candidate], ious, gt_boxes, gt_labels)
        matched_gt = self._dynamic_k_matching(cost, ious)  # (V,) gt index or -1
        candidate_index = torch.nonzero(candidate).flatten()
        positive = matched_gt >= 0
        chosen = candidate_index[positive]
        result.gt_inds[chosen] = matched_gt[positive] + 1
        result.labels[chosen] = gt_labels.long()[matched_gt[positive]]
        result.max_overlaps = result.max_overlaps.to(ious.dtype)
        result.max_overlaps[chosen] = ious[positive, matched_gt[positive]]
        return result

    def _cost(
        self,
        logits: torch.Tensor,
        priors: torch.Tensor,
        ious: torch.Tensor,
        gt_boxes: torch.Tensor,
        gt_labels: torch.Tensor,
    ) -> torch.Tensor:
        """(V, G) matching cost of V candidates against G ground truths."""
        gt_centers = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
        distance = torch.cdist(priors[:, :2], gt_centers) / priors[:, 2:3]
        center_prior = torch.pow(10.0, distance - self.soft_center_radius)
        iou_cost = -torch.log(ious + _LOG_EPS) * self.iou_weight
        onehot = F.one_hot(gt_labels.long(), logits.shape[1]).to(logits.dtype)  # (G, C)
        soft_label = onehot[None] * ious[..., None]  # (V, G, C)
        expanded = logits[:, None, :].expand_as(soft_label)
        focal_weight = (soft_label - expanded.sigmoid()).abs().pow(2)
        cls_cost = (
            F.binary_cross_entropy_with_logits(expanded, soft_label, reduction="none") * focal_weight
        ).sum(-1)
        return cls_cost + iou_cost + center_prior

    def _dynamic_k_matching(self, cost: torch.Tensor, ious: torch.Tensor) -> torch.Tensor:
        """(V, G) cost and IoU -> (V,) matched ground truth per candidate (-1: none)."""
        num_candidates, num_gts = cost.shape
        top_ious = ious.topk(min(self.topk, num_candidates), dim=0).values
        dynamic_ks = top_ious.sum(dim=0).int().clamp(min=1).tolist()
        matching = torch.zeros_like(cost, dtype=torch.bool)
        for gt_index, k in enumerate(dynamic_ks):
            cheapest = cost[:, gt_index].topk(k, largest=False).indices
            matching[cheapest, gt_index] = True
        # A candidate chosen by several ground truths keeps only its cheapest one.
        shared = matching.sum(dim=1) > 1
        if shared.any():
            matching[shared] = False
            matching[shared, cost[shared].argmin(dim=1)] = True
        return torch.where(
            matching.any(dim=1), matching.float().argmax(dim=1), torch.full_like(cost[:, 0], -1).long()
        )
