"""SegformerHead: SegFormer's all-MLP decoder (Xie et al., "SegFormer: Simple and Efficient Design for
Semantic Segmentation with Transformers", NeurIPS 2021, section 3.2, eq. 2).

Every stage's map is projected to ``channels`` by a per-pixel linear layer (a 1x1 ConvModule,
``convs``), upsampled to the first (stride-4) stage's size, concatenated, fused by another 1x1
ConvModule (``fusion_conv``) and classified. The hierarchical encoder already has a large effective
receptive field, so this light decoder suffices (section 3.2, "Effective Receptive Field").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ....models.layers.conv_module import ConvModule
from ....registry import MODELS
from .decode_head import BaseDecodeHead, resize

__all__ = ["SegformerHead"]


@MODELS.register()
class SegformerHead(BaseDecodeHead):
    """All-MLP decoder over several stages (``input_transform`` is always ``"multiple_select"``).

    Args:
        in_channels: channels of each selected stage, e.g. MiT-B0's (32, 64, 160, 256).
        in_index: the stages used; default: the first ``len(in_channels)`` maps.
        interpolate_mode: ``"bilinear"`` (MMSegmentation's default) or ``"nearest"`` for the upsampling.
        **kwargs: :class:`BaseDecodeHead` arguments (``channels``, ``num_classes`` ...).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        in_index: Sequence[int] | None = None,
        interpolate_mode: str = "bilinear",
        **kwargs: Any,
    ) -> None:
        if "input_transform" in kwargs:
            raise ValueError("SegformerHead: input_transform is always 'multiple_select'; do not pass it")
        if interpolate_mode not in ("bilinear", "nearest"):
            raise ValueError(
                f"SegformerHead: interpolate_mode must be 'bilinear' or 'nearest', got {interpolate_mode!r}"
            )
        if in_index is None:
            in_index = list(range(len(in_channels)))
        super().__init__(
            in_channels=in_channels, in_index=in_index, input_transform="multiple_select", **kwargs
        )
        self.interpolate_mode = interpolate_mode
        self.convs = nn.ModuleList(
            ConvModule(channels, self.channels, 1, norm_layer=self.norm_layer, act_layer=self.act_layer)
            for channels in self.in_channels
        )
        # MMSegmentation's fusion conv keeps ConvModule's default activation (ReLU)
        self.fusion_conv = ConvModule(
            self.channels * len(self.in_channels), self.channels, 1, norm_layer=self.norm_layer
        )

    def _upsample(self, x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        if self.interpolate_mode == "bilinear":
            return resize(x, size, self.align_corners)
        return nn.functional.interpolate(x, size=tuple(size), mode="nearest")

    def forward_features(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, channels, h0, w0) fused features at the first selected stage's size."""
        maps = self._transform_inputs(inputs)
        size = maps[0].shape[-2:]
        projected = [self._upsample(conv(x), size) for conv, x in zip(self.convs, maps)]
        return self.fusion_conv(torch.cat(projected, dim=1))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.forward_features(inputs))
