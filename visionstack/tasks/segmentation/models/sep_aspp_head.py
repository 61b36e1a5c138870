"""DepthwiseSeparableASPPHead: DeepLabV3+ (Chen et al., "Encoder-Decoder with Atrous Separable
Convolution for Semantic Image Segmentation", ECCV 2018, section 3.1).

The encoder is DeepLabV3's ASPP with its atrous branches made depthwise separable. The decoder
upsamples the ASPP output to the size of a low-level backbone map (``inputs[0]``, stride 4 in the
paper), concatenates it with that map reduced to a few channels (``c1_bottleneck``, 48 in the paper,
because the low-level map has many channels that would outweigh the semantic ones), and refines the
result with two depthwise-separable 3x3 convs (``sep_bottleneck``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ....models.layers.conv_module import ConvModule, DepthwiseSeparableConvModule
from ....registry import MODELS
from .aspp_head import ASPPHead, ASPPModule
from .decode_head import resize

__all__ = ["DepthwiseSeparableASPPHead"]


@MODELS.register()
class DepthwiseSeparableASPPHead(ASPPHead):
    """DeepLabV3+ head: separable ASPP, then low-level fusion and two separable convs.

    Args:
        c1_in_channels: channels of the low-level map ``inputs[0]``; 0 disables the fusion.
        c1_channels: channels the low-level map is reduced to (``c1_bottleneck``).
        **kwargs: :class:`ASPPHead` arguments (``dilations``, ``in_channels``, ``in_index`` ...).
    """

    def __init__(self, c1_in_channels: int, c1_channels: int, **kwargs: Any) -> None:
        if c1_in_channels < 0 or c1_channels < 0:
            raise ValueError(
                f"DepthwiseSeparableASPPHead: c1_in_channels and c1_channels must be >= 0, got "
                f"{c1_in_channels}, {c1_channels}"
            )
        if c1_in_channels > 0 and c1_channels == 0:
            raise ValueError("DepthwiseSeparableASPPHead: c1_in_channels > 0 needs c1_channels > 0")
        super().__init__(**kwargs)
        layer = dict(norm_layer=self.norm_layer, act_layer=self.act_layer)
        self.c1_bottleneck = (
            ConvModule(c1_in_channels, c1_channels, 1, **layer) if c1_in_channels > 0 else None
        )
        fused = self.channels + (c1_channels if c1_in_channels > 0 else 0)
        self.sep_bottleneck = nn.Sequential(
            DepthwiseSeparableConvModule(fused, self.channels, 3, padding=1, **layer),
            DepthwiseSeparableConvModule(self.channels, self.channels, 3, padding=1, **layer),
        )

    def _build_aspp_modules(self) -> nn.ModuleList:
        """Dilation-1 branch a 1x1 ConvModule; atrous branches depthwise separable."""
        modules = ASPPModule(self.dilations, self.in_channels, self.channels, self.norm_layer, self.act_layer)
        for index, dilation in enumerate(self.dilations):
            if dilation > 1:
                modules[index] = DepthwiseSeparableConvModule(
                    self.in_channels,
                    self.channels,
                    3,
                    padding=dilation,
                    dilation=dilation,
                    norm_layer=self.norm_layer,
                    act_layer=self.act_layer,
                )
        return modules

    def forward_features(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, channels, h1, w1) decoder features at the low-level map's size (or ASPP's without it)."""
        output = self.aspp_features(self._transform_inputs(inputs))
        if self.c1_bottleneck is not None:
            low_level = self.c1_bottleneck(inputs[0])
            output = resize(output, low_level.shape[-2:], self.align_corners)
            output = torch.cat([output, low_level], dim=1)
        return self.sep_bottleneck(output)
