"""Operators whose ONNX form is one standard node: NMS to a fixed number of detections and RoIAlign.

Each is a ``torch.library`` custom op: in eager PyTorch it runs this package's own implementation
(:func:`~visionstack.models.ops.batched_nms`, :func:`~visionstack.models.ops.roi_align`), so an
export forward can be checked without ONNX; the exporter replaces it by ONNX ``NonMaxSuppression``
(+ ``TopK``) or ``RoiAlign`` through :data:`ONNX_TRANSLATIONS`. Both have fixed output shapes
(the maximum number of detections, the number of RoIs), which keeps ``torch.export`` free of
data-dependent sizes.
"""

from __future__ import annotations

import torch
from onnxscript import opset18 as op

from ..models.ops import batched_nms, roi_align

__all__ = ["ONNX_TRANSLATIONS", "nms_topk", "onnx_roi_align"]


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


def _nms_topk_onnx(
    boxes, scores, labels, num_classes: int, iou_threshold: float, score_threshold: float, max_num: int
):
    # scores spread over classes: (B, C, N), a candidate's score at its class and -1 elsewhere
    classes = op.Reshape(
        op.Range(op.Constant(value_int=0), op.Constant(value_int=num_classes), op.Constant(value_int=1)),
        op.Constant(value_ints=[1, -1, 1]),
    )
    ones = op.Unsqueeze(labels, op.Constant(value_ints=[1]))
    valid = op.And(
        op.Equal(ones, classes),
        op.Unsqueeze(
            op.Greater(scores, op.Constant(value_float=score_threshold)), op.Constant(value_ints=[1])
        ),
    )
    minus_one = op.Constant(value_float=-1.0)
    spread = op.Where(valid, op.Unsqueeze(scores, op.Constant(value_ints=[1])), minus_one)
    selected = op.NonMaxSuppression(
        boxes,
        spread,
        op.Constant(value_ints=[max_num]),
        op.Constant(value_floats=[iou_threshold]),
        op.Constant(value_floats=[-0.5]),
    )  # (M, 3): image, class, candidate
    image_and_box = op.Gather(selected, op.Constant(value_ints=[0, 2]), axis=1)
    kept = op.GatherND(scores, image_and_box)
    board = op.ScatterND(op.Add(op.Mul(scores, op.Constant(value_float=0.0)), minus_one), image_and_box, kept)
    count = op.Shape(scores, start=1, end=2)
    k = op.Min(count, op.Constant(value_ints=[max_num]))
    values, index = op.TopK(board, k, axis=1)
    zero = op.Constant(value_ints=[0])
    pads = op.Concat(zero, zero, zero, op.Sub(op.Constant(value_ints=[max_num]), k), axis=0)
    values = op.Pad(values, pads, minus_one)
    index = op.Pad(index, pads, op.Constant(value_int=0))
    index = op.Where(op.Greater(values, op.Constant(value_float=-0.5)), index, op.Constant(value_int=0))
    return values, index


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


def _roi_align_onnx(
    features, rois, output_size: int, spatial_scale: float, sampling_ratio: int, aligned: bool
):
    batch_index = op.Cast(op.Gather(rois, op.Constant(value_int=0), axis=1), to=7)  # int64
    boxes = op.Gather(rois, op.Constant(value_ints=[1, 2, 3, 4]), axis=1)
    return op.RoiAlign(
        features,
        boxes,
        batch_index,
        coordinate_transformation_mode="half_pixel" if aligned else "output_half_pixel",
        mode="avg",
        output_height=output_size,
        output_width=output_size,
        sampling_ratio=sampling_ratio,
        spatial_scale=spatial_scale,
    )


ONNX_TRANSLATIONS = {
    torch.ops.visionstack.nms_topk.default: _nms_topk_onnx,
    torch.ops.visionstack.roi_align.default: _roi_align_onnx,
}
