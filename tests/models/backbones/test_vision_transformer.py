"""VisionTransformer: published sizes, attention vs a float64 reference, position-embedding resizing."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.models.backbones import VisionTransformer, resize_pos_embed
from visionstack.models.backbones.vision_transformer import Attention

# timm vit_tiny/small_patch16_224 have 5,717,416 / 22,050,664 parameters including the 1000-class
# linear head (D * 1000 + 1000), which the backbone does not have.
TIMM_PARAMS = {"tiny": 5_717_416 - 193_000, "small": 22_050_664 - 385_000}
TINY_ARCH = {"embed_dims": 32, "num_layers": 2, "num_heads": 4}


@pytest.mark.parametrize("arch", ["tiny", "small"])
def test_parameter_count_matches_timm(arch):
    assert sum(p.numel() for p in VisionTransformer(arch).parameters()) == TIMM_PARAMS[arch]


def test_timm_key_names():
    keys = VisionTransformer("tiny").state_dict()
    assert tuple(keys["pos_embed"].shape) == (1, 197, 192) and tuple(keys["cls_token"].shape) == (1, 1, 192)
    assert tuple(keys["patch_embed.proj.weight"].shape) == (192, 3, 16, 16)
    assert tuple(keys["blocks.11.attn.qkv.weight"].shape) == (576, 192)
    assert tuple(keys["blocks.0.mlp.fc1.weight"].shape) == (768, 192)
    assert "norm.weight" in keys and "blocks.3.norm2.bias" in keys


def test_attention_matches_float64_reference():
    torch.manual_seed(0)
    attention = Attention(dim=12, num_heads=3).double().eval()
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    q, k, v = attention.qkv(x).reshape(2, 5, 3, 3, 4).permute(2, 0, 3, 1, 4)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(4), dim=-1)
    expected = attention.proj((weights @ v).transpose(1, 2).reshape(2, 5, 12))
    torch.testing.assert_close(attention(x), expected)


@pytest.mark.parametrize(
    ("out_type", "shape"),
    [("cls_token", (2, 32)), ("avg_featmap", (2, 32)), ("featmap", (2, 32, 4, 4)), ("raw", (2, 17, 32))],
)
def test_out_types(out_type, shape):
    model = VisionTransformer(TINY_ARCH, img_size=32, patch_size=8, out_type=out_type).eval()
    (out,) = model(torch.randn(2, 3, 32, 32))
    assert tuple(out.shape) == shape


def test_cls_token_output_is_normed_first_token_of_raw_output():
    torch.manual_seed(0)
    raw = VisionTransformer(TINY_ARCH, img_size=32, patch_size=8, out_type="raw").eval()
    cls = VisionTransformer(TINY_ARCH, img_size=32, patch_size=8, out_type="cls_token").eval()
    cls.load_state_dict(raw.state_dict())
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(cls(x)[0], raw(x)[0][:, 0])


def test_resize_pos_embed_identity_constant_and_extra_tokens():
    embed = torch.randn(1, 1 + 16, 6)
    assert resize_pos_embed(embed, (4, 4), (4, 4)) is embed
    resized = resize_pos_embed(embed, (4, 4), (6, 8))
    assert tuple(resized.shape) == (1, 1 + 48, 6)
    torch.testing.assert_close(resized[:, :1], embed[:, :1])
    constant = torch.cat([torch.zeros(1, 1, 2), torch.full((1, 16, 2), 3.0)], dim=1)
    torch.testing.assert_close(resize_pos_embed(constant, (4, 4), (7, 7))[:, 1:], torch.full((1, 49, 2), 3.0))
    with pytest.raises(ValueError, match="expected 17"):
        resize_pos_embed(torch.randn(1, 20, 6), (4, 4), (8, 8))


def test_same_input_size_uses_the_embedding_unchanged():
    torch.manual_seed(0)
    model = VisionTransformer(TINY_ARCH, img_size=32, patch_size=8, out_type="raw").eval()
    x = torch.randn(1, 3, 32, 32)
    tokens = torch.cat([model.cls_token, model.patch_embed(x)[0]], dim=1) + model.pos_embed
    for block in model.blocks:
        tokens = block(tokens)
    torch.testing.assert_close(model(x)[0], model.norm(tokens))


def test_other_input_size_and_loading_another_grid_agree():
    torch.manual_seed(0)
    small = VisionTransformer(TINY_ARCH, img_size=32, patch_size=8).eval()
    large = VisionTransformer(TINY_ARCH, img_size=64, patch_size=8).eval()
    large.load_state_dict(small.state_dict())  # pos_embed 4x4 -> 8x8 on load
    torch.testing.assert_close(large.pos_embed, resize_pos_embed(small.pos_embed, (4, 4), (8, 8)))
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(small(x)[0], large(x)[0])  # small resizes at run time the same way
    assert small(torch.randn(1, 3, 48, 32))[0].shape == (1, 32)


def test_input_not_divisible_by_patch_and_bad_arguments():
    model = VisionTransformer(TINY_ARCH, img_size=32, patch_size=8)
    with pytest.raises(ValueError, match="not a multiple of patch_size=8"):
        model(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match="unknown arch"):
        VisionTransformer("gigantic")
    with pytest.raises(ValueError, match="out_type"):
        VisionTransformer(TINY_ARCH, img_size=32, patch_size=8, out_type="tokens")


def test_frozen_stages():
    model = VisionTransformer(TINY_ARCH, img_size=32, patch_size=8, frozen_stages=1)
    assert not model.pos_embed.requires_grad and not model.cls_token.requires_grad
    assert not any(p.requires_grad for p in model.blocks[0].parameters())
    assert all(p.requires_grad for p in model.blocks[1].parameters())
    full = VisionTransformer(TINY_ARCH, img_size=32, patch_size=8, frozen_stages=2)
    assert not any(p.requires_grad for p in full.parameters())
