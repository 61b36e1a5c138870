"""Detection post-processing: score threshold, class-aware NMS and the per-image cap, and a top-k
whose ties follow ONNX ``TopK``."""

from __future__ import annotations

import torch

from .nms import batched_nms

__all__ = ["multiclass_nms", "stable_topk"]


def multiclass_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    score_thr: float,
    iou_threshold: float,
    max_per_img: int = -1,
    score_factors: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class NMS over dense predictions of one image.

    Every (box, class) pair whose score exceeds ``score_thr`` is a candidate; NMS runs within each
    class; the survivors of all classes are sorted by score and the first ``max_per_img`` kept.
    ``score_factors`` (e.g. FCOS centerness, YOLO objectness) multiply the scores *after* the
    threshold (MMDetection's order, which keeps more candidates).

    Args:
        boxes: (N, 4) xyxy shared by all classes, or (N, C, 4) one box per class; image pixels.
        scores: (N, C) per-class scores, no background column.
        score_thr: candidates need a score strictly above this.
        iou_threshold: NMS IoU threshold.
        max_per_img: at most this many detections (<= 0: no cap).
        score_factors: optional (N,) factors.

    Returns:
        ``(dets, labels)``: (K, 5) ``[x1, y1, x2, y2, score]`` in decreasing score, and (K,) int64
        classes.
    """
    num_boxes, num_classes = scores.shape
    if boxes.ndim == 2:
        if boxes.shape != (num_boxes, 4):
            raise ValueError(
                f"multiclass_nms: boxes must be ({num_boxes}, 4) or ({num_boxes}, C, 4), got {tuple(boxes.shape)}"
            )
        boxes = boxes[:, None, :].expand(num_boxes, num_classes, 4)
    elif boxes.shape != (num_boxes, num_classes, 4):
        raise ValueError(
            f"multiclass_nms: boxes must be ({num_boxes}, {num_classes}, 4), got {tuple(boxes.shape)}"
        )
    labels = torch.arange(num_classes, device=scores.device).expand(num_boxes, num_classes)
    valid = scores > score_thr
    if score_factors is not None:
        scores = scores * score_factors[:, None]
    boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
    if scores.numel() == 0:
        return boxes.new_zeros(0, 5), labels.new_zeros(0)
    keep = batched_nms(boxes, scores, labels, iou_threshold)
    if max_per_img > 0:
        keep = keep[:max_per_img]
    return torch.cat([boxes[keep], scores[keep, None]], dim=1), labels[keep]


def stable_topk(values: torch.Tensor, k: int | torch.SymInt) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest values of each row, equal values in index order.

    ONNX ``TopK`` breaks ties by the lower index; ``torch.topk`` leaves their order unspecified. In
    eager PyTorch the ``k``-th largest value of a row is found by ``topk``, and the row's values at
    or above it (``k`` of them, more only on a tie at the cut) are sorted stably, so the result is
    that of a stable sort at the cost of a top-k. While ``torch.export`` traces, this is ``topk``,
    which the exporter writes as ONNX ``TopK``.

    Args:
        values: (B, N) values, no NaN.
        k: how many to keep per row, ``0 <= k <= N``.

    Returns:
        ``(top (B, k), index (B, k) int64)``: each row's largest values in decreasing order and their
        column indices.
    """
    if torch.compiler.is_exporting():
        return values.topk(k, dim=1)
    if k == 0:
        return values[:, :0], torch.zeros(values.shape[0], 0, dtype=torch.long, device=values.device)
    cut = values.topk(k, dim=1).values[:, -1]
    rows = []
    for row, lowest in zip(values, cut):
        candidates = torch.nonzero(row >= lowest).flatten()  # index order
        order = torch.sort(row[candidates], descending=True, stable=True).indices[:k]
        rows.append(candidates[order])
    index = torch.stack(rows) if rows else torch.zeros(0, k, dtype=torch.long, device=values.device)
    return values.gather(1, index), index
