"""Prior points on every level of a feature pyramid, for anchor-free heads (FCOS, YOLOX, RTMDet)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...registry import MODELS
from .prior_generator import PriorGenerator, cell_positions

__all__ = ["MlvlPointGenerator"]


@MODELS.register()
class MlvlPointGenerator(PriorGenerator):
    """One point per feature-map position: ``((x + offset) * stride_w, (y + offset) * stride_h)``.

    MMDetection 3.x defaults to ``offset=0.5`` (cell centers; FCOS and the other heads built on
    ``AnchorFreeHead``), while YOLOX and RTMDet use ``offset=0`` (cell corners). Points are ordered
    row-major (``y * W + x``), like the anchors of :class:`AnchorGenerator`.

    Args:
        strides: per level, a stride or ``(stride_w, stride_h)`` in pixels.
        offset: position of the point inside its stride cell, in cells.
    """

    def __init__(self, strides: Sequence[int | float | Sequence[int | float]], offset: float = 0.5) -> None:
        self.strides = [
            (float(s), float(s)) if isinstance(s, (int, float)) else (float(s[0]), float(s[1]))
            for s in strides
        ]
        self.offset = offset

    @property
    def num_base_priors(self) -> list[int]:
        """Priors per position, per level (always 1)."""
        return [1] * self.num_levels

    def level_priors(
        self, featmap_size: Sequence[int], level: int, with_stride: bool = False
    ) -> torch.Tensor:
        """Float64 points of one level, row-major: (H * W, 2) ``(x, y)`` image pixels, or (H * W, 4)
        ``(x, y, stride_w, stride_h)`` with ``with_stride`` (RTMDet's assigner uses the strides)."""
        stride_w, stride_h = self.strides[level]
        xx, yy = cell_positions(featmap_size, (stride_w, stride_h), self.offset)
        columns = [xx.reshape(-1), yy.reshape(-1)]
        if with_stride:
            columns += [torch.full_like(columns[0], stride_w), torch.full_like(columns[0], stride_h)]
        return torch.stack(columns, dim=-1)

    def __repr__(self) -> str:
        return f"MlvlPointGenerator(strides={self.strides}, offset={self.offset})"
