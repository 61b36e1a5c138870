"""VideoPose3D's temporal convolutional lifter (Pavllo et al., "3D human pose estimation in video with
temporal convolutions and semi-supervised training", CVPR 2019).

2D keypoints of ``receptive_field`` consecutive frames (flattened to J * C channels) -> 3D joints of the
window's target frame. An expand convolution of width ``w_0`` is followed by residual blocks, each a
convolution of width ``w_i`` dilated by the product of the previous widths plus a 1x1 convolution, both
followed by batch norm, ReLU and dropout; a 1x1 convolution outputs the joints. Widths (3, 3, 3) see 27
frames, (3, 3, 3, 3, 3) 243; the paper's models have 1024 channels and dropout 0.25.

The same weights run two ways, as in the paper's code:

- **strided** (``TemporalModelOptimized1f``): for an input of exactly ``receptive_field`` frames, each
  convolution strides by its width instead of dilating, computing only the activations the one output
  frame needs (training on single-frame windows); computed as one matrix product per layer over groups of
  frames (channels last), the same sums as ``conv1d`` with a stride, 2.2x faster on a 2-core CPU;
- **dense** (``TemporalModel``): dilated convolutions over a longer input give one output frame per window,
  ``L - receptive_field + 1`` frames for L input frames (evaluating whole padded sequences).

Parameter names follow the paper's code (``expand_conv``, ``expand_bn``, ``layers_conv.k``, ``layers_bn.k``,
``shrink``), so its checkpoints load with ``load_state_dict``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ....registry import MODELS

__all__ = ["TemporalConvNet"]


@MODELS.register()
class TemporalConvNet(nn.Module):
    """VideoPose3D's temporal convolution network (see the module docstring).

    Args:
        num_joints: input joints J.
        in_features: coordinates per input joint C (2 for x, y).
        num_joints_out: output joints (3D).
        filter_widths: the convolution widths, each odd; the receptive field is their product.
        causal: each output frame sees only its frame and the past (the window ends at the target frame).
        dropout: dropout probability after every ReLU.
        channels: the width of every layer.
        bn_momentum: the batch norms' momentum.

    Call: ``net(x)`` with ``x`` (N, L, J, C), ``L >= receptive_field`` -> (N, L - receptive_field + 1,
    num_joints_out, 3); ``dense=True`` forces the dilated form, ``False`` the strided one (L must then be
    the receptive field); None (default) strides exactly when ``L == receptive_field``.
    """

    def __init__(
        self,
        num_joints: int = 17,
        in_features: int = 2,
        num_joints_out: int = 17,
        filter_widths: Sequence[int] = (3, 3, 3),
        causal: bool = False,
        dropout: float = 0.25,
        channels: int = 1024,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        widths = [int(width) for width in filter_widths]
        if not widths or any(width < 1 or width % 2 == 0 for width in widths):
            raise ValueError(
                f"TemporalConvNet: filter_widths must be odd positive numbers, got {list(filter_widths)}"
            )
        self.num_joints, self.in_features, self.num_joints_out = num_joints, in_features, num_joints_out
        self.filter_widths = widths
        self.causal = bool(causal)
        self.expand_conv = nn.Conv1d(num_joints * in_features, channels, widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=bn_momentum)
        self.layers_conv = nn.ModuleList()
        self.layers_bn = nn.ModuleList()
        self.pad, self.causal_shift, self.dilations = [], [], []
        dilation = widths[0]
        for width in widths[1:]:
            self.pad.append((width - 1) * dilation // 2)
            self.causal_shift.append((width // 2) * dilation if causal else 0)
            self.dilations.append(dilation)
            self.layers_conv.append(nn.Conv1d(channels, channels, width, dilation=dilation, bias=False))
            self.layers_bn.append(nn.BatchNorm1d(channels, momentum=bn_momentum))
            self.layers_conv.append(nn.Conv1d(channels, channels, 1, bias=False))
            self.layers_bn.append(nn.BatchNorm1d(channels, momentum=bn_momentum))
            dilation *= width
        self.shrink = nn.Conv1d(channels, num_joints_out * 3, 1)
        self.drop = nn.Dropout(dropout)

    @property
    def receptive_field(self) -> int:
        """Input frames per output frame: the product of the filter widths."""
        return math.prod(self.filter_widths)

    def forward(self, x: torch.Tensor, dense: bool | None = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[2] != self.num_joints or x.shape[3] != self.in_features:
            raise ValueError(
                f"TemporalConvNet: expected (N, L, {self.num_joints}, {self.in_features}) keypoints, got {tuple(x.shape)}"
            )
        batch, length = x.shape[0], x.shape[1]
        if dense is None:
            dense = length != self.receptive_field
        if not dense and length != self.receptive_field:
            raise ValueError(
                f"TemporalConvNet: the strided form takes {self.receptive_field} frames, got {length}"
            )
        x = x.reshape(batch, length, -1).transpose(1, 2)  # (N, J * C, L)
        x = self._dense(x) if dense else self._strided(x)
        x = self.shrink(x).transpose(1, 2)  # (N, L', J_out * 3)
        return x.reshape(batch, -1, self.num_joints_out, 3)

    def _block(self, x: torch.Tensor, index: int, stride: int, dilation: int) -> torch.Tensor:
        conv, bn = self.layers_conv[2 * index], self.layers_bn[2 * index]
        x = self.drop(F.relu(bn(F.conv1d(x, conv.weight, stride=stride, dilation=dilation))))
        return self.drop(F.relu(self.layers_bn[2 * index + 1](self.layers_conv[2 * index + 1](x))))

    def _dense(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(F.relu(self.expand_bn(self.expand_conv(x))))
        for index, (pad, shift, dilation) in enumerate(zip(self.pad, self.causal_shift, self.dilations)):
            residual = x[:, :, pad + shift : x.shape[2] - pad + shift]
            x = residual + self._block(x, index, stride=1, dilation=dilation)
        return x

    def _strided(self, x: torch.Tensor) -> torch.Tensor:
        """The strided form on (N, J * C, rf) -> (N, channels, 1). Each convolution of width w and stride w is
        one matrix product over groups of w consecutive frames, in a channels-last (N, L, C) layout: the same
        sums as ``conv1d(stride=w)``, about twice as fast for these shapes on a CPU."""
        x = x.transpose(1, 2)  # (N, L, J * C)
        x = self.drop(F.relu(_rows(self.expand_bn, _grouped(x, self.expand_conv.weight))))
        for index, width in enumerate(self.filter_widths[1:]):
            batch, length, channels = x.shape
            shift = width // 2 if self.causal else 0
            residual = x.reshape(batch, length // width, width, channels)[
                :, :, shift + width // 2
            ]  # centre or last
            conv, bn = self.layers_conv[2 * index], self.layers_bn[2 * index]
            x = self.drop(F.relu(_rows(bn, _grouped(x, conv.weight))))
            pointwise, bn = self.layers_conv[2 * index + 1], self.layers_bn[2 * index + 1]
            x = residual + self.drop(F.relu(_rows(bn, F.linear(x, pointwise.weight[:, :, 0]))))
        return x.transpose(1, 2)


def _grouped(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``conv1d`` with stride = kernel width w on channels-last ``x`` (N, L, C_in), L a multiple of w:
    (N, L / w, C_out), each output a product of one group of w frames with the (C_out, w * C_in) weights."""
    batch, length, channels = x.shape
    width = weight.shape[2]
    matrix = weight.permute(0, 2, 1).reshape(weight.shape[0], width * channels)
    return F.linear(x.reshape(batch * (length // width), width * channels), matrix).reshape(
        batch, length // width, -1
    )


def _rows(norm: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """Batch norm of channels-last (N, L, C): the statistics over N and L, as on (N, C, L)."""
    batch, length, channels = x.shape
    return norm(x.reshape(batch * length, channels)).reshape(batch, length, channels)
