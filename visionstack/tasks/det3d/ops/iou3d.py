"""Rotated bird's-eye-view and 3D IoU of LiDAR boxes in pure PyTorch (no compiled ops).

BEV boxes are (N, 5) ``(x, y, dx, dy, yaw)``: centre, length along the heading, width, and the yaw
counter-clockwise from +x. LiDAR boxes are (N, 7) ``(x, y, z, dx, dy, dz, yaw)`` with (x, y, z) the
BOTTOM centre (MMDetection3D's convention, see the det3d spec), so a box spans ``[z, z + dz]`` in height.

The intersection of two rotated rectangles is their exact convex intersection polygon (as MMCV's
``box_iou_rotated`` kernel computes it): the corners of each rectangle inside the other plus the
edge-edge crossings, ordered by angle about their centroid, then the shoelace formula. Every pair has
the same fixed number of candidate vertices (4 + 4 + 16 = 24) with a validity mask, so the computation
has fixed shapes and no data-dependent Python control flow: it traces to ONNX. Each pair is computed
in a frame centred on its first box, so float32 boxes 40 m from the sensor keep their precision (the
difference of two nearby float32 centres is exact).

In eager mode the pairwise functions compute only the pairs whose bounding circles meet (the others
have no overlap) to save memory; while tracing they compute every pair (fixed shapes).
"""

from __future__ import annotations

import math

import torch

from ..boxes import limit_period

__all__ = [
    "bev_iou",
    "bev_iou_aligned",
    "box3d_iou",
    "box3d_iou_aligned",
    "is_exporting",
    "nearest_bev_iou",
    "rotated_bev_overlap",
    "rotated_bev_overlap_aligned",
]

_BEV_COLUMNS = (0, 1, 3, 4, 6)


def is_exporting() -> bool:
    """Whether the code runs under a tracer or exporter (TorchScript trace, ONNX export, torch.export)."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling()


def _rectangle_corners(
    centre_x: torch.Tensor, centre_y: torch.Tensor, size: torch.Tensor, yaw: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(P, 4) x and y of the corners, counter-clockwise from the rear-right one, of P rectangles."""
    half_x, half_y = size[:, 0] / 2, size[:, 1] / 2
    local_x = torch.stack([-half_x, half_x, half_x, -half_x], dim=1)
    local_y = torch.stack([-half_y, -half_y, half_y, half_y], dim=1)
    cos, sin = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None]
    return local_x * cos - local_y * sin + centre_x[:, None], local_x * sin + local_y * cos + centre_y[
        :, None
    ]


def _inside(
    x: torch.Tensor,
    y: torch.Tensor,
    centre_x: torch.Tensor,
    centre_y: torch.Tensor,
    size: torch.Tensor,
    yaw,
    tol,
) -> torch.Tensor:
    """(P, K) whether the points (P, K) lie in the P rectangles (boundary included, within ``tol``)."""
    offset_x, offset_y = x - centre_x[:, None], y - centre_y[:, None]
    cos, sin = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None]
    along = offset_x * cos + offset_y * sin
    across = offset_y * cos - offset_x * sin
    return (along.abs() <= size[:, :1] / 2 + tol) & (across.abs() <= size[:, 1:] / 2 + tol)


