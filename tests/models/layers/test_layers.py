"""Shared layers: DropPath statistics, LayerNorm2d against NumPy, Mlp."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.models.layers import DropPath, GroupNorm, LayerNorm2d, Mlp, drop_path, linear_drop_path_rates


def test_drop_path_drops_whole_samples_and_keeps_the_expectation():
    torch.manual_seed(0)
    x = torch.ones(20000, 3, 2, 2)
    out = drop_path(x, 0.25, training=True)
    per_sample = out.flatten(1)
    kept = per_sample[:, 0] != 0
    torch.testing.assert_close(per_sample[kept], torch.full_like(per_sample[kept], 1 / 0.75))  # whole samples
    assert torch.all(per_sample[~kept] == 0)
    assert kept.float().mean().item() == pytest.approx(0.75, abs=0.01)
    assert out.mean().item() == pytest.approx(1.0, abs=0.02)


def test_drop_path_is_identity_in_eval_and_validates():
    module = DropPath(0.5).eval()
    x = torch.randn(4, 3)
    assert module(x) is x
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        DropPath(1.0)
    assert linear_drop_path_rates(0.3, 4) == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert linear_drop_path_rates(0.3, 1) == [0.0]


def test_layer_norm_2d_matches_numpy():
    torch.manual_seed(0)
    norm = LayerNorm2d(5)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0)
        norm.bias.uniform_(-1, 1)
    x = torch.randn(2, 5, 3, 4)
    data = x.numpy().astype(np.float64)
    mean = data.mean(axis=1, keepdims=True)
    var = data.var(axis=1, keepdims=True)
    expected = (data - mean) / np.sqrt(var + 1e-6) * norm.weight.detach().numpy()[
        :, None, None
    ] + norm.bias.detach().numpy()[:, None, None]
    np.testing.assert_allclose(norm(x).detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        norm(torch.randn(2, 5))


def test_mlp_is_fc_gelu_fc():
    torch.manual_seed(0)
    mlp = Mlp(4, 16).eval()
    x = torch.randn(3, 7, 4)
    expected = torch.nn.functional.gelu(x @ mlp.fc1.weight.T + mlp.fc1.bias) @ mlp.fc2.weight.T + mlp.fc2.bias
    torch.testing.assert_close(mlp(x), expected)


def test_group_norm_factory_from_a_config():
    from visionstack.registry import MODELS, build

    backbone = build(
        dict(type="ResNet", depth=18, norm_layer=dict(type="GroupNorm", num_groups=16, _partial_=True)),
        MODELS,
    )
    assert isinstance(backbone.layer1[0].bn1, GroupNorm) and backbone.layer1[0].bn1.num_groups == 16
    x = torch.randn(2, 32, 3, 3)
    torch.testing.assert_close(GroupNorm(32, num_groups=4)(x), torch.nn.functional.group_norm(x, 4, eps=1e-5))
    with pytest.raises(ValueError, match="not divisible into 32 groups"):
        GroupNorm(48)
