"""Denoising networks: a small residual U-Net and NAFNet (Chen et al., ECCV 2022).

Both map a float (N, C, H, W) noisy image (normalised, e.g. [0, 1] RGB) to the restored image of
the same size, for any H, W: they pad the input at the bottom and right to a multiple of their
down-sampling factor ``2 ** depth`` and crop the output back. A tiled inference must therefore
either give them tiles whose size is a multiple of that factor (except the last, which then pads
the same way as the whole image does at the image's bottom and right border) or pad the whole image
once by the same rule first.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ....registry import MODELS

__all__ = ["LayerNorm2d", "NAFBlock", "NAFNet", "SimpleGate", "UNetDenoiser", "pad_to_multiple"]


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "reflect") -> torch.Tensor:
    """Pad (N, C, H, W) at the bottom and right so that H and W are multiples of ``multiple``.

    ``mode="reflect"`` falls back to ``"replicate"`` when the image is too small to reflect (the
    padding must be smaller than the size); ``"constant"`` pads zeros.
    """
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not pad_h and not pad_w:
        return x
    if mode == "reflect" and (pad_h >= height or pad_w >= width):
        mode = "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


class _ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.2),
        )


class _Up(nn.Module):
    """Bilinear x2 up-sampling then a 3x3 convolution (no transposed-convolution checkerboard)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))


@MODELS.register()
class UNetDenoiser(nn.Module):
    """A small U-Net (Ronneberger et al. 2015) that estimates the noise and subtracts it (as DnCNN).

    ``inc`` (two 3x3 convs to ``base_channels``), then ``depth`` levels down: a stride-2 3x3 conv
    doubling the channels and a conv block (``downs[i]``, ``encoders[i]``); then ``depth`` levels
    up: bilinear x2 + 3x3 conv halving the channels (``ups[i]``), concatenation with the skip of the
    same level and a conv block (``decoders[i]``); ``conv_last`` maps to ``in_channels``. With
    ``residual=True`` the output is ``input - conv_last(...)`` (the net predicts the noise), else
    ``conv_last(...)`` itself.

    Sizes: the input is reflect-padded at the bottom and right to a multiple of ``2 ** depth``
    (replicate-padded when smaller than the padding) and the output cropped back to (H, W).

    Args:
        in_channels: image channels (in and out).
        base_channels: channels of the first level (doubled per level down).
        depth: number of stride-2 levels.
        residual: predict the noise (output = input - estimate) rather than the image.

    Shapes: (N, in_channels, H, W) -> (N, in_channels, H, W).
    """

    def __init__(
        self, in_channels: int = 3, base_channels: int = 32, depth: int = 3, residual: bool = True
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"UNetDenoiser: depth must be >= 1, got {depth}")
        self.in_channels = in_channels
        self.depth = depth
        self.residual = residual
        channels = [base_channels * 2**level for level in range(depth + 1)]
        self.inc = _ConvBlock(in_channels, channels[0])
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels[i], channels[i + 1], 3, stride=2, padding=1), nn.LeakyReLU(0.2))
            for i in range(depth)
        )
        self.encoders = nn.ModuleList(_ConvBlock(channels[i + 1], channels[i + 1]) for i in range(depth))
        self.ups = nn.ModuleList(_Up(channels[i + 1], channels[i]) for i in reversed(range(depth)))
        self.decoders = nn.ModuleList(
            _ConvBlock(2 * channels[i], channels[i]) for i in reversed(range(depth))
        )
        self.conv_last = nn.Conv2d(channels[0], in_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        padded = pad_to_multiple(x, 2**self.depth, mode="reflect")
        feat = self.inc(padded)
        skips = []
        for down, encoder in zip(self.downs, self.encoders):
            skips.append(feat)
            feat = encoder(down(feat))
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips)):
            feat = decoder(torch.cat([up(feat), skip], dim=1))
        out = self.conv_last(feat)
        if self.residual:
            out = padded - out
        return out[..., :height, :width]