def rotated_bev_overlap_aligned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection areas of rotated rectangles taken in pairs, row i of ``a`` with row i of ``b``.

    Args:
        a: (P, 5) BEV boxes ``(x, y, dx, dy, yaw)``.
        b: (P, 5) BEV boxes.

    Returns:
        (P,) intersection areas (>= 0), differentiable with respect to both inputs.
    """
    eps = torch.finfo(a.dtype).eps
    # Work in a frame centred on the box of ``a``: b's centre becomes the difference of the centres
    # (exact for nearby float32 centres). x and y stay separate tensors: faster than (..., 2) pairs.
    zero = torch.zeros_like(a[:, 0])
    bx, by = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    size_a, size_b = a[:, 2:4], b[:, 2:4]
    ax4, ay4 = _rectangle_corners(zero, zero, size_a, a[:, 4])  # (P, 4)
    bx4, by4 = _rectangle_corners(bx, by, size_b, b[:, 4])
    scale = torch.maximum(size_a.amax(dim=1), size_b.amax(dim=1)) + torch.maximum(bx.abs(), by.abs())
    tol = ((64 * eps) * (1 + scale))[:, None]
    a_in_b = _inside(ax4, ay4, bx, by, size_b, b[:, 4], tol)  # (P, 4)
    b_in_a = _inside(bx4, by4, zero, zero, size_a, a[:, 4], tol)

    # Edge i of a (p -> p + r) against edge j of b (q -> q + s): p + t r = q + u s; (P, 4, 4) arrays.
    px, py = ax4[:, :, None], ay4[:, :, None]
    rx, ry = (torch.roll(ax4, -1, dims=1) - ax4)[:, :, None], (torch.roll(ay4, -1, dims=1) - ay4)[:, :, None]
    qx, qy = bx4[:, None, :], by4[:, None, :]
    sx, sy = (torch.roll(bx4, -1, dims=1) - bx4)[:, None, :], (torch.roll(by4, -1, dims=1) - by4)[:, None, :]
    denominator = rx * sy - ry * sx
    parallel = denominator.abs() <= (16 * eps) * (rx * rx + ry * ry) * (sx * sx + sy * sy)
    safe = torch.where(parallel, torch.ones_like(denominator), denominator)
    dx, dy = qx - px, qy - py
    t = (dx * sy - dy * sx) / safe
    u = (dx * ry - dy * rx) / safe
    edge_tol = 64 * eps
    crossing_valid = (
        ~parallel & (t >= -edge_tol) & (t <= 1 + edge_tol) & (u >= -edge_tol) & (u <= 1 + edge_tol)
    )

    count = a.shape[0]
    x = torch.cat([ax4, bx4, (px + t * rx).reshape(count, 16)], dim=1)  # (P, 24)
    y = torch.cat([ay4, by4, (py + t * ry).reshape(count, 16)], dim=1)
    valid = torch.cat([a_in_b, b_in_a, crossing_valid.reshape(count, 16)], dim=1)
    return _convex_area(x, y, valid)


def _convex_area(x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(P,) area of the polygon through the valid points (P, K) (all on one convex polygon's boundary)."""
    weight = valid.to(x.dtype)
    num_valid = weight.sum(1)
    denominator = num_valid.clamp(min=1)
    x = x - (x * weight).sum(1, keepdim=True) / denominator[:, None]  # centroid at the origin
    y = y - (y * weight).sum(1, keepdim=True) / denominator[:, None]
    # Order by a pseudo-angle, monotone in atan2 (ONNX has no atan2; the order needs no gradient).
    rel_x, rel_y = x.detach(), y.detach()
    norm1 = (rel_x.abs() + rel_y.abs()).clamp(min=torch.finfo(x.dtype).tiny)
    pseudo_angle = torch.where(rel_y >= 0, 1 - rel_x / norm1, rel_x / norm1 - 1)  # [-2, 2)
    pseudo_angle = torch.where(valid, pseudo_angle, torch.full_like(pseudo_angle, 10.0))
    order = torch.argsort(pseudo_angle, dim=1)
    x, y, ordered_valid = torch.gather(x, 1, order), torch.gather(y, 1, order), torch.gather(valid, 1, order)
    # Invalid points (sorted last) repeat the first vertex: their shoelace terms vanish.
    x = torch.where(ordered_valid, x, x[:, :1])
    y = torch.where(ordered_valid, y, y[:, :1])
    area = 0.5 * (x * torch.roll(y, -1, dims=1) - y * torch.roll(x, -1, dims=1)).sum(1)
    return torch.where(num_valid >= 3, area, torch.zeros_like(area)).clamp(min=0)


def _candidate_pairs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, M) whether the bounding circles of the BEV boxes meet (pairs that may overlap)."""
    radius_a = 0.5 * torch.hypot(a[:, 2], a[:, 3])
    radius_b = 0.5 * torch.hypot(b[:, 2], b[:, 3])
    distance = torch.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    return distance <= (radius_a[:, None] + radius_b[None, :]) * (1 + 1e-6) + 1e-6


def rotated_bev_overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise intersection areas of rotated rectangles.

    Args:
        a: (N, 5) BEV boxes ``(x, y, dx, dy, yaw)``, float32 or float64.
        b: (M, 5) BEV boxes.

    Returns:
        (N, M) intersection areas, in the inputs' dtype.
    """
    n, m = a.shape[0], b.shape[0]
    if is_exporting():
        pairs_a = a[:, None, :].expand(n, m, 5).reshape(n * m, 5)
        pairs_b = b[None, :, :].expand(n, m, 5).reshape(n * m, 5)
        return rotated_bev_overlap_aligned(pairs_a, pairs_b).reshape(n, m)
    overlap = a.new_zeros((n, m))
    if n == 0 or m == 0:
        return overlap
    rows, cols = torch.nonzero(_candidate_pairs(a.detach(), b.detach()), as_tuple=True)
    chunk = 1 << 15  # pairs per chunk: bounds the (P, 24, 2) intermediates to a few tens of MB
    values = [
        rotated_bev_overlap_aligned(a[rows[start : start + chunk]], b[cols[start : start + chunk]])
        for start in range(0, rows.numel(), chunk)
    ]
    if values:
        overlap = overlap.index_put((rows, cols), torch.cat(values))
    return overlap


