"""FPN: level count and shapes, the top-down sum against a hand-written reference, extra levels."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionstack.models.necks.fpn import FPN
from visionstack.registry import MODELS, build

IN_CHANNELS = [8, 16, 32, 64]


def backbone_maps(size: int = 64, batch: int = 2) -> tuple[torch.Tensor, ...]:
    """Maps of strides 4, 8, 16, 32 for a ``size`` x ``size`` image."""
    torch.manual_seed(0)
    return tuple(
        torch.randn(batch, c, size // 2 ** (i + 2), size // 2 ** (i + 2)) for i, c in enumerate(IN_CHANNELS)
    )


def reference_fpn(fpn: FPN, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """Lin et al. section 3 written out level by level, with the module's own convs."""
    used = list(inputs[fpn.start_level : fpn.end_level + 1])
    merged = [None] * len(used)
    merged[-1] = fpn.lateral_convs[-1](used[-1])
    for level in range(len(used) - 2, -1, -1):
        upsampled = F.interpolate(merged[level + 1], scale_factor=2, mode="nearest")
        merged[level] = fpn.lateral_convs[level](used[level]) + upsampled
    return [conv(m) for conv, m in zip(fpn.fpn_convs, merged)]


@pytest.mark.parametrize("start_level", [0, 1])
def test_top_down_pathway_matches_the_reference(start_level):
    inputs = backbone_maps()
    fpn = FPN(IN_CHANNELS, 12, num_outs=4 - start_level, start_level=start_level)
    outs = fpn(inputs)
    expected = reference_fpn(fpn, inputs)
    assert len(outs) == len(expected)
    for out, ref in zip(outs, expected):
        torch.testing.assert_close(out, ref)


def test_odd_sizes_upsample_to_the_finer_map():
    inputs = (torch.randn(1, 8, 25, 19), torch.randn(1, 16, 13, 10))
    outs = FPN([8, 16], 4, num_outs=2)(inputs)
    assert [tuple(o.shape) for o in outs] == [(1, 4, 25, 19), (1, 4, 13, 10)]


def test_max_pool_extra_levels():
    inputs = backbone_maps()
    fpn = FPN(IN_CHANNELS, 12, num_outs=6)
    outs = fpn(inputs)
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2, 1, 1]
    torch.testing.assert_close(outs[4], outs[3][..., ::2, ::2])
    assert len(fpn.extra_convs) == 0


def test_retinanet_extra_levels_on_input():
    inputs = backbone_maps(128)
    fpn = FPN(IN_CHANNELS, 12, num_outs=5, start_level=1, add_extra_convs="on_input")
    outs = fpn(inputs)
    assert [tuple(o.shape[-2:]) for o in outs] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    assert fpn.extra_convs[0].in_channels == IN_CHANNELS[-1]
    torch.testing.assert_close(outs[3], fpn.extra_convs[0](inputs[-1]))
    torch.testing.assert_close(outs[4], fpn.extra_convs[1](outs[3]))  # no ReLU by default


def test_fcos_extra_levels_on_output_with_relu():
    inputs = backbone_maps(128)
    fpn = FPN(
        IN_CHANNELS, 12, num_outs=5, start_level=1, add_extra_convs="on_output", relu_before_extra_convs=True
    )
    outs = fpn(inputs)
    torch.testing.assert_close(outs[3], fpn.extra_convs[0](outs[2]))
    torch.testing.assert_close(outs[4], fpn.extra_convs[1](F.relu(outs[3])))
    lateral = FPN(IN_CHANNELS, 12, num_outs=5, start_level=1, add_extra_convs="on_lateral")
    assert len(lateral(inputs)) == 5


def test_norm_layer_gradients_and_config_build():
    fpn = build(
        dict(
            type="FPN",
            in_channels=IN_CHANNELS,
            out_channels=8,
            num_outs=5,
            add_extra_convs=True,
            norm_layer=dict(type="GroupNorm", _partial_=True, num_groups=4),
        ),
        MODELS,
    )
    assert fpn.add_extra_convs == "on_input"
    assert isinstance(fpn.fpn_convs[0], nn.Sequential) and fpn.fpn_convs[0][0].bias is None
    outs = fpn(backbone_maps(64))
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is not None for p in fpn.parameters())
    assert isinstance(functools.partial(FPN, IN_CHANNELS, 8)(num_outs=4), FPN)


def test_configuration_errors():
    with pytest.raises(ValueError, match="num_outs"):
        FPN(IN_CHANNELS, 8, num_outs=2)
    with pytest.raises(ValueError, match="add_extra_convs"):
        FPN(IN_CHANNELS, 8, num_outs=5, add_extra_convs="on_top")
    with pytest.raises(ValueError, match="start_level"):
        FPN(IN_CHANNELS, 8, num_outs=5, start_level=4)
    with pytest.raises(ValueError, match="input maps"):
        FPN(IN_CHANNELS, 8, num_outs=4)(backbone_maps()[:3])
