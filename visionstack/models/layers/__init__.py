"""Building blocks shared by backbones and heads."""

from .conv_module import ConvModule, DepthwiseSeparableConvModule
from .drop_path import DropPath, drop_path, linear_drop_path_rates
from .mlp import Mlp
from .norm import GroupNorm, LayerNorm2d

__all__ = [
    "ConvModule",
    "DepthwiseSeparableConvModule",
    "DropPath", "GroupNorm", "LayerNorm2d", "Mlp", "drop_path", "linear_drop_path_rates"]
