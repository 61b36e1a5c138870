"""Rotated BEV and 3D IoU of LiDAR boxes in NumPy float64 (no torch; the KITTI metrics use it).

The algorithm of :mod:`.iou3d` (exact convex intersection polygon of two rotated rectangles, computed
in a frame centred on the first box; see there). BEV boxes are (N, 5) ``(x, y, dx, dy, yaw)`` with the
yaw counter-clockwise from +x; LiDAR boxes (N, 7) ``(x, y, z, dx, dy, dz, yaw)``, (x, y, z) the bottom
centre. Camera-frame boxes (KITTI's ``(x, y, z, l, h, w, ry)``, y down) map to these BEV boxes as
``(z, -x, l, w, -ry - pi / 2)`` (any rigid motion or mirror of all boxes leaves the IoU unchanged, so
``(x, z, l, w, -ry)`` works as well); their height interval is ``[y - h, y]``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bev_iou_np", "bev_overlap_np", "box3d_iou_np"]

_UNIT = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
_EPS = np.finfo(np.float64).eps


def _rectangle_corners(centre: np.ndarray, size: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    local = _UNIT * size[:, None, :]
    cos, sin = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x = local[..., 0] * cos - local[..., 1] * sin + centre[:, None, 0]
    y = local[..., 0] * sin + local[..., 1] * cos + centre[:, None, 1]
    return np.stack([x, y], axis=-1)


def _inside(
    points: np.ndarray, centre: np.ndarray, size: np.ndarray, yaw: np.ndarray, tol: np.ndarray
) -> np.ndarray:
    offset = points - centre[:, None, :]
    cos, sin = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    along = offset[..., 0] * cos + offset[..., 1] * sin
    across = -offset[..., 0] * sin + offset[..., 1] * cos
    return (np.abs(along) <= size[:, None, 0] / 2 + tol) & (np.abs(across) <= size[:, None, 1] / 2 + tol)


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _overlap_aligned(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P,) intersection areas of the BEV box pairs (a[i], b[i]), (P, 5) each."""
    count = a.shape[0]
    zero = np.zeros((count, 2))
    centre_b = b[:, :2] - a[:, :2]
    corners_a = _rectangle_corners(zero, a[:, 2:4], a[:, 4])
    corners_b = _rectangle_corners(centre_b, b[:, 2:4], b[:, 4])
    scale = np.maximum(a[:, 2:4].max(1), b[:, 2:4].max(1)) + np.abs(centre_b).max(1)
    tol = (64 * _EPS * (1 + scale))[:, None]
    a_in_b = _inside(corners_a, centre_b, b[:, 2:4], b[:, 4], tol)
    b_in_a = _inside(corners_b, zero, a[:, 2:4], a[:, 4], tol)

    p = corners_a[:, :, None, :]
    r = (np.roll(corners_a, -1, axis=1) - corners_a)[:, :, None, :]
    q = corners_b[:, None, :, :]
    s = (np.roll(corners_b, -1, axis=1) - corners_b)[:, None, :, :]
    denominator = _cross(r, s)
    parallel = np.abs(denominator) <= _EPS * (r * r).sum(-1) * (s * s).sum(-1) * 16
    safe = np.where(parallel, 1.0, denominator)
    t = _cross(q - p, s) / safe
    u = _cross(q - p, r) / safe
    edge_tol = 64 * _EPS
    crossing_valid = (
        ~parallel & (t >= -edge_tol) & (t <= 1 + edge_tol) & (u >= -edge_tol) & (u <= 1 + edge_tol)
    )
    crossings = p + t[..., None] * r

    points = np.concatenate([corners_a, corners_b, crossings.reshape(count, 16, 2)], axis=1)
    valid = np.concatenate([a_in_b, b_in_a, crossing_valid.reshape(count, 16)], axis=1)
    num_valid = valid.sum(-1)
    centroid = (points * valid[..., None]).sum(1) / np.maximum(num_valid, 1)[:, None]
    relative = points - centroid[:, None, :]
    angle = np.where(valid, np.arctan2(relative[..., 1], relative[..., 0]), 10.0)
    order = np.argsort(angle, axis=1, kind="stable")
    ordered = np.take_along_axis(relative, order[..., None], axis=1)
    ordered_valid = np.take_along_axis(valid, order, axis=1)
    ordered = np.where(ordered_valid[..., None], ordered, ordered[:, :1, :])
    area = 0.5 * _cross(ordered, np.roll(ordered, -1, axis=1)).sum(-1)
    return np.where(num_valid >= 3, np.maximum(area, 0.0), 0.0)


def _as_boxes(boxes, columns: int, name: str) -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < columns:
        raise ValueError(f"{name}: expected ({'N'}, {columns}) boxes, got shape {array.shape}")
    return array


def bev_overlap_np(a, b) -> np.ndarray:
    """Pairwise intersection areas (N, M) of BEV boxes a (N, 5) and b (M, 5) ``(x, y, dx, dy, yaw)``."""
    a = _as_boxes(a, 5, "bev_overlap_np")
    b = _as_boxes(b, 5, "bev_overlap_np")
    overlap = np.zeros((a.shape[0], b.shape[0]))
    if a.shape[0] == 0 or b.shape[0] == 0:
        return overlap
    radius_a = 0.5 * np.hypot(a[:, 2], a[:, 3])
    radius_b = 0.5 * np.hypot(b[:, 2], b[:, 3])
    distance = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    rows, cols = np.nonzero(distance <= (radius_a[:, None] + radius_b[None, :]) * (1 + 1e-9) + 1e-9)
    chunk = 1 << 15
    for start in range(0, rows.size, chunk):
        row, col = rows[start : start + chunk], cols[start : start + chunk]
        overlap[row, col] = _overlap_aligned(a[row, :5], b[col, :5])
    return overlap


def _iou(overlap: np.ndarray, area_a: np.ndarray, area_b: np.ndarray) -> np.ndarray:
    union = area_a[:, None] + area_b[None, :] - overlap
    return overlap / np.maximum(union, _EPS)


def bev_iou_np(a, b) -> np.ndarray:
    """Pairwise rotated BEV IoU (N, M) of BEV boxes a (N, 5) and b (M, 5) ``(x, y, dx, dy, yaw)``."""
    a = _as_boxes(a, 5, "bev_iou_np")
    b = _as_boxes(b, 5, "bev_iou_np")
    return _iou(bev_overlap_np(a, b), a[:, 2] * a[:, 3], b[:, 2] * b[:, 3])


def box3d_iou_np(a, b) -> np.ndarray:
    """Pairwise 3D IoU (N, M) of LiDAR boxes a (N, 7) and b (M, 7) ``(x, y, z, dx, dy, dz, yaw)``.

    BEV intersection x height overlap (boxes span ``[z, z + dz]``) / union of the volumes.
    """
    a = _as_boxes(a, 7, "box3d_iou_np")
    b = _as_boxes(b, 7, "box3d_iou_np")
    columns = [0, 1, 3, 4, 6]
    top = np.minimum(a[:, None, 2] + a[:, None, 5], b[None, :, 2] + b[None, :, 5])
    bottom = np.maximum(a[:, None, 2], b[None, :, 2])
    overlap = bev_overlap_np(a[:, columns], b[:, columns]) * np.maximum(top - bottom, 0.0)
    return _iou(overlap, a[:, 3] * a[:, 4] * a[:, 5], b[:, 3] * b[:, 4] * b[:, 5])
