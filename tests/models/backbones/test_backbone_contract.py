"""The contract every registered backbone keeps, parametrized over the MODELS registry.

A backbone is any class registered from ``visionstack.models.backbones``. Each must have a tiny
config below; the first test fails when a new backbone is registered without one.
"""

from __future__ import annotations

import pytest
import torch

import visionstack  # noqa: F401  (registers everything)
from visionstack.registry import MODELS, build

TINY_BACKBONE_CONFIGS = {
    "CSPNeXt": dict(type="CSPNeXt", deepen_factor=0.167, widen_factor=0.25),
    "MixVisionTransformer": dict(
        type="MixVisionTransformer",
        embed_dims=8,
        num_layers=(1, 1, 1, 1),
        num_heads=(1, 2, 3, 4),
        drop_path_rate=0.1,
    ),
    "UNet": dict(
        type="UNet",
        base_channels=4,
        num_stages=3,
        strides=(1, 1, 1),
        enc_num_convs=(2, 2, 2),
        dec_num_convs=(2, 2),
        downsamples=(True, True),
        enc_dilations=(1, 1, 1),
        dec_dilations=(1, 1),
    ),
    "ResNet": dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3)),
    "MobileNetV2": dict(type="MobileNetV2", widen_factor=0.25, out_indices=(1, 7)),
    "ConvNeXt": dict(
        type="ConvNeXt",
        arch=dict(depths=(1, 1, 2, 1), dims=(8, 16, 24, 32)),
        out_indices=(1, 3),
        drop_path_rate=0.1,
    ),
    "VisionTransformer": dict(
        type="VisionTransformer",
        arch=dict(embed_dims=32, num_layers=2, num_heads=2),
        img_size=32,
        patch_size=8,
        out_indices=(0, 1),
    ),
}


def registered_backbones() -> list[str]:
    return sorted(
        name for name, cls in MODELS.items() if cls.__module__.startswith("visionstack.models.backbones")
    )


def test_every_registered_backbone_has_a_tiny_config():
    missing = set(registered_backbones()) - set(TINY_BACKBONE_CONFIGS)
    assert not missing, f"add a tiny config for {sorted(missing)} to TINY_BACKBONE_CONFIGS"
    assert set(TINY_BACKBONE_CONFIGS) <= set(registered_backbones())


@pytest.fixture(params=registered_backbones())
def name(request) -> str:
    return request.param


def _build(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build(TINY_BACKBONE_CONFIGS[name], MODELS)


def test_forward_returns_tuple_matching_out_indices_and_channels(name):
    model = _build(name).eval()
    outs = model(torch.randn(2, 3, 32, 32))
    assert isinstance(outs, tuple) and len(outs) == len(model.out_indices) == len(model.out_channels)
    for out, channels in zip(outs, model.out_channels):
        assert out.shape[0] == 2 and out.shape[1] == channels
        assert torch.isfinite(out).all()


def _gradients(model: torch.nn.Module) -> dict[str, torch.Tensor | None]:
    model.zero_grad(set_to_none=True)
    outs = model(torch.randn(2, 3, 32, 32))
    sum((out.float() ** 2).mean() for out in outs).backward()
    return {n: p.grad for n, p in model.named_parameters()}


def test_every_parameter_gets_a_gradient(name):
    # Training mode: every parameter is reached and its gradient is finite.
    model = _build(name).train()
    without = [n for n, g in _gradients(model).items() if g is None or not torch.isfinite(g).all()]
    assert not without, f"{name}: no (finite) gradient for {without[:5]}"
    # Eval mode: also non-zero. (In training mode a bias followed by a linear layer and a batch norm
    # gets an exactly zero gradient, because batch statistics remove constant shifts, e.g.
    # MobileNetV2's last linear-bottleneck biases; with running statistics every parameter counts.)
    zero = [n for n, g in _gradients(model.eval()).items() if g.abs().sum() == 0]
    assert not zero, f"{name}: zero gradient for {zero[:5]}"


def test_state_dict_round_trip_gives_identical_outputs(name):
    source = _build(name, seed=0).eval()
    target = _build(name, seed=1).eval()
    target.load_state_dict(source.state_dict())
    x = torch.randn(2, 3, 32, 32)
    for a, b in zip(source(x), target(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_eval_mode_is_deterministic_and_batch_independent(name):
    model = _build(name).eval()
    x = torch.randn(3, 3, 32, 32)
    full = model(x)
    single = model(x[:1])
    for a, b in zip(full, single):
        torch.testing.assert_close(a[:1], b, rtol=1e-4, atol=1e-5)
