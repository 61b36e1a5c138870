"""Super-resolution networks: SRCNN, ESPCN, EDSR and ESRGAN's RRDBNet.

Every net maps a float (N, C, h, w) image (normalised to [0, 1], RGB, by ``EditDataPreprocessor``)
to (N, C, s h, s w), ``s`` the ``upscale_factor``, for any h, w. Parameter and module names follow
MMagic's (``mmagic.models.editors``), so converted MMagic/BasicSR checkpoints load into them.

Parameter counts (3-channel input and output, measured by the tests and equal to the architecture's
arithmetic): ``EDSRNet`` x2 with 64 channels and 16 blocks 1,369,859 (x3 1,554,499; x4 1,517,571),
``RRDBNet`` x4 with 64 channels, 23 blocks and growth 32 16,697,987 (ESRGAN, Wang et al. 2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ....registry import MODELS

__all__ = [
    "EDSRNet",
    "ESPCNNet",
    "PixelShufflePack",
    "RRDBNet",
    "ResidualBlockNoBN",
    "SRCNNNet",
    "UpsampleModule",
]


def scaled_kaiming_init(modules: Sequence[nn.Module], scale: float = 0.1) -> None:
    """Kaiming-normal convolution weights times ``scale`` and zero biases.

    Residual branches start close to the identity (EDSR/ESRGAN training practice; MMagic's
    ``default_init_weights(module, 0.1)``), which keeps deep residual nets stable without BN.
    """
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight)
                layer.weight.data.mul_(scale)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


@MODELS.register()
class SRCNNNet(nn.Module):
    """SRCNN (Dong et al., TPAMI 2016): bicubic up-sampling, then three convolutions.

    The up-sampling is PyTorch's bicubic (``F.interpolate(mode="bicubic", align_corners=False)``,
    cubic kernel a = -0.75, no antialiasing), as MMagic's ``SRCNNNet``: not MATLAB's ``imresize``.

    Args:
        channels: (input, hidden 1, hidden 2, output) channel numbers.
        kernel_sizes: the three kernel sizes (odd; "same" zero padding).
        upscale_factor: the up-sampling factor s.

    Shapes: (N, channels[0], h, w) -> (N, channels[3], s h, s w).
    """

    def __init__(
        self,
        channels: Sequence[int] = (3, 64, 32, 3),
        kernel_sizes: Sequence[int] = (9, 1, 5),
        upscale_factor: int = 4,
    ) -> None:
        super().__init__()
        if len(channels) != 4 or len(kernel_sizes) != 3:
            raise ValueError(
                f"SRCNNNet: channels must have 4 entries and kernel_sizes 3, got {channels} and {kernel_sizes}"
            )
        if any(size % 2 == 0 for size in kernel_sizes):
            raise ValueError(f"SRCNNNet: kernel sizes must be odd, got {kernel_sizes}")
        self.upscale_factor = upscale_factor
        self.in_channels = channels[0]
        self.conv1 = nn.Conv2d(channels[0], channels[1], kernel_sizes[0], padding=kernel_sizes[0] // 2)
        self.conv2 = nn.Conv2d(channels[1], channels[2], kernel_sizes[1], padding=kernel_sizes[1] // 2)
        self.conv3 = nn.Conv2d(channels[2], channels[3], kernel_sizes[2], padding=kernel_sizes[2] // 2)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=self.upscale_factor, mode="bicubic", align_corners=False)
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        return self.conv3(x)


@MODELS.register()
class ESPCNNet(nn.Module):
    """ESPCN (Shi et al., CVPR 2016): convolutions on the low-resolution image, then a sub-pixel shuffle.

    Layers as the paper's (f1, n1) = (5, 64), (f2, n2) = (3, 32), f3 = 3: ``conv1`` 5x5 to
    ``mid_channels``, ``conv2`` 3x3 to ``mid_channels // 2``, both tanh, then ``conv3`` 3x3 to
    ``out_channels * s^2`` and ``PixelShuffle(s)``.

    Shapes: (N, in_channels, h, w) -> (N, out_channels, s h, s w).
    """

    def __init__(
        self, in_channels: int = 3, out_channels: int = 3, mid_channels: int = 64, upscale_factor: int = 4
    ) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 5, padding=2)
        self.conv2 = nn.Conv2d(mid_channels, mid_channels // 2, 3, padding=1)
        self.conv3 = nn.Conv2d(mid_channels // 2, out_channels * upscale_factor**2, 3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return self.pixel_shuffle(self.conv3(x))


class ResidualBlockNoBN(nn.Module):
    """``x + res_scale * conv2(relu(conv1(x)))``, 3x3 convolutions without batch norm (EDSR, Lim et al. 2017).

    Args:
        mid_channels: channels in and out.
        res_scale: the residual branch's scale (0.1 in EDSR's large models).
    """

    def __init__(self, mid_channels: int = 64, res_scale: float = 1.0) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = _conv3x3(mid_channels, mid_channels)
        self.conv2 = _conv3x3(mid_channels, mid_channels)
        self.relu = nn.ReLU()
        if res_scale == 1.0:
            scaled_kaiming_init([self.conv1, self.conv2], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


class PixelShufflePack(nn.Module):
    """A convolution to ``out_channels * scale^2`` channels, then ``PixelShuffle(scale)``."""

    def __init__(
        self, in_channels: int, out_channels: int, scale_factor: int, upsample_kernel: int = 3
    ) -> None:
        super().__init__()
        self.upsample_conv = nn.Conv2d(
            in_channels, out_channels * scale_factor**2, upsample_kernel, padding=(upsample_kernel - 1) // 2
        )
        self.pixel_shuffle = nn.PixelShuffle(scale_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pixel_shuffle(self.upsample_conv(x))


class UpsampleModule(nn.Sequential):
    """EDSR's up-sampler: log2(s) ``PixelShufflePack`` x2 stages for s a power of 2, one x3 stage for s = 3."""

    def __init__(self, scale: int, mid_channels: int) -> None:
        if scale == 3:
            stages = [PixelShufflePack(mid_channels, mid_channels, 3)]
        elif scale >= 1 and scale & (scale - 1) == 0:
            stages = [PixelShufflePack(mid_channels, mid_channels, 2) for _ in range(int(math.log2(scale)))]
        else:
            raise ValueError(f"UpsampleModule: the scale must be 3 or a power of 2, got {scale}")
        super().__init__(*stages)


