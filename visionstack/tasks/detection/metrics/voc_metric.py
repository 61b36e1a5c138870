"""PASCAL VOC mean average precision, computed from scratch in NumPy.

The protocol is the VOC devkit's (Everingham et al., "The PASCAL Visual Object Classes Challenge",
IJCV 2010, section 4.2), as MMDetection 3.x runs it (``mmdet/evaluation/functional/mean_ap.py``,
``tpfp_default`` + ``average_precision``):

- per class, all detections of the dataset are ranked by score (stable sort: ties keep dataset
  order); inside an image each detection, in that order, looks at the ground-truth box it overlaps
  most (difficult/ignored boxes included). With IoU >= ``iou_thr`` it is a true positive if that box
  is a normal one not yet taken, a false positive if it was taken (a duplicate), and neither if the
  box is difficult/ignored. Below the threshold it is a false positive.
- recall = TP / (number of non-difficult gts), precision = TP / (TP + FP), cumulated down the ranking.
- AP is the area under the monotone (right-to-left running max) precision envelope (``"area"``,
  VOC2010 and later) or the mean of the best precision at recall >= 0, 0.1, ..., 1 (``"11points"``,
  the VOC2007 test protocol).
- mAP averages AP over the classes that have at least one non-difficult ground-truth box.

Box coordinates: VOC annotations are 1-based inclusive pixel indices, so the devkit measures a
box as ``x2 - x1 + 1`` by ``y2 - y1 + 1``; MMDetection 3.x's VOCMetric keeps that
(``use_legacy_coordinate=True``) and so do we by default (``use_legacy_coordinate=False`` gives the
``x2 - x1`` convention of continuous coordinates). The ``+ 1`` applies to areas and intersections
in the IoU and to the areas compared with ``scale_ranges``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from visionstack.evaluation import BaseMetric, sample_fields
from visionstack.registry import METRICS

__all__ = ["VOCMetric", "voc_box_iou", "match_detections", "average_precision", "voc_average_precisions"]

logger = logging.getLogger(__name__)

EVAL_MODES = ("area", "11points")

_VAL_STEP_OUTPUT = (
    "DataSamples from a detector's val_step with the dataset's gt_instances "
    "(ignored_instances for difficult objects)"
)


def voc_box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray, extra_length: float = 1.0) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes -> (N, M) float64.

    Args:
        extra_length: added to every width and height (1 for VOC's inclusive pixel boxes, 0 otherwise).
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0] + extra_length) * (a[:, 3] - a[:, 1] + extra_length)
    area_b = (b[:, 2] - b[:, 0] + extra_length) * (b[:, 3] - b[:, 1] + extra_length)
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + extra_length
    height = (
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + extra_length
    )
    intersection = np.clip(width, 0, None) * np.clip(height, 0, None)
    union = np.maximum(area_a[:, None] + area_b[None, :] - intersection, np.finfo(np.float64).eps)
    return intersection / union


def _box_areas(boxes: np.ndarray, extra_length: float) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return (boxes[:, 2] - boxes[:, 0] + extra_length) * (boxes[:, 3] - boxes[:, 1] + extra_length)


def match_detections(
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    gt_boxes: np.ndarray,
    gt_ignored: np.ndarray,
    iou_thr: float = 0.5,
    area_range: tuple[float, float] | None = None,
    extra_length: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """True/false positive flags of one image's detections of one class (VOC rule, module docstring).

    Args:
        det_boxes: (N, 4) xyxy detections.
        det_scores: (N,) their scores.
        gt_boxes: (M, 4) xyxy ground truth of the class, difficult/ignored ones included.
        gt_ignored: (M,) bool, True for difficult/ignored boxes.
        iou_thr: the IoU a match needs.
        area_range: ``(min_area, max_area)``: ground truth outside it is ignored, and an unmatched
            detection outside it is not a false positive. None: every size counts.
        extra_length: see :func:`voc_box_iou`.

    Returns:
        ``(tp, fp)``: (N,) float64 0/1 flags in the input order of the detections.
    """
    num_dets = len(det_scores)
    tp, fp = np.zeros(num_dets), np.zeros(num_dets)
    ignored = np.asarray(gt_ignored, dtype=bool).copy()
    if area_range is not None:
        gt_areas = _box_areas(gt_boxes, extra_length)
        ignored |= (gt_areas < area_range[0]) | (gt_areas >= area_range[1])
        det_areas = _box_areas(det_boxes, extra_length)
        det_in_range = (det_areas >= area_range[0]) & (det_areas < area_range[1])
    else:
        det_in_range = np.ones(num_dets, dtype=bool)
    if len(gt_boxes) == 0:
        fp[det_in_range] = 1
        return tp, fp
    ious = voc_box_iou(det_boxes, gt_boxes, extra_length)
    best_gt, best_iou = ious.argmax(axis=1), ious.max(axis=1)
    taken = np.zeros(len(gt_boxes), dtype=bool)
    for i in np.argsort(-np.asarray(det_scores), kind="stable"):
        if best_iou[i] >= iou_thr:
            gt = best_gt[i]
            if ignored[gt]:
                continue  # a difficult/ignored box: neither TP nor FP
            if taken[gt]:
                fp[i] = 1  # a duplicate of an already matched box
            else:
                taken[gt], tp[i] = True, 1
        elif det_in_range[i]:
            fp[i] = 1
    return tp, fp


def average_precision(recalls: np.ndarray, precisions: np.ndarray, mode: str = "area") -> float:
    """AP of one ranked list from its cumulative recall/precision (N,) arrays.

    Args:
        recalls: non-decreasing recall after each detection.
        precisions: precision after each detection.
        mode: ``"area"``: area under the monotone precision envelope, summed where recall changes
            (VOC2010+); ``"11points"``: mean over r in {0, 0.1, ..., 1} of the highest precision
            at recall >= r (0 when recall never reaches r) (VOC2007).
    """
    recalls, precisions = np.asarray(recalls, dtype=np.float64), np.asarray(precisions, dtype=np.float64)
    if mode == "area":
        recall_points = np.concatenate([[0.0], recalls, [1.0]])
        envelope = np.concatenate([[0.0], precisions, [0.0]])
        envelope = np.maximum.accumulate(envelope[::-1])[::-1]
        steps = np.flatnonzero(recall_points[1:] != recall_points[:-1])
        return float(np.sum((recall_points[steps + 1] - recall_points[steps]) * envelope[steps + 1]))
    if mode == "11points":
        total = 0.0
        # Exact tenths with a little slack, so that a recall of exactly 0.3 counts at the 0.3 point
        # (np.arange(0, 1.1, 0.1), as MMDetection and py-faster-rcnn use, makes it 0.30000000000000004).
        for threshold in np.linspace(0.0, 1.0, 11):
            reached = precisions[recalls >= threshold - 1e-12]
            total += reached.max() if reached.size else 0.0
        return total / 11.0
    raise ValueError(f"average_precision: mode must be one of {EVAL_MODES}, got {mode!r}")


def voc_average_precisions(
    records: Sequence[dict],
    num_classes: int,
    iou_thr: float = 0.5,
    eval_mode: str = "area",
    area_range: tuple[float, float] | None = None,
    extra_length: float = 1.0,
) -> list[dict[str, Any]]:
    """Per-class VOC AP over a dataset.

    Args:
        records: one per image: ``gt_bboxes`` (M, 4), ``gt_labels`` (M,), ``gt_ignored`` (M,) bool,
            ``pred_bboxes`` (N, 4), ``pred_scores`` (N,), ``pred_labels`` (N,), boxes xyxy.
        num_classes: labels are 0..num_classes-1.
        iou_thr, area_range, extra_length: see :func:`match_detections`.
        eval_mode: see :func:`average_precision`.

    Returns:
        per class ``{"num_gts", "num_dets", "recall" (final), "ap"}``.
    """
    per_class = []
    for label in range(num_classes):
        tps, fps, scores, num_gts = [], [], [], 0
        for record in records:
            det = record["pred_labels"] == label
            gt = record["gt_labels"] == label
            ignored = record["gt_ignored"][gt]
            if area_range is not None:
                areas = _box_areas(record["gt_bboxes"][gt], extra_length)
                ignored = ignored | (areas < area_range[0]) | (areas >= area_range[1])
            num_gts += int((~ignored).sum())
            tp, fp = match_detections(
                record["pred_bboxes"][det],
                record["pred_scores"][det],
                record["gt_bboxes"][gt],
                record["gt_ignored"][gt],
                iou_thr,
                area_range,
                extra_length,
            )
            tps.append(tp), fps.append(fp), scores.append(record["pred_scores"][det])
        order = np.argsort(-np.concatenate(scores), kind="stable")
        tp, fp = np.cumsum(np.concatenate(tps)[order]), np.cumsum(np.concatenate(fps)[order])
        eps = np.finfo(np.float32).eps  # as the devkit: no division by zero, 0 where nothing counts
        recalls = tp / max(num_gts, eps)
        precisions = tp / np.maximum(tp + fp, eps)
        per_class.append(
            {
                "num_gts": num_gts,
                "num_dets": len(order),
                "recall": float(recalls[-1]) if len(recalls) else 0.0,
                "ap": average_precision(recalls, precisions, eval_mode),
            }
        )
    return per_class


def _to_numpy(value: Any, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    if value is None:
        return np.zeros((0,) + shape[1:], dtype=dtype)
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    return array.astype(dtype).reshape(shape)


def _read_sample(sample: Any, index: int) -> dict[str, np.ndarray]:
    """One image's record for :func:`voc_average_precisions` (difficult = ignored)."""
    pred, gt = sample_fields(sample, ("pred_instances", "gt_instances"), "VOCMetric", index, _VAL_STEP_OUTPUT)
    gt_boxes = _to_numpy(gt.get("bboxes"), np.float64, (-1, 4))
    gt_labels = _to_numpy(gt.get("labels"), np.int64, (-1,))
    flags = gt.get("ignore_flags")
    gt_ignored = _to_numpy(flags, bool, (-1,)) if flags is not None else np.zeros(len(gt_labels), dtype=bool)
    ignored = sample.get("ignored_instances")
    if ignored is not None and len(ignored.get("bboxes", ())):
        gt_boxes = np.concatenate([gt_boxes, _to_numpy(ignored.get("bboxes"), np.float64, (-1, 4))])
        ignored_labels = _to_numpy(ignored.get("labels"), np.int64, (-1,))
        gt_labels = np.concatenate([gt_labels, ignored_labels])
        gt_ignored = np.concatenate([gt_ignored, np.ones(len(ignored_labels), dtype=bool)])
    return {
        "gt_bboxes": gt_boxes,
        "gt_labels": gt_labels,
        "gt_ignored": gt_ignored,
        "pred_bboxes": _to_numpy(pred.get("bboxes"), np.float64, (-1, 4)),
        "pred_scores": _to_numpy(pred.get("scores"), np.float64, (-1,)),
        "pred_labels": _to_numpy(pred.get("labels"), np.int64, (-1,)),
    }


