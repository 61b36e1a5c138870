"""OpenMMLab (and torchvision/timm) backbone state dicts under visionstack's backbone names.

visionstack's shared backbones are named after torchvision (ResNet, MobileNetV2) and timm (ConvNeXt,
VisionTransformer). OpenMMLab checkpoints come in three namings, all accepted here:

* OpenMMLab's own modules (MMPretrain, MMDetection, MMSegmentation ...). Their ResNet names equal
  torchvision's, except MMPretrain's deep stem (``ResNetV1c``), built of conv-norm-act modules
  (``stem.{k}.conv``/``stem.{k}.bn``) where MMDetection/MMSegmentation and visionstack use a flat
  ``stem.0`` ... ``stem.8``. MMPretrain's ConvNeXt (``downsample_layers``, ``depthwise_conv``,
  ``pointwise_conv1/2``, ``norm{i}``), VisionTransformer (``layers.{i}.ln1``, ``ffn.layers.0.0``,
  ``patch_embed.projection``, final ``ln1``) and MobileNetV2 (``conv1``, ``layer{i}.{j}.conv.{k}.conv``,
  ``conv2``) are renamed here.
* MMPretrain's ``TIMMBackbone``: a timm model under ``timm_model.``; the prefix is removed and the
  timm names are visionstack's (a timm ConvNeXt's ``head.norm`` becomes the last output norm).
* torchvision-named backbones: ResNet and MobileNetV2 as they are; torchvision's ConvNeXt
  (``features.{i}``, ``block.{0,2,3,5}``, ``layer_scale``) and ViT (``encoder.layers.encoder_layer_{i}``,
  ``self_attention.in_proj_*``, ``class_token``, ``conv_proj``) are renamed.

Each converter recognises the naming from the keys it gets, so one backbone class accepts all three.
"""

from __future__ import annotations

from torch import nn

from ..openmmlab_keys import Conversion, StateDict, register_openmmlab_converter, rename_keys

TIMM_PREFIX = "timm_model."


def strip_timm_prefix(sd: StateDict) -> StateDict:
    """The keys of an MMPretrain ``TIMMBackbone`` (``timm_model.*``) without the prefix; others as they are."""
    if sd and all(key.startswith(TIMM_PREFIX) for key in sd):
        return {key[len(TIMM_PREFIX) :]: value for key, value in sd.items()}
    return sd


