"""The single-frame lifter of Martinez et al., "A simple yet effective baseline for 3d human pose
estimation" (ICCV 2017): an MLP from one frame's 2D joints to its 3D joints.

A linear layer to ``channels`` (1024 in the paper) with batch norm, ReLU and dropout (0.5), then residual
blocks of two such layers each (2 blocks), then a linear layer to the 3D joints (the root excluded: 16
joints for Human3.6M). The paper constrains every weight matrix to max-norm 1 (``max_norm``): after each
update, the incoming weights of each unit are scaled down to that L2 norm when they exceed it; here the
constraint is applied before each training-mode forward pass (the same as after the previous update).
"""

from __future__ import annotations

import torch
from torch import nn

from ....registry import MODELS

__all__ = ["SimpleBaselineMLP"]


class _LinearBlock(nn.Module):
    """Two (linear, batch norm, ReLU, dropout) layers with a residual connection around them."""

    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.l1, self.bn1 = nn.Linear(channels, channels), nn.BatchNorm1d(channels)
        self.l2, self.bn2 = nn.Linear(channels, channels), nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(torch.relu(self.bn1(self.l1(x))))
        y = self.drop(torch.relu(self.bn2(self.l2(y))))
        return x + y


@MODELS.register()
class SimpleBaselineMLP(nn.Module):
    """Martinez et al.'s MLP (see the module docstring), applied to every frame independently.

    Args:
        num_joints: input joints J.
        in_features: coordinates per input joint C.
        num_joints_out: output joints (16: every joint but the root).
        channels: the width of every hidden layer.
        num_blocks: residual blocks.
        dropout: dropout probability.
        max_norm: the max-norm constraint on each unit's incoming weights (None: no constraint).

    Call: ``net(x)`` with ``x`` (N, L, J, C) -> (N, L, num_joints_out, 3); the receptive field is 1 frame.
    """

    receptive_field = 1
    causal = False

    def __init__(
        self,
        num_joints: int = 17,
        in_features: int = 2,
        num_joints_out: int = 16,
        channels: int = 1024,
        num_blocks: int = 2,
        dropout: float = 0.5,
        max_norm: float | None = None,
    ) -> None:
        super().__init__()
        if max_norm is not None and max_norm <= 0:
            raise ValueError(f"SimpleBaselineMLP: max_norm must be positive or None, got {max_norm}")
        self.num_joints, self.in_features, self.num_joints_out = num_joints, in_features, num_joints_out
        self.max_norm = max_norm
        self.w1, self.bn1 = nn.Linear(num_joints * in_features, channels), nn.BatchNorm1d(channels)
        self.blocks = nn.ModuleList(_LinearBlock(channels, dropout) for _ in range(num_blocks))
        self.w2 = nn.Linear(channels, num_joints_out * 3)
        self.drop = nn.Dropout(dropout)

    @torch.no_grad()
    def apply_max_norm(self) -> None:
        """Scale every linear layer's rows (a unit's incoming weights) down to L2 norm ``max_norm``."""
        if self.max_norm is None:
            return
        for module in self.modules():
            if isinstance(module, nn.Linear):
                module.weight.copy_(torch.renorm(module.weight, p=2, dim=0, maxnorm=self.max_norm))

    def forward(self, x: torch.Tensor, dense: bool | None = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[2] != self.num_joints or x.shape[3] != self.in_features:
            raise ValueError(
                f"SimpleBaselineMLP: expected (N, L, {self.num_joints}, {self.in_features}) keypoints, got {tuple(x.shape)}"
            )
        if self.training:
            self.apply_max_norm()
        batch, length = x.shape[0], x.shape[1]
        y = self.drop(torch.relu(self.bn1(self.w1(x.reshape(batch * length, -1)))))
        for block in self.blocks:
            y = block(y)
        return self.w2(y).reshape(batch, length, self.num_joints_out, 3)
