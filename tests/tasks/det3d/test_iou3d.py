"""Rotated BEV / 3D IoU (torch and NumPy) against Shapely polygons; the nearest-BEV IoU by hand; gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from visionstack.tasks.det3d.ops.iou3d import (
    bev_iou,
    bev_iou_aligned,
    box3d_iou,
    box3d_iou_aligned,
    nearest_bev_iou,
    rotated_bev_overlap,
    rotated_bev_overlap_aligned,
)
from visionstack.tasks.det3d.ops.iou3d_np import bev_iou_np, bev_overlap_np, box3d_iou_np


def _polygon(box) -> Polygon:
    x, y, dx, dy, yaw = (float(v) for v in box[:5])
    cos, sin = math.cos(yaw), math.sin(yaw)
    corners = [(-dx / 2, -dy / 2), (dx / 2, -dy / 2), (dx / 2, dy / 2), (-dx / 2, dy / 2)]
    return Polygon([(x + u * cos - v * sin, y + u * sin + v * cos) for u, v in corners])


def _shapely_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    polygons_b = [_polygon(box) for box in b]
    return np.array([[_polygon(box).intersection(other).area for other in polygons_b] for box in a])


def _random_bev(rng: np.random.Generator, count: int, spread: float = 4.0) -> np.ndarray:
    centres = rng.uniform(-spread, spread, (count, 2))
    sizes = rng.uniform(0.3, 5.0, (count, 2))
    return np.concatenate([centres, sizes, rng.uniform(-4, 4, (count, 1))], axis=1)


def _special_cases() -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a[i], b[i]): identical, contained, disjoint, edge-touching, corner-touching, 45 degrees, a cross."""
    a = np.array(
        [
            [0, 0, 4, 2, 0.3],
            [0, 0, 4, 2, 0.0],
            [0, 0, 2, 2, 0.0],
            [0, 0, 2, 2, 0.0],
            [0, 0, 2, 2, 0.0],
            [0, 0, 2, 2, 0.0],
            [0, 0, 4, 1, 0.0],
            [1, 1, 2, 2, math.pi / 2],
            [0, 0, 3, 1, -math.pi],
        ]
    )
    b = np.array(
        [
            [0, 0, 4, 2, 0.3],
            [0.2, 0.1, 1, 0.5, 0.7],
            [5, 5, 1, 1, 0.4],
            [2, 0, 2, 2, 0.0],
            [2, 2, 2, 2, 0.0],
            [0, 0, 2, 2, math.pi / 4],
            [0, 0, 4, 1, math.pi / 2],
            [1, 1, 2, 2, 0.0],
            [0, 0, 3, 1, math.pi],
        ]
    )
    return a, b


def test_bev_overlap_matches_shapely_on_random_boxes_float64():
    rng = np.random.default_rng(0)
    a, b = _random_bev(rng, 70), _random_bev(rng, 50)
    expected = _shapely_overlap(a, b)
    assert (expected > 0).mean() > 0.2  # the set really exercises overlaps
    overlap = rotated_bev_overlap(torch.from_numpy(a), torch.from_numpy(b))
    assert overlap.dtype == torch.float64 and overlap.shape == (70, 50)
    np.testing.assert_allclose(overlap.numpy(), expected, atol=1e-9)
    np.testing.assert_allclose(bev_overlap_np(a, b), expected, atol=1e-9)


