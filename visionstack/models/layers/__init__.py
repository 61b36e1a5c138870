"""Building blocks shared by backbones and heads."""

from .conv_module import ConvModule, ConvNormAct, DepthwiseSeparableConvModule
from .drop_path import DropPath, drop_path, linear_drop_path_rates
from .mlp import Mlp
from .norm import GroupNorm, LayerNorm2d

__all__ = [
    "ConvModule",
    "ConvNormAct",
    "DepthwiseSeparableConvModule",
    "DropPath",
    "GroupNorm",
    "LayerNorm2d",
    "Mlp",
    "drop_path",
    "linear_drop_path_rates",
]
