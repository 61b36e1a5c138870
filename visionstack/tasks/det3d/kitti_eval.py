"""The official KITTI object evaluation (2D, BEV, 3D, AOS; AP11 and AP40), in NumPy.

The rules of the KITTI devkit (``evaluate_object.cpp``) as MMDetection3D's ``kitti_eval`` ports
them (mmdet3d/evaluation/functional/kitti_utils/eval.py), re-implemented here without numba:

- **Difficulties** (easy, moderate, hard): a GT object counts when its 2D box height is
  ``> 40 / 25 / 25`` px, its occlusion ``<= 0 / 1 / 2`` and its truncation ``<= 0.15 / 0.3 / 0.5``;
  a GT of the evaluated class outside the difficulty is *ignored* (a detection matching it is
  neither TP nor FP).
- **Neighbour classes**: ``Van`` for ``Car`` and ``Person_sitting`` for ``Pedestrian`` are ignored
  GT (not missed, and a detection on them is not a false positive). GT of other classes play no
  part (``DontCare`` aside).
- **Detections** of another class play no part; a detection whose 2D box is lower than the
  difficulty's minimum height (``< 40 / 25 / 25`` px, strict) is ignored.
- **Matching**, per frame and GT in file order: among the detections not yet assigned with IoU
  ``> threshold`` (strict) the valid one with the largest IoU, else (no valid one) the first ignored
  one. A match on an ignored GT or by an ignored detection takes the detection out of the count.
- **DontCare**: after matching, an unassigned valid detection whose 2D box overlaps a ``DontCare``
  box by more than the threshold (intersection over the *detection's* area) is not a false positive.
  As MMDetection3D (and SECOND/OpenPCDet) this applies to the ``bbox`` metric only; the devkit
  applies it (with the 2D boxes) to BEV and 3D too: with ``dontcare_all_metrics=True`` we do as well.
- **IoU thresholds** (strict set): Car 0.7, Pedestrian 0.5, Cyclist 0.5 for bbox/BEV/3D; the loose
  set: Car 0.7 / 0.5 / 0.5, Pedestrian and Cyclist 0.5 / 0.25 / 0.25 (Van as Car, Person_sitting as
  Pedestrian; any other class name, e.g. of custom data, gets the Pedestrian/Cyclist thresholds).
- **Score thresholds**: a first matching pass with every detection collects the scores of the true
  positives; from them (sorted descending) up to 41 thresholds are kept, one each time the recall
  ``(i + 1) / n_gt`` gets closest to the next of 0, 1/40, ..., 1 (the devkit's ``getThresholds``).
  At each threshold the detections scoring ``>= t`` are matched again, ``precision = tp / (tp + fp)``,
  and precision is replaced by its maximum over the higher-recall points (the remaining points are 0).
- **AP11** = the mean of the 11 precisions at points 0, 4, ..., 40; **AP40** = the mean of points
  1..40 (Simonelli et al. 2019, the KITTI server since 2019). **AOS**: ``sum over TPs of
  (1 + cos(alpha_gt - alpha_dt)) / 2 / (tp + fp)`` at the same thresholds, computed for ``bbox``
  when the detections have an ``alpha`` other than -10 and the GT too.
- **BEV IoU** on ``(x, z, l, w, ry)`` of the camera frame; **3D IoU** adds the overlap in camera y
  (the boxes span ``[y - h, y]``). Both through :mod:`.ops.iou3d_np` on the boxes re-expressed as
  LiDAR-convention boxes ``(x, z, -y, l, w, h, -ry)`` (a proper rotation of the camera frame, so the
  IoUs are unchanged).

``difficulty_mode="lidar"`` (data without images: no 2D box, occlusion or truncation) replaces the
difficulties with the BEV distance ``d`` from the sensor and the LiDAR points in the GT box ``n``:
easy ``d <= 20 m and n >= 50``, moderate ``d <= 40 m and n >= 15``, hard ``n >= 5`` (any distance);
``num_points_in_gt = -1`` (unknown) passes the point test. Detections farther than the difficulty's
distance are ignored (the analogue of the minimum 2D height). Only ``bev`` and ``3d`` are evaluated.
The boxes come from ``lidar_boxes`` (N, 7) when both annotations have it, else from the camera
fields. The neighbour-class rules stay.

Values are fractions in [0, 1] (MMDetection3D prints percentages; :func:`kitti_eval`'s table does too).
Keys of the returned dict (``S`` in ``2D``, ``BEV``, ``3D``, ``AOS``; ``N`` in 11, 40)::

    {Class}/{S}_AP{N}_{easy|moderate|hard}          strict IoU set
    {Class}/{S}_AP{N}_{easy|moderate|hard}_loose    loose IoU set
    Overall/{S}_AP{N}_{easy|moderate|hard}          mean over the classes, strict set
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "DIFFICULTIES",
    "LIDAR_DIFFICULTY",
    "MIN_OVERLAPS",
    "ap_from_precision",
    "camera_boxes_as_lidar",
    "class_precision",
    "image_box_overlap",
    "kitti_eval",
    "score_thresholds",
]

DIFFICULTIES = ("easy", "moderate", "hard")
MIN_HEIGHT = (40.0, 25.0, 25.0)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)
# LiDAR-only difficulties: (max BEV distance in m, min points in the box).
LIDAR_DIFFICULTY = ((20.0, 50), (40.0, 15), (np.inf, 5))
NEIGHBOUR_CLASS = {"car": "van", "pedestrian": "person_sitting"}
N_SAMPLE_POINTS = 41
METRIC_NAMES = {"bbox": "2D", "bev": "BEV", "3d": "3D", "aos": "AOS"}
# IoU thresholds {class: {metric: (strict, loose)}} (MMDetection3D's overlap_0_7 / overlap_0_5).
MIN_OVERLAPS = {
    "Car": {"bbox": (0.7, 0.7), "bev": (0.7, 0.5), "3d": (0.7, 0.5)},
    "Pedestrian": {"bbox": (0.5, 0.5), "bev": (0.5, 0.25), "3d": (0.5, 0.25)},
    "Cyclist": {"bbox": (0.5, 0.5), "bev": (0.5, 0.25), "3d": (0.5, 0.25)},
    "Van": {"bbox": (0.7, 0.7), "bev": (0.7, 0.5), "3d": (0.7, 0.5)},
    "Person_sitting": {"bbox": (0.5, 0.5), "bev": (0.5, 0.25), "3d": (0.5, 0.25)},
}
# Classes outside KITTI's five (custom data): the thresholds of the small classes (MMDetection3D
# knows only the five and fails on others).
OTHER_CLASS_OVERLAPS = {"bbox": (0.5, 0.5), "bev": (0.5, 0.25), "3d": (0.5, 0.25)}


# ---- overlaps -------------------------------------------------------------------------------------------
def image_box_overlap(boxes: np.ndarray, query: np.ndarray, criterion: int = -1) -> np.ndarray:
    """Overlaps (N, K) of 2D boxes ``x1 y1 x2 y2``: IoU (``criterion=-1``) or intersection over the
    area of ``boxes`` (``0``) or of ``query`` (``1``), as the devkit's ``boxoverlap``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    query = np.asarray(query, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(boxes[:, None, 2], query[None, :, 2]) - np.maximum(boxes[:, None, 0], query[None, :, 0])
    ih = np.minimum(boxes[:, None, 3], query[None, :, 3]) - np.maximum(boxes[:, None, 1], query[None, :, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    area_a = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    area_b = (query[:, 2] - query[:, 0]) * (query[:, 3] - query[:, 1])
    if criterion == -1:
        union = area_a[:, None] + area_b[None, :] - inter
    elif criterion == 0:
        union = np.broadcast_to(area_a[:, None], inter.shape)
    elif criterion == 1:
        union = np.broadcast_to(area_b[None, :], inter.shape)
    else:
        raise ValueError(f"image_box_overlap: criterion must be -1, 0 or 1, got {criterion}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inter > 0, inter / union, 0.0)


def camera_boxes_as_lidar(anno: Mapping) -> np.ndarray:
    """The anno's camera boxes as LiDAR-convention boxes (N, 7) ``(x, z, -y, l, w, h, -ry)``.

    ``(x, y, z) -> (x, z, -y)`` is a rotation (determinant +1), the camera bottom centre stays the
    bottom (up = -y), and the heading ``(cos ry, 0, -sin ry)`` becomes ``(cos(-ry), sin(-ry), 0)``.
    """
    loc = np.asarray(anno["location"], dtype=np.float64).reshape(-1, 3)
    lhw = np.asarray(anno["dimensions"], dtype=np.float64).reshape(-1, 3)
    ry = np.asarray(anno["rotation_y"], dtype=np.float64).reshape(-1)
    return np.stack([loc[:, 0], loc[:, 2], -loc[:, 1], lhw[:, 0], lhw[:, 2], lhw[:, 1], -ry], axis=1)


def _eval_boxes(anno: Mapping, use_lidar: bool) -> np.ndarray:
    if use_lidar:
        return np.asarray(anno["lidar_boxes"], dtype=np.float64).reshape(-1, 7)
    return camera_boxes_as_lidar(anno)


def _overlaps(dt: Mapping, gt: Mapping, metric: str, use_lidar: bool) -> np.ndarray:
    """IoU (D, G) of one frame's detections and GT for ``metric`` in bbox, bev, 3d."""
    from .ops.iou3d_np import bev_iou_np, box3d_iou_np

    n_dt, n_gt = len(dt["name"]), len(gt["name"])
    if n_dt == 0 or n_gt == 0:
        return np.zeros((n_dt, n_gt))
    if metric == "bbox":
        return image_box_overlap(dt["bbox"], gt["bbox"])
    dt_boxes, gt_boxes = _eval_boxes(dt, use_lidar), _eval_boxes(gt, use_lidar)
    if metric == "bev":
        return np.asarray(
            bev_iou_np(dt_boxes[:, [0, 1, 3, 4, 6]], gt_boxes[:, [0, 1, 3, 4, 6]]), dtype=np.float64
        )
    return np.asarray(box3d_iou_np(dt_boxes, gt_boxes), dtype=np.float64)


# ---- ignore rules ---------------------------------------------------------------------------------------
def _bev_distance(anno: Mapping, use_lidar: bool) -> np.ndarray:
    boxes = _eval_boxes(anno, use_lidar)
    return np.hypot(boxes[:, 0], boxes[:, 1])


def _ignore_flags(
    gt: Mapping, dt: Mapping, class_name: str, difficulty: int, mode: str, use_lidar: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ignored_gt (G,), ignored_dt (D,), dontcare boxes (C, 4)): 0 valid, 1 ignored, -1 not this class."""
    current = class_name.lower()
    gt_names = np.array([str(name).lower() for name in gt["name"]])
    dt_names = np.array([str(name).lower() for name in dt["name"]])
    n_gt, n_dt = len(gt_names), len(dt_names)
    if mode == "kitti":
        bbox = np.asarray(gt["bbox"], dtype=np.float64).reshape(-1, 4)
        out_of_difficulty = (
            (np.asarray(gt["occluded"]).reshape(-1) > MAX_OCCLUSION[difficulty])
            | (np.asarray(gt["truncated"]).reshape(-1) > MAX_TRUNCATION[difficulty])
            | (bbox[:, 3] - bbox[:, 1] <= MIN_HEIGHT[difficulty])
        )
        dt_bbox = np.asarray(dt["bbox"], dtype=np.float64).reshape(-1, 4)
        dt_out = np.abs(dt_bbox[:, 3] - dt_bbox[:, 1]) < MIN_HEIGHT[difficulty]
        dontcare = bbox[gt_names == "dontcare"]
    else:
        max_distance, min_points = LIDAR_DIFFICULTY[difficulty]
        points = np.asarray(gt.get("num_points_in_gt", -np.ones(n_gt)), dtype=np.float64).reshape(-1)
        too_few = (points >= 0) & (points < min_points)
        out_of_difficulty = too_few | (_bev_distance(gt, use_lidar) > max_distance)
        dt_out = _bev_distance(dt, use_lidar) > max_distance if n_dt else np.zeros(0, dtype=bool)
        dontcare = np.zeros((0, 4))
    valid_class = gt_names == current
    neighbour = gt_names == NEIGHBOUR_CLASS.get(current, "\0")
    ignored_gt = np.full(n_gt, -1, dtype=np.int64)
    ignored_gt[neighbour | (valid_class & out_of_difficulty)] = 1
    ignored_gt[valid_class & ~out_of_difficulty] = 0
    ignored_dt = np.where(dt_names == current, 0, -1).astype(np.int64)
    ignored_dt[dt_out] = 1  # the devkit tests the height before the class
    return ignored_gt, ignored_dt, dontcare


# ---- matching -------------------------------------------------------------------------------------------
def _true_positive_scores(
    overlaps: np.ndarray,
    ignored_gt: np.ndarray,
    ignored_dt: np.ndarray,
    scores: np.ndarray,
    min_overlap: float,
) -> list[float]:
    """First pass (every detection): per GT the highest-scoring free detection above the IoU."""
    assigned = np.zeros(len(scores), dtype=bool)
    tp_scores = []
    for g in np.flatnonzero(ignored_gt != -1):
        candidates = ~assigned & (ignored_dt != -1) & (overlaps[:, g] > min_overlap)
        if not candidates.any():
            continue
        det = int(np.argmax(np.where(candidates, scores, -np.inf)))
        assigned[det] = True
        if ignored_gt[g] == 0 and ignored_dt[det] == 0:
            tp_scores.append(float(scores[det]))
    return tp_scores


def _counts_at_thresholds(
    overlaps: np.ndarray,
    ignored_gt: np.ndarray,
    ignored_dt: np.ndarray,
    scores: np.ndarray,
    min_overlap: float,
    thresholds: np.ndarray,
    dontcare_overlap: np.ndarray | None,
    alpha_similarity: np.ndarray | None,
) -> np.ndarray:
    """Second pass: (T, 4) ``tp, fp, fn, orientation similarity`` at each score threshold.

    Vectorised over the thresholds; ``dontcare_overlap`` (D, C) is the detections' overlap with the
    DontCare boxes (None: no DontCare rule); ``alpha_similarity`` (D, G) is ``(1 + cos(da)) / 2``.
    """
    n_t, n_dt = len(thresholds), len(scores)
    rows = np.arange(n_t)
    above = scores[None, :] >= thresholds[:, None]  # (T, D)
    assigned = np.zeros((n_t, n_dt), dtype=bool)
    tp, fn, similarity = np.zeros(n_t), np.zeros(n_t), np.zeros(n_t)
    for g in np.flatnonzero(ignored_gt != -1):
        free = ~assigned & above & (overlaps[None, :, g] > min_overlap)
        valid = free & (ignored_dt == 0)[None, :]
        weak = free & (ignored_dt == 1)[None, :]
        has_valid, has_weak = valid.any(axis=1), weak.any(axis=1)
        det = np.where(
            has_valid,
            np.argmax(np.where(valid, overlaps[None, :, g], -1.0), axis=1),  # first of the largest IoU
            np.argmax(weak, axis=1),  # else the first ignored one
        )
        matched = has_valid | has_weak
        assigned[rows[matched], det[matched]] = True
        if ignored_gt[g] == 0:
            fn += ~matched
            hit = has_valid
            tp += hit
            if alpha_similarity is not None:
                similarity += np.where(hit, alpha_similarity[det, g], 0.0)
    fp_candidates = ~assigned & above & (ignored_dt == 0)[None, :]
    if dontcare_overlap is not None and dontcare_overlap.shape[1]:
        fp_candidates &= ~(dontcare_overlap > min_overlap).any(axis=1)[None, :]
    fp = fp_candidates.sum(axis=1)
    return np.stack([tp, fp, fn, similarity], axis=1)


def score_thresholds(
    tp_scores: Sequence[float], num_gt: int, num_points: int = N_SAMPLE_POINTS
) -> np.ndarray:
    """The devkit's ``getThresholds``: TP scores nearest to the recall points 0, 1/40, ..., 1."""
    scores = np.sort(np.asarray(tp_scores, dtype=np.float64))[::-1]
    thresholds, current = [], 0.0
    for i, score in enumerate(scores):
        left = (i + 1) / num_gt
        last = i == len(scores) - 1
        right = left if last else (i + 2) / num_gt
        if not last and (right - current) < (current - left):
            continue
        thresholds.append(score)
        current += 1.0 / (num_points - 1)
    return np.asarray(thresholds[:num_points])


def ap_from_precision(precision: np.ndarray, points: int) -> np.ndarray:
    """AP over the last axis of the 41-point interpolated precision: ``points`` 11 or 40."""
    if points == 11:
        return precision[..., 0::4].sum(axis=-1) / 11
    if points == 40:
        return precision[..., 1:].sum(axis=-1) / 40
    raise ValueError(f"ap_from_precision: points must be 11 or 40, got {points}")


def class_precision(
    gt_annos: Sequence[Mapping],
    dt_annos: Sequence[Mapping],
    class_name: str,
    difficulty: int,
    metric: str,
    min_overlap: float,
    overlaps: Sequence[np.ndarray],
    mode: str = "kitti",
    use_lidar: bool = False,
    compute_aos: bool = False,
    dontcare_all_metrics: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated precision and orientation similarity (41,) of one class, difficulty and IoU."""
    frames = []
    tp_scores: list[float] = []
    num_gt = 0
    for gt, dt, overlap in zip(gt_annos, dt_annos, overlaps):
        ignored_gt, ignored_dt, dontcare = _ignore_flags(gt, dt, class_name, difficulty, mode, use_lidar)
        scores = np.asarray(dt.get("score", np.ones(len(dt["name"]))), dtype=np.float64).reshape(-1)
        num_gt += int((ignored_gt == 0).sum())
        tp_scores += _true_positive_scores(overlap, ignored_gt, ignored_dt, scores, min_overlap)
        frames.append((gt, dt, overlap, ignored_gt, ignored_dt, dontcare, scores))
    precision, orientation = np.zeros(N_SAMPLE_POINTS), np.zeros(N_SAMPLE_POINTS)
    if num_gt == 0 or not tp_scores:
        return precision, orientation
    thresholds = score_thresholds(tp_scores, num_gt)
    counts = np.zeros((len(thresholds), 4))
    for gt, dt, overlap, ignored_gt, ignored_dt, dontcare, scores in frames:
        dc_overlap = None
        if metric == "bbox" or dontcare_all_metrics:
            dc_overlap = image_box_overlap(np.asarray(dt["bbox"]).reshape(-1, 4), dontcare, criterion=0)
        similarity = None
        if compute_aos:
            delta = (
                np.asarray(gt["alpha"], dtype=np.float64)[None, :]
                - np.asarray(dt["alpha"], dtype=np.float64)[:, None]
            )
            similarity = (1.0 + np.cos(delta)) / 2.0
        counts += _counts_at_thresholds(
            overlap, ignored_gt, ignored_dt, scores, min_overlap, thresholds, dc_overlap, similarity
        )
    tp, fp = counts[:, 0], counts[:, 1]
    n = len(thresholds)
    precision[:n] = tp / (tp + fp)
    orientation[:n] = counts[:, 3] / (tp + fp)
    # Max-interpolation: the best precision at any threshold of higher recall.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    orientation = np.maximum.accumulate(orientation[::-1])[::-1]
    return precision, orientation


# ---- the whole evaluation -------------------------------------------------------------------------------
def _has_alpha(annos: Sequence[Mapping]) -> bool:
    for anno in annos:
        alpha = np.asarray(anno.get("alpha", []), dtype=np.float64).reshape(-1)
        if (alpha != -10).any():
            return True
    return False


def kitti_eval(
    gt_annos: Sequence[Mapping],
    dt_annos: Sequence[Mapping],
    classes: Sequence[str],
    eval_types: Sequence[str] = ("bbox", "bev", "3d"),
    difficulty_mode: str = "kitti",
    dontcare_all_metrics: bool = False,
) -> tuple[str, dict[str, float]]:
    """The KITTI AP of detections against GT, frame by frame (module docstring for the rules).

    Args:
        gt_annos: one KITTI evaluation annotation per frame (``name``, ``truncated``, ``occluded``,
            ``alpha``, ``bbox``, ``dimensions`` (l, h, w), ``location``, ``rotation_y``; for
            ``"lidar"`` mode ``num_points_in_gt`` and optionally ``lidar_boxes``), DontCare included.
        dt_annos: the detections of the same frames, same fields plus ``score``.
        classes: the evaluated class names (KITTI spelling, e.g. ``("Car", "Pedestrian")``; other
            names get the Pedestrian thresholds).
        eval_types: a subset of ``bbox``, ``bev``, ``3d`` (``bbox`` is dropped in ``"lidar"`` mode).
        difficulty_mode: ``"kitti"`` (2D height, occlusion, truncation) or ``"lidar"`` (distance,
            points).
        dontcare_all_metrics: apply the DontCare rule to BEV and 3D too (the devkit's behaviour).

    Returns:
        ``(table, results)``: a printable table in percent and ``{key: AP in [0, 1]}``.
    """
    if len(gt_annos) != len(dt_annos):
        raise ValueError(f"kitti_eval: {len(gt_annos)} GT frames but {len(dt_annos)} detection frames")
    if difficulty_mode not in ("kitti", "lidar"):
        raise ValueError(f"kitti_eval: difficulty_mode must be 'kitti' or 'lidar', got {difficulty_mode!r}")
    metrics = [
        m
        for m in ("bbox", "bev", "3d")
        if m in eval_types and not (m == "bbox" and difficulty_mode == "lidar")
    ]
    if not metrics:
        raise ValueError(
            f"kitti_eval: nothing to evaluate with eval_types={tuple(eval_types)} in {difficulty_mode!r} mode"
        )
    use_lidar = difficulty_mode == "lidar" and all(
        "lidar_boxes" in a for a in list(gt_annos) + list(dt_annos)
    )
    compute_aos = "bbox" in metrics and _has_alpha(dt_annos) and _has_alpha(gt_annos)
    results: dict[str, float] = {}
    for metric in metrics:
        overlaps = [_overlaps(dt, gt, metric, use_lidar) for gt, dt in zip(gt_annos, dt_annos)]
        for class_name in classes:
            for loose, suffix in ((0, ""), (1, "_loose")):
                min_overlap = MIN_OVERLAPS.get(class_name, OTHER_CLASS_OVERLAPS)[metric][loose]
                for difficulty, level in enumerate(DIFFICULTIES):
                    precision, orientation = class_precision(
                        gt_annos, dt_annos, class_name, difficulty, metric, min_overlap, overlaps,
                        difficulty_mode, use_lidar, compute_aos and metric == "bbox", dontcare_all_metrics,
                    )  # fmt: skip
                    for points in (11, 40):
                        key = f"{class_name}/{METRIC_NAMES[metric]}_AP{points}_{level}{suffix}"
                        results[key] = float(ap_from_precision(precision, points))
                        if compute_aos and metric == "bbox":
                            key = f"{class_name}/AOS_AP{points}_{level}{suffix}"
                            results[key] = float(ap_from_precision(orientation, points))
    _add_overall(results, classes)
    return "\n".join(_table(results, classes)), results


def _add_overall(results: dict[str, float], classes: Sequence[str]) -> None:
    if len(classes) < 2:
        return
    for key in list(results):
        class_name, name = key.split("/", 1)
        if class_name == classes[0] and not name.endswith("_loose"):
            results[f"Overall/{name}"] = float(np.mean([results[f"{c}/{name}"] for c in classes]))


def _table(results: Mapping[str, float], classes: Sequence[str]) -> list[str]:
    lines = []
    for points in (11, 40):
        lines.append(f"----------- AP{points} (%) easy / moderate / hard -----------")
        for class_name in list(classes) + (["Overall"] if len(classes) > 1 else []):
            for suffix in ("", "_loose"):
                rows = []
                for short in ("2D", "BEV", "3D", "AOS"):
                    keys = [f"{class_name}/{short}_AP{points}_{level}{suffix}" for level in DIFFICULTIES]
                    if all(key in results for key in keys):
                        values = ", ".join(f"{100 * results[key]:.4f}" for key in keys)
                        rows.append(f"  {short:<4} AP{points}: {values}")
                if rows:
                    label = "loose IoU" if suffix else "strict IoU"
                    lines.append(f"{class_name} ({label}):")
                    lines.extend(rows)
    return lines
