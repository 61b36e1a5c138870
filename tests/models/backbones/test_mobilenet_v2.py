"""MobileNetV2: torchvision layout and size, stage strides, inverted residual shortcuts, freezing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionstack.models.backbones import MobileNetV2
from visionstack.models.backbones.mobilenet_v2 import InvertedResidual, make_divisible

TORCHVISION_MOBILENET_V2_PARAMS = 3_504_872  # torchvision mobilenet_v2 (1000 classes)


def test_parameter_count_and_key_layout_match_torchvision():
    model = MobileNetV2(num_classes=1000)
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_MOBILENET_V2_PARAMS
    keys = set(model.state_dict())
    # names of torchvision's mobilenet_v2 state dict
    for key in (
        "features.0.0.weight",
        "features.1.conv.0.0.weight",
        "features.1.conv.1.weight",
        "features.2.conv.0.0.weight",
        "features.2.conv.1.0.weight",
        "features.2.conv.3.running_var",
        "features.18.0.weight",
        "features.18.1.bias",
        "classifier.1.weight",
    ):
        assert key in keys
    assert tuple(model.state_dict()["features.18.0.weight"].shape) == (1280, 320, 1, 1)


def test_stage_strides_and_channels():
    model = MobileNetV2(out_indices=range(8)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    strides = (2, 4, 8, 16, 16, 32, 32, 32)
    channels = (16, 24, 32, 64, 96, 160, 320, 1280)
    assert [tuple(o.shape) for o in outs] == [(1, c, 64 // s, 64 // s) for c, s in zip(channels, strides)]
    assert model.out_channels == channels


def test_widen_factor_rounds_to_multiples_of_eight():
    model = MobileNetV2(widen_factor=0.5, out_indices=(0, 1, 7))
    assert model.out_channels == (8, 16, 1280)
    assert make_divisible(0.75 * 24) == 24 and make_divisible(10) == 16 and make_divisible(1.4 * 32) == 48


def test_inverted_residual_shortcut_only_when_shape_is_kept():
    block = InvertedResidual(24, 24, stride=1, expand_ratio=6).eval()
    x = torch.randn(1, 24, 8, 8)
    torch.testing.assert_close(block(x), x + block.conv(x))
    assert not InvertedResidual(24, 32, stride=1, expand_ratio=6).use_shortcut
    assert not InvertedResidual(24, 24, stride=2, expand_ratio=6).use_shortcut
    assert isinstance(block.conv[0][2], nn.ReLU6) and isinstance(
        block.conv[-1], nn.BatchNorm2d
    )  # linear bottleneck


def test_frozen_stages_and_norm_eval():
    model = MobileNetV2(frozen_stages=2, norm_eval=True).train()
    stage_two_end = model.stage_ends[1]
    assert all(not p.requires_grad for p in model.features[: stage_two_end + 1].parameters())
    assert all(p.requires_grad for p in model.features[stage_two_end + 1 :].parameters())
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def test_logits_needs_classifier():
    model = MobileNetV2(num_classes=5).eval()
    assert model.logits(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    with pytest.raises(RuntimeError, match="num_classes"):
        MobileNetV2().logits(torch.randn(1, 3, 32, 32))
