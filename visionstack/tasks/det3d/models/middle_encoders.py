"""PointPillarsScatter: pillar features back onto the bird's-eye grid (the "pseudo image").

PointPillars (Lang et al., CVPR 2019, section 2.1): each non-empty pillar's feature is written at its
(y, x) grid cell of a zero (B, C, ny, nx) canvas. One scatter on a flat (B * ny * nx, C) canvas
(``index_put``), no loop over the batch, so the ONNX graph has a single ScatterND whatever M is.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ....registry import MODELS

__all__ = ["PointPillarsScatter"]


@MODELS.register()
class PointPillarsScatter(nn.Module):
    """Scatter (M, C) pillar features to a (B, C, ny, nx) canvas.

    Args:
        in_channels: C.
        output_shape: (ny, nx), the BEV grid (``(y_max - y_min) / vy``, ``(x_max - x_min) / vx``).
    """

    def __init__(self, in_channels: int = 64, output_shape: Sequence[int] = (496, 432)) -> None:
        super().__init__()
        if len(output_shape) != 2:
            raise ValueError(f"PointPillarsScatter: output_shape must be (ny, nx), got {list(output_shape)}")
        self.in_channels = in_channels
        self.ny, self.nx = int(output_shape[0]), int(output_shape[1])
        self.out_channels = in_channels

    def forward(self, voxel_features: torch.Tensor, coors: torch.Tensor, batch_size: int = 1) -> torch.Tensor:
        """Args:
            voxel_features: (M, C).
            coors: (M, 4) int (batch, z, y, x); every cell in [0, ny) x [0, nx), each at most once.
            batch_size: B.

        Returns:
            (B, C, ny, nx), zero where no pillar is.
        """
        if not torch.jit.is_tracing() and voxel_features.shape[-1] != self.in_channels:
            raise ValueError(
                f"PointPillarsScatter: expected {self.in_channels} channels, got {tuple(voxel_features.shape)}"
            )
        coors = coors.long()
        index = (coors[:, 0] * self.ny + coors[:, 2]) * self.nx + coors[:, 3]
        canvas = voxel_features.new_zeros(batch_size * self.ny * self.nx, self.in_channels)
        canvas = canvas.index_put((index,), voxel_features)
        return canvas.view(batch_size, self.ny, self.nx, self.in_channels).permute(0, 3, 1, 2).contiguous()
