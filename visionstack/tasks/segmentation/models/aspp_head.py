"""ASPPHead: DeepLabV3's Atrous Spatial Pyramid Pooling (Chen et al., "Rethinking Atrous Convolution
for Semantic Image Segmentation", 2017, section 3.3).

Parallel branches see the feature map at several rates: a 1x1 conv (dilation 1), 3x3 atrous convs
(dilations 6, 12, 18 at output stride 16; doubled at output stride 8) and an image-level branch
(global average pool -> 1x1 conv -> upsample) that brings the whole-image context. The branches are
concatenated and fused by a 3x3 ``bottleneck`` conv.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ....models.layers.conv_module import ActFactory, ConvModule, NormFactory
from ....registry import MODELS
from .decode_head import BaseDecodeHead, resize

__all__ = ["ASPPHead", "ASPPModule"]


class ASPPModule(nn.ModuleList):
    """The atrous branches: a 1x1 conv for dilation 1, a 3x3 conv of that dilation otherwise.

    Args:
        dilations: one branch per dilation.
        in_channels: input channels.
        channels: channels of every branch.
        norm_layer: norm factory of the branch convs.
        act_layer: activation factory of the branch convs.

    Shapes:
        (N, in_channels, H, W) -> a list of ``len(dilations)`` maps (N, channels, H, W).
    """

    def __init__(
        self,
        dilations: Sequence[int],
        in_channels: int,
        channels: int,
        norm_layer: NormFactory | None,
        act_layer: ActFactory | None,
    ) -> None:
        super().__init__(
            ConvModule(
                in_channels,
                channels,
                1 if dilation == 1 else 3,
                padding=0 if dilation == 1 else dilation,
                dilation=dilation,
                norm_layer=norm_layer,
                act_layer=act_layer,
            )
            for dilation in dilations
        )
        self.dilations = tuple(dilations)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [branch(x) for branch in self]


@MODELS.register()
class ASPPHead(BaseDecodeHead):
    """DeepLabV3 head: image pooling + atrous branches + 3x3 bottleneck.

    Args:
        dilations: dilations of the atrous branches; MMSegmentation's default (1, 6, 12, 18) suits
            output stride 16, its DeepLabV3 configs on dilated ResNets (output stride 8) pass
            (1, 12, 24, 36).
        **kwargs: :class:`BaseDecodeHead` arguments.

    Note:
        With BatchNorm, the image-pool branch normalises one value per image and channel, so
        training needs a batch of at least two images.
    """

    def __init__(self, dilations: Sequence[int] = (1, 6, 12, 18), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not dilations or any(int(d) < 1 for d in dilations):
            raise ValueError(f"{type(self).__name__}: dilations must be positive ints, got {dilations!r}")
        self.dilations = tuple(int(d) for d in dilations)
        layer = dict(norm_layer=self.norm_layer, act_layer=self.act_layer)
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), ConvModule(self.in_channels, self.channels, 1, **layer)
        )
        self.aspp_modules = self._build_aspp_modules()
        self.bottleneck = ConvModule(
            (len(self.dilations) + 1) * self.channels, self.channels, 3, padding=1, **layer
        )

    def _build_aspp_modules(self) -> nn.ModuleList:
        return ASPPModule(self.dilations, self.in_channels, self.channels, self.norm_layer, self.act_layer)

    def aspp_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, channels, h, w): image pooling and atrous branches of ``x``, fused by the bottleneck."""
        pooled = resize(self.image_pool(x), x.shape[-2:], self.align_corners)
        return self.bottleneck(torch.cat([pooled, *self.aspp_modules(x)], dim=1))

    def forward_features(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, channels, h, w) features before the classifier."""
        return self.aspp_features(self._transform_inputs(inputs))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.forward_features(inputs))
