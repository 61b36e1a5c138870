"""Non-maximum suppression: greedy NMS, class-aware (batched) NMS and Soft-NMS, in pure PyTorch.

Boxes are (N, 4) xyxy in absolute pixels; a box is suppressed by a higher-scoring kept box when
their IoU is strictly greater than ``iou_threshold`` (the rule of torchvision and OpenCV). Equal
scores keep their input order (stable sort), so the lower index wins a tie.

Greedy NMS is sequential by definition, but its answer is the unique solution of
``keep[i] = not any(keep[j] and IoU(j, i) > t for j before i)`` (boxes in decreasing score). The
matrix rounds find it without a Python loop over boxes: starting from "keep all", each round
recomputes every ``keep[i]`` from the previous round with one matrix product over the overlap
matrix. After round r the first r boxes (and every box whose chain of overlapping, higher-scoring
boxes is shorter than r) are final, so the rounds stop at a fixed point, which is the greedy answer;
real detections settle in a few rounds, and a grid that has not after :data:`MAX_ROUNDS` is
finished one box at a time. ``batched_nms`` lays small categories out as one (categories, boxes
per category, 4) grid and settles them all together that way, where a Python pass per category
would cost more than the arithmetic; a large category goes through ``nms``, which works in blocks
of score-sorted boxes, settles a block one box at a time (cheap: a NumPy row update per kept box)
and lets the kept boxes of a block suppress the later blocks at once.
"""

from __future__ import annotations

from typing import Literal

import torch

from .boxes import box_iou

__all__ = ["batched_nms", "nms", "soft_nms"]

#: batched NMS lays the categories out as one grid when none has more boxes than this ...
GRID_GROUP_SIZE = 256
#: ... and the grid's overlap matrices have at most this many entries; else it loops over categories
PAIR_BUDGET = 1 << 22
#: matrix rounds before a block is settled by the sequential pass instead
MAX_ROUNDS = 24


def nms(
    boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, chunk_size: int = 1024
) -> torch.Tensor:
    """Greedy non-maximum suppression.

    Boxes are visited in decreasing score; a box is kept unless a kept box overlaps it with IoU
    above the threshold. The IoU is computed in blocks of ``chunk_size`` boxes: a pass over a block's
    boolean overlap matrix settles it one box at a time (a NumPy row update per kept box, about a
    microsecond), and its kept boxes then suppress all later boxes at once, so memory is
    O(chunk_size * N).

    Args:
        boxes: (N, 4) xyxy, absolute pixels.
        scores: (N,) scores.
        iou_threshold: boxes with IoU > this with a kept, higher-scoring box are removed.
        chunk_size: boxes per block of the blocked path.

    Returns:
        (K,) int64 indices into ``boxes`` of the kept boxes, in decreasing score.
    """
    _check_boxes_and_scores("nms", boxes, scores)
    if boxes.shape[0] == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    return order[_blocked_greedy(boxes[order], iou_threshold, chunk_size)]


def _iou_above(
    boxes1: torch.Tensor, boxes2: torch.Tensor, iou_threshold: float, eps: float = 1e-6
) -> torch.Tensor:
    """``box_iou(boxes1, boxes2) > iou_threshold`` for (..., N, 4) and (..., M, 4) boxes -> (..., N, M) bool.

    The same operations in the same order as :func:`~visionstack.models.ops.box_iou`, so the same
    bits, but in place where it can: four (N, M) buffers instead of a dozen, which on CPUs saves
    more time (fresh pages) than the arithmetic takes.
    """
    # contiguous coordinate columns: broadcasting them is several times faster than strided ones
    ax1, ay1, ax2, ay2 = (value.contiguous()[..., :, None] for value in boxes1.unbind(-1))
    bx1, by1, bx2, by2 = (value.contiguous()[..., None, :] for value in boxes2.unbind(-1))
    area1 = (ax2 - ax1).clamp(min=0) * (ay2 - ay1).clamp(min=0)
    area2 = (bx2 - bx1).clamp(min=0) * (by2 - by1).clamp(min=0)
    inter = torch.minimum(ax2, bx2).sub_(torch.maximum(ax1, bx1)).clamp_(min=0)
    height = torch.minimum(ay2, by2).sub_(torch.maximum(ay1, by1)).clamp_(min=0)
    inter.mul_(height)
    union = torch.add(area1, area2, out=height).sub_(inter).clamp_(min=eps)
    return inter.div_(union) > iou_threshold


