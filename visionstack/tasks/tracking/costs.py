"""Association costs between tracks and detections: IoU, fused score, χ² gating, appearance.

Every cost here is "lower is better" and (N tracks, M detections); boxes are (., 4) xyxy in 0-based
absolute pixels.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.spatial.distance import cdist

from .kalman_xyah import KalmanFilterXYAH

__all__ = [
    "CHI2INV95",
    "embedding_distance",
    "fuse_motion",
    "fuse_score",
    "gate_cost_matrix",
    "iou_cost",
    "iou_matrix",
]

# The 0.95 quantile of the chi-square distribution with k degrees of freedom (k = 1..9), the
# Mahalanobis gate of DeepSORT: 4 for a full [x, y, a, h] measurement, 2 for the centre only.
CHI2INV95: dict[int, float] = {
    1: 3.8415,
    2: 5.9915,
    3: 7.8147,
    4: 9.4877,
    5: 11.070,
    6: 12.592,
    7: 14.067,
    8: 15.507,
    9: 16.919,
}


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union.

    Areas are plain ``(x2 - x1) * (y2 - y1)``, as SORT, OC-SORT and MMTracking compute them (ByteTrack's
    own code uses ``cython_bbox``, which adds 1 pixel to widths and heights; the difference is
    negligible for boxes of tens of pixels). Degenerate pairs (union 0) get IoU 0.

    Args:
        boxes_a: (N, 4) xyxy.
        boxes_b: (M, 4) xyxy.

    Returns:
        (N, M) IoU in [0, 1].
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def iou_cost(track_boxes: np.ndarray, det_boxes: np.ndarray) -> np.ndarray:
    """``1 - IoU``, (N, M), for (N, 4) track and (M, 4) detection boxes, xyxy."""
    return 1.0 - iou_matrix(track_boxes, det_boxes)


def fuse_score(cost: np.ndarray, det_scores: np.ndarray) -> np.ndarray:
    """ByteTrack's score fusion: ``1 - (1 - cost) * score`` (IoU similarity times detection score).

    Args:
        cost: (N, M) IoU cost.
        det_scores: (M,) detection scores.

    Returns:
        (N, M) fused cost.
    """
    cost = np.asarray(cost, dtype=np.float64)
    return 1.0 - (1.0 - cost) * np.asarray(det_scores, dtype=np.float64)[None, :]


def gate_cost_matrix(
    kf: KalmanFilterXYAH,
    cost: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    measurements_xyah: np.ndarray,
    only_position: bool = False,
    gated_cost: float = np.inf,
) -> np.ndarray:
    """Set ``gated_cost`` where a detection is implausible under a track's Kalman state (DeepSORT).

    A pair is gated when its squared Mahalanobis distance exceeds the 0.95 χ² quantile (4 degrees of
    freedom, 2 with ``only_position``).

    Args:
        kf: the filter that produced the states.
        cost: (N, M) any association cost.
        means: (N, 8) track states.
        covariances: (N, 8, 8).
        measurements_xyah: (M, 4) detections as ``[x, y, a, h]``.
        only_position: gate on the centre only.
        gated_cost: the cost given to gated pairs (DeepSORT uses 1e5, ByteTrack inf).

    Returns:
        (N, M) a gated copy of ``cost``.
    """
    cost = np.array(cost, dtype=np.float64)
    threshold = CHI2INV95[2 if only_position else 4]
    for row, distance in enumerate(
        _gating_distances(kf, means, covariances, measurements_xyah, only_position)
    ):
        cost[row, distance > threshold] = gated_cost
    return cost


def fuse_motion(
    kf: KalmanFilterXYAH,
    cost: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    measurements_xyah: np.ndarray,
    only_position: bool = False,
    lambda_: float = 0.98,
) -> np.ndarray:
    """Gate as :func:`gate_cost_matrix` (with ``inf``), then blend the cost with the motion distance.

    ``lambda_ * cost + (1 - lambda_) * squared Mahalanobis distance``, as ByteTrack's and
    MMTracking's JDE-style trackers do; gated pairs stay ``inf``.

    Args:
        kf, cost, means, covariances, measurements_xyah, only_position: as in :func:`gate_cost_matrix`.
        lambda_: weight of ``cost``.

    Returns:
        (N, M) fused cost.
    """
    cost = np.array(cost, dtype=np.float64)
    threshold = CHI2INV95[2 if only_position else 4]
    for row, distance in enumerate(
        _gating_distances(kf, means, covariances, measurements_xyah, only_position)
    ):
        cost[row, distance > threshold] = np.inf
        cost[row] = lambda_ * cost[row] + (1.0 - lambda_) * distance
    return cost


def embedding_distance(
    track_features: np.ndarray,
    det_features: np.ndarray,
    metric: Literal["cosine", "euclidean", "sqeuclidean"] = "cosine",
) -> np.ndarray:
    """Appearance distance between track and detection embeddings.

    ``"cosine"`` is ``1 - cos(angle)`` (the features need not be normalised), clipped at 0 against
    rounding, as DeepSORT and ByteTrack use it.

    Args:
        track_features: (N, D).
        det_features: (M, D).
        metric: any metric of ``scipy.spatial.distance.cdist``; cosine by default.

    Returns:
        (N, M) distances.
    """
    track_features = np.asarray(track_features, dtype=np.float64)
    det_features = np.asarray(det_features, dtype=np.float64)
    if len(track_features) == 0 or len(det_features) == 0:
        return np.zeros((len(track_features), len(det_features)))
    return np.maximum(0.0, cdist(track_features, det_features, metric=metric))


def _gating_distances(
    kf: KalmanFilterXYAH,
    means: np.ndarray,
    covariances: np.ndarray,
    measurements_xyah: np.ndarray,
    only_position: bool,
) -> list[np.ndarray]:
    """Per track, the (M,) squared Mahalanobis distances to all measurements."""
    measurements = np.asarray(measurements_xyah, dtype=np.float64).reshape(-1, 4)
    return [
        kf.gating_distance(mean, covariance, measurements, only_position)
        for mean, covariance in zip(means, covariances)
    ]
