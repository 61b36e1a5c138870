"""Backbones shared by every task; each returns a tuple of feature maps (``out_indices``)."""

from .convnext import ConvNeXt
from .cspnext import CSPNeXt
from .mobilenet_v2 import MobileNetV2
from .resnet import ResNet, load_torchvision_checkpoint
from .vision_transformer import VisionTransformer, resize_pos_embed

__all__ = [
    "CSPNeXt",
    "ConvNeXt",
    "MobileNetV2",
    "ResNet",
    "VisionTransformer",
    "load_torchvision_checkpoint",
    "resize_pos_embed",
]
