"""Box coders: the regression targets a head learns, and their inverse.

``encode(priors, gt_boxes) -> targets`` and ``decode(priors, predictions, max_shape) -> boxes``;
boxes are (..., 4) xyxy in absolute pixels. ``max_shape`` is one image's ``(height, width)``, or, for
batched (B, ..., 4) boxes in an exported graph, a (B, 2) tensor of per-image ``[height, width]``
(see :func:`clip_to_shape`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ...registry import MODELS
from .boxes import box_cxcywh_to_xyxy, box_xyxy_to_cxcywh, clip_boxes

__all__ = ["DeltaXYWHBBoxCoder", "DistancePointBBoxCoder", "clip_to_shape"]

MaxShape = Sequence[int] | torch.Tensor


def clip_to_shape(boxes: torch.Tensor, max_shape: MaxShape) -> torch.Tensor:
    """Clamp xyxy boxes to ``[0, width] x [0, height]``.

    Args:
        boxes: (..., 4) xyxy boxes.
        max_shape: ``(height, width)`` of one image (numbers: :func:`clip_boxes`), or a tensor of
            per-image ``[height, width]`` of shape (B, 2) for (B, ..., 4) boxes (or (2,) for any
            boxes). The tensor form uses only tensor ops (``minimum``/``maximum``), so the bounds
            stay graph inputs when exported; both forms give the same values.

    Returns:
        (..., 4) clipped boxes.
    """
    if not isinstance(max_shape, torch.Tensor):
        return clip_boxes(boxes, max_shape)
    if max_shape.shape[-1] != 2 or max_shape.ndim > boxes.ndim - 1:
        raise ValueError(
            f"clip_to_shape: a tensor max_shape must be (2,) or (B, 2) [height, width] for (B, ..., 4) boxes, "
            f"got {tuple(max_shape.shape)} for boxes {tuple(boxes.shape)}"
        )
    width_height = max_shape.to(boxes.dtype).flip(-1)
    bounds = torch.cat([width_height, width_height], dim=-1)  # (..., 4) [w, h, w, h]
    if bounds.ndim > 1:  # (B, 4) -> (B, 1, ..., 1, 4)
        bounds = bounds.reshape(bounds.shape[:1] + (1,) * (boxes.ndim - 2) + (4,))
    return torch.minimum(torch.clamp(boxes, min=0), bounds)


@MODELS.register()
class DeltaXYWHBBoxCoder:
    """Center/size deltas of R-CNN (Girshick et al., "Rich feature hierarchies", appendix C).

    For a prior (px, py, pw, ph) and a target (gx, gy, gw, gh) in center/size form:
    ``d = ((gx - px) / pw, (gy - py) / ph, log(gw / pw), log(gh / ph))``, then normalised as
    ``(d - target_means) / target_stds`` (Faster R-CNN's second stage uses stds (0.1, 0.1, 0.2, 0.2)).

    Args:
        target_means: means subtracted from the deltas.
        target_stds: the deltas are divided by these.
        clip_border: clip decoded boxes to ``max_shape`` when it is given.
        add_ctr_clamp: clamp the decoded center shift to ``[-ctr_clamp, ctr_clamp]`` pixels (and
            only the upper end of the size deltas), as MMDetection does for some one-stage heads.
        ctr_clamp: largest center shift in pixels when ``add_ctr_clamp``.
        wh_ratio_clip: the size deltas are clamped to ``|log(wh_ratio_clip)|`` so that ``exp``
            cannot overflow (default 16 / 1000: a box grows at most 62.5 times).
    """

    def __init__(
        self,
        target_means: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
        target_stds: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
        clip_border: bool = True,
        add_ctr_clamp: bool = False,
        ctr_clamp: float = 32.0,
        wh_ratio_clip: float = 16 / 1000,
    ) -> None:
        if len(target_means) != 4 or len(target_stds) != 4:
            raise ValueError("DeltaXYWHBBoxCoder: target_means and target_stds need 4 values each")
        self.target_means = tuple(float(m) for m in target_means)
        self.target_stds = tuple(float(s) for s in target_stds)
        self.clip_border = clip_border
        self.add_ctr_clamp = add_ctr_clamp
        self.ctr_clamp = ctr_clamp
        self.wh_ratio_clip = wh_ratio_clip

    def encode(self, priors: torch.Tensor, gt_boxes: torch.Tensor) -> torch.Tensor:
        """(..., 4) xyxy priors and matched (..., 4) xyxy targets -> (..., 4) normalised deltas."""
        if priors.shape != gt_boxes.shape:
            raise ValueError(
                f"DeltaXYWHBBoxCoder.encode: shapes differ, {tuple(priors.shape)} vs {tuple(gt_boxes.shape)}"
            )
        prior = box_xyxy_to_cxcywh(priors)
        target = box_xyxy_to_cxcywh(gt_boxes)
        deltas = torch.cat(
            [
                (target[..., :2] - prior[..., :2]) / prior[..., 2:],
                torch.log(target[..., 2:] / prior[..., 2:]),
            ],
            dim=-1,
        )
        return (deltas - deltas.new_tensor(self.target_means)) / deltas.new_tensor(self.target_stds)

    def decode(
        self, priors: torch.Tensor, deltas: torch.Tensor, max_shape: MaxShape | None = None
    ) -> torch.Tensor:
        """Apply (..., 4) normalised deltas to (..., 4) xyxy priors.

        Args:
            priors: (..., 4) xyxy.
            deltas: (..., 4) predicted deltas (broadcastable with ``priors``).
            max_shape: ``(height, width)`` to clip to when ``clip_border``, or a (B, 2) tensor of
                per-image ``[height, width]`` for (B, ..., 4) boxes (:func:`clip_to_shape`).

        Returns:
            (..., 4) xyxy boxes.
        """
        deltas = deltas * deltas.new_tensor(self.target_stds) + deltas.new_tensor(self.target_means)
        prior = box_xyxy_to_cxcywh(priors)
        center_shift = prior[..., 2:] * deltas[..., :2]
        size_delta = deltas[..., 2:]
        max_ratio = abs(math.log(self.wh_ratio_clip))
        if self.add_ctr_clamp:
            center_shift = center_shift.clamp(-self.ctr_clamp, self.ctr_clamp)
            size_delta = size_delta.clamp(max=max_ratio)
        else:
            size_delta = size_delta.clamp(-max_ratio, max_ratio)
        boxes = box_cxcywh_to_xyxy(
            torch.cat([prior[..., :2] + center_shift, prior[..., 2:] * torch.exp(size_delta)], dim=-1)
        )
        if self.clip_border and max_shape is not None:
            boxes = clip_to_shape(boxes, max_shape)
        return boxes


@MODELS.register()
class DistancePointBBoxCoder:
    """Distances from a point to the four sides of a box (FCOS, Tian et al., ICCV 2019, eq. 1).

    A point (x, y) and a box (x1, y1, x2, y2) give ``(x - x1, y - y1, x2 - x, y2 - y)``
    ("left, top, right, bottom").

    Args:
        clip_border: clip decoded boxes to ``max_shape`` when it is given.
    """

    def __init__(self, clip_border: bool = True) -> None:
        self.clip_border = clip_border

    def encode(
        self,
        points: torch.Tensor,
        gt_boxes: torch.Tensor,
        max_distance: float | None = None,
        eps: float = 0.1,
    ) -> torch.Tensor:
        """(..., 2) points and (..., 4) xyxy boxes -> (..., 4) ltrb distances.

        With ``max_distance`` the distances are clamped to ``[0, max_distance - eps]`` (GFL's
        discretised distances need targets strictly below the last bin).
        """
        distances = torch.cat([points - gt_boxes[..., :2], gt_boxes[..., 2:] - points], dim=-1)
        if max_distance is not None:
            distances = distances.clamp(0, max_distance - eps)
        return distances

    def decode(
        self, points: torch.Tensor, distances: torch.Tensor, max_shape: MaxShape | None = None
    ) -> torch.Tensor:
        """(..., 2) points and (..., 4) ltrb distances -> (..., 4) xyxy boxes, clipped to
        ``max_shape = (height, width)`` (or a (B, 2) tensor of them, :func:`clip_to_shape`) when given
        and ``clip_border``."""
        boxes = torch.cat([points - distances[..., :2], points + distances[..., 2:]], dim=-1)
        if self.clip_border and max_shape is not None:
            boxes = clip_to_shape(boxes, max_shape)
        return boxes
