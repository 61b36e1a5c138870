"""The two-layer perceptron of transformer and ConvNeXt blocks."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class Mlp(nn.Module):
    """Linear -> activation -> dropout -> linear -> dropout on the last dimension.

    Parameter names (``fc1``, ``fc2``) follow timm, so its ViT/ConvNeXt checkpoints map one-to-one.

    Args:
        in_features: input (and output) features.
        hidden_features: width of the hidden layer (usually ``4 * in_features``).
        act_layer: activation factory.
        drop: dropout probability after the activation and after ``fc2``.

    Shapes:
        (..., in_features) -> (..., in_features).
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        act_layer: Callable[[], nn.Module] = nn.GELU,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))
