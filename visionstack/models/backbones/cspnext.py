"""CSPNeXt, the backbone of RTMDet (Lyu et al., "RTMDet: An Empirical Study of Designing Real-Time
Object Detectors", 2022, section 3.1), and the CSP building blocks its PAFPN neck shares.

A CSPNeXt stage is a stride-2 3x3 conv, an SPP bottleneck (last stage only) and a cross-stage-partial
layer whose blocks are "CSPNeXt blocks": a 3x3 conv followed by a 5x5 depthwise-separable conv (the
paper's large-kernel block), with a channel attention on the concatenated halves.

Module and parameter names follow MMDetection's ``CSPNeXt`` (``stem.0.conv``, ``stage1.0.bn``,
``stage4.1.poolings``, ``stage2.1.blocks.0.conv2.depthwise_conv.conv`` ...), so a published RTMDet
state dict loads with ``load_state_dict`` once its ``backbone.`` prefix is stripped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import nn

from ...registry import MODELS
from .. import layers
from ._freezing import FreezingTrainMixin, freeze_modules, normalize_out_indices, run_stages

NormLayer = Callable[[int], nn.Module]
ActLayer = Callable[[], nn.Module]

# MMDetection's RTMDet batch norm: torch momentum 0.03, eps 1e-3 (as YOLOX/YOLOv5).
default_norm_layer: NormLayer = functools.partial(nn.BatchNorm2d, momentum=0.03, eps=0.001)

# Per stage: in channels, out channels, blocks, identity shortcut in blocks, SPP before the CSP layer
# (MMDetection's ``arch_settings``; channels at widen_factor 1, blocks at deepen_factor 1).
CSPNEXT_ARCH_SETTINGS: dict[str, tuple[tuple[int, int, int, bool, bool], ...]] = {
    "P5": (
        (64, 128, 3, True, False),
        (128, 256, 6, True, False),
        (256, 512, 6, True, False),
        (512, 1024, 3, False, True),
    ),
    "P6": (
        (64, 128, 3, True, False),
        (128, 256, 6, True, False),
        (256, 512, 6, True, False),
        (512, 768, 3, True, False),
        (768, 1024, 3, False, True),
    ),
}


class ConvNormAct(layers.ConvNormAct):
    """The shared :class:`~visionstack.models.layers.ConvNormAct` with RTMDet's defaults and its
    children always named ``conv``, ``bn``, ``activate`` (MMDetection's CSPNeXt keys).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel; padding keeps the size at stride 1.
        stride: conv stride.
        groups: conv groups (``in_channels`` for a depthwise conv).
        norm_layer: factory ``norm_layer(channels)``.
        act_layer: factory ``act_layer()``; None for no activation.

    Shapes:
        (N, C_in, H, W) -> (N, C_out, H / stride, W / stride).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        norm_layer: NormLayer = default_norm_layer,
        act_layer: ActLayer | None = nn.SiLU,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            groups=groups,
            norm_layer=norm_layer,
            act_layer=act_layer,
            norm_attr="bn",
        )


class DepthwiseSeparableConv(nn.Module):
    """k x k depthwise ConvNormAct followed by a 1x1 pointwise ConvNormAct (MobileNet's factorisation)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        norm_layer: NormLayer = default_norm_layer,
        act_layer: ActLayer | None = nn.SiLU,
    ) -> None:
        super().__init__()
        self.depthwise_conv = ConvNormAct(
            in_channels, in_channels, kernel_size, 1, in_channels, norm_layer, act_layer
        )
        self.pointwise_conv = ConvNormAct(in_channels, out_channels, 1, 1, 1, norm_layer, act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) -> (N, C_out, H, W)."""
        return self.pointwise_conv(self.depthwise_conv(x))


