"""ONNX translations of the operators of :mod:`visionstack.models.ops.export_ops`.

``torch.onnx.export`` (the ``torch.export``-based exporter) takes :data:`ONNX_TRANSLATIONS` as its
``custom_translation_table``: ``visionstack::nms_topk`` becomes ONNX ``NonMaxSuppression`` + ``TopK``
and ``visionstack::roi_align`` becomes ``RoiAlign``. Importing this module imports ``onnxscript``;
the operators themselves do not need it.
"""

from __future__ import annotations

import torch
from onnxscript import opset18 as op

from . import export_ops  # noqa: F401  (registers the visionstack:: operators translated here)

__all__ = ["ONNX_TRANSLATIONS"]


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
