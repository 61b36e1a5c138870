"""Box conversions, areas and overlaps (IoU, GIoU, DIoU, CIoU, IoF).

All boxes are float tensors of shape (..., 4). Unless a function says otherwise they are
``(x1, y1, x2, y2)`` ("xyxy") in absolute pixels, with the width ``x2 - x1`` (no "+1" pixel
convention, as in Detectron2, torchvision and MMDetection 2+). Every function here is made of
differentiable torch operations, so gradients flow to the box coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch

__all__ = [
    "IouKind",
    "aligned_box_iou",
    "box_area",
    "box_cxcywh_to_xyxy",
    "box_iou",
    "box_xywh_to_xyxy",
    "box_xyxy_to_cxcywh",
    "box_xyxy_to_xywh",
    "clip_boxes",
    "scale_boxes",
]

IouKind = Literal["iou", "giou", "diou", "ciou", "iof"]
_IOU_KINDS = ("iou", "giou", "diou", "ciou", "iof")


def box_xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) xyxy -> (..., 4) (center x, center y, width, height)."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)


def box_cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) (center x, center y, width, height) -> (..., 4) xyxy."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def box_xyxy_to_xywh(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) xyxy -> (..., 4) (x1, y1, width, height), the COCO annotation format."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([x1, y1, x2 - x1, y2 - y1], dim=-1)


def box_xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) (x1, y1, width, height) -> (..., 4) xyxy."""
    x1, y1, w, h = boxes.unbind(-1)
    return torch.stack([x1, y1, x1 + w, y1 + h], dim=-1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of (..., 4) xyxy boxes, shape (...). Degenerate boxes (x2 < x1) have area 0."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def clip_boxes(boxes: torch.Tensor, image_shape: Sequence[int]) -> torch.Tensor:
    """Clamp (..., 4) xyxy boxes into an image of ``image_shape = (height, width)``.

    x is clamped to [0, width] and y to [0, height] (boxes cover continuous coordinates, so the
    right edge of the last pixel column is ``width``).
    """
    height, width = image_shape[0], image_shape[1]
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack(
        [x1.clamp(0, width), y1.clamp(0, height), x2.clamp(0, width), y2.clamp(0, height)], dim=-1
    )


def scale_boxes(boxes: torch.Tensor, scale_factor: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Multiply (..., 4) xyxy boxes by ``scale_factor``: a number or ``(scale_w, scale_h)``.

    Mapping predictions from the resized image back to the original one is
    ``scale_boxes(boxes, (1 / scale_w, 1 / scale_h))`` with the pipeline's ``scale_factor`` (w, h).
    """
    factor = torch.as_tensor(scale_factor, dtype=boxes.dtype, device=boxes.device)
    if factor.numel() == 2:
        factor = factor.reshape(2).repeat(2)  # (sw, sh, sw, sh)
    elif factor.numel() != 1:
        raise ValueError(
            f"scale_boxes: scale_factor must be a number or (scale_w, scale_h), got {scale_factor!r}"
        )
    return boxes * factor


def box_iou(
    boxes1: torch.Tensor, boxes2: torch.Tensor, kind: IouKind = "iou", eps: float = 1e-6
) -> torch.Tensor:
    """Pairwise overlaps between two sets of boxes.

    Args:
        boxes1: (N, 4) xyxy, absolute pixels.
        boxes2: (M, 4) xyxy, absolute pixels.
        kind: ``"iou"`` intersection over union; ``"giou"`` generalized IoU, IoU minus the fraction
            of the smallest enclosing box not covered by the union (Rezatofighi et al., CVPR 2019);
            ``"diou"`` IoU minus the squared center distance over the squared diagonal of the
            enclosing box; ``"ciou"`` DIoU minus ``alpha * v`` with the aspect-ratio term ``v``
            (Zheng et al., AAAI 2020; ``alpha`` is a constant in backprop, as in the authors' code);
            ``"iof"`` intersection over the area of ``boxes1`` (used to find boxes inside ignore
            regions).
        eps: lower bound of every denominator, so empty boxes give 0 instead of NaN.

    Returns:
        (N, M) overlaps; IoU and IoF are in [0, 1], GIoU/DIoU in [-1, 1], CIoU in [-2, 1].
    """
    return _overlaps(boxes1[:, None, :], boxes2[None, :, :], kind, eps)


def aligned_box_iou(
    boxes1: torch.Tensor, boxes2: torch.Tensor, kind: IouKind = "iou", eps: float = 1e-6
) -> torch.Tensor:
    """Overlaps of matching rows: ``out[i] = box_iou(boxes1[i:i+1], boxes2[i:i+1], kind)[0, 0]``.

    Args:
        boxes1: (N, 4) xyxy, absolute pixels.
        boxes2: (N, 4) xyxy, absolute pixels.
        kind: see :func:`box_iou`.
        eps: lower bound of every denominator.

    Returns:
        (N,) overlaps.
    """
    if boxes1.shape != boxes2.shape:
        raise ValueError(f"aligned_box_iou: shapes differ, {tuple(boxes1.shape)} vs {tuple(boxes2.shape)}")
    return _overlaps(boxes1, boxes2, kind, eps)


def _overlaps(boxes1: torch.Tensor, boxes2: torch.Tensor, kind: str, eps: float) -> torch.Tensor:
    """Overlap of two broadcastable (..., 4) xyxy tensors, shape the broadcast (...).

    Works coordinate by coordinate: for pairwise overlaps the operands are (N, 1) and (1, M), which
    broadcasts far faster than slicing interleaved (..., 2) pairs.
    """
    if kind not in _IOU_KINDS:
        raise ValueError(f"box_iou: kind must be one of {_IOU_KINDS}, got {kind!r}")
    ax1, ay1, ax2, ay2 = boxes1.unbind(-1)
    bx1, by1, bx2, by2 = boxes2.unbind(-1)
    area1 = (ax2 - ax1).clamp(min=0) * (ay2 - ay1).clamp(min=0)
    area2 = (bx2 - bx1).clamp(min=0) * (by2 - by1).clamp(min=0)
    inter_w = (torch.minimum(ax2, bx2) - torch.maximum(ax1, bx1)).clamp(min=0)
    inter_h = (torch.minimum(ay2, by2) - torch.maximum(ay1, by1)).clamp(min=0)
    inter = inter_w * inter_h
    if kind == "iof":
        return inter / area1.clamp(min=eps)
    union = area1 + area2 - inter
    iou = inter / union.clamp(min=eps)
    if kind == "iou":
        return iou
    enclose_w = (torch.maximum(ax2, bx2) - torch.minimum(ax1, bx1)).clamp(min=0)
    enclose_h = (torch.maximum(ay2, by2) - torch.minimum(ay1, by1)).clamp(min=0)
    if kind == "giou":
        enclose_area = (enclose_w * enclose_h).clamp(min=eps)
        return iou - (enclose_area - union) / enclose_area
    diagonal_sq = (enclose_w**2 + enclose_h**2).clamp(min=eps)
    center_distance_sq = ((ax1 + ax2 - bx1 - bx2) / 2) ** 2 + ((ay1 + ay2 - by1 - by2) / 2) ** 2
    diou = iou - center_distance_sq / diagonal_sq
    if kind == "diou":
        return diou
    return diou - _ciou_penalty(boxes1, boxes2, iou, eps)


def _ciou_penalty(boxes1: torch.Tensor, boxes2: torch.Tensor, iou: torch.Tensor, eps: float) -> torch.Tensor:
    """``alpha * v`` of CIoU: v = 4/pi^2 (atan(w2/h2) - atan(w1/h1))^2, alpha = v / (1 - IoU + v)."""
    w1 = boxes1[..., 2] - boxes1[..., 0]
    h1 = (boxes1[..., 3] - boxes1[..., 1]).clamp(min=eps)
    w2 = boxes2[..., 2] - boxes2[..., 0]
    h2 = (boxes2[..., 3] - boxes2[..., 1]).clamp(min=eps)
    v = (4 / math.pi**2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
    with torch.no_grad():  # alpha is a trade-off weight, not optimised (Zheng et al., section 3.3)
        alpha = v / (1 - iou + v).clamp(min=eps)
    return alpha * v
