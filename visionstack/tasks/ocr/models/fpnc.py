"""FPNC, DBNet's feature fusion neck (Liao et al., AAAI 2020, figure 3; MMOCR's ``FPNC``).

A feature pyramid (Lin et al., CVPR 2017) whose levels are concatenated instead of used apart:

1. a 1x1 lateral convolution brings every backbone level C2..C5 to ``lateral_channels``;
2. top-down: from the coarsest level down, each lateral gets the nearest-upsampled sum above it;
3. a 3x3 smoothing convolution per level to ``out_channels``;
4. every level is nearest-upsampled to the finest (1/4) resolution and the levels concatenated,
   giving ``len(in_channels) * out_channels`` channels (256 for the published 4 x 64);
5. optionally (``conv_after_concat``) a 3x3 conv-BN-ReLU over the concatenation.

Child names follow MMOCR (``lateral_convs.i.conv``, ``smooth_convs.i.conv``, ``out_conv.conv`` /
``out_conv.bn``) so its checkpoints' neck keys match.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ....registry import MODELS

__all__ = ["FPNC", "ConvBlock", "init_db_weights"]


class ConvBlock(nn.Module):
    """``conv`` (+ ``bn`` + ReLU when ``norm_act``), MMCV's child names, bias chosen separately.

    Shapes:
        (N, in_channels, H, W) -> (N, out_channels, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = False,
        norm_act: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)
        self.bn = nn.BatchNorm2d(out_channels) if norm_act else None
        self.activate = nn.ReLU(inplace=True) if norm_act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.activate(self.bn(x))
        return x


def init_db_weights(module: nn.Module) -> None:
    """The DB authors' initialisation (MhLiao/DB ``weights_init``): He-normal (fan-in) weights for
    every convolution, transposed ones included, and batch norms at weight 1, bias 1e-4."""
    for child in module.modules():
        if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(child.weight)
        elif isinstance(child, nn.BatchNorm2d):
            nn.init.ones_(child.weight)
            nn.init.constant_(child.bias, 1e-4)


@MODELS.register()
class FPNC(nn.Module):
    """Lateral 1x1 convs, top-down sums, 3x3 smoothing, upsample to 1/4 and concatenate.

    Args:
        in_channels: channels of the backbone levels, finest first (ResNet-18: 64, 128, 256, 512).
        lateral_channels: width of the lateral convolutions and the top-down path.
        out_channels: width of each smoothed level; the output has ``len(in_channels)`` times it.
        bias_on_lateral: give the lateral convolutions a bias.
        bn_re_on_lateral: follow the lateral convolutions by BN and ReLU.
        bias_on_smooth: give the smoothing convolutions a bias.
        bn_re_on_smooth: follow the smoothing convolutions by BN and ReLU.
        conv_after_concat: a 3x3 conv-BN-ReLU over the concatenated levels.

    Attributes:
        out_channels_total: channels of the output, ``len(in_channels) * out_channels``.

    Shapes:
        tuple of (N, in_channels[i], H / 2**(i+2), W / 2**(i+2)) -> (N, out_channels_total, H / 4, W / 4).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        lateral_channels: int = 256,
        out_channels: int = 64,
        bias_on_lateral: bool = False,
        bn_re_on_lateral: bool = False,
        bias_on_smooth: bool = False,
        bn_re_on_smooth: bool = False,
        conv_after_concat: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = tuple(int(c) for c in in_channels)
        if not self.in_channels:
            raise ValueError("FPNC: in_channels must name at least one backbone level")
        self.lateral_convs = nn.ModuleList(
            ConvBlock(c, lateral_channels, 1, bias_on_lateral, bn_re_on_lateral) for c in self.in_channels
        )
        self.smooth_convs = nn.ModuleList(
            ConvBlock(lateral_channels, out_channels, 3, bias_on_smooth, bn_re_on_smooth)
            for _ in self.in_channels
        )
        self.out_channels_total = out_channels * len(self.in_channels)
        self.out_conv = (
            ConvBlock(self.out_channels_total, self.out_channels_total, 3, norm_act=True)
            if conv_after_concat
            else None
        )
        init_db_weights(self)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f"FPNC: expected {len(self.in_channels)} feature levels, got {len(inputs)}")
        laterals = [conv(feature) for conv, feature in zip(self.lateral_convs, inputs)]
        for level in range(len(laterals) - 1, 0, -1):
            laterals[level - 1] = laterals[level - 1] + F.interpolate(
                laterals[level], size=laterals[level - 1].shape[2:], mode="nearest"
            )
        outs = [conv(lateral) for conv, lateral in zip(self.smooth_convs, laterals)]
        size = outs[0].shape[2:]
        out = torch.cat([outs[0]] + [F.interpolate(o, size=size, mode="nearest") for o in outs[1:]], dim=1)
        return self.out_conv(out) if self.out_conv is not None else out