def _settle(overlap: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Greedy NMS of each group of a score-sorted (G, M, M) bool overlap matrix.

    ``candidates`` (G, M) marks the boxes that may be kept (padding and boxes already suppressed are
    False; they suppress nothing). Returns the (G, M) bool kept mask: by the matrix rounds of the
    module docstring, or, when they have not settled after :data:`MAX_ROUNDS`, by a sequential pass.
    """
    size = overlap.shape[-1]
    # suppressors[g, j, i]: box j would suppress box i (j comes first, overlaps it, may be kept)
    suppressors = overlap & torch.ones(size, size, dtype=torch.bool, device=overlap.device).triu(1)
    suppressors &= candidates[:, :, None]
    weights = suppressors.to(torch.float32)  # counts of kept suppressors are exact below 2**24
    keep = candidates
    for _ in range(MAX_ROUNDS):
        settled = candidates & ~(torch.bmm(keep[:, None, :].to(torch.float32), weights)[:, 0] > 0)
        if torch.equal(settled, keep):
            return keep
        keep = settled
    return torch.stack(
        [_sequential(group, alive) for group, alive in zip(suppressors.cpu(), candidates.cpu())]
    ).to(overlap.device)


def _sequential(overlap: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """The greedy pass one box at a time over a score-sorted (M, M) bool overlap matrix (only the
    part above the diagonal is read) and (M,) candidates -> (M,) bool kept. Runs on NumPy views,
    where a row update costs about a microsecond."""
    rows = overlap.cpu().numpy()
    removed = (~candidates).cpu().numpy()
    for i in range(removed.shape[0]):
        if not removed[i]:
            removed[i + 1 :] |= rows[i, i + 1 :]
    return torch.from_numpy(~removed).to(overlap.device)


def _blocked_greedy(sorted_boxes: torch.Tensor, iou_threshold: float, chunk_size: int) -> torch.Tensor:
    """(N,) bool kept mask of score-sorted boxes, block by block (see :func:`nms`)."""
    num = sorted_boxes.shape[0]
    suppressed = torch.zeros(num, dtype=torch.bool, device=sorted_boxes.device)
    for start in range(0, num, chunk_size):
        end = min(start + chunk_size, num)
        block_overlap = _iou_above(sorted_boxes[start:end], sorted_boxes[start:end], iou_threshold)
        keep_block = _sequential(block_overlap, ~suppressed[start:end])
        kept_in_block = torch.nonzero(keep_block).flatten() + start
        suppressed[start:end] = ~keep_block
        if end < num and kept_in_block.numel():
            later_overlap = _iou_above(sorted_boxes[kept_in_block], sorted_boxes[end:], iou_threshold)
            suppressed[end:] |= later_overlap.any(dim=0)
    return ~suppressed


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """NMS done independently per category: boxes of different ``idxs`` never suppress each other.

    The boxes are grouped by category (decreasing score inside each group). When no category has
    more than :data:`GRID_GROUP_SIZE` boxes (and the grid stays within :data:`PAIR_BUDGET` overlap
    entries) the groups form one padded (categories, largest group, 4) grid whose overlap matrices
    are settled together by the matrix rounds of the module docstring; otherwise each category goes
    through :func:`nms` on its own (its IoU blocks then stay small).

    Args:
        boxes: (N, 4) xyxy, absolute pixels.
        scores: (N,) scores.
        idxs: (N,) int64 category (or image) of each box.
        iou_threshold: IoU above which a lower-scoring box of the same category is removed.

    Returns:
        (K,) int64 indices of the kept boxes, in decreasing score (equal scores in index order).
    """
    _check_boxes_and_scores("batched_nms", boxes, scores)
    if idxs.shape != scores.shape:
        raise ValueError(f"batched_nms: idxs must have shape {tuple(scores.shape)}, got {tuple(idxs.shape)}")
    num = boxes.shape[0]
    if num == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    categories, by_category = torch.sort(idxs[order], stable=True)
    members = order[by_category]  # grouped by category, decreasing score inside a group
    counts = torch.unique_consecutive(categories, return_counts=True)[1]
    groups, size = counts.numel(), int(counts.max())
    keep_mask = torch.zeros(num, dtype=torch.bool, device=boxes.device)
    starts = torch.cumsum(counts, 0) - counts
    if size <= GRID_GROUP_SIZE and groups * size * size <= PAIR_BUDGET:
        group = torch.repeat_interleave(torch.arange(groups, device=boxes.device), counts)
        position = torch.arange(num, device=boxes.device) - starts[group]
        grid = boxes.new_zeros(groups, size, 4)
        grid[group, position] = boxes[members]
        valid = torch.zeros(groups, size, dtype=torch.bool, device=boxes.device)
        valid[group, position] = True
        overlap = _iou_above(grid, grid, iou_threshold)
        keep_mask[members[_settle(overlap, valid)[group, position]]] = True
    else:
        for start, count in zip(starts.tolist(), counts.tolist()):
            group_members = members[start : start + count]
            keep_mask[group_members[nms(boxes[group_members], scores[group_members], iou_threshold)]] = True
    return order[keep_mask[order]]


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
