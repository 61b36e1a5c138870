"""UNet backbone (MMSegmentation's UNet-S5-D16): shapes, parameter count, names, skip connections."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionstack.models.backbones import UNet
from visionstack.models.backbones.unet import ConvNormAct, InterpConv, UpConvBlock
from visionstack.registry import MODELS, build


def _small(seed: int = 0, **kwargs) -> UNet:
    torch.manual_seed(seed)
    return UNet(**{"base_channels": 4, **kwargs})


def expected_parameters(base: int = 64, num_stages: int = 5, in_channels: int = 3) -> int:
    """UNet-S5-D16 parameters from the architecture: bias-free convs, two per batch norm channel."""
    widths = [base * 2**i for i in range(num_stages)]
    total = 0
    for width in widths:  # encoder: two 3x3 convs per stage
        total += 9 * in_channels * width + 2 * width + 9 * width * width + 2 * width
        in_channels = width
    for deep, skip in zip(
        widths[1:], widths[:-1]
    ):  # decoder: 1x1 after the upsampling, two 3x3 on the concat
        total += deep * skip + 2 * skip + 9 * 2 * skip * skip + 2 * skip + 9 * skip * skip + 2 * skip
    return total


@pytest.fixture(scope="module")
def unet_s5_d16() -> UNet:
    return build(dict(type="UNet"), MODELS)


def test_default_is_unet_s5_d16_with_its_parameter_count(unet_s5_d16):
    assert sum(p.numel() for p in unet_s5_d16.parameters()) == expected_parameters() == 28_949_568
    assert unet_s5_d16.out_channels == (1024, 512, 256, 128, 64)
    assert unet_s5_d16.downsample_rate == 16


def test_state_dict_uses_mmsegmentation_names(unet_s5_d16):
    state = unet_s5_d16.state_dict()
    expected_shapes = {
        "encoder.0.0.convs.0.conv.weight": (64, 3, 3, 3),
        "encoder.0.0.convs.1.bn.weight": (64,),
        "encoder.1.1.convs.0.conv.weight": (128, 64, 3, 3),  # encoder.1.0 is the max pool
        "encoder.4.1.convs.1.bn.running_var": (1024,),
        "decoder.0.upsample.interp_upsample.1.conv.weight": (64, 128, 1, 1),
        "decoder.0.conv_block.convs.0.conv.weight": (64, 128, 3, 3),
        "decoder.3.upsample.interp_upsample.1.conv.weight": (512, 1024, 1, 1),
        "decoder.3.upsample.interp_upsample.1.bn.bias": (512,),
        "decoder.3.conv_block.convs.1.conv.weight": (512, 512, 3, 3),
    }
    assert {key: tuple(state[key].shape) for key in expected_shapes} == expected_shapes
    assert isinstance(unet_s5_d16.encoder[1][0], nn.MaxPool2d) and len(unet_s5_d16.encoder[0]) == 1
    assert not any(key.endswith("conv.bias") for key in state)  # convs before a norm have no bias


def test_outputs_run_from_the_bottom_to_full_resolution():
    model = _small().eval()
    outs = model(torch.randn(2, 3, 32, 48))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [
        (2, 64, 2, 3),
        (2, 32, 4, 6),
        (2, 16, 8, 12),
        (2, 8, 16, 24),
        (2, 4, 32, 48),
    ]
    assert model.out_channels == (64, 32, 16, 8, 4)
    selected = _small(out_indices=(3, -1)).eval()
    assert selected.out_channels == (8, 4)
    assert [tuple(o.shape) for o in selected(torch.randn(1, 3, 16, 16))] == [(1, 8, 8, 8), (1, 4, 16, 16)]


def test_the_bottom_output_is_the_last_encoder_map():
    model = _small().eval()
    x = torch.randn(1, 3, 16, 16)
    encoded = x
    for stage in model.encoder:
        encoded = stage(encoded)
    torch.testing.assert_close(model(x)[0], encoded, rtol=0, atol=0)


def test_input_size_must_be_divisible_by_16():
    with pytest.raises(ValueError, match=r"30x32 is not a multiple of .* rate 16"):
        _small()(torch.randn(1, 3, 30, 32))
    three_stages = dict(
        num_stages=3, strides=(1, 1, 1), enc_num_convs=(2, 2, 2), dec_num_convs=(2, 2), downsamples=(True, True),
        enc_dilations=(1, 1, 1), dec_dilations=(1, 1),
    )  # fmt: skip
    shallow = _small(**three_stages)
    assert shallow.downsample_rate == 4
    assert shallow.eval()(torch.randn(1, 3, 12, 20))[-1].shape == (1, 4, 12, 20)


def test_interp_conv_upsamples_bilinearly_then_convolves():
    torch.manual_seed(0)
    module = InterpConv(6, 3).eval()
    upsample, conv = module.interp_upsample
    assert isinstance(upsample, nn.Upsample) and isinstance(conv, ConvNormAct)
    x = torch.randn(2, 6, 5, 7)
    expected = conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
    torch.testing.assert_close(module(x), expected)
    assert module(x).shape == (2, 3, 10, 14)


def test_up_conv_block_concatenates_skip_then_upsampled():
    torch.manual_seed(0)
    block = UpConvBlock(in_channels=8, skip_channels=4, out_channels=4).eval()
    first_conv = block.conv_block.convs[0].conv
    assert first_conv.in_channels == 8
    skip, deep = torch.randn(1, 4, 8, 8), torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        first_conv.weight[:, 4:] = 0  # silence the upsampled half: only the skip (first) half counts
    torch.testing.assert_close(block(skip, deep), block(skip, torch.randn(1, 8, 4, 4)))
    assert not torch.allclose(block(skip, deep), block(torch.randn(1, 4, 8, 8), deep))


def test_stride_two_stages_replace_the_max_pool():
    model = _small(strides=(1, 2, 2, 1, 1)).eval()
    assert not isinstance(model.encoder[1][0], nn.MaxPool2d) and isinstance(model.encoder[3][0], nn.MaxPool2d)
    assert model.encoder[1][0].convs[0].conv.stride == (2, 2)
    assert [tuple(o.shape[-2:]) for o in model(torch.randn(1, 3, 32, 32))] == [
        (2, 2),
        (4, 4),
        (8, 8),
        (16, 16),
        (32, 32),
    ]


def test_stage_without_downsampling_uses_a_1x1_conv_instead_of_upsampling():
    model = _small(downsamples=(True, True, True, False)).eval()
    assert model.downsample_rate == 8
    assert isinstance(model.decoder[3].upsample, ConvNormAct) and isinstance(
        model.decoder[2].upsample, InterpConv
    )
    outs = model(torch.randn(1, 3, 24, 16))
    assert [tuple(o.shape[-2:]) for o in outs] == [(3, 2), (3, 2), (6, 4), (12, 8), (24, 16)]


def test_dilations_skip_the_first_conv_of_a_block():
    model = _small(enc_dilations=(1, 1, 1, 2, 2), dec_dilations=(2, 1, 1, 1))
    convs = model.encoder[4][1].convs
    assert (
        convs[0].conv.dilation == (1, 1)
        and convs[1].conv.dilation == (2, 2)
        and convs[1].conv.padding == (2, 2)
    )
    assert model.decoder[0].conv_block.convs[1].conv.dilation == (2, 2)


def test_gradients_reach_the_first_conv_and_norm_eval_freezes_statistics():
    model = _small().train()
    sum(o.square().mean() for o in model(torch.randn(2, 3, 16, 16))).backward()
    first = model.encoder[0][0].convs[0].conv.weight.grad
    assert first is not None and first.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())

    frozen = _small(norm_eval=True).train()
    norm = frozen.encoder[0][0].convs[0].bn
    before = norm.running_mean.clone()
    frozen(torch.randn(2, 3, 16, 16))
    assert not norm.training and torch.equal(norm.running_mean, before)


def test_eval_is_deterministic_and_seeded_builds_are_equal():
    x = torch.randn(2, 3, 16, 16)
    a, b = _small(seed=4).eval(), _small(seed=4).eval()
    for first, second, third in zip(a(x), a(x), b(x)):
        torch.testing.assert_close(first, second, rtol=0, atol=0)
        torch.testing.assert_close(first, third, rtol=0, atol=0)


def test_group_norm_is_named_like_mmcv():
    model = _small(norm_layer=partial(nn.GroupNorm, 2))
    assert "encoder.0.0.convs.0.gn.weight" in model.state_dict()
    assert model.eval()(torch.randn(1, 3, 16, 16))[-1].shape == (1, 4, 16, 16)


def test_wrong_lengths_are_named():
    with pytest.raises(
        ValueError, match=r"num_stages=4.*strides needs 4 entries.*dec_num_convs needs 3 entries"
    ):
        UNet(num_stages=4)
    with pytest.raises(ValueError, match="strides must be 1 or 2"):
        UNet(strides=(1, 3, 1, 1, 1))
