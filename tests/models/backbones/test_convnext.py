"""ConvNeXt: published size, stage shapes, block structure, drop path and freezing."""

from __future__ import annotations

import pytest
import torch

from visionstack.models.backbones import ConvNeXt
from visionstack.models.backbones.convnext import ConvNeXtBlock

# torchvision/timm convnext_tiny: 28,589,128 parameters, of which 769,000 are the 768->1000 linear
# classifier that a backbone does not have (its head LayerNorm is our out_norms.3).
CONVNEXT_TINY_BACKBONE_PARAMS = 28_589_128 - 769_000


def test_tiny_parameter_count_matches_published_model():
    assert sum(p.numel() for p in ConvNeXt("tiny").parameters()) == CONVNEXT_TINY_BACKBONE_PARAMS


def test_stage_shapes_and_timm_style_names():
    model = ConvNeXt("tiny", out_indices=(0, 1, 2, 3)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 96, 16, 16), (1, 192, 8, 8), (1, 384, 4, 4), (1, 768, 2, 2)]
    keys = model.state_dict()
    assert tuple(keys["stem.0.weight"].shape) == (96, 3, 4, 4)
    assert tuple(keys["stages.1.downsample.1.weight"].shape) == (192, 96, 2, 2)
    assert tuple(keys["stages.2.blocks.8.conv_dw.weight"].shape) == (384, 1, 7, 7)
    assert tuple(keys["stages.3.blocks.2.mlp.fc1.weight"].shape) == (3072, 768)
    torch.testing.assert_close(keys["stages.0.blocks.0.gamma"], torch.full((96,), 1e-6))


def test_block_equals_its_published_formula():
    torch.manual_seed(0)
    block = ConvNeXtBlock(8, layer_scale_init=0.5).eval()
    x = torch.randn(2, 8, 5, 5)
    y = block.conv_dw(x).permute(0, 2, 3, 1)
    y = torch.nn.functional.layer_norm(y, (8,), block.norm.weight, block.norm.bias, 1e-6)
    y = block.mlp.fc2(torch.nn.functional.gelu(block.mlp.fc1(y))) * 0.5
    torch.testing.assert_close(block(x), x + y.permute(0, 3, 1, 2))


def test_drop_path_rates_rise_linearly_and_are_off_in_eval():
    model = ConvNeXt({"depths": (1, 1, 1, 1), "dims": (8, 16, 24, 32)}, drop_path_rate=0.3)
    rates = [stage.blocks[0].drop_path.drop_prob for stage in model.stages]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3])
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(model(x)[0], model(x)[0])


def test_frozen_stages_and_bad_arch():
    model = ConvNeXt({"depths": (1, 1, 1, 1), "dims": (8, 16, 24, 32)}, frozen_stages=1)
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.stages[0].parameters())
    assert all(p.requires_grad for p in model.stages[1].parameters())
    with pytest.raises(ValueError, match="unknown arch 'huge'"):
        ConvNeXt("huge")
    with pytest.raises(ValueError, match="4 depths"):
        ConvNeXt({"depths": (1, 1), "dims": (8, 16)})


def test_gap_before_final_norm_pools_then_normalises_the_vector() -> None:
    torch.manual_seed(0)
    arch = {"depths": (1, 1, 1, 1), "dims": (8, 8, 8, 16)}
    dense = ConvNeXt(arch=arch, out_indices=(3,))
    pooled = ConvNeXt(arch=arch, out_indices=(3,), gap_before_final_norm=True)
    pooled.load_state_dict(dense.state_dict())
    for norm in (dense.out_norms["3"], pooled.out_norms["3"]):
        torch.nn.init.normal_(norm.weight)
    pooled.out_norms["3"].weight.data.copy_(dense.out_norms["3"].weight)
    x = torch.randn(2, 3, 64, 64)
    (vector,) = pooled(x)
    assert vector.shape == (2, 16)
    stage = dense.stages(dense.stem(x)).mean((2, 3))
    expected = torch.nn.functional.layer_norm(
        stage, (16,), dense.out_norms["3"].weight, dense.out_norms["3"].bias, dense.out_norms["3"].eps
    )
    torch.testing.assert_close(vector, expected, rtol=1e-5, atol=1e-6)
    # the dense order (normalise the map, then pool) is a different function
    (feature_map,) = dense(x)
    assert not torch.allclose(feature_map.mean((2, 3)), vector, atol=1e-3)
