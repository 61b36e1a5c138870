"""PSPHead (Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017, section 3.2).

The Pyramid Pooling Module averages the feature map into ``s x s`` bins for each pool scale
(1, 2, 3, 6 in the paper), reduces each to ``channels`` with a 1x1 conv, upsamples them back
(bilinear) and concatenates them with the input; a 3x3 ``bottleneck`` fuses the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ....models.layers.conv_module import ActFactory, ConvModule, NormFactory
from ....registry import MODELS
from .decode_head import BaseDecodeHead, resize

__all__ = ["PPM", "PSPHead"]


class PPM(nn.ModuleList):
    """Pyramid Pooling Module: one ``AdaptiveAvgPool2d(scale) -> 1x1 ConvModule`` branch per scale.

    Args:
        pool_scales: output side of each branch's pooling.
        in_channels: input channels.
        channels: channels of every branch.
        norm_layer: norm factory of the branch convs.
        act_layer: activation factory of the branch convs.
        align_corners: of the upsampling back to the input size.

    Shapes:
        (N, in_channels, H, W) -> a list of ``len(pool_scales)`` maps (N, channels, H, W).
    """

    def __init__(
        self,
        pool_scales: Sequence[int],
        in_channels: int,
        channels: int,
        norm_layer: NormFactory | None,
        act_layer: ActFactory | None,
        align_corners: bool,
    ) -> None:
        super().__init__(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(scale),
                ConvModule(in_channels, channels, 1, norm_layer=norm_layer, act_layer=act_layer),
            )
            for scale in pool_scales
        )
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [resize(branch(x), x.shape[-2:], self.align_corners) for branch in self]


@MODELS.register()
class PSPHead(BaseDecodeHead):
    """Pyramid scene parsing head.

    Args:
        pool_scales: bin counts per side of the pyramid levels.
        **kwargs: :class:`BaseDecodeHead` arguments.

    Note:
        With BatchNorm, the scale-1 branch normalises one value per image and channel, so training
        needs a batch of at least two images.
    """

    def __init__(self, pool_scales: Sequence[int] = (1, 2, 3, 6), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not pool_scales or any(int(s) < 1 for s in pool_scales):
            raise ValueError(f"PSPHead: pool_scales must be positive ints, got {pool_scales!r}")
        self.pool_scales = tuple(int(s) for s in pool_scales)
        self.psp_modules = PPM(
            self.pool_scales,
            self.in_channels,
            self.channels,
            self.norm_layer,
            self.act_layer,
            self.align_corners,
        )
        self.bottleneck = ConvModule(
            self.in_channels + len(self.pool_scales) * self.channels,
            self.channels,
            3,
            padding=1,
            norm_layer=self.norm_layer,
            act_layer=self.act_layer,
        )

    def forward_features(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, channels, h, w) features before the classifier."""
        x = self._transform_inputs(inputs)
        return self.bottleneck(torch.cat([x, *self.psp_modules(x)], dim=1))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.forward_features(inputs))
