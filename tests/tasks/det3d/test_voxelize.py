"""Hard / dynamic voxelisation against a slow loop of MMCV's kernel; torch and NumPy give identical arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from visionstack.tasks.det3d.ops.voxelize import Voxelization, dynamic_voxelize, grid_size, hard_voxelize
from visionstack.tasks.det3d.ops.voxelize_np import dynamic_voxelize_numpy, hard_voxelize_numpy

VOXEL_SIZE = (0.5, 0.5, 1.0)
RANGE = (0.0, -2.0, -1.0, 4.0, 2.0, 1.0)


def _loop_reference(points: np.ndarray, voxel_size, point_cloud_range, max_num_points, max_voxels):
    """MMCV's CPU ``hard_voxelize`` kernel, one point at a time (float32 arithmetic as the points)."""
    grid = grid_size(voxel_size, point_cloud_range)
    low = np.asarray(point_cloud_range[:3], dtype=points.dtype)
    size = np.asarray(voxel_size, dtype=points.dtype)
    voxel_of: dict[tuple[int, int, int], int] = {}
    voxels, coors, counts = [], [], []
    for point in points:
        coordinate = [math.floor(v) for v in (point[:3] - low) / size]
        if any(c < 0 or c >= g for c, g in zip(coordinate, grid)):
            continue
        key = tuple(coordinate[::-1])  # (z, y, x)
        if key not in voxel_of:
            if len(voxels) >= max_voxels:
                continue
            voxel_of[key] = len(voxels)
            voxels.append(np.zeros((max_num_points, points.shape[1]), dtype=points.dtype))
            coors.append(key)
            counts.append(0)
        index = voxel_of[key]
        if counts[index] < max_num_points:
            voxels[index][counts[index]] = point
            counts[index] += 1
    channels = points.shape[1]
    return (
        np.stack(voxels) if voxels else np.zeros((0, max_num_points, channels), dtype=points.dtype),
        np.asarray(coors, dtype=np.int64).reshape(-1, 3),
        np.asarray(counts, dtype=np.int64),
    )