@register_openmmlab_converter("ResNet")
def convert_resnet(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """ResNet: names equal torchvision's; MMPretrain's conv-module deep stem is flattened.

    MMPretrain's ``ResNetV1c`` stem has three conv-norm-ReLU modules ``stem.{k}.conv``/``stem.{k}.bn``;
    visionstack (as MMDetection and MMSegmentation) keeps them flat: conv ``stem.{3k}``, norm
    ``stem.{3k+1}`` (``stem.{3k+2}`` is the parameter-free ReLU).
    """
    sd = strip_timm_prefix(sd)
    out: StateDict = {}
    for key, value in sd.items():
        parts = key.split(".")
        if len(parts) >= 4 and parts[0] == "stem" and parts[1].isdigit() and parts[2] in ("conv", "bn"):
            index = 3 * int(parts[1]) + (0 if parts[2] == "conv" else 1)
            key = ".".join(["stem", str(index), *parts[3:]])
        out[key] = value
    return out


def _convnext_from_mmpretrain(sd: StateDict) -> StateDict:
    """MMPretrain ConvNeXt names -> timm's (visionstack's)."""
    rules = [
        (r"downsample_layers\.0\.(\d)\.(.*)", r"stem.\1.\2"),
        (r"downsample_layers\.(\d+)\.(\d)\.(.*)", r"stages.\1.downsample.\2.\3"),
        (r"stages\.(\d+)\.(\d+)\.depthwise_conv\.(.*)", r"stages.\1.blocks.\2.conv_dw.\3"),
        (r"stages\.(\d+)\.(\d+)\.norm\.(.*)", r"stages.\1.blocks.\2.norm.\3"),
        (r"stages\.(\d+)\.(\d+)\.pointwise_conv1\.(.*)", r"stages.\1.blocks.\2.mlp.fc1.\3"),
        (r"stages\.(\d+)\.(\d+)\.pointwise_conv2\.(.*)", r"stages.\1.blocks.\2.mlp.fc2.\3"),
        (r"stages\.(\d+)\.(\d+)\.gamma", r"stages.\1.blocks.\2.gamma"),
        (r"norm(\d+)\.(.*)", r"out_norms.\1.\2"),
    ]
    out = rename_keys(sd, rules)
    # pointwise convs built as 1x1 Conv2d (linear_pw_conv=False): (C_out, C_in, 1, 1) -> Linear's (C_out, C_in)
    for key, value in out.items():
        if ".mlp.fc" in key and key.endswith(".weight") and value.ndim == 4:
            out[key] = value.flatten(1)
    return out


def _convnext_from_torchvision(sd: StateDict) -> StateDict:
    """torchvision ConvNeXt (``features.{0..7}``, ``block.{0,2,3,5}``, ``layer_scale``) -> timm's names.

    torchvision alternates downsampling (``features.0`` stem, ``features.2/4/6``) and stages
    (``features.1/3/5/7``); its ``classifier.0`` norm is the last output norm.
    """
    rules = [
        (r"features\.0\.(\d)\.(.*)", r"stem.\1.\2"),
        (r"features\.([246])\.(\d)\.(.*)", lambda m: f"stages.{int(m[1]) // 2}.downsample.{m[2]}.{m[3]}"),
        (
            r"features\.([1357])\.(\d+)\.block\.0\.(.*)",
            lambda m: f"stages.{int(m[1]) // 2}.blocks.{m[2]}.conv_dw.{m[3]}",
        ),
        (
            r"features\.([1357])\.(\d+)\.block\.2\.(.*)",
            lambda m: f"stages.{int(m[1]) // 2}.blocks.{m[2]}.norm.{m[3]}",
        ),
        (
            r"features\.([1357])\.(\d+)\.block\.3\.(.*)",
            lambda m: f"stages.{int(m[1]) // 2}.blocks.{m[2]}.mlp.fc1.{m[3]}",
        ),
        (
            r"features\.([1357])\.(\d+)\.block\.5\.(.*)",
            lambda m: f"stages.{int(m[1]) // 2}.blocks.{m[2]}.mlp.fc2.{m[3]}",
        ),
        (r"features\.([1357])\.(\d+)\.layer_scale", lambda m: f"stages.{int(m[1]) // 2}.blocks.{m[2]}.gamma"),
        (r"classifier\.0\.(.*)", r"head.norm.\1"),
    ]
    out = rename_keys(sd, rules)
    return {key: value.flatten() if key.endswith(".gamma") else value for key, value in out.items()}


@register_openmmlab_converter("ConvNeXt")
def convert_convnext(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """ConvNeXt from MMPretrain's, timm's (``TIMMBackbone``) or torchvision's names.

    timm and torchvision normalise the last stage in their classifier (``head.norm``, ``classifier.0``);
    that norm becomes ``out_norms.{last stage}`` when the backbone returns the last stage.
    """
    sd = strip_timm_prefix(sd)
    if any(key.startswith("downsample_layers.") for key in sd):
        return _convnext_from_mmpretrain(sd)
    if any(key.startswith("features.") for key in sd):
        sd = _convnext_from_torchvision(sd)
    last = str(len(module.stages) - 1)
    if last in getattr(module, "out_norms", {}) and not any(k.startswith(f"out_norms.{last}.") for k in sd):
        sd = rename_keys(sd, [(r"head\.norm\.(.*)", rf"out_norms.{last}.\1")])
    return sd


def _vit_from_mmpretrain(sd: StateDict) -> StateDict:
    """MMPretrain VisionTransformer names -> timm's (visionstack's).

    The final norm is MMPretrain's ``ln1`` (``final_norm=True``); inside a layer ``ln1``/``ln2`` are the
    pre-attention and pre-MLP norms, ``ffn.layers.0.0``/``ffn.layers.1`` the MLP's two linears.
    """
    rules = [
        (r"patch_embed\.projection\.(.*)", r"patch_embed.proj.\1"),
        (r"layers\.(\d+)\.ln1\.(.*)", r"blocks.\1.norm1.\2"),
        (r"layers\.(\d+)\.ln2\.(.*)", r"blocks.\1.norm2.\2"),
        (r"layers\.(\d+)\.attn\.(qkv|proj)\.(.*)", r"blocks.\1.attn.\2.\3"),
        (r"layers\.(\d+)\.ffn\.layers\.0\.0\.(.*)", r"blocks.\1.mlp.fc1.\2"),
        (r"layers\.(\d+)\.ffn\.layers\.1\.(.*)", r"blocks.\1.mlp.fc2.\2"),
        (r"ln1\.(.*)", r"norm.\1"),
    ]
    return rename_keys(sd, rules)


def _vit_from_torchvision(sd: StateDict) -> StateDict:
    """torchvision ``vit_*`` names -> timm's; ``in_proj_weight``/``in_proj_bias`` are timm's fused qkv."""
    layer = r"encoder\.layers\.encoder_layer_(\d+)\."
    rules = [
        (r"class_token", "cls_token"),
        (r"encoder\.pos_embedding", "pos_embed"),
        (r"conv_proj\.(.*)", r"patch_embed.proj.\1"),
        (layer + r"ln_1\.(.*)", r"blocks.\1.norm1.\2"),
        (layer + r"ln_2\.(.*)", r"blocks.\1.norm2.\2"),
        (layer + r"self_attention\.in_proj_(weight|bias)", r"blocks.\1.attn.qkv.\2"),
        (layer + r"self_attention\.out_proj\.(.*)", r"blocks.\1.attn.proj.\2"),
        (layer + r"mlp\.(?:0|linear_1)\.(.*)", r"blocks.\1.mlp.fc1.\2"),
        (layer + r"mlp\.(?:3|linear_2)\.(.*)", r"blocks.\1.mlp.fc2.\2"),
        (r"encoder\.ln\.(.*)", r"norm.\1"),
    ]
    return rename_keys(sd, rules)


@register_openmmlab_converter("VisionTransformer")
def convert_vision_transformer(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """VisionTransformer from MMPretrain's, timm's (``TIMMBackbone``) or torchvision's names.

    The position embedding keeps its grid; a checkpoint trained at another size is resized when it is
    loaded (the backbone's load hook), so its shape may differ from the model's here.
    """
    sd = strip_timm_prefix(sd)
    if any(key.startswith("layers.") for key in sd):
        return _vit_from_mmpretrain(sd)
    if any(key.startswith("encoder.layers.") for key in sd):
        return _vit_from_torchvision(sd)
    return sd


@register_openmmlab_converter("MobileNetV2")
def convert_mobilenet_v2(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MobileNetV2 from OpenMMLab's names (``conv1``, ``layer{i}.{j}``, ``conv2``) or torchvision's (as is).

    OpenMMLab's stage ``i`` block ``j`` is torchvision's ``features.{1 + blocks before stage i + j}``;
    its conv-norm-act modules (``conv.{k}.conv``/``.bn``) are torchvision's ``conv.{k}.0``/``.1``,
    except the block's last, linear projection, which torchvision keeps flat (``conv.{k}``,
    ``conv.{k+1}``).
    """
    sd = strip_timm_prefix(sd)
    if not any(key.startswith(("conv1.", "layer1.")) for key in sd):
        return sd
    starts = [0, *module.stage_ends[:-1]]  # index of the module before each stage's first block
    blocks_in_block = {}  # features index -> number of conv-norm modules in that block
    for key in sd:
        parts = key.split(".")
        if parts[0].startswith("layer") and len(parts) > 3 and parts[2] == "conv":
            index = starts[int(parts[0][5:]) - 1] + 1 + int(parts[1])
            blocks_in_block[index] = max(blocks_in_block.get(index, 0), int(parts[3]) + 1)
    out: StateDict = {}
    for key, value in sd.items():
        parts = key.split(".")
        norm_or_conv = {"conv": "0", "bn": "1"}
        if parts[0] == "conv1" and parts[1] in norm_or_conv:
            key = ".".join(["features.0", norm_or_conv[parts[1]], *parts[2:]])
        elif parts[0] == "conv2" and parts[1] in norm_or_conv:
            key = ".".join([f"features.{module.stage_ends[-1]}", norm_or_conv[parts[1]], *parts[2:]])
        elif (
            parts[0].startswith("layer")
            and len(parts) > 4
            and parts[2] == "conv"
            and parts[4] in norm_or_conv
        ):
            index = starts[int(parts[0][5:]) - 1] + 1 + int(parts[1])
            k = int(parts[3])
            if k == blocks_in_block[index] - 1:  # the linear projection: flat conv, norm
                sub = [str(k + int(norm_or_conv[parts[4]]))]
            else:
                sub = [str(k), norm_or_conv[parts[4]]]
            key = ".".join([f"features.{index}", "conv", *sub, *parts[5:]])
        out[key] = value
    return out
