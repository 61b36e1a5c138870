"""A narrow conv backbone for fast detector tests (a stand-in for ResNet on a shared CPU)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class TinyConvBackbone(nn.Module):
    """Five stride-2 conv + BN + ReLU stages of 16, 16, 24, 32 and 48 channels.

    Args:
        out_indices: stages whose maps are returned; stage i has stride 2 ** (i + 1), so
            ``(2, 3, 4)`` gives strides 8, 16, 32 and ``(1, 2, 3, 4)`` strides 4 to 32.
    """

    WIDTHS = (3, 16, 16, 24, 32, 48)

    def __init__(self, out_indices: Sequence[int] = (2, 3, 4)) -> None:
        super().__init__()
        self.out_indices = tuple(out_indices)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU())
            for a, b in zip(self.WIDTHS[:-1], self.WIDTHS[1:])
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return tuple(outs[i] for i in self.out_indices)
