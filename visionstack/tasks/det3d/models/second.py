"""SECOND's 2D bird's-eye backbone and its FPN-style neck (MMDetection3D's ``SECOND``/``SECONDFPN``).

Yan et al., "SECOND: Sparsely Embedded Convolutional Detection", Sensors 2018 (the RPN of section
2.3), as PointPillars and CenterPoint-pillar use it: stages of 3x3 convs (the first strided), each
stage's output upsampled to a common stride by a transposed conv and concatenated. Parameter names as
MMDetection3D (``blocks.0.0.weight``, ``deblocks.0.0.weight``) so its checkpoints load by name.

Parameter counts (weights + BN affine; buffers excluded) of the KITTI PointPillars defaults:
``SECOND(64, (64, 128, 256), (3, 5, 5), (2, 2, 2))`` = 4,207,616 and
``SECONDFPN((64, 128, 256), (128, 128, 128), (1, 2, 4))`` = 598,784.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....registry import MODELS
from .voxel_encoders import batch_norm_kwargs

__all__ = ["SECOND", "SECONDFPN"]


def _conv_bn_relu(conv: nn.Module, channels: int, bn: dict[str, float]) -> list[nn.Module]:
    return [conv, nn.BatchNorm2d(channels, **bn), nn.ReLU(inplace=True)]


def _kaiming_init(module: nn.Module) -> None:
    """He-normal conv weights (fan_out, ReLU), BN weight 1 bias 0: MMDetection3D's init_cfg."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


@MODELS.register()
class SECOND(nn.Module):
    """Stages of 3x3 conv + BN + ReLU; stage i starts with a ``layer_strides[i]`` conv and has
    ``layer_nums[i]`` more convs.

    Args:
        in_channels: C of the BEV canvas.
        out_channels: width of each stage.
        layer_nums: extra (stride 1) convs per stage.
        layer_strides: stride of each stage's first conv.
        norm_cfg: BatchNorm ``eps``/``momentum`` (see :func:`~.voxel_encoders.batch_norm_kwargs`).

    Call: (B, in_channels, H, W) -> tuple of (B, out_channels[i], H / s_i, W / s_i), s_i the
    cumulative stride.
    """

    def __init__(
        self,
        in_channels: int = 64,
        out_channels: Sequence[int] = (64, 128, 256),
        layer_nums: Sequence[int] = (3, 5, 5),
        layer_strides: Sequence[int] = (2, 2, 2),
        norm_cfg: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not len(out_channels) == len(layer_nums) == len(layer_strides):
            raise ValueError(
                f"SECOND: out_channels, layer_nums and layer_strides need one entry per stage, got "
                f"{list(out_channels)}, {list(layer_nums)}, {list(layer_strides)}"
            )
        bn = batch_norm_kwargs(norm_cfg, "SECOND")
        widths = [in_channels, *out_channels]
        blocks = []
        for i, (count, stride) in enumerate(zip(layer_nums, layer_strides)):
            width = widths[i + 1]
            layers = _conv_bn_relu(
                nn.Conv2d(widths[i], width, 3, stride=stride, padding=1, bias=False), width, bn
            )
            for _ in range(count):
                layers += _conv_bn_relu(nn.Conv2d(width, width, 3, padding=1, bias=False), width, bn)
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = tuple(out_channels)
        _kaiming_init(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        return tuple(outs)


@MODELS.register()
class SECONDFPN(nn.Module):
    """Upsample each backbone output to a common stride and concatenate along channels.

    Level i: a ``ConvTranspose2d`` of kernel = stride = ``upsample_strides[i]`` (no bias) when the
    stride is > 1, or == 1 and not ``use_conv_for_no_stride``; a strided ``Conv2d`` of kernel = stride =
    ``round(1 / upsample_strides[i])`` otherwise (downsampling); then BN + ReLU.

    Args:
        in_channels: channels of each input level.
        out_channels: channels of each upsampled level (the output has their sum).
        upsample_strides: per level; values < 1 downsample.
        norm_cfg: BatchNorm ``eps``/``momentum``.
        use_conv_for_no_stride: use a 1x1 conv instead of a 1x1 transposed conv at stride 1 (same
            function, different weight layout: (out, in) vs (in, out)).

    Call: sequence of (B, in_channels[i], H_i, W_i) -> a one-element list [(B, sum(out_channels), H, W)].
    """

    def __init__(
        self,
        in_channels: Sequence[int] = (64, 128, 256),
        out_channels: Sequence[int] = (128, 128, 128),
        upsample_strides: Sequence[float] = (1, 2, 4),
        norm_cfg: Mapping[str, Any] | None = None,
        use_conv_for_no_stride: bool = False,
    ) -> None:
        super().__init__()
        if not len(in_channels) == len(out_channels) == len(upsample_strides):
            raise ValueError(
                f"SECONDFPN: in_channels, out_channels and upsample_strides need one entry per level, got "
                f"{list(in_channels)}, {list(out_channels)}, {list(upsample_strides)}"
            )
        bn = batch_norm_kwargs(norm_cfg, "SECONDFPN")
        deblocks = []
        for c_in, c_out, stride in zip(in_channels, out_channels, upsample_strides):
            if stride > 1 or (stride == 1 and not use_conv_for_no_stride):
                step = int(stride)
                layer = nn.ConvTranspose2d(c_in, c_out, step, stride=step, bias=False)
            else:
                step = int(round(1 / stride))
                layer = nn.Conv2d(c_in, c_out, step, stride=step, bias=False)
            deblocks.append(nn.Sequential(*_conv_bn_relu(layer, c_out, bn)))
        self.deblocks = nn.ModuleList(deblocks)
        self.in_channels = tuple(in_channels)
        self.out_channels = int(sum(out_channels))
        _kaiming_init(self)

    def forward(self, x: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(x) != len(self.deblocks):
            raise ValueError(f"SECONDFPN: expected {len(self.deblocks)} feature levels, got {len(x)}")
        ups = [deblock(feat) for deblock, feat in zip(self.deblocks, x)]
        return [torch.cat(ups, dim=1) if len(ups) > 1 else ups[0]]
