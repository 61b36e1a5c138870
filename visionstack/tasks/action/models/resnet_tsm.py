"""ResNet-TSM: a 2D ResNet with the temporal shift module (Lin et al., "TSM: Temporal Shift Module
for Efficient Video Understanding", ICCV 2019).

The network sees the frames of a clip as a batch of images, (N * T, C, H, W) with the T frames of
each clip consecutive. Before the first convolution of every residual branch ("residual shift",
the paper's section 3.3, MMAction2's ``shift_place="blockres"``), 1/``shift_div`` of the channels
move one frame back in time (frame t gets frame t + 1's), another 1/``shift_div`` one frame
forward (frame t gets frame t - 1's), zero padded at the ends; the rest stay. The shift has no
parameters and costs no multiplications, yet lets 2D convolutions mix neighbouring frames.

The shift wraps the existing ``conv1`` of the shared :class:`~visionstack.models.backbones.resnet.ResNet`
blocks as a ``Conv2d`` subclass, so parameter names stay torchvision's and an ImageNet ResNet
checkpoint loads with ``pretrained=`` (when ``base_channels=64``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ....models.backbones.resnet import (
    ResNet,
)
from ....registry import MODELS

logger = logging.getLogger(__name__)
SHIFT_PLACES = ("blockres", "block")


def temporal_shift(x: torch.Tensor, num_segments: int, shift_div: int = 8) -> torch.Tensor:
    """Shift channel groups of a frame batch along time (built from slicing and ``torch.cat``, so
    it traces to ONNX).

    Args:
        x: (N * num_segments, C, H, W), the frames of each clip consecutive.
        num_segments: T, frames per clip.
        shift_div: ``fold = C // shift_div`` channels shift each way; ``fold == 0`` is the identity.

    Returns:
        A tensor of ``x``'s shape: channels ``[0, fold)`` of frame t come from frame t + 1,
        channels ``[fold, 2 fold)`` from frame t - 1 (zeros where that frame does not exist), the
        others are unchanged.
    """
    frames, channels, height, width = x.shape
    fold = channels // shift_div
    if fold == 0:
        return x
    clips = x.reshape(-1, num_segments, channels, height, width)
    backward, forward, rest = clips[:, :, :fold], clips[:, :, fold : 2 * fold], clips[:, :, 2 * fold :]
    backward = torch.cat((backward[:, 1:], torch.zeros_like(backward[:, :1])), dim=1)
    forward = torch.cat((torch.zeros_like(forward[:, :1]), forward[:, :-1]), dim=1)
    return torch.cat((backward, forward, rest), dim=2).reshape(frames, channels, height, width)


class TemporalShiftConv2d(nn.Conv2d):
    """A ``Conv2d`` that shifts its input in time first (:func:`temporal_shift`).

    Build it with :meth:`wrap` from an existing convolution: it shares that convolution's
    parameters, so the state-dict keys do not change.
    """

    num_segments: int
    shift_div: int

    @classmethod
    def wrap(cls, conv: nn.Conv2d, num_segments: int, shift_div: int) -> TemporalShiftConv2d:
        shifted = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            padding_mode=conv.padding_mode,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
        )
        shifted.weight, shifted.bias = conv.weight, conv.bias
        shifted.num_segments, shifted.shift_div = num_segments, shift_div
        return shifted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(temporal_shift(x, self.num_segments, self.shift_div))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_segments={self.num_segments}, shift_div={self.shift_div}"


class TemporalShiftInput(nn.Module):
    """Shift the input of a whole block (``shift_place="block"``; the shortcut sees it shifted too)."""

    def __init__(self, block: nn.Module, num_segments: int, shift_div: int) -> None:
        super().__init__()
        self.block = block
        self.num_segments = num_segments
        self.shift_div = shift_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(temporal_shift(x, self.num_segments, self.shift_div))


def temporal_max_pool(x: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Halve the frames of each clip with a max pool over time (kernel 3, stride 2, padding 1).

    Shapes: (N * T, C, H, W) -> (N * ceil(T / 2), C, H, W).
    """
    frames, channels, height, width = x.shape
    clips = x.reshape(-1, num_segments, channels, height, width).transpose(1, 2)
    pooled = F.max_pool3d(clips, kernel_size=(3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0))
    return pooled.transpose(1, 2).reshape(-1, channels, height, width)