def _random_cloud(seed: int, count: int = 600) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = rng.uniform([-0.5, -2.5, -1.5, 0], [4.5, 2.5, 1.5, 1], (count, 4)).astype(np.float32)
    points[: count // 3, :3] = np.round(points[: count // 3, :3] * 2) / 2  # on voxel faces, many per voxel
    points[count // 3 : count // 2, :3] = points[0, :3]  # duplicates in one voxel
    return points


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("max_num_points", "max_voxels"), [(4, 200), (100, 1000), (3, 17), (1, 5)])
def test_hard_voxelize_matches_mmcv_loop(seed, max_num_points, max_voxels):
    points = _random_cloud(seed)
    expected = _loop_reference(points, VOXEL_SIZE, RANGE, max_num_points, max_voxels)
    voxels, coors, num_points = hard_voxelize(
        torch.from_numpy(points), VOXEL_SIZE, RANGE, max_num_points, max_voxels
    )
    assert voxels.dtype == torch.float32 and coors.dtype == torch.int64 and num_points.dtype == torch.int64
    for actual, reference in zip((voxels, coors, num_points), expected):
        np.testing.assert_array_equal(actual.numpy(), reference)
    numpy_result = hard_voxelize_numpy(points, VOXEL_SIZE, RANGE, max_num_points, max_voxels)
    for actual, reference in zip(numpy_result, expected):
        assert actual.dtype == reference.dtype
        np.testing.assert_array_equal(actual, reference)


def test_limits_overflow_and_padding():
    points = _random_cloud(5)
    voxels, coors, num_points = hard_voxelize(torch.from_numpy(points), VOXEL_SIZE, RANGE, 3, 10)
    assert voxels.shape == (10, 3, 4) and coors.shape == (10, 3) and num_points.shape == (10,)
    assert num_points.max() == 3  # the duplicate voxel overflowed its point budget
    for voxel, count in zip(voxels, num_points):
        assert (voxel[count:] == 0).all()
    assert len({tuple(c) for c in coors.tolist()}) == 10  # distinct voxels


def test_range_edges_follow_floor_and_grid():
    # x = 4.0 is the range maximum: floor(4 / 0.5) = 8 = grid -> dropped; x just below it is kept,
    # x = 0 kept, x slightly negative dropped.
    points = np.array(
        [
            [4.0, 0, 0, 1],
            [np.nextafter(np.float32(4.0), np.float32(0)), 0, 0, 1],
            [0.0, 0, 0, 1],
            [-1e-7, 0, 0, 1],
        ],
        dtype=np.float32,
    )
    coors = dynamic_voxelize(torch.from_numpy(points), VOXEL_SIZE, RANGE)
    assert coors.tolist() == [[-1, -1, -1], [1, 4, 7], [1, 4, 0], [-1, -1, -1]]
    np.testing.assert_array_equal(dynamic_voxelize_numpy(points, VOXEL_SIZE, RANGE), coors.numpy())
    voxels, hard_coors, num_points = hard_voxelize(torch.from_numpy(points), VOXEL_SIZE, RANGE, 2, 10)
    assert hard_coors.tolist() == [[1, 4, 7], [1, 4, 0]] and num_points.tolist() == [1, 1]
    # KITTI's range with a float32 value that lands on the boundary after rounding.
    kitti_range = (0, -39.68, -3, 69.12, 39.68, 1)
    kitti_size = (0.16, 0.16, 4)
    assert grid_size(kitti_size, kitti_range) == (432, 496, 1)
    rng = np.random.default_rng(0)
    cloud = rng.uniform([-1, -41, -4, 0], [71, 41, 2, 1], (3000, 4)).astype(np.float32)
    cloud[:20, 1] = np.float32(-39.68)
    cloud[20:40, 0] = np.float32(69.12)
    torch_result = hard_voxelize(torch.from_numpy(cloud), kitti_size, kitti_range, 32, 5000)
    numpy_result = hard_voxelize_numpy(cloud, kitti_size, kitti_range, 32, 5000)
    reference = _loop_reference(cloud, kitti_size, kitti_range, 32, 5000)
    for actual_torch, actual_numpy, expected in zip(torch_result, numpy_result, reference):
        np.testing.assert_array_equal(actual_torch.numpy(), expected)
        np.testing.assert_array_equal(actual_numpy, expected)


def test_dynamic_voxelize_agrees_with_hard_coordinates():
    points = _random_cloud(9)
    coors = dynamic_voxelize(torch.from_numpy(points), VOXEL_SIZE, RANGE)
    _, hard_coors, _ = hard_voxelize(torch.from_numpy(points), VOXEL_SIZE, RANGE, 1000, 100000)
    in_range = (coors >= 0).all(dim=1)
    assert ((coors == -1).all(dim=1) | in_range).all()
    # Unique in-range voxels in order of first appearance are the hard voxels.
    seen: dict[tuple, None] = {}
    for row in coors[in_range].tolist():
        seen.setdefault(tuple(row))
    assert [list(key) for key in seen] == hard_coors.tolist()


def test_empty_and_all_out_of_range_clouds():
    for cloud in (np.zeros((0, 4), np.float32), np.full((5, 4), 100.0, np.float32)):
        voxels, coors, num_points = hard_voxelize(torch.from_numpy(cloud), VOXEL_SIZE, RANGE, 5, 10)
        assert voxels.shape == (0, 5, 4) and coors.shape == (0, 3) and num_points.shape == (0,)
        numpy_voxels, numpy_coors, numpy_counts = hard_voxelize_numpy(cloud, VOXEL_SIZE, RANGE, 5, 10)
        assert numpy_voxels.shape == (0, 5, 4) and numpy_coors.shape == (0, 3) and numpy_counts.shape == (0,)


def test_voxelization_module_uses_train_and_test_budgets():
    points = torch.from_numpy(_random_cloud(2))
    layer = Voxelization(VOXEL_SIZE, RANGE, max_num_points=5, max_voxels=(7, 12))
    assert layer.grid_size == (8, 8, 2)
    assert layer.train()(points)[0].shape[0] == 7
    assert layer.eval()(points)[0].shape[0] == 12
    dynamic = Voxelization(VOXEL_SIZE, RANGE, max_num_points=-1)
    assert torch.equal(dynamic(points), dynamic_voxelize(points, VOXEL_SIZE, RANGE))
    with pytest.raises(ValueError, match="max_voxels"):
        Voxelization(VOXEL_SIZE, RANGE, 5, max_voxels=(1, 2, 3))
