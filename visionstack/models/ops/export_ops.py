"""Operators with fixed output shapes whose ONNX form is one standard node: per-class NMS to a fixed
number of detections (:func:`nms_topk`) and RoIAlign (:func:`onnx_roi_align`).

Each is a ``torch.library`` custom op. In eager PyTorch it runs this package's own implementation
(:func:`~visionstack.models.ops.batched_nms`, :func:`~visionstack.models.ops.roi_align`), and the
detection heads call it on their one inference path, eager ``predict`` and the exported graph alike;
the exporter replaces it by ONNX ``NonMaxSuppression`` (+ ``TopK``) or ``RoiAlign`` through
:data:`~visionstack.models.ops.onnx_translations.ONNX_TRANSLATIONS`. Both have fixed output shapes
(the maximum number of detections, the number of RoIs), which keeps ``torch.export`` free of
data-dependent sizes.

This module needs torch only: the ONNX translations (``onnxscript``, slow to import) live in
:mod:`~visionstack.models.ops.onnx_translations`, which only the export layer imports.
"""

from __future__ import annotations

import torch

from .nms import batched_nms
from .roi_align import roi_align

__all__ = ["nms_topk", "onnx_roi_align"]


@torch.library.custom_op("visionstack::nms_topk", mutates_args=())
def nms_topk(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    iou_threshold: float,
    score_threshold: float,
    max_num: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class NMS over candidates of each image, then the ``max_num`` best survivors.

    Args:
        boxes: (B, N, 4) xyxy candidates.
        scores: (B, N) their scores; a candidate needs a score strictly above ``score_threshold``.
        labels: (B, N) int64 class of each candidate in ``[0, num_classes)``: boxes of different
            classes never suppress each other (also used with pyramid levels as "classes").
        num_classes: number of classes (the ONNX graph builds (B, num_classes, N) scores).
        iou_threshold: IoU above which the lower-scoring box of a class is removed.
        score_threshold: strict lower bound on scores.
        max_num: detections kept per image.

    Returns:
        ``(kept_scores (B, max_num), kept_index (B, max_num))`` in decreasing score; rows past the
        last survivor have score -1 and index 0.
    """
    batch, count = scores.shape
    kept_scores = scores.new_full((batch, max_num), -1.0)
    kept_index = torch.zeros(batch, max_num, dtype=torch.long, device=scores.device)
    for image in range(batch):
        valid = torch.nonzero(scores[image] > score_threshold).flatten()
        keep = valid[
            batched_nms(boxes[image, valid], scores[image, valid], labels[image, valid], iou_threshold)
        ]
        keep = keep[:max_num]
        kept_scores[image, : keep.numel()] = scores[image, keep]
        kept_index[image, : keep.numel()] = keep
    return kept_scores, kept_index


@nms_topk.register_fake
def _nms_topk_fake(boxes, scores, labels, num_classes, iou_threshold, score_threshold, max_num):
    batch = scores.shape[0]
    return scores.new_empty(batch, max_num), scores.new_empty(batch, max_num, dtype=torch.long)


@torch.library.custom_op("visionstack::roi_align", mutates_args=())
def onnx_roi_align(
    features: torch.Tensor,
    rois: torch.Tensor,
    output_size: int,
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool,
) -> torch.Tensor:
    """:func:`~visionstack.models.ops.roi_align` (rois (K, 5) ``[image, x1, y1, x2, y2]``) as one op."""
    return roi_align(features, rois, output_size, spatial_scale, sampling_ratio, aligned)


@onnx_roi_align.register_fake
def _roi_align_fake(features, rois, output_size, spatial_scale, sampling_ratio, aligned):
    return features.new_empty(rois.shape[0], features.shape[1], output_size, output_size)