def _iou_from_overlap(overlap: torch.Tensor, area_a: torch.Tensor, area_b: torch.Tensor) -> torch.Tensor:
    union = area_a + area_b - overlap
    return overlap / union.clamp(min=torch.finfo(overlap.dtype).eps)


def bev_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise rotated BEV IoU.

    Args:
        a: (N, 5) BEV boxes ``(x, y, dx, dy, yaw)``.
        b: (M, 5) BEV boxes.

    Returns:
        (N, M) IoU in [0, 1].
    """
    overlap = rotated_bev_overlap(a, b)
    return _iou_from_overlap(overlap, (a[:, 2] * a[:, 3])[:, None], (b[:, 2] * b[:, 3])[None, :])


def bev_iou_aligned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Rotated BEV IoU of row i of ``a`` (N, 5) with row i of ``b`` (N, 5) -> (N,)."""
    overlap = rotated_bev_overlap_aligned(a, b)
    return _iou_from_overlap(overlap, a[:, 2] * a[:, 3], b[:, 2] * b[:, 3])


def _height_overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    top = torch.minimum(a[..., 2] + a[..., 5], b[..., 2] + b[..., 5])
    bottom = torch.maximum(a[..., 2], b[..., 2])
    return (top - bottom).clamp(min=0)


def box3d_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise 3D IoU of LiDAR boxes: BEV intersection x height overlap / union of the volumes.

    Args:
        a: (N, 7) LiDAR boxes ``(x, y, z, dx, dy, dz, yaw)``, (x, y, z) the bottom centre.
        b: (M, 7) LiDAR boxes.

    Returns:
        (N, M) IoU in [0, 1].
    """
    columns = list(_BEV_COLUMNS)
    overlap = rotated_bev_overlap(a[:, columns], b[:, columns]) * _height_overlap(
        a[:, None, :], b[None, :, :]
    )
    volume_a = a[:, 3] * a[:, 4] * a[:, 5]
    volume_b = b[:, 3] * b[:, 4] * b[:, 5]
    return _iou_from_overlap(overlap, volume_a[:, None], volume_b[None, :])


def box3d_iou_aligned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """3D IoU of row i of ``a`` (N, 7) with row i of ``b`` (N, 7) (LiDAR boxes) -> (N,)."""
    columns = list(_BEV_COLUMNS)
    overlap = rotated_bev_overlap_aligned(a[:, columns], b[:, columns]) * _height_overlap(a, b)
    return _iou_from_overlap(overlap, a[:, 3] * a[:, 4] * a[:, 5], b[:, 3] * b[:, 4] * b[:, 5])


def _nearest_bev_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    bev = boxes[:, list(_BEV_COLUMNS)] if boxes.shape[1] >= 7 else boxes
    yaw = limit_period(bev[:, 4], 0.5, math.pi)
    swap = (yaw.abs() > math.pi / 4)[:, None]
    size = torch.where(swap, bev[:, [3, 2]], bev[:, 2:4])
    return torch.cat([bev[:, :2] - size / 2, bev[:, :2] + size / 2], dim=1)


def nearest_bev_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of the nearest axis-aligned BEV boxes (MMDetection3D's ``BboxOverlapsNearest3D``).

    Each box becomes the axis-aligned rectangle of its BEV size, with dx and dy swapped when
    ``|limit_period(yaw, 0.5, pi)| > pi / 4``; then the plain axis-aligned IoU. The PointPillars /
    SECOND anchor assigners use it.

    Args:
        a: (N, 7) LiDAR boxes (or (N, 5) BEV boxes ``(x, y, dx, dy, yaw)``).
        b: (M, 7) LiDAR boxes (or (M, 5) BEV boxes).

    Returns:
        (N, M) IoU in [0, 1].
    """
    box_a, box_b = _nearest_bev_xyxy(a), _nearest_bev_xyxy(b)
    left_top = torch.maximum(box_a[:, None, :2], box_b[None, :, :2])
    right_bottom = torch.minimum(box_a[:, None, 2:], box_b[None, :, 2:])
    wh = (right_bottom - left_top).clamp(min=0)
    overlap = wh[..., 0] * wh[..., 1]
    area_a = (box_a[:, 2] - box_a[:, 0]) * (box_a[:, 3] - box_a[:, 1])
    area_b = (box_b[:, 2] - box_b[:, 0]) * (box_b[:, 3] - box_b[:, 1])
    return _iou_from_overlap(overlap, area_a[:, None], area_b[None, :])