class CSPNeXtBlock(nn.Module):
    """3x3 conv, then a large-kernel (5x5) depthwise-separable conv, optional identity shortcut.

    Args:
        in_channels: input channels.
        out_channels: output channels; the shortcut needs ``in_channels == out_channels``.
        expansion: hidden channels as a fraction of ``out_channels``.
        add_identity: add the input to the output (when the channel counts match).
        kernel_size: depthwise kernel size (5 in the paper, section 3.1).
        norm_layer: norm factory.
        act_layer: activation factory.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expansion: float = 0.5,
        add_identity: bool = True,
        kernel_size: int = 5,
        norm_layer: NormLayer = default_norm_layer,
        act_layer: ActLayer = nn.SiLU,
    ) -> None:
        super().__init__()
        hidden_channels = int(out_channels * expansion)
        self.conv1 = ConvNormAct(in_channels, hidden_channels, 3, norm_layer=norm_layer, act_layer=act_layer)
        self.conv2 = DepthwiseSeparableConv(hidden_channels, out_channels, kernel_size, norm_layer, act_layer)
        self.add_identity = add_identity and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) -> (N, C_out, H, W)."""
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation without reduction: ``x * hardsigmoid(conv1x1(avgpool(x)))``.

    Args:
        channels: C; the 1x1 conv maps C to C (with bias).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        self.act = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, H, W), each channel scaled by a weight in [0, 1]."""
        return x * self.act(self.fc(self.global_avgpool(x)))


class CSPLayer(nn.Module):
    """Cross Stage Partial layer (Wang et al., "CSPNet", 2020) with CSPNeXt blocks.

    The input goes through two 1x1 convs: the "main" half through ``num_blocks`` blocks, the
    "short" half unchanged; both halves are concatenated, optionally re-weighted by channel
    attention, and fused by a 1x1 conv.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        expand_ratio: each half has ``int(out_channels * expand_ratio)`` channels.
        num_blocks: CSPNeXt blocks on the main half.
        add_identity: identity shortcuts inside the blocks.
        channel_attention: apply :class:`ChannelAttention` to the concatenation.
        norm_layer: norm factory.
        act_layer: activation factory.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expand_ratio: float = 0.5,
        num_blocks: int = 1,
        add_identity: bool = True,
        channel_attention: bool = False,
        norm_layer: NormLayer = default_norm_layer,
        act_layer: ActLayer = nn.SiLU,
    ) -> None:
        super().__init__()
        mid_channels = int(out_channels * expand_ratio)
        self.main_conv = ConvNormAct(in_channels, mid_channels, 1, norm_layer=norm_layer, act_layer=act_layer)
        self.short_conv = ConvNormAct(
            in_channels, mid_channels, 1, norm_layer=norm_layer, act_layer=act_layer
        )
        self.final_conv = ConvNormAct(
            2 * mid_channels, out_channels, 1, norm_layer=norm_layer, act_layer=act_layer
        )
        self.blocks = nn.Sequential(
            *[
                CSPNeXtBlock(
                    mid_channels, mid_channels, 1.0, add_identity, norm_layer=norm_layer, act_layer=act_layer
                )
                for _ in range(num_blocks)
            ]
        )
        self.attention = ChannelAttention(2 * mid_channels) if channel_attention else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) -> (N, C_out, H, W)."""
        merged = torch.cat([self.blocks(self.main_conv(x)), self.short_conv(x)], dim=1)
        if self.attention is not None:
            merged = self.attention(merged)
        return self.final_conv(merged)


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling (He et al. 2014, as used by YOLOv3-SPP/YOLOX): a 1x1 conv halves the
    channels, stride-1 max pools of several kernel sizes run in parallel, and the input and the
    pooled maps are concatenated and fused by a 1x1 conv.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_sizes: the max-pool kernels (5, 9, 13 in RTMDet); odd, so the size is kept.
        norm_layer: norm factory.
        act_layer: activation factory.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_sizes: Sequence[int] = (5, 9, 13),
        norm_layer: NormLayer = default_norm_layer,
        act_layer: ActLayer = nn.SiLU,
    ) -> None:
        super().__init__()
        if any(k % 2 == 0 for k in kernel_sizes):
            raise ValueError(
                f"SPPBottleneck: kernel_sizes must be odd to keep the map size, got {kernel_sizes}"
            )
        mid_channels = in_channels // 2
        self.conv1 = ConvNormAct(in_channels, mid_channels, 1, norm_layer=norm_layer, act_layer=act_layer)
        self.poolings = nn.ModuleList([nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes])
        fused_channels = mid_channels * (len(kernel_sizes) + 1)
        self.conv2 = ConvNormAct(fused_channels, out_channels, 1, norm_layer=norm_layer, act_layer=act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) -> (N, C_out, H, W)."""
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.poolings], dim=1))


