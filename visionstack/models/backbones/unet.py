"""U-Net (Ronneberger et al., "U-Net: Convolutional Networks for Biomedical Image Segmentation",
MICCAI 2015), as MMSegmentation's ``UNet`` backbone builds it.

An encoder of ``num_stages`` conv blocks, each (after the first) preceded by a 2x2 max pool (or a
stride-2 first conv), doubles the width as it halves the resolution; a decoder walks back up: each
step upsamples the deeper map (``InterpConv``: bilinear x2, then a 1x1 conv-norm-ReLU that halves
the width), concatenates the encoder map of that resolution (the skip connection that gives U-Net
its sharp boundaries, section 2) and fuses them with a conv block. Unlike the paper, the 3x3 convs
are padded and normalised, so the output is as large as the input.

Module and parameter names follow MMSegmentation (``encoder.1.1.convs.0.conv.weight``,
``decoder.0.upsample.interp_upsample.1.bn.weight``, ``decoder.0.conv_block.convs.1.conv.weight``
...), so its UNet weights load once the ``backbone.`` prefix is stripped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from ...registry import MODELS
from ..layers.conv_module import ConvNormAct
from ..layers.weight_init import constant_init, init_by_type
from ._freezing import FreezingTrainMixin, normalize_out_indices

NormLayer = Callable[[int], nn.Module]
ActLayer = Callable[[], nn.Module]


def _he_normal_weight_init(conv: nn.Module) -> None:
    """He normal weight (fan-out, ReLU); the bias of a conv without a norm keeps PyTorch's default,
    as in MMSegmentation's UNet."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")


class UNetConvBlock(nn.Module):
    """``num_convs`` 3x3 ConvNormActs (``convs``); MMSegmentation's ``BasicConvBlock``.

    Args:
        in_channels: input channels.
        out_channels: channels of every conv's output.
        num_convs: number of convs.
        stride: stride of the first conv (2 downsamples instead of a max pool).
        dilation: dilation of every conv but the first (which is never dilated).
        norm_layer: norm factory.
        act_layer: activation factory.

    Shapes:
        (N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_convs: int = 2,
        stride: int = 1,
        dilation: int = 1,
        norm_layer: NormLayer = nn.BatchNorm2d,
        act_layer: ActLayer = nn.ReLU,
    ) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            *(
                ConvNormAct(
                    in_channels if index == 0 else out_channels,
                    out_channels,
                    stride=stride if index == 0 else 1,
                    dilation=1 if index == 0 else dilation,
                    norm_layer=norm_layer,
                    act_layer=act_layer,
                )
                for index in range(num_convs)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x)


class InterpConv(nn.Module):
    """Bilinear x2 upsampling (``align_corners=False``) followed by a 1x1 ConvNormAct.

    Upsampling first, then the conv, is MMSegmentation's default order (``conv_first=False``);
    the conv halves the channels to those of the skip connection. Children: ``interp_upsample``
    = (``nn.Upsample``, ConvNormAct), so the conv's keys are ``interp_upsample.1.conv.weight`` ...

    Shapes:
        (N, in_channels, H, W) -> (N, out_channels, 2 H, 2 W).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm_layer: NormLayer = nn.BatchNorm2d,
        act_layer: ActLayer = nn.ReLU,
    ) -> None:
        super().__init__()
        self.interp_upsample = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            ConvNormAct(in_channels, out_channels, 1, norm_layer=norm_layer, act_layer=act_layer),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.interp_upsample(x)


