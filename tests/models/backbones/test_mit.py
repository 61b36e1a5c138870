"""MixVisionTransformer (SegFormer's MiT encoder): shapes, parameter counts, MMSeg names, references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from visionstack.models.backbones import MixVisionTransformer, load_mit_checkpoint
from visionstack.models.backbones.mit import EfficientSelfAttention, MixFFN
from visionstack.registry import MODELS, build

# A tiny MiT for fast tests: 4 stages of widths 8, 16, 24, 32.
TINY = dict(embed_dims=8, num_layers=(1, 1, 1, 1), num_heads=(1, 2, 3, 4))


def _tiny(seed: int = 0, **kwargs) -> MixVisionTransformer:
    torch.manual_seed(seed)
    return MixVisionTransformer(**{**TINY, **kwargs})


def expected_parameters(
    embed_dims: int,
    num_layers: tuple[int, ...],
    num_heads: tuple[int, ...] = (1, 2, 5, 8),
    patch_sizes: tuple[int, ...] = (7, 3, 3, 3),
    sr_ratios: tuple[int, ...] = (8, 4, 2, 1),
    mlp_ratio: int = 4,
    in_channels: int = 3,
) -> int:
    """Count MiT parameters from the paper's architecture (section 3.1), layer by layer."""
    total = 0
    for heads, kernel, sr, depth in zip(num_heads, patch_sizes, sr_ratios, num_layers):
        width, hidden = embed_dims * heads, embed_dims * heads * mlp_ratio
        patch_embed = kernel * kernel * in_channels * width + width + 2 * width  # conv + bias, LayerNorm
        attention = 3 * (width * width + width) + (width * width + width)  # q, k, v, output projections
        reduction = (sr * sr * width * width + width + 2 * width) if sr > 1 else 0  # conv + LayerNorm
        mix_ffn = (width * hidden + hidden) + (9 * hidden + hidden) + (hidden * width + width)
        block = 2 * width + attention + reduction + 2 * width + mix_ffn  # norm1, attn, norm2, ffn
        total += patch_embed + depth * block + 2 * width  # + the stage's LayerNorm
        in_channels = width
    return total


def test_default_is_mit_b0_with_its_published_parameter_count():
    model = MixVisionTransformer()
    count = sum(p.numel() for p in model.parameters())
    # 3.32 M: SegFormer-B0 with a 3-class All-MLP head has 3,714,915 parameters (the head: 4 linear
    # embeddings to 256 (132,096), the 1x1 fuse conv + BN (262,656), the classifier (771)).
    assert count == expected_parameters(32, (2, 2, 2, 2)) == 3_319_392 == 3_714_915 - 132_096 - 262_656 - 771
    assert model.out_channels == (32, 64, 160, 256)


def test_mit_b1_parameter_count():
    # B1 is B0 at twice the width (embed_dims 64).
    count = sum(p.numel() for p in MixVisionTransformer(embed_dims=64).parameters())
    assert count == expected_parameters(64, (2, 2, 2, 2)) == 13_151_424


def test_output_shapes_are_strides_4_to_32_and_ceil_for_odd_sizes():
    model = _tiny().eval()
    outs = model(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 16, 24), (2, 16, 8, 12), (2, 24, 4, 6), (2, 32, 2, 3)]
    odd = model(torch.randn(1, 3, 33, 50))  # overlapping embeddings pad: ceil(H / stride) per stage
    assert [tuple(o.shape[-2:]) for o in odd] == [(9, 13), (5, 7), (3, 4), (2, 2)]
    assert model.out_channels == (8, 16, 24, 32)


def test_out_indices_select_stages():
    model = _tiny(out_indices=(1, -1)).eval()
    outs = model(torch.randn(1, 3, 32, 32))
    assert model.out_indices == (1, 3) and model.out_channels == (16, 32)
    assert [tuple(o.shape) for o in outs] == [(1, 16, 4, 4), (1, 32, 1, 1)]


def test_state_dict_uses_mmsegmentation_names():
    state = MixVisionTransformer().state_dict()
    expected_shapes = {
        "layers.0.0.projection.weight": (32, 3, 7, 7),
        "layers.0.0.norm.weight": (32,),
        "layers.0.1.0.norm1.weight": (32,),
        "layers.0.1.0.attn.attn.in_proj_weight": (96, 32),
        "layers.0.1.0.attn.attn.in_proj_bias": (96,),
        "layers.0.1.0.attn.attn.out_proj.weight": (32, 32),
        "layers.0.1.0.attn.sr.weight": (32, 32, 8, 8),
        "layers.0.1.0.attn.norm.bias": (32,),
        "layers.0.1.1.norm2.bias": (32,),
        "layers.1.1.0.ffn.layers.0.weight": (256, 64, 1, 1),
        "layers.1.1.0.ffn.layers.1.weight": (256, 1, 3, 3),
        "layers.1.1.0.ffn.layers.4.weight": (64, 256, 1, 1),
        "layers.2.0.projection.weight": (160, 64, 3, 3),
        "layers.2.2.weight": (160,),
        "layers.3.1.1.attn.attn.in_proj_weight": (768, 256),
        "layers.3.2.bias": (256,),
    }
    assert {key: tuple(state[key].shape) for key in expected_shapes} == expected_shapes
    # the last stage has sr_ratio 1: no reduction conv or norm
    assert not any(
        key.startswith("layers.3.1.0.attn.sr") or key.startswith("layers.3.1.0.attn.norm") for key in state
    )
    # per stage: patch embedding (4 tensors) and norm (2); per block 18 tensors, 14 without sr/norm
    assert len(state) == 4 * (4 + 2) + 8 * 18 - 2 * 4