class LayerNorm2d(nn.Module):
    """Layer norm over the channels of each pixel of a (N, C, H, W) tensor, with per-channel affine.

    ``(x - mean_c) / sqrt(var_c + eps) * weight + bias`` (biased variance, as ``nn.LayerNorm``).
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them (NAFNet's activation, Sec. 3.3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = x.chunk(2, dim=1)
        return first * second


class NAFBlock(nn.Module):
    """NAFNet's block (Chen et al. 2022, Fig. 3c), MMagic's names.

    ``y = x + beta * conv3(SCA(SG(conv2(conv1(norm1(x))))))`` with ``conv2`` depthwise 3x3 and the
    simplified channel attention ``SCA(z) = z * sca(z)`` (``sca`` = global average pool + 1x1 conv),
    then ``y + gamma * conv5(SG(conv4(norm2(y))))``. ``beta`` and ``gamma`` start at 0 (the block
    starts as the identity).

    Args:
        channels: channels in and out.
        dw_expand, ffn_expand: channel expansion of the two halves (2 and 2 in the paper).
        drop_out_rate: dropout after each half (0 = none).
    """

    def __init__(
        self, channels: int, dw_expand: int = 2, ffn_expand: int = 2, drop_out_rate: float = 0.0
    ) -> None:
        super().__init__()
        dw_channels = channels * dw_expand
        ffn_channels = channels * ffn_expand
        self.conv1 = nn.Conv2d(channels, dw_channels, 1)
        self.conv2 = nn.Conv2d(dw_channels, dw_channels, 3, padding=1, groups=dw_channels)
        self.conv3 = nn.Conv2d(dw_channels // 2, channels, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw_channels // 2, dw_channels // 2, 1))
        self.sg = SimpleGate()
        self.conv4 = nn.Conv2d(channels, ffn_channels, 1)
        self.conv5 = nn.Conv2d(ffn_channels // 2, channels, 1)
        self.norm1 = LayerNorm2d(channels)
        self.norm2 = LayerNorm2d(channels)
        self.dropout1 = nn.Dropout(drop_out_rate) if drop_out_rate > 0 else nn.Identity()
        self.dropout2 = nn.Dropout(drop_out_rate) if drop_out_rate > 0 else nn.Identity()
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.sg(self.conv2(self.conv1(self.norm1(x))))
        z = self.dropout1(self.conv3(z * self.sca(z)))
        y = x + z * self.beta
        z = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + self.dropout2(z) * self.gamma


@MODELS.register()
class NAFNet(nn.Module):
    """NAFNet (Chen et al., "Simple Baselines for Image Restoration", ECCV 2022), MMagic's ``NAFNet``.

    ``intro`` (3x3 conv to ``mid_channels``) -> per level an encoder (``encoders[i]``: NAFBlocks) and
    a 2x2 stride-2 conv doubling the channels (``downs[i]``) -> ``middle_blks`` -> per level a 1x1 conv
    doubling the channels + PixelShuffle(2) (``ups[i]``), the skip *added*, a decoder (``decoders[i]``)
    -> ``ending`` (3x3 conv to ``img_channels``) + the input (global residual).

    The channel attention pools globally, so every output pixel depends on the whole image: NAFNet
    cannot be tiled exactly. Sizes: the input is zero-padded at the bottom and right to a multiple of
    ``2 ** len(enc_blk_nums)`` (MMagic's ``check_image_size``) and the output cropped back.

    Args:
        img_channels: image channels (in and out).
        mid_channels: channels of the first level ("width" in the paper's code).
        middle_blk_num: NAFBlocks at the lowest resolution.
        enc_blk_nums: NAFBlocks of each encoder level.
        dec_blk_nums: NAFBlocks of each decoder level (as many levels as ``enc_blk_nums``).

    Shapes: (N, img_channels, H, W) -> (N, img_channels, H, W).
    """

    def __init__(
        self,
        img_channels: int = 3,
        mid_channels: int = 16,
        middle_blk_num: int = 1,
        enc_blk_nums: Sequence[int] = (1, 1, 1, 1),
        dec_blk_nums: Sequence[int] = (1, 1, 1, 1),
    ) -> None:
        super().__init__()
        if len(enc_blk_nums) != len(dec_blk_nums):
            raise ValueError(
                f"NAFNet: enc_blk_nums {tuple(enc_blk_nums)} and dec_blk_nums {tuple(dec_blk_nums)} need as many levels"
            )
        self.in_channels = img_channels
        self.intro = nn.Conv2d(img_channels, mid_channels, 3, padding=1)
        self.ending = nn.Conv2d(mid_channels, img_channels, 3, padding=1)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        channels = mid_channels
        for num in enc_blk_nums:
            self.encoders.append(nn.Sequential(*(NAFBlock(channels) for _ in range(num))))
            self.downs.append(nn.Conv2d(channels, 2 * channels, 2, stride=2))
            channels *= 2
        self.middle_blks = nn.Sequential(*(NAFBlock(channels) for _ in range(middle_blk_num)))
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        for num in dec_blk_nums:
            self.ups.append(
                nn.Sequential(nn.Conv2d(channels, channels * 2, 1, bias=False), nn.PixelShuffle(2))
            )
            channels //= 2
            self.decoders.append(nn.Sequential(*(NAFBlock(channels) for _ in range(num))))
        self.padder_size = 2 ** len(enc_blk_nums)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        x = pad_to_multiple(x, self.padder_size, mode="constant")
        feat = self.intro(x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            feat = encoder(feat)
            skips.append(feat)
            feat = down(feat)
        feat = self.middle_blks(feat)
        for decoder, up, skip in zip(self.decoders, self.ups, reversed(skips)):
            feat = decoder(up(feat) + skip)
        out = self.ending(feat) + x
        return out[..., :height, :width]
