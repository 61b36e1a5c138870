"""Building blocks shared by backbones and heads."""

from .checks import check_num_classes
from .conv_module import ConvModule, ConvNormAct, DepthwiseSeparableConvModule
from .drop_path import DropPath, drop_path, linear_drop_path_rates
from .mlp import Mlp
from .norm import GroupNorm, LayerNorm2d
from .weight_init import (
    InitRule,
    bias_init_with_prob,
    constant_init,
    init_by_type,
    kaiming_init,
    normal_init,
    trunc_normal_init,
    xavier_init,
)

__all__ = [
    "ConvModule",
    "ConvNormAct",
    "DepthwiseSeparableConvModule",
    "DropPath",
    "GroupNorm",
    "InitRule",
    "LayerNorm2d",
    "Mlp",
    "bias_init_with_prob",
    "check_num_classes",
    "constant_init",
    "drop_path",
    "init_by_type",
    "kaiming_init",
    "linear_drop_path_rates",
    "normal_init",
    "trunc_normal_init",
    "xavier_init",
]