@MODELS.register()
class EDSRNet(nn.Module):
    """EDSR (Lim et al., CVPRW 2017), MMagic's ``EDSRNet`` layout.

    ``conv_first`` -> ``body`` (``num_blocks`` :class:`ResidualBlockNoBN`) -> ``conv_after_body``,
    plus the long skip from ``conv_first`` -> ``upsample`` (:class:`UpsampleModule`) -> ``conv_last``.
    The input is shifted by ``rgb_mean`` and divided by ``rgb_std`` first, and the output shifted back
    (the "mean shift"; the constants are DIV2K's RGB mean in [0, 1] and are not in the state dict).

    Args:
        in_channels, out_channels: image channels (3: RGB in [0, 1]).
        mid_channels: feature channels.
        num_blocks: residual blocks in the body.
        upscale_factor: 2, 3 or 4 (any power of 2).
        res_scale: residual scaling of the blocks.
        rgb_mean, rgb_std: per-channel mean and std of the mean shift.

    Shapes: (N, in_channels, h, w) -> (N, out_channels, s h, s w).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        mid_channels: int = 64,
        num_blocks: int = 16,
        upscale_factor: int = 4,
        res_scale: float = 1.0,
        rgb_mean: Sequence[float] = (0.4488, 0.4371, 0.4040),
        rgb_std: Sequence[float] = (1.0, 1.0, 1.0),
    ) -> None:
        super().__init__()
        if len(rgb_mean) != in_channels or len(rgb_std) != in_channels:
            raise ValueError(
                f"EDSRNet: rgb_mean and rgb_std need {in_channels} values (in_channels), got {rgb_mean} and {rgb_std}"
            )
        self.in_channels = in_channels
        self.upscale_factor = upscale_factor
        self.register_buffer(
            "mean", torch.tensor(rgb_mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.tensor(rgb_std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )
        self.conv_first = _conv3x3(in_channels, mid_channels)
        self.body = nn.Sequential(*(ResidualBlockNoBN(mid_channels, res_scale) for _ in range(num_blocks)))
        self.conv_after_body = _conv3x3(mid_channels, mid_channels)
        self.upsample = UpsampleModule(upscale_factor, mid_channels)
        self.conv_last = _conv3x3(mid_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.mean.to(x.dtype), self.std.to(x.dtype)
        x = self.conv_first((x - mean) / std)
        x = x + self.conv_after_body(self.body(x))
        x = self.conv_last(self.upsample(x))
        return x * std + mean


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convolutions (``conv1`` ... ``conv5``), LeakyReLU 0.2, residual scaled by 0.2.

    Args:
        mid_channels: channels in and out.
        growth_channels: channels each of ``conv1`` ... ``conv4`` adds to the concatenation.
    """

    def __init__(self, mid_channels: int = 64, growth_channels: int = 32) -> None:
        super().__init__()
        for index in range(5):
            out = mid_channels if index == 4 else growth_channels
            setattr(self, f"conv{index + 1}", _conv3x3(mid_channels + index * growth_channels, out))
        self.lrelu = nn.LeakyReLU(negative_slope=0.2)
        scaled_kaiming_init([getattr(self, f"conv{index + 1}") for index in range(5)], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for index in range(1, 5):
            features.append(self.lrelu(getattr(self, f"conv{index}")(torch.cat(features, 1))))
        return x + self.conv5(torch.cat(features, 1)) * 0.2


class RRDB(nn.Module):
    """Residual-in-residual dense block: three :class:`ResidualDenseBlock` (``rdb1`` ... ``rdb3``), scaled 0.2."""

    def __init__(self, mid_channels: int, growth_channels: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(mid_channels, growth_channels)
        self.rdb2 = ResidualDenseBlock(mid_channels, growth_channels)
        self.rdb3 = ResidualDenseBlock(mid_channels, growth_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rdb3(self.rdb2(self.rdb1(x))) * 0.2


@MODELS.register()
class RRDBNet(nn.Module):
    """ESRGAN's generator (Wang et al., ECCVW 2018), MMagic's / BasicSR's ``RRDBNet`` layout.

    State-dict keys (MMagic and BasicSR spell them the same)::

        conv_first.{weight,bias}
        body.{i}.rdb{1,2,3}.conv{1..5}.{weight,bias}     i = 0 .. num_blocks - 1
        conv_body.{weight,bias}
        conv_up1.{weight,bias}  conv_up2.{weight,bias}    each after nearest x2 up-sampling
        conv_hr.{weight,bias}  conv_last.{weight,bias}

    (``generator.`` prefixes those of a whole MMagic model checkpoint.) The body always up-samples x4;
    for ``upscale_factor`` 2 and 1 the input is first folded by ``pixel_unshuffle`` 2 or 4 (so
    ``conv_first`` takes 4 or 16 times ``in_channels``, as Real-ESRGAN's x2 model); an input whose
    size is not a multiple of that fold is replicate-padded at the bottom and right and the output
    cropped back.

    Args:
        in_channels, out_channels: image channels.
        mid_channels: feature channels.
        num_blocks: RRDB blocks (23 in ESRGAN).
        growth_channels: the dense blocks' growth.
        upscale_factor: 4, 2 or 1.

    Shapes: (N, in_channels, h, w) -> (N, out_channels, s h, s w).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        mid_channels: int = 64,
        num_blocks: int = 23,
        growth_channels: int = 32,
        upscale_factor: int = 4,
    ) -> None:
        super().__init__()
        if upscale_factor not in (1, 2, 4):
            raise ValueError(f"RRDBNet: upscale_factor must be 1, 2 or 4 (as MMagic's), got {upscale_factor}")
        self.in_channels = in_channels
        self.upscale_factor = upscale_factor
        self.fold = 4 // upscale_factor
        self.conv_first = _conv3x3(in_channels * self.fold**2, mid_channels)
        self.body = nn.Sequential(*(RRDB(mid_channels, growth_channels) for _ in range(num_blocks)))
        self.conv_body = _conv3x3(mid_channels, mid_channels)
        self.conv_up1 = _conv3x3(mid_channels, mid_channels)
        self.conv_up2 = _conv3x3(mid_channels, mid_channels)
        self.conv_hr = _conv3x3(mid_channels, mid_channels)
        self.conv_last = _conv3x3(mid_channels, out_channels)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if self.fold > 1:
            pad_h, pad_w = -height % self.fold, -width % self.fold
            if pad_h or pad_w:
                x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
            x = F.pixel_unshuffle(x, self.fold)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        out = self.conv_last(self.lrelu(self.conv_hr(feat)))
        scale = self.upscale_factor
        return out[..., : height * scale, : width * scale]