@MODELS.register()
class ResNetTSM(ResNet):
    """ResNet with temporal shifts (TSM), on (N * num_segments, C, H, W) frame batches.

    Args:
        depth: 18, 34, 50, 101 or 152.
        num_segments: T, frames per clip; the batch must hold whole clips.
        shift_div: 1/``shift_div`` of the channels shift each way (8 in the paper: 1/4 move).
        shift_place: ``"blockres"`` (shift the residual branch's input, the paper's choice) or
            ``"block"`` (shift the whole block's input; keys gain ``.block``).
        temporal_pool: halve the frames before ``layer2`` with a temporal max pool (TSM's
            "temporal pooling" variant); stages 2-4 then shift with ``num_segments // 2`` and the
            output has ``N * num_segments // 2`` frames.
        base_channels: width of the stem and the first stage (64 is the standard ResNet; smaller
            values give narrow models, stage widths ``base_channels * (1, 2, 4, 8)``).
        in_channels, out_indices, frozen_stages, norm_eval, norm_layer, zero_init_residual,
            strides: as :class:`~visionstack.models.backbones.resnet.ResNet` (ImageNet stem).
        pretrained: a local torchvision ResNet checkpoint (needs ``base_channels=64`` and
            ``shift_place="blockres"``); its ``fc`` is dropped.

    Shapes:
        (N * T, C, H, W) -> tuple of (N * T', C_i, H / s_i, W / s_i), T' = T or T / 2 after the pool.
    """

    def __init__(
        self,
        depth: int = 50,
        num_segments: int = 8,
        shift_div: int = 8,
        shift_place: str = "blockres",
        temporal_pool: bool = False,
        base_channels: int = 64,
        in_channels: int = 3,
        out_indices: Sequence[int] = (3,),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
        zero_init_residual: bool = False,
        strides: Sequence[int] = (1, 2, 2, 2),
        pretrained: str | os.PathLike | None = None,
    ) -> None:
        if shift_place not in SHIFT_PLACES:
            raise ValueError(f"ResNetTSM: shift_place must be one of {SHIFT_PLACES}, got {shift_place!r}")
        if num_segments < 1 or shift_div < 1:
            raise ValueError(
                f"ResNetTSM: num_segments and shift_div must be >= 1, got {num_segments}, {shift_div}"
            )
        if temporal_pool and num_segments % 2:
            raise ValueError(f"ResNetTSM: temporal_pool needs an even num_segments, got {num_segments}")
        super().__init__(
            depth=depth,
            in_channels=in_channels,
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            norm_layer=norm_layer,
            zero_init_residual=zero_init_residual,
            pretrained=pretrained,
            strides=strides,
            base_channels=base_channels,
        )
        self.num_segments, self.shift_div, self.shift_place = num_segments, shift_div, shift_place
        self.temporal_pool = temporal_pool
        self._insert_shifts()
        self._freeze_stages()

    def _insert_shifts(self) -> None:
        for index, stage in enumerate(self.stages):
            segments = self.num_segments // 2 if self.temporal_pool and index > 0 else self.num_segments
            for position, block in enumerate(stage):
                if self.shift_place == "blockres":
                    block.conv1 = TemporalShiftConv2d.wrap(block.conv1, segments, self.shift_div)
                else:
                    stage[position] = TemporalShiftInput(block, segments, self.shift_div)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Outputs of the stages in ``out_indices`` for a (N * num_segments, C, H, W) batch."""
        if not torch.jit.is_tracing() and x.shape[0] % self.num_segments:
            raise ValueError(
                f"ResNetTSM: the batch has {x.shape[0]} frames, not a multiple of num_segments="
                f"{self.num_segments} (model.backbone.num_segments must equal the frames per clip)"
            )
        x = self.forward_stem(x)
        outs = []
        for index, stage in enumerate(self.stages):
            if index == 1 and self.temporal_pool:
                x = temporal_max_pool(x, self.num_segments)
            x = stage(x)
            if index in self.out_indices:
                outs.append(x)
            if len(outs) == len(self.out_indices):
                break
        return tuple(outs)
