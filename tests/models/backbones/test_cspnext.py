"""CSPNeXt: stage shapes per published variant, block counts, MMDetection key layout, the CSP blocks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionstack.models.backbones.cspnext import (
    ChannelAttention,
    CSPLayer,
    CSPNeXt,
    CSPNeXtBlock,
    SPPBottleneck,
)

# (deepen_factor, widen_factor) of MMDetection's rtmdet_{tiny,s,m,l}_8xb32-300e_coco configs
VARIANTS = {"tiny": (0.167, 0.375), "s": (0.33, 0.5), "m": (0.67, 0.75), "l": (1.0, 1.0)}


@pytest.mark.parametrize("variant", ["tiny", "s"])
def test_variant_output_shapes_and_channels(variant):
    deepen, widen = VARIANTS[variant]
    model = CSPNeXt(deepen_factor=deepen, widen_factor=widen).eval()
    outs = model(torch.randn(2, 3, 96, 64))
    expected_channels = tuple(int(c * widen) for c in (256, 512, 1024))
    assert model.out_channels == expected_channels
    assert [tuple(o.shape) for o in outs] == [
        (2, c, 96 // s, 64 // s) for c, s in zip(expected_channels, (8, 16, 32))
    ]


def test_all_stages_have_strides_two_to_thirty_two():
    model = CSPNeXt(deepen_factor=0.167, widen_factor=0.25, out_indices=(0, 1, 2, 3, 4)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4, 2]
    assert model.out_channels == (16, 32, 64, 128, 256)


@pytest.mark.parametrize(
    ("variant", "blocks"), [("tiny", [1, 1, 1, 1]), ("s", [1, 2, 2, 1]), ("l", [3, 6, 6, 3])]
)
def test_blocks_per_stage_follow_deepen_factor(variant, blocks):
    deepen, widen = VARIANTS[variant]
    model = CSPNeXt(deepen_factor=deepen, widen_factor=0.125 if variant == "l" else widen)
    counted = [len(getattr(model, f"stage{i}")[-1].blocks) for i in range(1, 5)]
    assert counted == blocks


def test_state_dict_uses_mmdetection_names():
    keys = set(CSPNeXt(deepen_factor=0.167, widen_factor=0.375).state_dict())
    for key in (
        "stem.0.conv.weight",
        "stem.2.bn.running_mean",
        "stage1.0.conv.weight",
        "stage1.1.main_conv.conv.weight",
        "stage1.1.short_conv.bn.weight",
        "stage1.1.final_conv.conv.weight",
        "stage1.1.blocks.0.conv1.conv.weight",
        "stage1.1.blocks.0.conv2.depthwise_conv.conv.weight",
        "stage1.1.blocks.0.conv2.pointwise_conv.bn.bias",
        "stage1.1.attention.fc.weight",
        "stage1.1.attention.fc.bias",
        "stage4.1.conv1.conv.weight",
        "stage4.1.conv2.conv.weight",
        "stage4.2.main_conv.conv.weight",
    ):
        assert key in keys, key
    # 5x5 depthwise large kernel (paper section 3.1)
    model = CSPNeXt(deepen_factor=0.167, widen_factor=0.375)
    assert tuple(model.stage2[1].blocks[0].conv2.depthwise_conv.conv.weight.shape) == (48, 1, 5, 5)


def test_batch_norm_defaults_match_rtmdet():
    bn = CSPNeXt(deepen_factor=0.167, widen_factor=0.25).stem[0].bn
    assert bn.momentum == pytest.approx(0.03) and bn.eps == pytest.approx(1e-3)


def test_cspnext_block_identity_only_when_channels_match():
    block = CSPNeXtBlock(8, 8, expansion=1.0).eval()
    x = torch.randn(1, 8, 6, 6)
    torch.testing.assert_close(block(x), block.conv2(block.conv1(x)) + x)
    assert not CSPNeXtBlock(8, 16).add_identity
    assert not CSPNeXtBlock(8, 8, add_identity=False).add_identity


def test_channel_attention_is_hardsigmoid_of_pooled_linear_map():
    attention = ChannelAttention(4)
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    attention = attention.double()
    pooled = x.mean(dim=(2, 3))  # (2, 4)
    weight = attention.fc.weight[:, :, 0, 0]
    gate = ((pooled @ weight.T + attention.fc.bias) / 6 + 0.5).clamp(0, 1)  # hardsigmoid
    torch.testing.assert_close(attention(x), x * gate[:, :, None, None])


def test_csp_layer_concatenates_main_and_short_halves():
    layer = CSPLayer(8, 12, expand_ratio=0.5, num_blocks=2, channel_attention=True).eval()
    x = torch.randn(1, 8, 7, 7)
    merged = torch.cat([layer.blocks(layer.main_conv(x)), layer.short_conv(x)], dim=1)
    torch.testing.assert_close(layer(x), layer.final_conv(layer.attention(merged)))
    assert layer.main_conv.conv.out_channels == 6 and len(layer.blocks) == 2


def test_spp_bottleneck_pools_in_parallel_and_keeps_size():
    spp = SPPBottleneck(8, 10, kernel_sizes=(5, 9, 13)).eval()
    x = torch.randn(1, 8, 16, 16)
    reduced = spp.conv1(x)
    pooled = [F.max_pool2d(reduced, k, stride=1, padding=k // 2) for k in (5, 9, 13)]
    out = spp(x)
    assert out.shape == (1, 10, 16, 16)
    torch.testing.assert_close(out, spp.conv2(torch.cat([reduced, *pooled], dim=1)))
    with pytest.raises(ValueError, match="odd"):
        SPPBottleneck(8, 8, kernel_sizes=(4,))


def test_frozen_stages_and_norm_eval():
    model = CSPNeXt(deepen_factor=0.167, widen_factor=0.25, frozen_stages=1, norm_eval=True).train()
    assert all(not p.requires_grad for p in model.stem.parameters())
    assert all(not p.requires_grad for p in model.stage1.parameters())
    assert all(p.requires_grad for p in model.stage2.parameters())
    assert not model.stage3[0].bn.training


def test_bad_arguments_raise_with_names():
    with pytest.raises(ValueError, match="arch"):
        CSPNeXt(arch="P7")
    with pytest.raises(ValueError, match="frozen_stages"):
        CSPNeXt(frozen_stages=5)
    with pytest.raises(ValueError, match="out_indices"):
        CSPNeXt(out_indices=(5,))


def test_p6_has_five_stages_to_stride_64():
    model = CSPNeXt(arch="P6", deepen_factor=0.167, widen_factor=0.125, out_indices=(2, 3, 4, 5)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [8, 4, 2, 1]
    assert model.out_channels == (32, 64, 96, 128)
