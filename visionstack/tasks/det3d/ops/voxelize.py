"""Hard and dynamic voxelisation of point clouds in pure PyTorch, with MMCV's semantics.

A point's voxel is ``floor((p - range_min) / voxel_size)`` per axis, computed in the points' dtype;
points whose voxel is outside ``[0, grid)`` (``grid = round((range_max - range_min) / voxel_size)``)
are dropped. Hard voxelisation numbers the voxels in the order of their first point, keeps at most
``max_voxels`` voxels (the later ones are dropped, as MMCV's kernel does when it runs out of voxels)
and at most ``max_num_points`` points per voxel (the first ones in the cloud's order), zero-padded.
Coordinates are (z, y, x) int64. :mod:`.voxelize_np` is the same computation in NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ....registry import MODELS
from .voxelize_np import grid_size

__all__ = ["Voxelization", "dynamic_voxelize", "grid_size", "hard_voxelize"]


def _voxel_coordinates(
    points: torch.Tensor, voxel_size: Sequence[float], point_cloud_range: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3) int64 (x, y, z) voxel indices and (N,) in-range mask."""
    xyz = points[:, :3]
    low = torch.tensor([float(v) for v in point_cloud_range[:3]], dtype=xyz.dtype, device=xyz.device)
    size = torch.tensor([float(v) for v in voxel_size], dtype=xyz.dtype, device=xyz.device)
    grid = torch.tensor(grid_size(voxel_size, point_cloud_range), device=xyz.device)
    index = torch.floor((xyz - low) / size)
    # Compare as floats first: a huge value would overflow the cast to int64.
    in_range = ((index >= 0) & (index < grid.to(xyz.dtype))).all(dim=1)
    index = torch.where(in_range[:, None], index, torch.zeros_like(index)).to(torch.int64)
    return index, in_range


def dynamic_voxelize(
    points: torch.Tensor, voxel_size: Sequence[float], point_cloud_range: Sequence[float]
) -> torch.Tensor:
    """The voxel of every point (MMCV's ``dynamic_voxelize``).

    Args:
        points: (N, C) points, the first three columns x, y, z.
        voxel_size: (3,) voxel size (x, y, z).
        point_cloud_range: (6,) ``(x_min, y_min, z_min, x_max, y_max, z_max)``.

    Returns:
        (N, 3) int64 (z, y, x) voxel coordinates, -1 rows for out-of-range points.
    """
    index, in_range = _voxel_coordinates(points, voxel_size, point_cloud_range)
    coors = index.flip(1)
    return torch.where(in_range[:, None], coors, torch.full_like(coors, -1))


def hard_voxelize(
    points: torch.Tensor,
    voxel_size: Sequence[float],
    point_cloud_range: Sequence[float],
    max_num_points: int,
    max_voxels: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group points into at most ``max_voxels`` voxels of at most ``max_num_points`` points (MMCV's rules).

    Args:
        points: (N, C) points, the first three columns x, y, z.
        voxel_size: (3,) voxel size (x, y, z).
        point_cloud_range: (6,) ``(x_min, y_min, z_min, x_max, y_max, z_max)``.
        max_num_points: points kept per voxel (the first ones in the cloud's order).
        max_voxels: voxels kept (in the order of their first point).

    Returns:
        ``(voxels (M, max_num_points, C) zero-padded, coors (M, 3) int64 (z, y, x), num_points (M,)
        int64)`` with ``M <= max_voxels``.
    """
    num_channels = points.shape[1]
    index, in_range = _voxel_coordinates(points, voxel_size, point_cloud_range)
    nx, ny, _ = grid_size(voxel_size, point_cloud_range)
    point_ids = torch.nonzero(in_range, as_tuple=True)[0]  # in-range points in cloud order
    linear = (index[point_ids, 2] * ny + index[point_ids, 1]) * nx + index[point_ids, 0]
    unique, inverse = torch.unique(linear, return_inverse=True)
    positions = torch.arange(linear.numel(), device=points.device)
    first = torch.full((unique.numel(),), linear.numel(), dtype=torch.int64, device=points.device)
    first = first.scatter_reduce(0, inverse, positions, reduce="amin")
    # Voxel ids by order of first point.
    rank = torch.empty_like(first)
    rank[torch.argsort(first)] = torch.arange(first.numel(), device=points.device)
    voxel_of_point = rank[inverse]
    # Position of each point inside its voxel: group by voxel keeping the cloud order.
    grouped = torch.sort(voxel_of_point, stable=True).indices
    counts = torch.bincount(voxel_of_point, minlength=first.numel())
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.empty_like(voxel_of_point)
    slot[grouped] = torch.arange(grouped.numel(), device=points.device) - starts[voxel_of_point[grouped]]

    num_voxels = min(int(first.numel()), int(max_voxels))
    taken = (voxel_of_point < num_voxels) & (slot < max_num_points)
    voxels = points.new_zeros((num_voxels, max_num_points, num_channels))
    voxels[voxel_of_point[taken], slot[taken]] = points[point_ids[taken]]
    first_points = point_ids[torch.sort(first).values[:num_voxels]]
    coors = index[first_points].flip(1)
    num_points = counts[:num_voxels].clamp(max=max_num_points)
    return voxels, coors, num_points


@MODELS.register()
class Voxelization(nn.Module):
    """MMCV's ``Voxelization`` layer: hard voxelisation with train/test voxel budgets, or dynamic.

    Args:
        voxel_size: (3,) voxel size (x, y, z).
        point_cloud_range: (6,) ``(x_min, y_min, z_min, x_max, y_max, z_max)``.
        max_num_points: points per voxel; -1 selects dynamic voxelisation (``forward`` returns the
            per-point coors only), as MMCV.
        max_voxels: one budget, or ``(train, test)`` chosen by ``self.training``.
        deterministic: accepted for MMCV compatibility; the result is always deterministic.
    """

    def __init__(
        self,
        voxel_size: Sequence[float],
        point_cloud_range: Sequence[float],
        max_num_points: int,
        max_voxels: int | Sequence[int] = 20000,
        deterministic: bool = True,
    ) -> None:
        super().__init__()
        self.voxel_size = [float(v) for v in voxel_size]
        self.point_cloud_range = [float(v) for v in point_cloud_range]
        self.max_num_points = int(max_num_points)
        budgets = (max_voxels, max_voxels) if isinstance(max_voxels, int) else tuple(max_voxels)
        if len(budgets) != 2:
            raise ValueError(f"Voxelization: max_voxels must be an int or (train, test), got {max_voxels!r}")
        self.max_voxels = (int(budgets[0]), int(budgets[1]))
        self.deterministic = deterministic
        self.grid_size = grid_size(self.voxel_size, self.point_cloud_range)

    def forward(self, points: torch.Tensor):
        """(N, C) points -> ``(voxels, coors (z, y, x), num_points)``, or (N, 3) coors when dynamic."""
        if self.max_num_points == -1:
            return dynamic_voxelize(points, self.voxel_size, self.point_cloud_range)
        max_voxels = self.max_voxels[0] if self.training else self.max_voxels[1]
        return hard_voxelize(points, self.voxel_size, self.point_cloud_range, self.max_num_points, max_voxels)

    def extra_repr(self) -> str:
        return (
            f"voxel_size={self.voxel_size}, point_cloud_range={self.point_cloud_range}, "
            f"max_num_points={self.max_num_points}, max_voxels={self.max_voxels}"
        )
