"""Conv + norm + activation blocks of the backbones and decode heads, with MMCV's state-dict names.

``ConvModule`` names its parts ``conv``, ``bn`` / ``gn`` / ``ln`` / ``in`` (after the norm's kind,
as MMCV's ``ConvModule`` does) and ``activate``, so a head's parameter names read like the keys of
MMSegmentation checkpoints (``bottleneck.conv.weight``, ``bottleneck.bn.running_mean``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .weight_init import constant_init, kaiming_init

__all__ = [
    "ActFactory",
    "ConvModule",
    "ConvNormAct",
    "DepthwiseSeparableConvModule",
    "NormFactory",
    "norm_name",
]

NormFactory = Callable[[int], nn.Module]
ActFactory = Callable[[], nn.Module]


def norm_name(norm: nn.Module) -> str:
    """The attribute name MMCV gives a norm layer: ``bn``, ``gn``, ``ln``, ``in`` or ``norm``."""
    if isinstance(norm, nn.modules.batchnorm._BatchNorm):
        return "bn"
    if isinstance(norm, nn.modules.instancenorm._InstanceNorm):
        return "in"
    if isinstance(norm, nn.GroupNorm):
        return "gn"
    if isinstance(norm, nn.LayerNorm):
        return "ln"
    lowered = type(norm).__name__.lower()
    for key, name in (("batch", "bn"), ("group", "gn"), ("layer", "ln"), ("instance", "in")):
        if key in lowered:
            return name
    return "norm"


class ConvNormAct(nn.Module):
    """``conv -> norm -> activation`` with MMCV's child names and PyTorch's default initialisation.

    The children are ``conv``, the norm under :func:`norm_name` (``bn``, ``gn``, ...; or
    ``norm_attr``) and ``activate``; the conv has a bias only without a norm. The backbones build
    their conv blocks from it (UNet, CSPNeXt); :class:`ConvModule` adds MMCV's initialisation.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel side.
        stride: conv stride.
        padding: zero padding on each side; None keeps the size at stride 1
            (``dilation * (kernel_size // 2)``).
        dilation: kernel dilation.
        groups: conv groups (``in_channels`` for a depthwise conv).
        norm_layer: norm factory ``norm_layer(num_channels)`` or None for no norm.
        act_layer: activation factory ``act_layer()`` or None for no activation.
        norm_attr: the norm's attribute name instead of :func:`norm_name`'s (e.g. always ``"bn"``).

    Shapes:
        (N, in_channels, H, W) -> (N, out_channels, H', W').
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        dilation: int = 1,
        groups: int = 1,
        norm_layer: NormFactory | None = nn.BatchNorm2d,
        act_layer: ActFactory | None = nn.ReLU,
        norm_attr: str | None = None,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=dilation * (kernel_size // 2) if padding is None else padding,
            dilation=dilation,
            groups=groups,
            bias=norm_layer is None,
        )
        self.norm_name: str | None = None
        if norm_layer is not None:
            norm = norm_layer(out_channels)
            self.norm_name = norm_attr or norm_name(norm)
            self.add_module(self.norm_name, norm)
        self.activate = act_layer() if act_layer is not None else None

    @property
    def norm(self) -> nn.Module | None:
        return getattr(self, self.norm_name) if self.norm_name is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm_name is not None:
            x = self.norm(x)
        if self.activate is not None:
            x = self.activate(x)
        return x


class ConvModule(ConvNormAct):
    """:class:`ConvNormAct` with MMCV's ``ConvModule`` defaults (no norm, explicit padding) and
    initialisation (He fan-out convs, identity norms), as the decode heads use it.

    Args: as :class:`ConvNormAct` without ``norm_attr``, with MMCV's defaults: ``kernel_size`` is
    required, ``padding`` is 0 and ``norm_layer`` None.

    Shapes:
        (N, in_channels, H, W) -> (N, out_channels, H', W').
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        norm_layer: NormFactory | None = None,
        act_layer: ActFactory | None = nn.ReLU,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, norm_layer, act_layer
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation of the conv (fan-out, as MMCV's ``ConvModule``); norms start as identity."""
        kaiming_init(self.conv, mode="fan_out", nonlinearity="relu")
        if self.norm is not None:
            constant_init(self.norm, 1.0)


class DepthwiseSeparableConvModule(nn.Module):
    """A depthwise ``kernel_size`` conv then a pointwise 1x1 conv, each with norm and activation
    (Chollet, "Xception", CVPR 2017; DeepLabV3+ uses it in ASPP and the decoder, section 3.2).

    Args:
        in_channels: input channels (also the depthwise conv's groups).
        out_channels: output channels of the pointwise conv.
        kernel_size: depthwise kernel side.
        norm_layer: norm factory of both convs (None: no norm).
        act_layer: activation factory of both convs (None: no activation).
        **depthwise: ``stride``, ``padding`` and ``dilation`` (atrous separable convolution) of the
            depthwise conv; the pointwise one is a plain 1x1.

    Shapes:
        (N, in_channels, H, W) -> (N, out_channels, H', W').
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        norm_layer: NormFactory | None = None,
        act_layer: ActFactory | None = nn.ReLU,
        **depthwise: int,
    ) -> None:
        super().__init__()
        layers = {"norm_layer": norm_layer, "act_layer": act_layer}
        self.depthwise_conv = ConvModule(
            in_channels,
            in_channels,
            kernel_size,
            groups=in_channels,
            **layers,
            **_depthwise_options(depthwise),
        )
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, **layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


def _depthwise_options(options: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(options) - {"stride", "padding", "dilation"})
    if unknown:
        raise TypeError(
            f"DepthwiseSeparableConvModule: unexpected argument(s) {unknown}; "
            "the depthwise conv takes stride, padding and dilation"
        )
    return options