class UpConvBlock(nn.Module):
    """One decoder step: upsample the deeper map, concatenate the skip map, fuse with a conv block.

    Args:
        in_channels: channels of the deeper map.
        skip_channels: channels of the encoder (skip) map; the upsampled map gets as many.
        out_channels: channels of the output.
        num_convs: convs of the fusing block.
        dilation: dilation of the fusing block's convs after the first.
        upsample: x2 :class:`InterpConv` when the skip map is twice as large; else only a 1x1
            ConvNormAct matches the channels.
        norm_layer: norm factory.
        act_layer: activation factory.

    Shapes:
        skip (N, skip_channels, H, W) and x (N, in_channels, H / 2, W / 2) (or (H, W) without
        ``upsample``) -> (N, out_channels, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        num_convs: int = 2,
        dilation: int = 1,
        upsample: bool = True,
        norm_layer: NormLayer = nn.BatchNorm2d,
        act_layer: ActLayer = nn.ReLU,
    ) -> None:
        super().__init__()
        self.conv_block = UNetConvBlock(
            2 * skip_channels,
            out_channels,
            num_convs,
            1,
            dilation,
            norm_layer=norm_layer,
            act_layer=act_layer,
        )
        self.upsample: nn.Module
        if upsample:
            self.upsample = InterpConv(in_channels, skip_channels, norm_layer, act_layer)
        else:
            self.upsample = ConvNormAct(
                in_channels, skip_channels, 1, norm_layer=norm_layer, act_layer=act_layer
            )

    def forward(self, skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.conv_block(torch.cat([skip, self.upsample(x)], dim=1))


@MODELS.register()
class UNet(FreezingTrainMixin, nn.Module):
    """U-Net encoder-decoder backbone returning the decoder's maps, deepest first.

    The defaults are MMSegmentation's UNet-S5-D16 (5 stages, output stride 16 at the bottom,
    28,949,568 parameters with base_channels 64). Encoder stage ``i`` has ``base_channels * 2**i``
    channels; the ``k``-th output (k = 0 .. num_stages - 1) is the bottom of the U (k = 0) or the
    ``k``-th decoder step, with ``base_channels * 2**(num_stages - 1 - k)`` channels at stride
    ``2**(num_stages - 1 - k)`` for the defaults; the last one is at full resolution (an FCN head
    with ``in_index=4`` reads it, an auxiliary head the one before).

    Args:
        in_channels: channels of the input images.
        base_channels: width of the first stage.
        num_stages: encoder stages (``num_stages - 1`` decoder steps).
        strides: per encoder stage, 2 for a stride-2 first conv instead of the max pool.
        enc_num_convs: convs per encoder block.
        dec_num_convs: convs per decoder block (``num_stages - 1`` entries).
        downsamples: per stage 1.., whether a 2x2 max pool halves the map first (ignored where the
            stride is 2).
        enc_dilations: dilation of each encoder block's later convs.
        dec_dilations: dilation of each decoder block's later convs.
        norm_layer: norm factory (batch norm; MMSeg trains with SyncBN).
        act_layer: activation factory.
        norm_eval: keep every batch norm in eval mode while training.
        out_indices: which of the ``num_stages`` decoder outputs to return (default all).

    Attributes:
        out_channels: channels of each returned output, aligned with ``out_indices``.
        downsample_rate: the product of the encoder's downsamplings (16 for the defaults); input
            sizes must be multiples of it.

    Shapes:
        input (N, in_channels, H, W) with H, W multiples of ``downsample_rate`` -> tuple of
        (N, C_k, H / s_k, W / s_k), from the bottom (deepest) map to the full-resolution one.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 64,
        num_stages: int = 5,
        strides: Sequence[int] = (1, 1, 1, 1, 1),
        enc_num_convs: Sequence[int] = (2, 2, 2, 2, 2),
        dec_num_convs: Sequence[int] = (2, 2, 2, 2),
        downsamples: Sequence[bool] = (True, True, True, True),
        enc_dilations: Sequence[int] = (1, 1, 1, 1, 1),
        dec_dilations: Sequence[int] = (1, 1, 1, 1),
        norm_layer: NormLayer = nn.BatchNorm2d,
        act_layer: ActLayer = nn.ReLU,
        norm_eval: bool = False,
        out_indices: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        _check_lengths(
            num_stages,
            {"strides": strides, "enc_num_convs": enc_num_convs, "enc_dilations": enc_dilations},
            {"dec_num_convs": dec_num_convs, "downsamples": downsamples, "dec_dilations": dec_dilations},
        )
        if any(stride not in (1, 2) for stride in strides):
            raise ValueError(f"UNet: strides must be 1 or 2 per stage, got {tuple(strides)}")
        self.num_stages = num_stages
        self.norm_eval = norm_eval
        self.out_indices = normalize_out_indices(
            tuple(range(num_stages)) if out_indices is None else out_indices, num_stages, "UNet"
        )
        halves = [strides[i] == 2 or bool(downsamples[i - 1]) for i in range(1, num_stages)]
        self.downsample_rate = 2 ** sum(halves)
        widths = [base_channels * 2**i for i in range(num_stages)]
        # decoder outputs, deepest first: the bottom map, then decoder steps num_stages-2 .. 0
        self.out_channels = tuple(([widths[-1]] + widths[-2::-1])[k] for k in self.out_indices)

        self.encoder = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for index, width in enumerate(widths):
            layers: list[nn.Module] = []
            if index > 0:
                if strides[index] == 1 and downsamples[index - 1]:
                    layers.append(nn.MaxPool2d(kernel_size=2))
                self.decoder.append(
                    UpConvBlock(
                        in_channels=width,
                        skip_channels=widths[index - 1],
                        out_channels=widths[index - 1],
                        num_convs=dec_num_convs[index - 1],
                        dilation=dec_dilations[index - 1],
                        upsample=halves[index - 1],
                        norm_layer=norm_layer,
                        act_layer=act_layer,
                    )
                )
            layers.append(
                UNetConvBlock(
                    in_channels,
                    width,
                    num_convs=enc_num_convs[index],
                    stride=strides[index],
                    dilation=enc_dilations[index],
                    norm_layer=norm_layer,
                    act_layer=act_layer,
                )
            )
            self.encoder.append(nn.Sequential(*layers))
            in_channels = width
        self._init_weights()

    def _init_weights(self) -> None:
        # MMSeg's UNet init: He (Kaiming) normal convs (fan-out, ReLU), unit norm scales.
        init_by_type(
            self,
            [
                (nn.Conv2d, _he_normal_weight_init),
                ((nn.modules.batchnorm._BatchNorm, nn.GroupNorm), partial(constant_init, val=1.0)),
            ],
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(N, C, H, W) -> the decoder maps in ``out_indices``, deepest first."""
        height, width = x.shape[-2:]
        if height % self.downsample_rate or width % self.downsample_rate:
            raise ValueError(
                f"UNet: input size {height}x{width} is not a multiple of the encoder's downsampling rate "
                f"{self.downsample_rate} (num_stages={self.num_stages}); resize or pad the images "
                f"(DataPreprocessor size_divisor / RandomCrop to a multiple of {self.downsample_rate})"
            )
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        outs = [x]
        for index in reversed(range(len(self.decoder))):
            x = self.decoder[index](skips[index], x)
            outs.append(x)
        return tuple(outs[k] for k in self.out_indices)


def _check_lengths(num_stages: int, per_stage: dict[str, Sequence], per_step: dict[str, Sequence]) -> None:
    """ValueError naming every per-stage (``num_stages`` entries) or per-decoder-step
    (``num_stages - 1`` entries) argument of the wrong length."""
    wrong = [
        f"{name} needs {num_stages} entries, got {tuple(v)}"
        for name, v in per_stage.items()
        if len(v) != num_stages
    ]
    wrong += [
        f"{name} needs {num_stages - 1} entries, got {tuple(v)}"
        for name, v in per_step.items()
        if len(v) != num_stages - 1
    ]
    if wrong:
        raise ValueError(f"UNet (num_stages={num_stages}): " + "; ".join(wrong))
