"""Pillar encoder, simple VFE and the BEV scatter against float64 loop references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.tasks.det3d.models.middle_encoders import PointPillarsScatter
from visionstack.tasks.det3d.models.voxel_encoders import HardSimpleVFE, PFNLayer, PillarFeatureNet

VOXEL = (0.5, 0.5, 4.0)
RANGE = (0.0, -4.0, -3.0, 8.0, 4.0, 1.0)  # a 16 x 16 pillar grid


def _pillars(seed: int = 0, m: int = 6, p: int = 5):
    """Random pillars: (M, P, 4) zero-padded points inside their (y, x) cell, counts, (M, 4) coors."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(16 * 16, size=m, replace=False)
    ys, xs = cells // 16, cells % 16
    counts = rng.integers(1, p + 1, size=m)
    voxels = np.zeros((m, p, 4))
    for i in range(m):
        for j in range(counts[i]):
            x = RANGE[0] + (xs[i] + rng.random()) * VOXEL[0]
            y = RANGE[1] + (ys[i] + rng.random()) * VOXEL[1]
            voxels[i, j] = (x, y, rng.uniform(-3, 1), rng.random())
    coors = np.stack([np.zeros(m), np.zeros(m), ys, xs], 1).astype(np.int64)
    return torch.tensor(voxels, dtype=torch.float32), torch.tensor(counts), torch.tensor(coors)


def _decorate_loop(voxels, counts, coors, legacy=False, with_distance=False):
    """The decoration of every point, one point at a time (float64)."""
    m, p, _ = voxels.shape
    out = np.zeros((m, p, 10 + with_distance))
    for i in range(m):
        n = int(counts[i])
        mean = voxels[i, :n, :3].double().mean(0).numpy()
        centre = np.array(
            [
                coors[i, 3] * VOXEL[0] + VOXEL[0] / 2 + RANGE[0],
                coors[i, 2] * VOXEL[1] + VOXEL[1] / 2 + RANGE[1],
                coors[i, 1] * VOXEL[2] + VOXEL[2] / 2 + RANGE[2],
            ]
        )
        for j in range(n):
            point = voxels[i, j].double().numpy()
            offset = point[:3] - centre
            raw = np.concatenate([offset, point[3:]]) if legacy else point
            row = [*raw, *(point[:3] - mean), *offset]
            if with_distance:
                row.append(np.linalg.norm(raw[:3]))
            out[i, j] = row
    return out


@pytest.mark.parametrize("legacy", [False, True])
def test_pillar_decoration_matches_loop(legacy):
    voxels, counts, coors = _pillars()
    net = PillarFeatureNet(4, (64,), voxel_size=VOXEL, point_cloud_range=RANGE, legacy=legacy)
    assert net.in_channels == 10  # x y z r + 3 cluster offsets + 3 centre offsets (MMDetection3D v1.x)
    got = net.decorate(voxels, counts, coors).double().numpy()
    np.testing.assert_allclose(got, _decorate_loop(voxels, counts, coors, legacy), atol=1e-5)


def test_pillar_distance_channel():
    voxels, counts, coors = _pillars(1)
    net = PillarFeatureNet(4, (64,), with_distance=True, voxel_size=VOXEL, point_cloud_range=RANGE)
    assert net.in_channels == 11
    got = net.decorate(voxels, counts, coors).double().numpy()
    np.testing.assert_allclose(got, _decorate_loop(voxels, counts, coors, with_distance=True), atol=1e-5)


