"""CSPNeXtPAFPN: shapes, both fusion paths, MMDetection key layout, the RTMDet-tiny neck size."""

from __future__ import annotations

import pytest
import torch

from visionstack.models.necks.cspnext_pafpn import CSPNeXtPAFPN


def _inputs(channels=(16, 32, 64), size=16, requires_grad=False):
    return [
        torch.randn(2, c, size // 2**i, size // 2**i, requires_grad=requires_grad)
        for i, c in enumerate(channels)
    ]


def test_output_shapes_keep_resolutions():
    neck = CSPNeXtPAFPN((16, 32, 64), 24, num_csp_blocks=1).eval()
    outs = neck(_inputs())
    assert [tuple(o.shape) for o in outs] == [(2, 24, 16, 16), (2, 24, 8, 8), (2, 24, 4, 4)]


def test_every_output_depends_on_every_input():
    # Top-down carries the coarsest level to the finest output, bottom-up the finest to the coarsest.
    neck = CSPNeXtPAFPN((16, 32, 64), 8, num_csp_blocks=1).eval()
    for out_index in range(3):
        inputs = _inputs(requires_grad=True)
        neck(inputs)[out_index].sum().backward()
        for level, x in enumerate(inputs):
            assert x.grad is not None and x.grad.abs().sum() > 0, (out_index, level)


def test_structure_and_names_follow_mmdetection():
    neck = CSPNeXtPAFPN((96, 192, 384), 96, num_csp_blocks=1)
    keys = set(neck.state_dict())
    for key in (
        "reduce_layers.0.conv.weight",
        "top_down_blocks.1.main_conv.conv.weight",
        "downsamples.0.bn.weight",
        "bottom_up_blocks.1.final_conv.conv.weight",
        "out_convs.2.conv.weight",
    ):
        assert key in keys, key
    # reduce_layers[0] maps the coarsest level to the next finer one
    assert tuple(neck.state_dict()["reduce_layers.0.conv.weight"].shape) == (192, 384, 1, 1)
    assert neck.top_down_blocks[0].attention is None and not neck.top_down_blocks[0].blocks[0].add_identity


def test_wrong_number_of_levels_raises():
    neck = CSPNeXtPAFPN((16, 32, 64), 8)
    with pytest.raises(ValueError, match="feature maps"):
        neck(_inputs()[:2])
    with pytest.raises(ValueError, match="two levels"):
        CSPNeXtPAFPN((16,), 8)


def test_two_level_neck_works():
    neck = CSPNeXtPAFPN((8, 16), 8, num_csp_blocks=2).eval()
    outs = neck(_inputs((8, 16), size=8))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 8, 8), (2, 8, 4, 4)]
