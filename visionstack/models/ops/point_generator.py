"""Prior points on every level of a feature pyramid, for anchor-free heads (FCOS, YOLOX, RTMDet)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...registry import MODELS

__all__ = ["MlvlPointGenerator"]


@MODELS.register()
class MlvlPointGenerator:
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
    def num_levels(self) -> int:
        """Number of pyramid levels."""
        return len(self.strides)

    @property
    def num_base_priors(self) -> list[int]:
        """Priors per position, per level (always 1)."""
        return [1] * self.num_levels

    def grid_priors(
        self,
        featmap_sizes: Sequence[Sequence[int]],
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        with_stride: bool = False,
    ) -> list[torch.Tensor]:
        """Points of every level.

        Args:
            featmap_sizes: per level ``(H, W)``.
            device: device of the result.
            dtype: dtype of the result.
            with_stride: append ``(stride_w, stride_h)`` to each point (RTMDet's assigner uses it).

        Returns:
            Per level, (H * W, 2) ``(x, y)`` image pixels, or (H * W, 4) ``(x, y, stride_w, stride_h)``.
        """
        if len(featmap_sizes) != self.num_levels:
            raise ValueError(
                f"MlvlPointGenerator: {len(featmap_sizes)} feature maps for {self.num_levels} levels"
            )
        return [
            self.single_level_grid_priors(size, level, device, dtype, with_stride)
            for level, size in enumerate(featmap_sizes)
        ]

    def single_level_grid_priors(
        self,
        featmap_size: Sequence[int],
        level: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        with_stride: bool = False,
    ) -> torch.Tensor:
        """(H * W, 2) or (H * W, 4) points of one level, row-major."""
        height, width = featmap_size
        stride_w, stride_h = self.strides[level]
        xs = (torch.arange(width, dtype=torch.float64) + self.offset) * stride_w
        ys = (torch.arange(height, dtype=torch.float64) + self.offset) * stride_h
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        columns = [xx.reshape(-1), yy.reshape(-1)]
        if with_stride:
            columns += [torch.full_like(columns[0], stride_w), torch.full_like(columns[0], stride_h)]
        return torch.stack(columns, dim=-1).to(device=device, dtype=dtype)

    def __repr__(self) -> str:
        return f"MlvlPointGenerator(strides={self.strides}, offset={self.offset})"
