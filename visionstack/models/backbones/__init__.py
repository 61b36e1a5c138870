"""Backbones shared by every task; each returns a tuple of feature maps (``out_indices``)."""

from .convnext import ConvNeXt
from .cspnext import CSPNeXt
from .mit import MixVisionTransformer, load_mit_checkpoint
from .mobilenet_v2 import MobileNetV2
from .resnet import ResNet, load_torchvision_checkpoint
from .unet import UNet
from .vision_transformer import VisionTransformer, resize_pos_embed

__all__ = [
    "CSPNeXt",
    "ConvNeXt",
    "MixVisionTransformer",
    "MobileNetV2",
    "ResNet",
    "UNet",
    "VisionTransformer",
    "load_mit_checkpoint",
    "load_torchvision_checkpoint",
    "resize_pos_embed",
]