@METRICS.register()
class VOCMetric(BaseMetric):
    """PASCAL VOC box mAP (see the module docstring for the protocol).

    Keys (prefix ``pascal_voc``, values in 0-1, unrounded): ``AP50`` (``AP<100 * thr>`` for each
    IoU threshold) and ``mAP``, their mean. With ``scale_ranges`` every key gets the range as a
    suffix, e.g. ``AP50_32-96`` and ``mAP_32-96``. A per-class table (gts, dets, recall, AP) is
    logged for the first threshold. With ``classwise=True`` the per-class AP is returned too, as
    ``<AP key>_<class>`` (``AP50_person``, ``AP50_32-96_person``; spaces in names become ``_``) for every
    threshold and each class with ground truth (the classes the mean is taken over, so their mean is
    ``AP50``); MMDetection only logs them.

    Reads per sample ``pred_instances`` (``bboxes`` (N, 4) xyxy, ``scores``, ``labels`` 0..C-1) and
    ``gt_instances`` (``bboxes``, ``labels``, optional ``ignore_flags`` (M,) bool); boxes in
    ``ignored_instances`` (where VOC's difficult objects go) count as difficult.

    Args:
        iou_thrs: one IoU threshold or several.
        eval_mode: ``"area"`` (VOC2010+) or ``"11points"`` (VOC2007 test).
        scale_ranges: ``[(min_side, max_side), ...]``: evaluate only boxes whose area is in
            ``[min_side**2, max_side**2)``. None: all boxes.
        use_legacy_coordinate: measure boxes as ``x2 - x1 + 1`` (VOC devkit, MMDetection's VOCMetric).
        classwise: also return the per-class AP keys (see above).
        collect_device: see :class:`BaseMetric`.
        prefix: key prefix (default ``"pascal_voc"``).
    """

    default_prefix = "pascal_voc"

    def __init__(
        self,
        iou_thrs: float | Sequence[float] = 0.5,
        eval_mode: str = "area",
        scale_ranges: Sequence[tuple[float, float]] | None = None,
        use_legacy_coordinate: bool = True,
        classwise: bool = False,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.iou_thrs = (
            (float(iou_thrs),) if isinstance(iou_thrs, (int, float)) else tuple(map(float, iou_thrs))
        )
        if not self.iou_thrs or any(not 0.0 < thr <= 1.0 for thr in self.iou_thrs):
            raise ValueError(f"VOCMetric: iou_thrs must be in (0, 1], got {iou_thrs!r}")
        if eval_mode not in EVAL_MODES:
            raise ValueError(f"VOCMetric: eval_mode must be one of {EVAL_MODES}, got {eval_mode!r}")
        self.eval_mode = eval_mode
        self.scale_ranges = None if scale_ranges is None else [tuple(map(float, r)) for r in scale_ranges]
        self.extra_length = 1.0 if use_legacy_coordinate else 0.0
        self.classwise = classwise

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        self.results.extend(_read_sample(sample, index) for index, sample in enumerate(data_samples))

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        names = list((self.dataset_meta or {}).get("classes") or ())
        labels_seen = [
            int(r[key].max()) + 1 for r in results for key in ("gt_labels", "pred_labels") if len(r[key])
        ]
        num_classes = max([len(names)] + labels_seen)
        names += [f"class_{label}" for label in range(len(names), num_classes)]
        scales = self.scale_ranges or [None]
        metrics: dict[str, float] = {}
        for scale in scales:
            suffix = "" if scale is None else f"_{scale[0]:g}-{scale[1]:g}"
            area_range = None if scale is None else (scale[0] ** 2, scale[1] ** 2)
            mean_aps = []
            for thr_index, thr in enumerate(self.iou_thrs):
                per_class = voc_average_precisions(
                    results, num_classes, thr, self.eval_mode, area_range, self.extra_length
                )
                aps = [c["ap"] for c in per_class if c["num_gts"] > 0]
                mean_aps.append(float(np.mean(aps)) if aps else 0.0)
                key = f"AP{round(thr * 100):02d}{suffix}"
                metrics[key] = mean_aps[-1]
                if self.classwise:
                    for name, result in zip(names, per_class):
                        if result["num_gts"] > 0:
                            metrics[f"{key}_{str(name).replace(' ', '_')}"] = result["ap"]
                if thr_index == 0:
                    title = f"VOC AP per class (IoU {thr:g}{', area ' + suffix[1:] if suffix else ''})"
                    logger.info("%s", _render_table(title, names, per_class, mean_aps[-1]))
            metrics[f"mAP{suffix}"] = float(np.mean(mean_aps))
        return metrics


def _render_table(title: str, names: list[str], per_class: list[dict], mean_ap: float) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("class", "gts", "dets", "recall", "AP"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, result in zip(names, per_class):
        table.add_row(
            name,
            str(result["num_gts"]),
            str(result["num_dets"]),
            f"{result['recall']:.3f}",
            f"{result['ap']:.3f}",
        )
    table.add_row("mAP", "", "", "", f"{mean_ap:.3f}")
    buffer = io.StringIO()
    Console(file=buffer, width=120, force_terminal=False).print(table)
    return buffer.getvalue()
