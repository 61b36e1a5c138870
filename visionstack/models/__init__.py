"""Models shared by every task: the model contract, the data preprocessor, layers, backbones, necks
and losses. Importing this package registers all of them in ``MODELS``."""

from . import backbones, layers, losses, necks, ops, pretrained
from .backbones import ConvNeXt, MobileNetV2, ResNet, VisionTransformer, load_torchvision_checkpoint
from .base_model import BaseModel
from .batch_augments import RandomBatchAugment
from .data_preprocessor import DataPreprocessor
from .layers import DropPath, GroupNorm, LayerNorm2d, Mlp
from .losses import CrossEntropyLoss
from .necks import GlobalAveragePooling
from .pretrained import read_state_dict

__all__ = [
    "BaseModel",
    "ConvNeXt",
    "CrossEntropyLoss",
    "DataPreprocessor",
    "DropPath",
    "GlobalAveragePooling",
    "GroupNorm",
    "LayerNorm2d",
    "Mlp",
    "MobileNetV2",
    "RandomBatchAugment",
    "ResNet",
    "VisionTransformer",
    "backbones",
    "layers",
    "load_torchvision_checkpoint",
    "losses",
    "necks",
    "ops",
    "pretrained",
    "read_state_dict",
]
