"""nuScenes-style detection evaluation on LiDAR boxes: centre-distance AP and true-positive errors.

The rules of the nuScenes detection benchmark (nuscenes-devkit ``eval/detection/algo.py``), on
LiDAR boxes ``(x, y, z, dx, dy, dz, yaw)`` (no velocity or attributes here):

- **Matching**, per class and distance threshold ``d`` in 0.5, 1, 2, 4 m: the predictions of all
  frames in descending score order (ties: the later one first, as nuScenes sorts), each matched to
  the nearest not yet matched GT of its frame and class by BEV centre distance ``hypot(dx, dy)``,
  a true positive when that distance is ``< d`` (strict), else a false positive.
- **AP**: ``precision = cumsum(tp) / (cumsum(tp) + cumsum(fp))``, ``recall = cumsum(tp) / n_gt``;
  precision linearly interpolated at the 101 recall points 0, 0.01, ..., 1 (``np.interp``, 0 beyond
  the highest recall; no monotone envelope); ``AP = mean(max(p - 0.1, 0)) / 0.9`` over the points
  11..100 (recall > min_recall = 0.1; min_precision = 0.1). A class without GT or predictions has AP 0.
  ``{Class}/AP`` is the mean over the four thresholds, ``mAP`` the mean over the classes that have GT.
- **TP errors** from the matches at ``d = 2 m``: ATE the BEV centre distance (m), ASE ``1 - IoU``
  of the two boxes aligned in centre and yaw (``prod(min(dims)) / union of the volumes``), AOE the
  smallest yaw difference in [0, pi] (period 2 pi for every class here; nuScenes uses pi for
  barriers). nuScenes averages the running mean of each error over the recall points 0.1 .. max
  recall; we report the plain mean over the true positives (equal weight per match, simpler to read
  and to check by hand). A class without true positives gets 1.0 (nuScenes' value then).
- **By distance** from the sensor (BEV ``hypot(x, y)``), bins 0-20, 20-40, 40+ m: GT *and*
  predictions outside the bin are dropped first (as nuScenes' range filter), then the same AP and
  errors. Keys ``range_0-20/mAP``, ``range_0-20/ATE``, ... and per class ``range_0-20/Car/AP``.

Keys (values in [0, 1] for AP, metres / radians for the errors)::

    mAP, ATE, ASE, AOE                       means over the classes with GT
    {Class}/AP, {Class}/AP_0.5 ... AP_4.0    per class, mean and per threshold
    {Class}/ATE, {Class}/ASE, {Class}/AOE
    range_{lo}-{hi}/...                      the same restricted to a distance bin (hi "inf")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "DISTANCE_BINS",
    "DISTANCE_THRESHOLDS",
    "average_precision",
    "center_eval",
    "match_class",
    "scale_iou",
    "yaw_difference",
]

DISTANCE_THRESHOLDS = (0.5, 1.0, 2.0, 4.0)
TP_THRESHOLD = 2.0
DISTANCE_BINS = ((0.0, 20.0), (20.0, 40.0), (40.0, np.inf))
MIN_RECALL = 0.1
MIN_PRECISION = 0.1
RECALL_POINTS = 101
ERRORS = ("ATE", "ASE", "AOE")


def yaw_difference(a: np.ndarray, b: np.ndarray, period: float = 2 * np.pi) -> np.ndarray:
    """The smallest absolute angle between yaws (in [0, period / 2])."""
    diff = (
        np.mod(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64) + period / 2, period)
        - period / 2
    )
    return np.abs(diff)


def scale_iou(dims_a: np.ndarray, dims_b: np.ndarray) -> np.ndarray:
    """IoU (N,) of boxes with sizes (N, 3) aligned in centre and orientation."""
    dims_a, dims_b = np.asarray(dims_a, dtype=np.float64), np.asarray(dims_b, dtype=np.float64)
    inter = np.prod(np.minimum(dims_a, dims_b), axis=-1)
    return inter / (np.prod(dims_a, axis=-1) + np.prod(dims_b, axis=-1) - inter)


def average_precision(tp: np.ndarray, num_gt: int) -> float:
    """nuScenes AP of predictions in descending score order, ``tp`` (P,) bool, against ``num_gt``."""
    if num_gt == 0 or len(tp) == 0:
        return 0.0
    tp_sum = np.cumsum(tp).astype(np.float64)
    fp_sum = np.cumsum(~np.asarray(tp, dtype=bool)).astype(np.float64)
    precision = tp_sum / (tp_sum + fp_sum)
    recall = tp_sum / num_gt
    precision = np.interp(np.linspace(0, 1, RECALL_POINTS), recall, precision, right=0)
    first = round(100 * MIN_RECALL) + 1
    kept = np.clip(precision[first:] - MIN_PRECISION, 0, None)
    return float(np.mean(kept) / (1 - MIN_PRECISION))


def _frames(
    annos: Sequence[Mapping], class_name: str, with_score: bool
) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for anno in annos:
        keep = np.array([str(name) == class_name for name in anno["name"]], dtype=bool).reshape(-1)
        boxes = np.asarray(anno["lidar_boxes"], dtype=np.float64).reshape(-1, 7)[keep]
        scores = (
            np.asarray(anno["score"], dtype=np.float64).reshape(-1)[keep]
            if with_score
            else np.zeros(len(boxes))
        )
        out.append((boxes, scores))
    return out


def match_class(
    gt_frames: Sequence[np.ndarray], dt_frames: Sequence[tuple[np.ndarray, np.ndarray]], threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy centre-distance matching of one class over all frames.

    Args:
        gt_frames: per frame the GT boxes (G, 7).
        dt_frames: per frame ``(boxes (D, 7), scores (D,))``.
        threshold: the BEV centre distance (m) below which a match is a true positive.

    Returns:
        ``(tp (P,) bool, errors (P, 3) ATE/ASE/AOE, NaN for false positives)`` in descending score order.
    """
    items = [
        (score, frame, index)
        for frame, (_, scores) in enumerate(dt_frames)
        for index, score in enumerate(scores)
    ]
    items.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)  # nuScenes: ties, later first
    taken = [np.zeros(len(gt), dtype=bool) for gt in gt_frames]
    tp = np.zeros(len(items), dtype=bool)
    errors = np.full((len(items), 3), np.nan)
    for rank, (_, frame, index) in enumerate(items):
        box, gt = dt_frames[frame][0][index], gt_frames[frame]
        if len(gt) == 0:
            continue
        distance = np.where(taken[frame], np.inf, np.hypot(gt[:, 0] - box[0], gt[:, 1] - box[1]))
        nearest = int(np.argmin(distance))
        if distance[nearest] < threshold:
            taken[frame][nearest] = True
            tp[rank] = True
            errors[rank] = (
                distance[nearest],
                1 - scale_iou(box[3:6], gt[nearest, 3:6]),
                yaw_difference(box[6], gt[nearest, 6]),
            )
    return tp, errors