def test_pillar_forward_matches_per_point_loop():
    """Linear -> BN (eval) -> ReLU on each point (padded rows are zero points and take part in the
    max, as MMDetection3D), max over the pillar."""
    torch.manual_seed(0)
    voxels, counts, coors = _pillars(2)
    net = PillarFeatureNet(4, (64,), voxel_size=VOXEL, point_cloud_range=RANGE).eval()
    layer = net.pfn_layers[0]
    with torch.no_grad():
        layer.norm.running_mean.uniform_(-0.5, 0.5)
        layer.norm.running_var.uniform_(0.5, 2.0)
        layer.norm.weight.uniform_(0.5, 1.5)
        layer.norm.bias.uniform_(-0.2, 0.2)
        got = net(voxels, counts, coors).double().numpy()
    decorated = _decorate_loop(voxels, counts, coors)
    weight = layer.linear.weight.detach().double().numpy()
    bn = layer.norm
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).double().detach().numpy()
    shift = (
        (bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps))
        .double()
        .detach()
        .numpy()
    )
    expected = np.zeros((len(voxels), 64))
    for i in range(len(voxels)):
        rows = [np.maximum(weight @ point * scale + shift, 0) for point in decorated[i]]
        expected[i] = np.max(rows, axis=0)
    assert got.shape == (len(voxels), 64)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_pfn_names_and_parameter_count():
    net = PillarFeatureNet(4, (64,), voxel_size=VOXEL, point_cloud_range=RANGE)
    names = {name: tuple(p.shape) for name, p in net.state_dict().items()}
    assert names["pfn_layers.0.linear.weight"] == (64, 10)
    assert names["pfn_layers.0.norm.weight"] == (64,)
    assert "pfn_layers.0.norm.running_var" in names
    # 10 x 64 linear (no bias) + 64 BN weights + 64 BN biases
    assert sum(p.numel() for p in net.parameters()) == 10 * 64 + 2 * 64 == 768
    assert net.pfn_layers[0].norm.eps == 1e-3 and net.pfn_layers[0].norm.momentum == 0.01


def test_two_pfn_layers_concatenate_point_and_pillar_features():
    voxels, counts, coors = _pillars(3)
    net = PillarFeatureNet(4, (32, 48), voxel_size=VOXEL, point_cloud_range=RANGE).eval()
    first = net.pfn_layers[0]
    assert first.units == 16 and net.pfn_layers[1].linear.in_features == 32
    with torch.no_grad():
        mid = first(net.decorate(voxels, counts, coors))
        assert mid.shape == (6, 5, 32)
        # the second half of every point row is the pillar's max of the first half
        torch.testing.assert_close(
            mid[:, :, 16:], mid[:, :, :16].max(dim=1, keepdim=True).values.expand(-1, 5, -1)
        )
        assert net(voxels, counts, coors).shape == (6, 48)


def test_pfn_avg_mode():
    torch.manual_seed(0)
    layer = PFNLayer(3, 8, last_layer=True, mode="avg").eval()
    x = torch.randn(4, 5, 3)
    counts = torch.tensor([5, 5, 5, 5])
    with torch.no_grad():
        expected = torch.relu(layer.norm(layer.linear(x).transpose(1, 2)).transpose(1, 2)).mean(
            1, keepdim=True
        )
        torch.testing.assert_close(layer(x, counts), expected)
    with pytest.raises(ValueError, match="mode"):
        PFNLayer(3, 8, mode="min")


def test_pillar_gradients_reach_parameters():
    voxels, counts, coors = _pillars(4)
    net = PillarFeatureNet(4, (16, 32), voxel_size=VOXEL, point_cloud_range=RANGE)
    net(voxels, counts, coors).square().sum().backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_norm_cfg_checked():
    PillarFeatureNet(norm_cfg=dict(type="BN1d", eps=1e-3, momentum=0.01))
    with pytest.raises(ValueError, match="GN"):
        PillarFeatureNet(norm_cfg=dict(type="GN", num_groups=4))


def test_hard_simple_vfe_is_the_mean_of_real_points():
    voxels, counts, coors = _pillars(5)
    got = HardSimpleVFE(num_features=4)(voxels, counts, coors)
    expected = torch.stack([voxels[i, : counts[i]].mean(0) for i in range(len(voxels))])
    torch.testing.assert_close(got, expected)


def test_scatter_matches_loop_canvas():
    torch.manual_seed(0)
    ny, nx, channels = 5, 7, 3
    cells = [(0, 1, 2), (0, 4, 6), (1, 0, 0), (1, 4, 6), (2, 2, 3)]  # (batch, y, x)
    coors = torch.tensor([(b, 0, y, x) for b, y, x in cells])
    feats = torch.randn(len(cells), channels, requires_grad=True)
    canvas = PointPillarsScatter(channels, (ny, nx))(feats, coors, batch_size=3)
    expected = torch.zeros(3, channels, ny, nx)
    for i, (b, y, x) in enumerate(cells):
        expected[b, :, y, x] = feats[i].detach()
    torch.testing.assert_close(canvas.detach(), expected)
    canvas.sum().backward()
    torch.testing.assert_close(feats.grad, torch.ones_like(feats))
    with pytest.raises(ValueError, match="channels"):
        PointPillarsScatter(4, (ny, nx))(feats, coors, 3)
