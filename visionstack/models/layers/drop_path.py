"""Stochastic depth (drop path) for residual branches.

Huang et al., "Deep Networks with Stochastic Depth" (ECCV 2016): during training each sample's
residual branch is dropped with probability ``p`` and the kept branches are scaled by ``1 / (1 - p)``
so that the expected output is unchanged; at evaluation the branch is always kept.
"""

from __future__ import annotations

import torch
from torch import nn

from ...registry import MODELS


def drop_path(x: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Zero whole samples of ``x`` with probability ``drop_prob`` and rescale the rest.

    Args:
        x: (N, ...) a residual branch's output; one Bernoulli draw per sample (first dim).
        drop_prob: probability of dropping a sample's branch, in [0, 1).
        training: identity when False.

    Returns:
        Tensor of the shape of ``x``.
    """
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    mask_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    mask = x.new_empty(mask_shape).bernoulli_(keep_prob)
    return x * mask / keep_prob


@MODELS.register()
class DropPath(nn.Module):
    """Module form of :func:`drop_path`.

    Args:
        drop_prob: probability of dropping a sample's residual branch, in [0, 1).
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"DropPath: drop_prob must be in [0, 1), got {drop_prob}")
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


def linear_drop_path_rates(drop_path_rate: float, num_blocks: int) -> list[float]:
    """Per-block drop rates rising linearly from 0 to ``drop_path_rate`` (the usual schedule)."""
    if num_blocks == 1:
        return [0.0]
    return [drop_path_rate * index / (num_blocks - 1) for index in range(num_blocks)]