def _in_bin(boxes: np.ndarray, scores: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    distance = np.hypot(boxes[:, 0], boxes[:, 1])
    keep = (distance >= lo) & (distance < hi)
    return boxes[keep], scores[keep]


def _evaluate(
    gt: list[tuple[np.ndarray, np.ndarray]],
    dt: list[tuple[np.ndarray, np.ndarray]],
    thresholds: Sequence[float],
) -> tuple[dict[str, float], int]:
    gt_boxes = [boxes for boxes, _ in gt]
    num_gt = int(sum(len(boxes) for boxes in gt_boxes))
    out: dict[str, float] = {}
    for threshold in thresholds:
        tp, errors = match_class(gt_boxes, dt, threshold)
        out[f"AP_{threshold}"] = average_precision(tp, num_gt)
        if threshold == TP_THRESHOLD:
            for column, name in enumerate(ERRORS):
                out[name] = float(np.mean(errors[tp, column])) if tp.any() else 1.0
    out["AP"] = float(np.mean([out[f"AP_{t}"] for t in thresholds]))
    if TP_THRESHOLD not in thresholds:
        tp, errors = match_class(gt_boxes, dt, TP_THRESHOLD)
        for column, name in enumerate(ERRORS):
            out[name] = float(np.mean(errors[tp, column])) if tp.any() else 1.0
    return out, num_gt


def _summaries(per_class: Mapping[str, tuple[dict[str, float], int]], prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    with_gt = [name for name, (_, num_gt) in per_class.items() if num_gt > 0]
    for name, (values, _) in per_class.items():
        out.update({f"{prefix}{name}/{key}": value for key, value in values.items()})
    out[f"{prefix}mAP"] = float(np.mean([per_class[name][0]["AP"] for name in with_gt])) if with_gt else 0.0
    for error in ERRORS:
        out[f"{prefix}{error}"] = (
            float(np.mean([per_class[name][0][error] for name in with_gt])) if with_gt else 1.0
        )
    return out


def center_eval(
    gt_annos: Sequence[Mapping],
    dt_annos: Sequence[Mapping],
    classes: Sequence[str],
    distance_thresholds: Sequence[float] = DISTANCE_THRESHOLDS,
    distance_bins: Sequence[tuple[float, float]] = DISTANCE_BINS,
) -> dict[str, float]:
    """Centre-distance AP, TP errors and their breakdown by distance (module docstring for the rules).

    Args:
        gt_annos: per frame ``{"name": (G,), "lidar_boxes": (G, 7)}`` (other names, e.g. DontCare,
            take no part).
        dt_annos: per frame ``{"name": (D,), "lidar_boxes": (D, 7), "score": (D,)}``.
        classes: the evaluated class names.
        distance_thresholds: the matching thresholds in metres.
        distance_bins: ``(lo, hi)`` BEV distance bins (``lo <= d < hi``) for the breakdown.

    Returns:
        ``{key: value}`` (keys in the module docstring).
    """
    if len(gt_annos) != len(dt_annos):
        raise ValueError(f"center_eval: {len(gt_annos)} GT frames but {len(dt_annos)} detection frames")
    results: dict[str, float] = {}
    gt_by_class = {name: _frames(gt_annos, name, with_score=False) for name in classes}
    dt_by_class = {name: _frames(dt_annos, name, with_score=True) for name in classes}
    per_class = {
        name: _evaluate(gt_by_class[name], dt_by_class[name], distance_thresholds) for name in classes
    }
    results.update(_summaries(per_class, ""))
    for lo, hi in distance_bins:
        prefix = f"range_{lo:g}-{hi:g}/"
        per_class = {
            name: _evaluate(
                [_in_bin(boxes, scores, lo, hi) for boxes, scores in gt_by_class[name]],
                [_in_bin(boxes, scores, lo, hi) for boxes, scores in dt_by_class[name]],
                distance_thresholds,
            )
            for name in classes
        }
        results.update(_summaries(per_class, prefix))
    return results
