"""The backbone and classifier converters accept OpenMMLab's, timm's and torchvision's names.

Each test builds a small visionstack model, writes its weights under the foreign library's names (the
renaming is spelt out here, independently of the converters), converts them back with
``convert_openmmlab_state_dict`` into a second model built with another seed, and checks that the two
compute the same outputs, so a mix-up of tensors of equal shape (q/k/v, fc1/fc2, norms) would show.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import visionstack.tasks  # noqa: F401  (registers the models)
from visionstack.models.openmmlab_keys import OpenMMLabKeyError, convert_openmmlab_state_dict
from visionstack.registry import MODELS, build

TINY_VIT = {"embed_dims": 32, "num_layers": 2, "num_heads": 2}
TINY_CONVNEXT = {"depths": [1, 1, 2, 1], "dims": [8, 16, 24, 32]}


def _build(cfg: dict, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = build(cfg, MODELS)
    with torch.no_grad():  # no constant tensors left (unit norms, zero biases, 1e-6 layer scales, BN stats)
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
            elif tensor.is_floating_point():
                tensor.add_(0.1 * torch.randn_like(tensor))
    return model.eval()


def _rename(sd: dict[str, torch.Tensor], rules: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in sd.items():
        for pattern, repl in rules:
            if re.fullmatch(pattern, key):
                key = re.sub(pattern, repl, key)
                break
        out[key] = value
    return out


def _roundtrip(
    cfg: dict, foreign: dict[str, torch.Tensor], x: torch.Tensor, reference: nn.Module
) -> nn.Module:
    """Convert ``foreign`` into a fresh model of ``cfg``, load strictly, check equal outputs."""
    model = _build(cfg, seed=1)
    sd, _ = convert_openmmlab_state_dict(model, foreign, source="test")
    model.load_state_dict(sd, strict=True)
    with torch.no_grad():
        expected, got = reference(x), model(x)
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    got = got if isinstance(got, (tuple, list)) else (got,)
    assert len(expected) == len(got)
    for a, b in zip(expected, got):
        torch.testing.assert_close(b, a, rtol=0, atol=0)
    return model


# ---- OpenMMLab (MMPretrain) names --------------------------------------------------------------------------
def test_mmpretrain_vit_qkv_and_ffn_names_give_equal_outputs() -> None:
    cfg = {"type": "VisionTransformer", "arch": TINY_VIT, "img_size": 32, "patch_size": 8, "out_type": "raw"}
    reference = _build(cfg, seed=0)
    mm = _rename(
        reference.state_dict(),
        [
            (r"patch_embed\.proj\.(.*)", r"patch_embed.projection.\1"),
            (r"blocks\.(\d+)\.norm1\.(.*)", r"layers.\1.ln1.\2"),
            (r"blocks\.(\d+)\.norm2\.(.*)", r"layers.\1.ln2.\2"),
            (r"blocks\.(\d+)\.attn\.(.*)", r"layers.\1.attn.\2"),
            (r"blocks\.(\d+)\.mlp\.fc1\.(.*)", r"layers.\1.ffn.layers.0.0.\2"),
            (r"blocks\.(\d+)\.mlp\.fc2\.(.*)", r"layers.\1.ffn.layers.1.\2"),
            (r"norm\.(.*)", r"ln1.\1"),
        ],
    )
    assert "layers.1.ffn.layers.0.0.weight" in mm and "ln1.weight" in mm and "layers.0.ln1.weight" in mm
    _roundtrip(cfg, mm, torch.randn(2, 3, 32, 32), reference)


@pytest.mark.parametrize("linear_pw_conv", [True, False])
def test_mmpretrain_convnext_names_give_equal_outputs(linear_pw_conv: bool) -> None:
    cfg = {"type": "ConvNeXt", "arch": TINY_CONVNEXT, "out_indices": (0, 1, 2, 3)}
    reference = _build(cfg, seed=0)
    mm = _rename(
        reference.state_dict(),
        [
            (r"stem\.(\d)\.(.*)", r"downsample_layers.0.\1.\2"),
            (r"stages\.(\d)\.downsample\.(\d)\.(.*)", r"downsample_layers.\1.\2.\3"),
            (r"stages\.(\d)\.blocks\.(\d+)\.conv_dw\.(.*)", r"stages.\1.\2.depthwise_conv.\3"),
            (r"stages\.(\d)\.blocks\.(\d+)\.norm\.(.*)", r"stages.\1.\2.norm.\3"),
            (r"stages\.(\d)\.blocks\.(\d+)\.mlp\.fc1\.(.*)", r"stages.\1.\2.pointwise_conv1.\3"),
            (r"stages\.(\d)\.blocks\.(\d+)\.mlp\.fc2\.(.*)", r"stages.\1.\2.pointwise_conv2.\3"),
            (r"stages\.(\d)\.blocks\.(\d+)\.gamma", r"stages.\1.\2.gamma"),
            (r"out_norms\.(\d)\.(.*)", r"norm\1.\2"),
        ],
    )
    if not linear_pw_conv:  # MMPretrain's 1x1-conv variant of the pointwise layers
        mm = {
            k: v[:, :, None, None] if "pointwise_conv" in k and k.endswith("weight") else v
            for k, v in mm.items()
        }
    assert "downsample_layers.2.1.weight" in mm and "norm3.weight" in mm
    _roundtrip(cfg, mm, torch.randn(2, 3, 64, 64), reference)


def test_mmpretrain_resnet_v1c_conv_module_stem_is_flattened() -> None:
    cfg = {"type": "ResNet", "depth": 18, "stem": "deep", "out_indices": (0, 3)}
    reference = _build(cfg, seed=0)
    # MMPretrain's ResNetV1c stem: three conv-norm-act modules (stem.{k}.conv, stem.{k}.bn)
    mm = _rename(
        reference.state_dict(),
        [
            (
                r"stem\.(\d)\.(.*)",
                lambda m: f"stem.{int(m[1]) // 3}.{'conv' if int(m[1]) % 3 == 0 else 'bn'}.{m[2]}",
            )
        ],
    )
    assert "stem.2.bn.running_var" in mm and "stem.6.weight" not in mm
    _roundtrip(cfg, mm, torch.randn(2, 3, 32, 32), reference)


def test_openmmlab_mobilenet_v2_names_give_equal_outputs() -> None:
    cfg = {"type": "MobileNetV2", "widen_factor": 0.5, "out_indices": (2, 7)}
    reference = _build(cfg, seed=0)
    # features index -> (stage, block) of OpenMMLab's layer{stage}.{block}
    repeats = [1, 2, 3, 4, 3, 3, 1]
    where, index = {}, 1
    for stage, count in enumerate(repeats, start=1):
        for block in range(count):
            where[index] = (stage, block)
            index += 1
    last = index
    own = reference.state_dict()
    modules_in = {
        position: len({k.split(".")[3] for k in own if k.startswith(f"features.{position}.")})
        for position in where
    }

    def om_name(key: str) -> str:
        parts = key.split(".")
        position = int(parts[1])
        kind = {"0": "conv", "1": "bn"}
        if position == 0:
            return ".".join(["conv1", kind[parts[2]], *parts[3:]])
        if position == last:
            return ".".join(["conv2", kind[parts[2]], *parts[3:]])
        stage, block = where[position]
        modules = modules_in[position]  # 4 (expansion, depthwise, linear conv, norm) or 3 without expansion
        k = int(parts[3])
        if k >= modules - 2:  # the flat linear projection: conv.{n-2} conv, conv.{n-1} norm
            sub, rest = [str(modules - 2), "conv" if k == modules - 2 else "bn"], parts[4:]
        else:
            sub, rest = [str(k), kind[parts[4]]], parts[5:]
        return ".".join([f"layer{stage}", str(block), "conv", *sub, *rest])

    mm = {om_name(k): v for k, v in own.items()}
    assert "layer1.0.conv.1.bn.weight" in mm and "layer2.0.conv.2.conv.weight" in mm and "conv2.bn.bias" in mm
    _roundtrip(cfg, mm, torch.randn(2, 3, 32, 32), reference)


# ---- timm names (MMPretrain's TIMMBackbone) -----------------------------------------------------------------
def test_timm_backbone_inside_an_openmmlab_classifier_loads() -> None:
    cfg = {
        "type": "ImageClassifier",
        "backbone": {"type": "ConvNeXt", "arch": TINY_CONVNEXT},
        "neck": {"type": "GlobalAveragePooling"},
        "head": {"type": "LinearClsHead", "num_classes": 5, "in_channels": 32},
    }
    reference = _build(cfg, seed=0)
    checkpoint = {}
    for key, value in reference.state_dict().items():
        if key.startswith("backbone."):
            # timm keeps the last norm in its classifier head (head.norm); the rest are visionstack's names
            key = key.replace("backbone.out_norms.3.", "backbone.head.norm.")
            key = "backbone.timm_model." + key[len("backbone.") :]
        checkpoint[key] = value
    assert "backbone.timm_model.head.norm.weight" in checkpoint
    _roundtrip(cfg, {"state_dict": checkpoint, "meta": {}}, torch.randn(2, 3, 64, 64), reference)


# ---- torchvision names ----------------------------------------------------------------------------------------
def test_torchvision_vit_in_proj_names_give_equal_outputs() -> None:
    cfg = {"type": "VisionTransformer", "arch": TINY_VIT, "img_size": 32, "patch_size": 8}
    reference = _build(cfg, seed=0)
    layer = r"encoder.layers.encoder_layer_\1."
    tv = _rename(
        reference.state_dict(),
        [
            (r"cls_token", "class_token"),
            (r"pos_embed", "encoder.pos_embedding"),
            (r"patch_embed\.proj\.(.*)", r"conv_proj.\1"),
            (r"blocks\.(\d+)\.norm1\.(.*)", layer + r"ln_1.\2"),
            (r"blocks\.(\d+)\.norm2\.(.*)", layer + r"ln_2.\2"),
            (r"blocks\.(\d+)\.attn\.qkv\.(.*)", layer + r"self_attention.in_proj_\2"),
            (r"blocks\.(\d+)\.attn\.proj\.(.*)", layer + r"self_attention.out_proj.\2"),
            (r"blocks\.(\d+)\.mlp\.fc1\.(.*)", layer + r"mlp.0.\2"),
            (r"blocks\.(\d+)\.mlp\.fc2\.(.*)", layer + r"mlp.3.\2"),
            (r"norm\.(.*)", r"encoder.ln.\1"),
        ],
    )
    assert "encoder.layers.encoder_layer_1.self_attention.in_proj_weight" in tv
    _roundtrip(cfg, tv, torch.randn(2, 3, 32, 32), reference)


def test_bare_torchvision_convnext_classifier_loads_into_image_classifier() -> None:
    cfg = {
        "type": "ImageClassifier",
        "backbone": {"type": "ConvNeXt", "arch": TINY_CONVNEXT},
        "neck": {"type": "GlobalAveragePooling"},
        "head": {"type": "LinearClsHead", "num_classes": 5, "in_channels": 32},
    }
    reference = _build(cfg, seed=0)
    position = {0: 1, 1: 3, 2: 5, 3: 7}  # torchvision's features index of each stage (downsampling before it)

    def tv_name(key: str) -> str:
        if key.startswith("head.fc."):
            return "classifier.2." + key[len("head.fc.") :]
        key = key[len("backbone.") :]
        if m := re.fullmatch(r"stem\.(\d)\.(.*)", key):
            return f"features.0.{m[1]}.{m[2]}"
        if m := re.fullmatch(r"stages\.(\d)\.downsample\.(\d)\.(.*)", key):
            return f"features.{position[int(m[1])] - 1}.{m[2]}.{m[3]}"
        if m := re.fullmatch(r"stages\.(\d)\.blocks\.(\d+)\.(.*)", key):
            sub = {"conv_dw": "block.0", "norm": "block.2", "mlp.fc1": "block.3", "mlp.fc2": "block.5"}
            inner = m[3]
            if inner == "gamma":
                return f"features.{position[int(m[1])]}.{m[2]}.layer_scale"
            for ours, theirs in sub.items():
                if inner.startswith(ours + "."):
                    return f"features.{position[int(m[1])]}.{m[2]}.{theirs}{inner[len(ours) :]}"
        if m := re.fullmatch(r"out_norms\.3\.(.*)", key):
            return f"classifier.0.{m[1]}"
        raise AssertionError(key)

    tv = {
        tv_name(k): v[:, None, None] if k.endswith("gamma") else v for k, v in reference.state_dict().items()
    }
    assert tv["features.7.0.layer_scale"].shape == (32, 1, 1) and "classifier.2.weight" in tv
    _roundtrip(cfg, tv, torch.randn(2, 3, 64, 64), reference)


def test_bare_torchvision_resnet_classifier_fc_goes_to_the_head() -> None:
    cfg = {
        "type": "ImageClassifier",
        "backbone": {"type": "ResNet", "depth": 18},
        "neck": {"type": "GlobalAveragePooling"},
        "head": {"type": "LinearClsHead", "num_classes": 7, "in_channels": 512},
    }
    reference = _build(cfg, seed=0)
    tv = {k.replace("backbone.", "").replace("head.fc.", "fc."): v for k, v in reference.state_dict().items()}
    assert "fc.weight" in tv and "layer4.1.bn2.running_mean" in tv
    _roundtrip(cfg, tv, torch.randn(2, 3, 32, 32), reference)


# ---- heads and strictness ---------------------------------------------------------------------------------------
def test_mmpretrain_vit_cls_head_with_pre_logits_layer() -> None:
    cfg = {"type": "VisionTransformerClsHead", "num_classes": 6, "in_channels": 16, "hidden_dim": 24}
    reference = _build(cfg, seed=0)
    mm = _rename(
        reference.state_dict(),
        [(r"pre_logits_layer\.fc\.(.*)", r"layers.pre_logits.\1"), (r"fc\.(.*)", r"layers.head.\1")],
    )
    assert set(mm) == {f"layers.{m}.{p}" for m in ("pre_logits", "head") for p in ("weight", "bias")}
    _roundtrip(cfg, mm, (torch.randn(3, 16),), reference)


def test_unmapped_and_missing_keys_are_listed_under_openmmlab_names() -> None:
    cfg = {"type": "VisionTransformer", "arch": TINY_VIT, "img_size": 32, "patch_size": 8}
    model = _build(cfg, seed=0)
    mm = _rename(model.state_dict(), [(r"blocks\.(\d+)\.mlp\.fc1\.(.*)", r"layers.\1.ffn.layers.0.0.\2")])
    mm["layers.0.attn.gamma1.weight"] = torch.ones(32)  # MMPretrain's layer scale: visionstack's ViT has none
    del mm["blocks.1.norm2.bias"]
    with pytest.raises(OpenMMLabKeyError) as info:
        convert_openmmlab_state_dict(model, mm, source="vit.pth")
    message = str(info.value)
    assert "vit.pth" in message
    assert "1 checkpoint keys did not map" in message and "layers.0.attn.gamma1.weight" in message
    assert "1 model keys got no value" in message and "blocks.1.norm2.bias" in message
