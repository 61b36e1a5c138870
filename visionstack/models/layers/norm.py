"""Norm layers with the ``norm_layer(num_channels)`` factory signature backbones expect.

Configs pass them as factories: ``norm_layer=dict(type="GroupNorm", num_groups=32, _partial_=True)``;
torch's own layers work by dotted path, e.g. ``dict(type="torch.nn.SyncBatchNorm", _partial_=True)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS


@MODELS.register()
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over channels of a channels-first map (ConvNeXt's downsampling and output norms).

    Each pixel's C values are normalised independently (mean and variance over C only), which is
    what ``nn.LayerNorm(C)`` computes on the channels-last view.

    Args:
        num_channels: C.
        eps: added to the variance.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__(num_channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        if x.ndim != 4:
            raise ValueError(f"LayerNorm2d expects (N, C, H, W), got shape {tuple(x.shape)}")
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


@MODELS.register()
class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` with the channel count first, so ``partial(GroupNorm, num_groups=32)`` is a
    norm factory (Wu & He, "Group Normalization", ECCV 2018; 32 groups is the paper's default).

    Args:
        num_channels: C; must be divisible by ``num_groups``.
        num_groups: number of channel groups.
        eps: added to the variance.
        affine: learn a per-channel scale and shift.
    """

    def __init__(
        self, num_channels: int, num_groups: int = 32, eps: float = 1e-5, affine: bool = True
    ) -> None:
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: {num_channels} channels are not divisible into {num_groups} groups")
        super().__init__(num_groups, num_channels, eps=eps, affine=affine)
