"""MMPretrain classifier checkpoints (and bare torchvision/timm classifiers) under visionstack's names.

MMPretrain's ``ImageClassifier`` keeps ``backbone.*``, ``neck.*`` and ``head.*`` as visionstack does; the
backbone converters (``visionstack/models/backbones/openmmlab_keys.py``) rename inside ``backbone``.
Heads: ``LinearClsHead``'s ``fc`` is ours; ``VisionTransformerClsHead`` keeps its layers in a
``Sequential`` (``layers.pre_logits``, ``layers.head``) where visionstack has ``pre_logits_layer.fc`` and
``fc``.

A checkpoint without ``backbone.`` keys is taken for a bare torchvision or timm classifier (a
``resnet50``/``convnext_tiny``/``vit_small_patch16_224`` state dict as those libraries save it): its final
linear layer (torchvision's ``fc``, ``classifier.1``/``classifier.2``, ``heads.head``; timm's ``fc``,
``head``, ``head.fc``) goes to ``head.fc`` and everything else to the backbone.
"""

from __future__ import annotations

from torch import nn

from ...models.openmmlab_keys import (
    Conversion,
    StateDict,
    convert_children,
    register_openmmlab_converter,
    rename_keys,
)

# the final linear layer of a bare torchvision/timm classifier, by the libraries' names
_BARE_CLASSIFIER_LAYERS = (
    r"fc\.(weight|bias)",  # torchvision and timm ResNet
    r"classifier\.1\.(weight|bias)",  # torchvision MobileNetV2 (classifier.0 is the dropout)
    r"classifier\.2\.(weight|bias)",  # torchvision ConvNeXt (classifier.0 norm, .1 flatten)
    r"heads\.head\.(weight|bias)",  # torchvision ViT
    r"head\.fc\.(weight|bias)",  # timm ConvNeXt (head.norm is the backbone's last output norm)
    r"head\.(weight|bias)",  # timm ViT
)


@register_openmmlab_converter("ImageClassifier")
def convert_image_classifier(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMPretrain's ``ImageClassifier`` keys as they are; a bare torchvision/timm classifier split first."""
    if not any(key.startswith("backbone.") for key in sd):
        rules = [(pattern, r"head.fc.\1") for pattern in _BARE_CLASSIFIER_LAYERS]
        renamed = rename_keys(sd, rules)
        sd = {
            key if key.startswith("head.fc.") else f"backbone.{key}": value for key, value in renamed.items()
        }
    return convert_children(sd, module, conversion)


@register_openmmlab_converter("VisionTransformerClsHead")
def convert_vit_cls_head(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMPretrain's ``layers.pre_logits``/``layers.head`` -> ``pre_logits_layer.fc``/``fc``."""
    rules = [
        (r"layers\.pre_logits\.(weight|bias)", r"pre_logits_layer.fc.\1"),
        (r"layers\.head\.(weight|bias)", r"fc.\1"),
    ]
    return rename_keys(sd, rules)
