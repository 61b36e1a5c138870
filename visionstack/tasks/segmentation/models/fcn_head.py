"""FCNHead (Long et al., "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015).

MMSegmentation's form: ``num_convs`` conv-norm-ReLU layers (``convs``), optionally the input
concatenated back and fused by one more conv (``conv_cat``), then the 1x1 classifier. It is also the
usual auxiliary head (on the backbone's stride-16 stage, ``num_convs=1, concat_input=False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ....models.layers.conv_module import ConvModule
from ....registry import MODELS
from .decode_head import BaseDecodeHead

__all__ = ["FCNHead"]


@MODELS.register()
class FCNHead(BaseDecodeHead):
    """Fully convolutional head.

    Args:
        num_convs: conv layers before the classifier (0 passes the input through; then
            ``in_channels`` must equal ``channels``).
        kernel_size: side of every conv.
        concat_input: concatenate the input with the conv output and fuse them with ``conv_cat``.
        dilation: dilation of the ``convs`` (padding keeps the size).
        **kwargs: :class:`BaseDecodeHead` arguments (``in_channels``, ``channels``, ``num_classes`` ...).
    """

    def __init__(
        self,
        num_convs: int = 2,
        kernel_size: int = 3,
        concat_input: bool = True,
        dilation: int = 1,
        **kwargs: Any,
    ) -> None:
        if num_convs < 0:
            raise ValueError(f"FCNHead: num_convs must be >= 0, got {num_convs}")
        if dilation < 1:
            raise ValueError(f"FCNHead: dilation must be >= 1, got {dilation}")
        super().__init__(**kwargs)
        if num_convs == 0 and self.in_channels != self.channels:
            raise ValueError(
                f"FCNHead: num_convs=0 passes the input through, so in_channels ({self.in_channels}) must equal "
                f"channels ({self.channels})"
            )
        self.num_convs = num_convs
        self.concat_input = concat_input
        self.kernel_size = kernel_size
        layer = dict(norm_layer=self.norm_layer, act_layer=self.act_layer)
        padding = (kernel_size // 2) * dilation
        convs = [
            ConvModule(
                self.in_channels if index == 0 else self.channels,
                self.channels,
                kernel_size,
                padding=padding,
                dilation=dilation,
                **layer,
            )
            for index in range(num_convs)
        ]
        self.convs = nn.Sequential(*convs) if convs else nn.Identity()
        self.conv_cat = (
            ConvModule(
                self.in_channels + self.channels,
                self.channels,
                kernel_size,
                padding=kernel_size // 2,
                **layer,
            )
            if concat_input
            else None
        )

    def forward_features(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, channels, h, w) features before the classifier."""
        x = self._transform_inputs(inputs)
        feats = self.convs(x)
        if self.conv_cat is not None:
            feats = self.conv_cat(torch.cat([x, feats], dim=1))
        return feats

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.forward_features(inputs))
