"""R(2+1)D: ResNets whose 3D convolutions are factorised into spatial and temporal parts (Tran et al.,
"A Closer Look at Spatiotemporal Convolutions for Action Recognition", CVPR 2018, section 3.5).

A t x d x d convolution from N_in to N_out channels becomes a 1 x d x d convolution to M channels,
batch norm and ReLU, then a t x 1 x 1 convolution to N_out. M is chosen so that the pair has
about as many parameters as the full 3D kernel: ``M = floor(t d^2 N_in N_out / (d^2 N_in + t N_out))``
(the paper's equation; MMAction2's ``Conv2plus1d`` computes it the same way). The extra ReLU doubles
the non-linearities of the network.

The layout follows MMAction2's ``ResNet2Plus1d`` configs: a (3, 7, 7) stem (factorised too) with
stride (1, 2, 2), a (1, 3, 3) spatial max pool with stride (1, 2, 2) (``with_pool1``; the paper
has none, set False for it), then basic blocks of two factorised 3 x 3 x 3 convolutions whose
stages have spatial strides (1, 2, 2, 2) and temporal strides (1, 2, 2, 2). A projected shortcut is
a factorised 1 x 1 x 1 convolution carrying both strides, its width computed with t = 3 (as
MMAction2 builds it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn
from torch.nn.modules.utils import _triple

from ....models.backbones._freezing import (
    FreezingTrainMixin,
    freeze_modules,
    normalize_out_indices,
    run_stages,
)
from ....models.backbones.resnet import RESNET_ARCHS, STAGE_CHANNELS, BasicBlock
from ....models.layers.weight_init import constant_init, init_by_type, kaiming_init
from ....registry import MODELS

NormLayer3d = Callable[[int], nn.Module]


def factorized_mid_channels(in_channels: int, out_channels: int, kernel_size: Sequence[int]) -> int:
    """Width M of the (2+1)D factorisation of a (t, kh, kw) kernel: the floor of
    ``t kh kw N_in N_out / (kh kw N_in + t N_out)``."""
    t, kh, kw = kernel_size
    return (t * kh * kw * in_channels * out_channels) // (kh * kw * in_channels + t * out_channels)


class Conv2plus1d(nn.Module):
    """A (t, kh, kw) convolution factorised as (1, kh, kw) -> norm -> ReLU -> (t, 1, 1).

    Args:
        in_channels, out_channels: as ``nn.Conv3d``.
        kernel_size, stride, padding: as ``nn.Conv3d`` ((t, h, w) or one int); the spatial parts go to
            the first convolution, the temporal parts to the second.
        bias: bias of both convolutions (False when a norm follows).
        norm_layer: factory of the middle norm.
        mid_channels: M; None computes it with :func:`factorized_mid_channels`.

    Shapes:
        (N, C_in, T, H, W) -> (N, C_out, T', H', W') as the unfactorised ``nn.Conv3d``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        bias: bool = False,
        norm_layer: NormLayer3d = nn.BatchNorm3d,
        mid_channels: int | None = None,
    ) -> None:
        super().__init__()
        kernel_size, stride, padding = _triple(kernel_size), _triple(stride), _triple(padding)
        if mid_channels is None:
            mid_channels = factorized_mid_channels(in_channels, out_channels, kernel_size)
        self.mid_channels = mid_channels
        self.conv_s = nn.Conv3d(
            in_channels,
            self.mid_channels,
            (1, *kernel_size[1:]),
            stride=(1, *stride[1:]),
            padding=(0, *padding[1:]),
            bias=bias,
        )
        self.bn_s = norm_layer(self.mid_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv_t = nn.Conv3d(
            self.mid_channels,
            out_channels,
            (kernel_size[0], 1, 1),
            stride=(stride[0], 1, 1),
            padding=(padding[0], 0, 0),
            bias=bias,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_t(self.relu(self.bn_s(self.conv_s(x))))


class BasicBlock2plus1d(nn.Module):
    """The ResNet basic block with factorised 3 x 3 x 3 convolutions.

    Args:
        in_channels: input channels. channels: output channels.
        spatial_stride, temporal_stride: strides of the first convolution and the shortcut.
        norm_layer: factory of the 3D norms after each factorised convolution.
        mid_norm_layer: factory of the norm inside each factorised convolution (None: ``norm_layer``).

    Shapes:
        (N, C_in, T, H, W) -> (N, channels, T / temporal_stride, H / spatial_stride, W / spatial_stride).
    """

    expansion = BasicBlock.expansion

    def __init__(
        self,
        in_channels: int,
        channels: int,
        spatial_stride: int = 1,
        temporal_stride: int = 1,
        norm_layer: NormLayer3d = nn.BatchNorm3d,
        mid_norm_layer: NormLayer3d | None = None,
    ) -> None:
        super().__init__()
        mid_norm = mid_norm_layer or norm_layer
        stride = (temporal_stride, spatial_stride, spatial_stride)
        self.conv1 = Conv2plus1d(in_channels, channels, 3, stride, 1, norm_layer=mid_norm)
        self.bn1 = norm_layer(channels)
        self.conv2 = Conv2plus1d(channels, channels, 3, 1, 1, norm_layer=mid_norm)
        self.bn2 = norm_layer(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if spatial_stride != 1 or temporal_stride != 1 or in_channels != channels:
            # MMAction2 factorises the 1x1x1 projection too and sizes it with t = 3 (its Conv2plus1d
            # hard-codes the 3), so its checkpoints' shortcut widths are reproduced here.
            mid = factorized_mid_channels(in_channels, channels, (3, 1, 1))
            projection = Conv2plus1d(
                in_channels, channels, 1, stride, 0, norm_layer=mid_norm, mid_channels=mid
            )
            self.downsample = nn.Sequential(projection, norm_layer(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


@MODELS.register()
class ResNet2Plus1d(FreezingTrainMixin, nn.Module):
    """R(2+1)D-18/34 backbone for (N, C, T, H, W) clips.

    Args:
        depth: 18 or 34.
        in_channels: channels of the frames.
        base_channels: width of the stem and the first stage; stages have ``base_channels * (1, 2, 4, 8)``.
        conv1_kernel: the stem kernel (t, h, w), factorised like the others.
        conv1_stride_t: temporal stride of the stem (spatial stride 2).
        with_pool1: the (1, 3, 3) stride-(1, 2, 2) max pool after the stem (MMAction2: yes; paper: no).
        spatial_strides, temporal_strides: strides of the first block of each stage.
        out_indices: stages (0..3) whose outputs are returned.
        frozen_stages: -1 nothing, 0 the stem, k the stem and stages 0..k-1.
        norm_eval: keep batch norms in eval mode while training.
        norm_layer: factory of the 3D norms after each factorised convolution.
        mid_norm_layer: factory of the norm inside each factorised convolution (None: ``norm_layer``).
            MMAction2's R(2+1)D configs give the outer norms eps 1e-3 and leave the inner ones at
            BatchNorm's 1e-5 (its Conv2plus1d builds a plain BN3d).
        zero_init_residual: start each block's last norm at 0 (blocks begin as identities).

    Shapes:
        (N, C, T, H, W) -> tuple of (N, C_i, T_i, H_i, W_i); with the defaults the last stage has
        8 * base_channels channels, T / 8 frames and H / 32 x W / 32 positions.
    """

    def __init__(
        self,
        depth: int = 34,
        in_channels: int = 3,
        base_channels: int = 64,
        conv1_kernel: Sequence[int] = (3, 7, 7),
        conv1_stride_t: int = 1,
        with_pool1: bool = True,
        spatial_strides: Sequence[int] = (1, 2, 2, 2),
        temporal_strides: Sequence[int] = (1, 2, 2, 2),
        out_indices: Sequence[int] = (3,),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        norm_layer: NormLayer3d = nn.BatchNorm3d,
        mid_norm_layer: NormLayer3d | None = None,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        mid_norm = mid_norm_layer or norm_layer
        if depth not in (18, 34):
            raise ValueError(f"ResNet2Plus1d: depth must be 18 or 34, got {depth}")
        stage_blocks = RESNET_ARCHS[depth][1]
        if len(spatial_strides) != 4 or len(temporal_strides) != 4:
            raise ValueError(
                "ResNet2Plus1d: spatial_strides and temporal_strides need one entry per stage (4)"
            )
        self.depth = depth
        self.out_indices = normalize_out_indices(out_indices, len(stage_blocks), "ResNet2Plus1d")
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        widths = [base_channels * width // STAGE_CHANNELS[0] for width in STAGE_CHANNELS]
        self.out_channels = tuple(widths[i] for i in self.out_indices)

        kernel = _triple(conv1_kernel)
        self.conv1 = nn.Sequential(
            Conv2plus1d(
                in_channels,
                base_channels,
                kernel,
                stride=(conv1_stride_t, 2, 2),
                padding=tuple((k - 1) // 2 for k in kernel),
                norm_layer=mid_norm,
            ),
            norm_layer(base_channels),
            nn.ReLU(inplace=True),
        )
        self.maxpool = (
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)) if with_pool1 else nn.Identity()
        )
        channels = base_channels
        for index, (num_blocks, width) in enumerate(zip(stage_blocks, widths)):
            blocks = [
                BasicBlock2plus1d(
                    channels, width, spatial_strides[index], temporal_strides[index], norm_layer, mid_norm
                )
            ]
            blocks += [
                BasicBlock2plus1d(width, width, norm_layer=norm_layer, mid_norm_layer=mid_norm)
                for _ in range(num_blocks - 1)
            ]
            self.add_module(f"layer{index + 1}", nn.Sequential(*blocks))
            channels = width
        self._init_weights(zero_init_residual)
        self._freeze_stages()

    @property
    def stages(self) -> list[nn.Sequential]:
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def _init_weights(self, zero_init_residual: bool) -> None:
        init_by_type(
            self,
            [
                (nn.Conv3d, partial(kaiming_init, mode="fan_out", nonlinearity="relu")),
                ((nn.BatchNorm3d, nn.GroupNorm), partial(constant_init, val=1.0)),
            ],
        )
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, BasicBlock2plus1d) and module.bn2.weight is not None:
                    nn.init.zeros_(module.bn2.weight)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_modules([self.conv1])
        freeze_modules(self.stages[: max(self.frozen_stages, 0)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Outputs of the stages in ``out_indices`` for a (N, C, T, H, W) clip batch."""
        return run_stages(self.maxpool(self.conv1(x)), self.stages, self.out_indices)
