"""Hard voxelisation in NumPy (no torch: the torch-free runtime uses it).

The same computation as :func:`.voxelize.hard_voxelize` (MMCV's semantics, see there), in the points'
dtype, so both give identical arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["dynamic_voxelize_numpy", "grid_size", "hard_voxelize_numpy"]


def grid_size(voxel_size: Sequence[float], point_cloud_range: Sequence[float]) -> tuple[int, int, int]:
    """(nx, ny, nz) voxels per axis: ``round((range_max - range_min) / voxel_size)`` as MMCV."""
    return tuple(
        int(
            round(
                (float(point_cloud_range[axis + 3]) - float(point_cloud_range[axis]))
                / float(voxel_size[axis])
            )
        )
        for axis in range(3)
    )


def _voxel_coordinates(
    points: np.ndarray, voxel_size: Sequence[float], point_cloud_range: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    xyz = points[:, :3]
    low = np.asarray([float(v) for v in point_cloud_range[:3]], dtype=xyz.dtype)
    size = np.asarray([float(v) for v in voxel_size], dtype=xyz.dtype)
    grid = np.asarray(grid_size(voxel_size, point_cloud_range))
    index = np.floor((xyz - low) / size)
    in_range = ((index >= 0) & (index < grid.astype(xyz.dtype))).all(axis=1)
    index = np.where(in_range[:, None], index, 0).astype(np.int64)
    return index, in_range


def dynamic_voxelize_numpy(
    points: np.ndarray, voxel_size: Sequence[float], point_cloud_range: Sequence[float]
) -> np.ndarray:
    """(N, 3) int64 (z, y, x) voxel of every point, -1 rows out of range (as ``dynamic_voxelize``)."""
    index, in_range = _voxel_coordinates(np.asarray(points), voxel_size, point_cloud_range)
    return np.where(in_range[:, None], index[:, ::-1], -1).astype(np.int64)


def hard_voxelize_numpy(
    points: np.ndarray,
    voxel_size: Sequence[float],
    point_cloud_range: Sequence[float],
    max_num_points: int,
    max_voxels: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NumPy :func:`.voxelize.hard_voxelize`.

    Args:
        points: (N, C) points, the first three columns x, y, z.
        voxel_size: (3,) voxel size (x, y, z).
        point_cloud_range: (6,) ``(x_min, y_min, z_min, x_max, y_max, z_max)``.
        max_num_points: points kept per voxel (the first ones in the cloud's order).
        max_voxels: voxels kept (in the order of their first point).

    Returns:
        ``(voxels (M, max_num_points, C) zero-padded in the points' dtype, coors (M, 3) int64
        (z, y, x), num_points (M,) int64)``.
    """
    points = np.asarray(points)
    index, in_range = _voxel_coordinates(points, voxel_size, point_cloud_range)
    nx, ny, _ = grid_size(voxel_size, point_cloud_range)
    point_ids = np.flatnonzero(in_range)
    linear = (index[point_ids, 2] * ny + index[point_ids, 1]) * nx + index[point_ids, 0]
    _, first, inverse = np.unique(linear, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    voxel_of_point = rank[inverse]
    grouped = np.argsort(voxel_of_point, kind="stable")
    counts = np.bincount(voxel_of_point, minlength=first.size).astype(np.int64)
    starts = np.cumsum(counts) - counts
    slot = np.empty_like(voxel_of_point)
    slot[grouped] = np.arange(grouped.size) - starts[voxel_of_point[grouped]]

    num_voxels = min(int(first.size), int(max_voxels))
    taken = (voxel_of_point < num_voxels) & (slot < max_num_points)
    voxels = np.zeros((num_voxels, max_num_points, points.shape[1]), dtype=points.dtype)
    voxels[voxel_of_point[taken], slot[taken]] = points[point_ids[taken]]
    coors = np.ascontiguousarray(index[point_ids[first[order][:num_voxels]]][:, ::-1]).astype(np.int64)
    num_points = np.minimum(counts[:num_voxels], max_num_points).astype(np.int64)
    return voxels, coors, num_points