def test_special_cases_match_shapely_and_hand_values():
    a, b = _special_cases()
    expected = np.array([_polygon(x).intersection(_polygon(y)).area for x, y in zip(a, b)])
    # Hand values: identical 8, contained 0.5, disjoint and touching 0, square vs its 45-degree turn
    # (a regular octagon of inradius 1: 8 tan(pi / 8)), a cross 1, equal box turned by 2 pi 3.
    np.testing.assert_allclose(expected, [8, 0.5, 0, 0, 0, 8 * math.tan(math.pi / 8), 1, 4, 3], atol=1e-12)
    aligned = rotated_bev_overlap_aligned(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(aligned, expected, atol=1e-9)
    np.testing.assert_allclose(np.diag(bev_overlap_np(a, b)), expected, atol=1e-9)
    iou = bev_iou_aligned(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(iou[[0, 2, 3, 8]], [1, 0, 0, 1], atol=1e-9)


def test_float32_boxes_far_from_the_origin_keep_their_precision():
    rng = np.random.default_rng(1)
    a = _random_bev(rng, 40, spread=2.0).astype(np.float32)
    b = _random_bev(rng, 40, spread=2.0).astype(np.float32)
    a[:, 0] += 40
    b[:, 0] += 40
    a[:, 1] -= 25
    b[:, 1] -= 25
    expected_overlap = _shapely_overlap(a.astype(np.float64), b.astype(np.float64))
    areas_a, areas_b = (a[:, 2] * a[:, 3]).astype(np.float64), (b[:, 2] * b[:, 3]).astype(np.float64)
    expected_iou = expected_overlap / (areas_a[:, None] + areas_b[None, :] - expected_overlap)
    iou = bev_iou(torch.from_numpy(a), torch.from_numpy(b))
    assert iou.dtype == torch.float32
    np.testing.assert_allclose(iou.numpy(), expected_iou, atol=1e-5)
    np.testing.assert_allclose(bev_iou_np(a, b), expected_iou, atol=1e-9)


def _random_lidar(rng: np.random.Generator, count: int) -> np.ndarray:
    bev = _random_bev(rng, count, spread=3.0)
    z = rng.uniform(-2, 0, (count, 1))
    dz = rng.uniform(0.5, 2.5, (count, 1))
    return np.concatenate([bev[:, :2], z, bev[:, 2:4], dz, bev[:, 4:]], axis=1)


def test_box3d_iou_matches_shapely_area_times_height_overlap():
    rng = np.random.default_rng(2)
    a, b = _random_lidar(rng, 40), _random_lidar(rng, 30)
    b[:5] = a[:5]  # identical boxes
    columns = [0, 1, 3, 4, 6]
    heights = np.clip(
        np.minimum(a[:, None, 2] + a[:, None, 5], b[None, :, 2] + b[None, :, 5])
        - np.maximum(a[:, None, 2], b[None, :, 2]),
        0,
        None,
    )
    intersection = _shapely_overlap(a[:, columns], b[:, columns]) * heights
    volume_a, volume_b = np.prod(a[:, 3:6], axis=1), np.prod(b[:, 3:6], axis=1)
    expected = intersection / (volume_a[:, None] + volume_b[None, :] - intersection)
    iou = box3d_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(iou, expected, atol=1e-9)
    np.testing.assert_allclose(np.diag(iou[:5, :5]), 1.0, atol=1e-9)
    np.testing.assert_allclose(box3d_iou_np(a, b), expected, atol=1e-9)
    aligned = box3d_iou_aligned(torch.from_numpy(a[:30]), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(aligned, np.diag(expected[:30]), atol=1e-9)


def test_box3d_iou_uses_the_bottom_centre():
    # Same footprint, heights [0, 2] and [1, 3]: overlap 1 of height, IoU = 1 / 3.
    a = torch.tensor([[0.0, 0, 0, 2, 2, 2, 0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 0, 1, 2, 2, 2, 0]], dtype=torch.float64)
    assert box3d_iou(a, b).item() == pytest.approx(1 / 3)


def test_nearest_bev_iou_hand_case():
    # Box a is axis aligned; b has yaw 1.2 (> pi / 4): dx and dy swap -> a 1 x 4 rectangle at x = 1.
    a = torch.tensor([[0.0, 0, 0, 4, 1, 1, 0.1]])
    b = torch.tensor([[1.0, 0, 0, 4, 1, 1, 1.2], [0.0, 0, 0, 4, 1, 1, math.pi - 0.1]])
    iou = nearest_bev_iou(a, b)
    # a: [-2, 2] x [-0.5, 0.5]; b0: [0.5, 1.5] x [-2, 2] -> overlap 1 x 1, union 4 + 4 - 1.
    # b1: yaw pi - 0.1 limited to -0.1 -> not swapped -> identical to a.
    np.testing.assert_allclose(iou.numpy(), [[1 / 7, 1.0]], atol=1e-6)
    # (N, 5) BEV input gives the same.
    np.testing.assert_allclose(
        nearest_bev_iou(a[:, [0, 1, 3, 4, 6]], b[:, [0, 1, 3, 4, 6]]).numpy(), iou.numpy()
    )


def test_gradients_are_finite_and_match_finite_differences():
    rng = np.random.default_rng(3)
    a = torch.tensor(_random_bev(rng, 12, spread=1.5), requires_grad=True)
    b = torch.tensor(_random_bev(rng, 12, spread=1.5), requires_grad=True)
    special_a, special_b = (torch.tensor(x, requires_grad=True) for x in _special_cases())
    (bev_iou(a, b).sum() + bev_iou_aligned(special_a, special_b).sum()).backward()
    for tensor in (a, b, special_a, special_b):
        assert torch.isfinite(tensor.grad).all()
    assert a.grad.abs().sum() > 0
    # Generic overlapping pairs: the analytic gradient is the true one.
    pairs_a = torch.tensor(
        [[0.1, 0.2, 3.0, 1.5, 0.4], [0.0, 0.0, 2.0, 1.0, 1.0]], dtype=torch.float64, requires_grad=True
    )
    pairs_b = torch.tensor(
        [[0.5, -0.1, 2.5, 2.0, -0.3], [0.3, 0.2, 1.5, 1.2, 0.2]], dtype=torch.float64, requires_grad=True
    )
    assert torch.autograd.gradcheck(bev_iou_aligned, (pairs_a, pairs_b))


def test_empty_inputs():
    empty = torch.zeros((0, 5))
    assert rotated_bev_overlap(empty, torch.ones((3, 5))).shape == (0, 3)
    assert bev_iou_np(np.zeros((0, 5)), np.ones((2, 5))).shape == (0, 2)
    assert box3d_iou(torch.zeros((2, 7)), torch.zeros((0, 7))).shape == (2, 0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter the spec asks for
def test_onnx_export_of_bev_iou_matches_eager(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(4)
    a = torch.tensor(_random_bev(rng, 6, spread=2.0), dtype=torch.float32)
    b = torch.tensor(_random_bev(rng, 5, spread=2.0), dtype=torch.float32)
    path = tmp_path / "bev_iou.onnx"

    class BevIou(torch.nn.Module):
        def forward(self, first, second):
            return bev_iou(first, second)

    torch.onnx.export(BevIou(), (a, b), str(path), opset_version=17, dynamo=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [inp.name for inp in session.get_inputs()]
    (result,) = session.run(None, {names[0]: a.numpy(), names[1]: b.numpy()})
    expected = bev_iou(a, b).numpy()
    assert (expected > 0).sum() >= 5
    np.testing.assert_allclose(result, expected, atol=1e-5)


@pytest.mark.parametrize("module", ["iou3d_np", "voxelize_np"])
def test_numpy_modules_do_not_import_torch(module):
    import importlib
    import pathlib

    source = pathlib.Path(
        importlib.import_module(f"visionstack.tasks.det3d.ops.{module}").__file__
    ).read_text()
    assert "import torch" not in source and "from torch" not in source
