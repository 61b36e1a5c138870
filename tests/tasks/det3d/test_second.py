"""SECOND backbone and SECONDFPN neck: names, parameter counts, shapes, the upsampling by hand."""

from __future__ import annotations

import pytest
import torch

from visionstack.tasks.det3d.models.second import SECOND, SECONDFPN


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _second_count(c_in, widths, nums):
    """3x3 convs without bias + BN (weight, bias) per conv: the architecture's count."""
    total, previous = 0, c_in
    for width, num in zip(widths, nums):
        total += previous * width * 9 + 2 * width + num * (width * width * 9 + 2 * width)
        previous = width
    return total


def test_published_parameter_counts():
    # KITTI PointPillars (MMDetection3D pointpillars_hv_secfpn_kitti): 4,207,616 + 598,784
    backbone = SECOND(64, (64, 128, 256), (3, 5, 5), (2, 2, 2))
    neck = SECONDFPN((64, 128, 256), (128, 128, 128), (1, 2, 4))
    assert _count(backbone) == _second_count(64, (64, 128, 256), (3, 5, 5)) == 4_207_616
    assert _count(neck) == 64 * 128 * 1 + 128 * 128 * 4 + 256 * 128 * 16 + 3 * 2 * 128 == 598_784


def test_state_dict_names_are_mmdetection3d_ones():
    backbone = SECOND(64, (64, 128), (1, 1), (2, 2))
    neck = SECONDFPN((64, 128), (32, 32), (1, 2))
    keys = backbone.state_dict()
    assert tuple(keys["blocks.0.0.weight"].shape) == (64, 64, 3, 3)
    assert tuple(keys["blocks.0.1.running_var"].shape) == (64,)
    assert tuple(keys["blocks.1.3.weight"].shape) == (128, 128, 3, 3)
    neck_keys = neck.state_dict()
    assert tuple(neck_keys["deblocks.1.0.weight"].shape) == (
        128,
        32,
        2,
        2,
    )  # ConvTranspose2d: (in, out, k, k)
    assert tuple(neck_keys["deblocks.0.1.weight"].shape) == (32,)
    assert backbone.blocks[0][1].eps == 1e-3 and backbone.blocks[0][1].momentum == 0.01


def test_shapes_on_the_cpu_grid():
    """The lead's CPU grid: 200 x 200 pillars, narrower channels, all sizes from the arguments."""
    torch.manual_seed(0)
    backbone = SECOND(32, (32, 64, 128), (1, 1, 1), (2, 2, 2)).eval()
    neck = SECONDFPN((32, 64, 128), (64, 64, 64), (1, 2, 4)).eval()
    with torch.no_grad():
        feats = backbone(torch.randn(1, 32, 200, 200))
        assert [tuple(f.shape) for f in feats] == [(1, 32, 100, 100), (1, 64, 50, 50), (1, 128, 25, 25)]
        (out,) = neck(feats)
    assert out.shape == (1, 192, 100, 100)
    assert neck.out_channels == 192


def test_stride_two_deblock_equals_block_writes():
    """A kernel = stride = 2 transposed conv writes W[c_in, :, a, b] x[c_in, i, j] at (2i + a, 2j + b)."""
    torch.manual_seed(0)
    neck = SECONDFPN((3,), (4,), (2,)).eval()
    x = torch.randn(1, 3, 5, 6)
    conv = neck.deblocks[0][0]
    with torch.no_grad():
        got = conv(x)
        expected = torch.einsum("nchw,coab->nohawb", x, conv.weight).reshape(1, 4, 10, 12)
        # (n, o, h, a, w, b) -> (n, o, 2h + a, 2w + b)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_downsampling_and_conv_for_no_stride():
    neck = SECONDFPN((8, 8), (4, 4), (1, 0.5), use_conv_for_no_stride=True)
    assert isinstance(neck.deblocks[0][0], torch.nn.Conv2d) and neck.deblocks[0][0].kernel_size == (1, 1)
    assert neck.deblocks[1][0].stride == (2, 2)
    (out,) = neck([torch.randn(2, 8, 8, 8), torch.randn(2, 8, 16, 16)])
    assert out.shape == (2, 8, 8, 8)


def test_argument_errors():
    with pytest.raises(ValueError, match="one entry per stage"):
        SECOND(64, (64, 128), (3,), (2, 2))
    with pytest.raises(ValueError, match="one entry per level"):
        SECONDFPN((64,), (128, 128), (1, 2))
    with pytest.raises(ValueError, match="feature levels"):
        SECONDFPN((4, 4), (4, 4), (1, 2))([torch.randn(1, 4, 4, 4)])


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    backbone = SECOND(4, (8, 16), (1, 1), (2, 2))
    neck = SECONDFPN((8, 16), (8, 8), (1, 2))
    (out,) = neck(backbone(torch.randn(2, 4, 16, 16)))
    out.square().mean().backward()
    for name, param in [*backbone.named_parameters(), *neck.named_parameters()]:
        assert param.grad is not None and param.grad.abs().sum() > 0, name
