"""Non-maximum suppression: greedy NMS, class-aware (batched) NMS and Soft-NMS, in pure PyTorch.

Boxes are (N, 4) xyxy in absolute pixels; a box is suppressed by a higher-scoring kept box when
their IoU is strictly greater than ``iou_threshold`` (the rule of torchvision and OpenCV). Equal
scores keep their input order (stable sort), so the lower index wins a tie.
"""

from __future__ import annotations

from typing import Literal

import torch

from .boxes import box_iou

__all__ = ["batched_nms", "nms", "soft_nms"]


def nms(
    boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, chunk_size: int = 1024
) -> torch.Tensor:
    """Greedy non-maximum suppression.

    Boxes are visited in decreasing score; a box is kept unless a kept box overlaps it with IoU
    above the threshold. The IoU is computed in blocks of ``chunk_size`` boxes: the greedy pass
    inside a block walks a boolean overlap matrix, and the block's kept boxes then suppress all
    later boxes at once, so memory is O(chunk_size * N) and the work per Python step is small.

    Args:
        boxes: (N, 4) xyxy, absolute pixels.
        scores: (N,) scores.
        iou_threshold: boxes with IoU > this with a kept, higher-scoring box are removed.
        chunk_size: boxes per block.

    Returns:
        (K,) int64 indices into ``boxes`` of the kept boxes, in decreasing score.
    """
    _check_boxes_and_scores("nms", boxes, scores)
    if boxes.shape[0] == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    sorted_boxes = boxes[order]
    num = sorted_boxes.shape[0]
    suppressed = torch.zeros(num, dtype=torch.bool, device=boxes.device)
    for start in range(0, num, chunk_size):
        end = min(start + chunk_size, num)
        block_overlap = box_iou(sorted_boxes[start:end], sorted_boxes[start:end]) > iou_threshold
        keep_block = _greedy_in_block(block_overlap.cpu(), suppressed[start:end].cpu())
        kept_in_block = torch.nonzero(keep_block).flatten().to(boxes.device) + start
        suppressed[start:end] = ~keep_block.to(boxes.device)
        if end < num and kept_in_block.numel():
            later_overlap = box_iou(sorted_boxes[kept_in_block], sorted_boxes[end:]) > iou_threshold
            suppressed[end:] |= later_overlap.any(dim=0)
    return order[~suppressed]


def _greedy_in_block(overlap: torch.Tensor, suppressed: torch.Tensor) -> torch.Tensor:
    """Greedy pass over one score-sorted block: (B, B) bool overlap, (B,) bool already suppressed
    by earlier blocks -> (B,) bool kept. Runs on NumPy views, where a row update costs ~1 us."""
    overlap_np = overlap.numpy()
    removed = suppressed.numpy().copy()
    for i in range(removed.shape[0]):
        if not removed[i]:
            later = overlap_np[i, i + 1 :]
            removed[i + 1 :] |= later
    return torch.from_numpy(~removed)


def batched_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    idxs: torch.Tensor,
    iou_threshold: float,
    per_class_loop_above: int = 4000,
) -> torch.Tensor:
    """NMS done independently per category: boxes of different ``idxs`` never suppress each other.

    Small inputs shift every box by ``idx * (coordinate range + 1)`` so that boxes of different
    categories cannot overlap, and run one :func:`nms`; above ``per_class_loop_above`` boxes a loop
    over categories is faster (the IoU blocks stay small).

    Args:
        boxes: (N, 4) xyxy, absolute pixels.
        scores: (N,) scores.
        idxs: (N,) int64 category (or image) of each box.
        iou_threshold: IoU above which a lower-scoring box of the same category is removed.
        per_class_loop_above: number of boxes from which the per-category loop is used.

    Returns:
        (K,) int64 indices of the kept boxes, in decreasing score.
    """
    _check_boxes_and_scores("batched_nms", boxes, scores)
    if idxs.shape != scores.shape:
        raise ValueError(f"batched_nms: idxs must have shape {tuple(scores.shape)}, got {tuple(idxs.shape)}")
    if boxes.shape[0] == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    if boxes.shape[0] > per_class_loop_above:
        keep_mask = torch.zeros_like(scores, dtype=torch.bool)
        for category in torch.unique(idxs):
            members = torch.nonzero(idxs == category).flatten()
            keep_mask[members[nms(boxes[members], scores[members], iou_threshold)]] = True
        kept = torch.nonzero(keep_mask).flatten()
        return kept[torch.sort(scores[kept], descending=True, stable=True).indices]
    # The offset is computed in float64 so that large category ids do not lose box precision.
    as_double = boxes.double()
    span = as_double.max() - as_double.min() + 1
    shifted = as_double + idxs.double()[:, None] * span
    return nms(shifted, scores, iou_threshold)


def soft_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float = 0.3,
    sigma: float = 0.5,
    min_score: float = 1e-3,
    method: Literal["linear", "gaussian"] = "linear",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-NMS (Bodla et al., "Soft-NMS -- Improving Object Detection With One Line of Code",
    ICCV 2017, Algorithm 1): instead of removing the boxes that overlap the current best box M,
    decay their scores, then pick the next best among the rest.

    ``method="linear"``: ``s_i <- s_i * (1 - IoU(M, b_i))`` when ``IoU >= iou_threshold``;
    ``method="gaussian"``: ``s_i <- s_i * exp(-IoU(M, b_i)^2 / sigma)`` for every remaining box.
    A box whose decayed score drops below ``min_score`` is discarded.

    Args:
        boxes: (N, 4) xyxy, absolute pixels.
        scores: (N,) scores.
        iou_threshold: overlap from which the linear decay applies (unused by ``"gaussian"``).
        sigma: width of the Gaussian decay.
        min_score: boxes whose score falls below this are dropped.
        method: ``"linear"`` or ``"gaussian"``.

    Returns:
        ``(keep, new_scores)``: (K,) int64 indices in selection order and (K,) their decayed scores
        (non-increasing).
    """
    _check_boxes_and_scores("soft_nms", boxes, scores)
    if method not in ("linear", "gaussian"):
        raise ValueError(f"soft_nms: method must be 'linear' or 'gaussian', got {method!r}")
    current = scores.clone()
    alive = torch.nonzero(current >= min_score).flatten()
    keep, kept_scores = [], []
    while alive.numel():
        best = int(torch.argmax(current[alive]))
        chosen = alive[best]
        keep.append(chosen)
        kept_scores.append(current[chosen])
        alive = torch.cat([alive[:best], alive[best + 1 :]])
        if not alive.numel():
            break
        overlap = box_iou(boxes[chosen][None], boxes[alive])[0]
        if method == "linear":
            decay = torch.where(overlap >= iou_threshold, 1 - overlap, torch.ones_like(overlap))
        else:
            decay = torch.exp(-(overlap**2) / sigma)
        current[alive] = current[alive] * decay
        alive = alive[current[alive] >= min_score]
    if not keep:
        return torch.empty(0, dtype=torch.long, device=boxes.device), scores.new_empty(0)
    return torch.stack(keep), torch.stack(kept_scores)


def _check_boxes_and_scores(name: str, boxes: torch.Tensor, scores: torch.Tensor) -> None:
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"{name}: boxes must be (N, 4) xyxy, got shape {tuple(boxes.shape)}")
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f"{name}: scores must be ({boxes.shape[0]},), got shape {tuple(scores.shape)}")
