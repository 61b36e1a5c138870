"""Greedy rotated-box NMS and CenterPoint's circle NMS with fixed shapes (ONNX-exportable).

Greedy NMS visits boxes by decreasing score and keeps a box unless a box kept before it overlaps it
by more than the threshold. Written as a loop, the number of iterations depends on the data. Here the
result is computed as the fixed point of

    keep = valid & ~any_i(suppresses[i, j] & keep[i])

where ``suppresses[i, j]`` says that box i comes before box j in the greedy order (higher score, ties
by lower index) and overlaps it by more than the threshold. Starting from ``keep = valid``, after
``t`` iterations the first ``t`` boxes of the greedy order have their final status (box j depends only
on boxes before it, and the first box is never suppressed), so ``K`` iterations give exactly the greedy
result; and since the greedy result is the only fixed point (same induction), eager code stops as soon
as an iteration changes nothing. While tracing, the loop runs the full ``K`` times (fixed shapes; each
iteration is one (K, K) matrix-vector product), or ``max_iters`` times when given.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .iou3d import bev_iou, bev_iou_aligned, is_exporting

__all__ = ["batched_rotated_nms", "circle_nms", "fixed_point_nms", "rotated_nms", "rotated_nms_loop"]


def _precedes(scores: torch.Tensor) -> torch.Tensor:
    """(K, K) ``[i, j]``: box i comes before box j in the greedy order (score descending, ties by index)."""
    index = torch.arange(scores.shape[0], device=scores.device)
    higher = scores[:, None] > scores[None, :]
    tie = (scores[:, None] == scores[None, :]) & (index[:, None] < index[None, :])
    return higher | tie


def fixed_point_nms(
    suppresses: torch.Tensor, valid: torch.Tensor, max_iters: int | None = None
) -> torch.Tensor:
    """The greedy keep mask from a (K, K) ``suppresses[i, j]`` matrix (see the module docstring).

    Args:
        suppresses: (K, K) bool, box i (if kept) removes box j; must only point forward in a strict
            order of the boxes (an acyclic relation).
        valid: (K,) bool, boxes that take part (invalid boxes are neither kept nor suppress).
        max_iters: iterations while tracing (default K: exact for any input).

    Returns:
        (K,) bool keep mask.
    """
    weights = suppresses.to(torch.float32)
    keep = valid
    iterations = suppresses.shape[0] if max_iters is None else max_iters
    tracing = is_exporting()
    for _ in range(iterations):
        suppressed = (keep.to(torch.float32)[None, :] @ weights)[0] > 0
        new_keep = valid & ~suppressed
        if not tracing and torch.equal(new_keep, keep):
            break
        keep = new_keep
    return keep


def _self_iou(boxes: torch.Tensor) -> torch.Tensor:
    """(K, K) BEV IoU of the boxes with each other; exported graphs compute each pair once (i < j)."""
    if not is_exporting():
        return bev_iou(boxes, boxes)  # eager: only the pairs whose bounding circles meet
    with warnings.catch_warnings():  # fixed K: the pair indices are graph constants, on purpose
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        count = int(boxes.shape[0])
        rows, cols = (torch.as_tensor(index, device=boxes.device) for index in np.triu_indices(count, 1))
    upper = boxes.new_zeros((count, count)).index_put((rows, cols), bev_iou_aligned(boxes[rows], boxes[cols]))
    return upper + upper.transpose(0, 1)


def _valid_mask(scores: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    if valid is None:
        return torch.ones_like(scores, dtype=torch.bool)
    return valid.to(torch.bool)


def rotated_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_thr: float,
    valid: torch.Tensor | None = None,
    max_iters: int | None = None,
) -> torch.Tensor:
    """Exact greedy NMS of rotated BEV boxes, as a fixed-shape computation.

    A box is suppressed by a kept box before it in the greedy order whose BEV IoU with it is
    ``> iou_thr`` (MMCV's ``nms_rotated`` rule).

    Args:
        boxes: (K, 5) BEV boxes ``(x, y, dx, dy, yaw)``.
        scores: (K,) scores; ties are broken by the lower index.
        iou_thr: IoU above which the later box is suppressed.
        valid: (K,) bool, rows that take part (default all).
        max_iters: fixed-point iterations while tracing (default K, always exact).

    Returns:
        (K,) bool keep mask in the input order (not sorted by score).
    """
    suppresses = _precedes(scores) & (_self_iou(boxes) > iou_thr)
    return fixed_point_nms(suppresses, _valid_mask(scores, valid), max_iters)


def batched_rotated_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    iou_thr: float,
    valid: torch.Tensor | None = None,
    max_iters: int | None = None,
) -> torch.Tensor:
    """Class-aware :func:`rotated_nms`: a box only suppresses boxes of its own label.

    Args:
        boxes: (K, 5) BEV boxes. scores: (K,). labels: (K,) int. iou_thr, valid, max_iters: as
            :func:`rotated_nms`.

    Returns:
        (K,) bool keep mask in the input order.
    """
    same_label = labels[:, None] == labels[None, :]
    suppresses = _precedes(scores) & same_label & (_self_iou(boxes) > iou_thr)
    return fixed_point_nms(suppresses, _valid_mask(scores, valid), max_iters)


def circle_nms(
    centres: torch.Tensor,
    scores: torch.Tensor,
    min_radius: float,
    valid: torch.Tensor | None = None,
    max_iters: int | None = None,
) -> torch.Tensor:
    """CenterPoint's distance-based NMS: a kept box removes the later boxes whose centres are close.

    As CenterPoint's and MMDetection3D's ``circle_nms``, ``min_radius`` is compared with the SQUARED
    centre distance: box j is suppressed when ``dx ** 2 + dy ** 2 <= min_radius`` (their configs'
    ``min_radius=[4, 12, 10, 1, 0.85, 0.175]`` are thresholds on squared metres).

    Args:
        centres: (K, 2) BEV centres (x, y).
        scores: (K,) scores; ties are broken by the lower index.
        min_radius: the squared-distance threshold.
        valid, max_iters: as :func:`rotated_nms`.

    Returns:
        (K,) bool keep mask in the input order.
    """
    difference = centres[:, None, :] - centres[None, :, :]
    squared_distance = (difference * difference).sum(-1)
    suppresses = _precedes(scores) & (squared_distance <= min_radius)
    return fixed_point_nms(suppresses, _valid_mask(scores, valid), max_iters)


def rotated_nms_loop(
    boxes: torch.Tensor, scores: torch.Tensor, iou_thr: float, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Plain greedy rotated NMS, one box at a time (the reference :func:`rotated_nms` equals).

    Args and returns as :func:`rotated_nms`.
    """
    count = scores.shape[0]
    valid_list = _valid_mask(scores, valid).tolist()
    score_list = scores.tolist()
    order = sorted(range(count), key=lambda index: (-score_list[index], index))
    iou = bev_iou(boxes, boxes).tolist()
    keep = torch.zeros(count, dtype=torch.bool)
    kept: list[int] = []
    for j in order:
        if not valid_list[j]:
            continue
        if all(iou[i][j] <= iou_thr for i in kept):
            kept.append(j)
            keep[j] = True
    return keep