def test_efficient_attention_equals_a_float64_reference():
    torch.manual_seed(0)
    attention = EfficientSelfAttention(embed_dims=12, num_heads=3, sr_ratio=2).double().eval()
    grid = (4, 6)
    tokens = torch.randn(2, 24, 12, dtype=torch.float64)
    # reference: keys/values from the 2x2-reduced, LayerNormed map; per-head scaled dot products
    reduced = (
        F.conv2d(
            tokens.transpose(1, 2).reshape(2, 12, *grid), attention.sr.weight, attention.sr.bias, stride=2
        )
        .flatten(2)
        .transpose(1, 2)
    )
    reduced = F.layer_norm(reduced, (12,), attention.norm.weight, attention.norm.bias, eps=1e-6)
    w_q, w_k, w_v = attention.attn.in_proj_weight.chunk(3)
    b_q, b_k, b_v = attention.attn.in_proj_bias.chunk(3)
    query, key, value = tokens @ w_q.T + b_q, reduced @ w_k.T + b_k, reduced @ w_v.T + b_v
    heads = []
    for head in range(3):
        part = slice(4 * head, 4 * head + 4)
        weights = torch.softmax(query[..., part] @ key[..., part].transpose(1, 2) / math.sqrt(4), dim=-1)
        heads.append(weights @ value[..., part])
    expected = torch.cat(heads, dim=-1) @ attention.attn.out_proj.weight.T + attention.attn.out_proj.bias
    assert reduced.shape == (2, 6, 12)  # 24 tokens attend to 6
    torch.testing.assert_close(attention(tokens, grid), expected, rtol=1e-10, atol=1e-10)


def test_mix_ffn_equals_a_float64_reference():
    torch.manual_seed(0)
    ffn = MixFFN(embed_dims=4, hidden_dims=8).double().eval()
    tokens = torch.randn(1, 15, 4, dtype=torch.float64)
    fc1, depthwise, fc2 = ffn.layers[0], ffn.layers[1], ffn.layers[4]
    hidden = tokens @ fc1.weight.flatten(1).T + fc1.bias  # a 1x1 conv is a per-token linear layer
    hidden = hidden.transpose(1, 2).reshape(1, 8, 3, 5)
    hidden = F.conv2d(hidden, depthwise.weight, depthwise.bias, padding=1, groups=8)
    hidden = F.gelu(hidden).flatten(2).transpose(1, 2)
    expected = hidden @ fc2.weight.flatten(1).T + fc2.bias
    torch.testing.assert_close(ffn(tokens, (3, 5)), expected, rtol=1e-10, atol=1e-10)


def test_gradients_reach_the_first_patch_embedding():
    model = _tiny().train()
    outs = model(torch.randn(2, 3, 32, 32))
    sum(o.square().mean() for o in outs).backward()
    first = model.layers[0][0].projection.weight.grad
    assert first is not None and first.abs().sum() > 0
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing


def test_eval_is_deterministic_and_seeded_builds_are_equal():
    x = torch.randn(2, 3, 32, 32)
    a, b = _tiny(seed=5).eval(), _tiny(seed=5).eval()
    for first, second, third in zip(a(x), a(x), b(x)):
        torch.testing.assert_close(first, second, rtol=0, atol=0)
        torch.testing.assert_close(first, third, rtol=0, atol=0)


def test_drop_path_rises_linearly_and_is_off_in_eval():
    model = _tiny(seed=1, num_layers=(2, 2, 2, 2), drop_path_rate=0.35)
    rates = [block.drop_path.drop_prob for _, blocks, _ in model.layers for block in blocks]
    assert rates == pytest.approx([0.35 * i / 7 for i in range(8)])
    reference = _tiny(seed=1, num_layers=(2, 2, 2, 2))
    reference.load_state_dict(model.state_dict())
    x = torch.randn(4, 3, 32, 32)
    model.eval(), reference.eval()
    for a, b in zip(model(x), reference(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    model.train()
    torch.manual_seed(0)
    first = model(x)[-1]
    torch.manual_seed(1)
    assert not torch.allclose(first, model(x)[-1])  # stochastic depth is active while training


def test_frozen_stages():
    model = _tiny(frozen_stages=2).train()
    assert not any(p.requires_grad for p in model.layers[:2].parameters())
    assert all(p.requires_grad for p in model.layers[2:].parameters())
    assert not model.layers[1].training and model.layers[2].training


def test_checkpoint_loading_strips_a_segmentor_prefix_and_names_mismatches(tmp_path):
    source = _tiny(seed=2).eval()
    path = tmp_path / "segformer.pth"
    whole = {f"backbone.{k}": v for k, v in source.state_dict().items()}
    whole["decode_head.conv_seg.weight"] = torch.zeros(3, 8, 1, 1)
    torch.save({"state_dict": whole}, path)
    loaded = build(dict(type="MixVisionTransformer", pretrained=str(path), **TINY), MODELS).eval()
    x = torch.randn(1, 3, 32, 32)
    for a, b in zip(source(x), loaded(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match=r"segformer\.pth.*shape mismatches.*layers\.0\.0\.projection"):
        load_mit_checkpoint(MixVisionTransformer(), path)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"num_stages=4 but .*'sr_ratios': \(8, 4, 2\)"):
        MixVisionTransformer(sr_ratios=(8, 4, 2))
    with pytest.raises(ValueError, match="out_indices entry 4"):
        MixVisionTransformer(out_indices=(4,))
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        EfficientSelfAttention(embed_dims=8, num_heads=3)