@MODELS.register()
class CSPNeXt(FreezingTrainMixin, nn.Module):
    """CSPNeXt backbone of RTMDet.

    Stage 0 is the stem (three 3x3 convs, the first of stride 2: stride 2 overall), stages 1..4
    (P5; 1..5 for P6) each halve the resolution, so stage i has stride ``2 ** (i + 1)``. The
    published variants: tiny (deepen 0.167, widen 0.375), s (0.33, 0.5), m (0.67, 0.75),
    l (1.0, 1.0), x (1.33, 1.25).

    Args:
        arch: ``"P5"`` (strides up to 32) or ``"P6"`` (up to 64).
        deepen_factor: multiplies the number of blocks per stage (rounded, at least 1).
        widen_factor: multiplies the channels.
        out_indices: stages to return (0 stem ... 4 for P5); default the strides 8, 16, 32.
        expand_ratio: channel split of the CSP layers.
        channel_attention: channel attention in every CSP layer.
        spp_kernel_sizes: max-pool kernels of the SPP bottleneck in the last stage.
        frozen_stages: freeze the stem and stages ``1..frozen_stages`` (-1: nothing frozen).
        norm_eval: keep batch-norm layers in eval mode while training.
        norm_layer: norm factory (default BatchNorm2d, momentum 0.03, eps 1e-3).
        act_layer: activation factory (default SiLU).

    Shapes:
        input (N, 3, H, W) -> tuple of (N, out_channels[i], H / 2^(s+1), W / 2^(s+1)) for each
        stage s in ``out_indices``.
    """

    def __init__(
        self,
        arch: Literal["P5", "P6"] = "P5",
        deepen_factor: float = 1.0,
        widen_factor: float = 1.0,
        out_indices: Sequence[int] = (2, 3, 4),
        expand_ratio: float = 0.5,
        channel_attention: bool = True,
        spp_kernel_sizes: Sequence[int] = (5, 9, 13),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        norm_layer: NormLayer = default_norm_layer,
        act_layer: ActLayer = nn.SiLU,
    ) -> None:
        super().__init__()
        if arch not in CSPNEXT_ARCH_SETTINGS:
            raise ValueError(f"CSPNeXt: arch must be one of {sorted(CSPNEXT_ARCH_SETTINGS)}, got {arch!r}")
        settings = CSPNEXT_ARCH_SETTINGS[arch]
        num_stages = len(settings) + 1
        if not -1 <= frozen_stages < num_stages:
            raise ValueError(f"CSPNeXt: frozen_stages must be in [-1, {num_stages - 1}], got {frozen_stages}")
        self.out_indices = normalize_out_indices(out_indices, num_stages, "CSPNeXt")
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        stem_channels = int(settings[0][0] * widen_factor)
        self.stem = nn.Sequential(
            ConvNormAct(3, stem_channels // 2, 3, 2, norm_layer=norm_layer, act_layer=act_layer),
            ConvNormAct(
                stem_channels // 2, stem_channels // 2, 3, norm_layer=norm_layer, act_layer=act_layer
            ),
            ConvNormAct(stem_channels // 2, stem_channels, 3, norm_layer=norm_layer, act_layer=act_layer),
        )
        self.stage_names = ["stem"]
        stage_channels = [stem_channels]
        for index, (in_ch, out_ch, num_blocks, add_identity, use_spp) in enumerate(settings, start=1):
            in_ch, out_ch = int(in_ch * widen_factor), int(out_ch * widen_factor)
            layers: list[nn.Module] = [
                ConvNormAct(in_ch, out_ch, 3, 2, norm_layer=norm_layer, act_layer=act_layer)
            ]
            if use_spp:
                layers.append(SPPBottleneck(out_ch, out_ch, spp_kernel_sizes, norm_layer, act_layer))
            layers.append(
                CSPLayer(
                    out_ch,
                    out_ch,
                    expand_ratio=expand_ratio,
                    num_blocks=max(round(num_blocks * deepen_factor), 1),
                    add_identity=add_identity,
                    channel_attention=channel_attention,
                    norm_layer=norm_layer,
                    act_layer=act_layer,
                )
            )
            self.add_module(f"stage{index}", nn.Sequential(*layers))
            self.stage_names.append(f"stage{index}")
            stage_channels.append(out_ch)
        self.out_channels = tuple(stage_channels[i] for i in self.out_indices)
        self.train()

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_modules(getattr(self, name) for name in self.stage_names[: self.frozen_stages + 1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(N, 3, H, W) -> the feature maps of the stages in ``out_indices``."""
        return run_stages(x, (getattr(self, name) for name in self.stage_names), self.out_indices)
