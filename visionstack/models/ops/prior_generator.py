"""What the anchor and point generators share: the loop over pyramid levels and the grid of cells.

Both place priors on every feature-map position of every level; a level ``l`` with stride
``(stride_w, stride_h)`` maps feature cell ``(x, y)`` to image pixels ``(x * stride_w, y * stride_h)``
(its top-left corner), and priors are ordered row-major (``y * W + x``).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["PriorGenerator", "cell_positions"]


def cell_positions(
    featmap_size: Sequence[int], stride: tuple[float, float], offset: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Image-pixel coordinates of every cell of one feature map, in float64.

    Args:
        featmap_size: ``(H, W)`` of the feature map.
        stride: ``(stride_w, stride_h)`` in pixels.
        offset: position inside the cell, in cells (0: the top-left corner, 0.5: the center).

    Returns:
        ``(xx, yy)``, each (H, W): ``xx[y, x] = (x + offset) * stride_w`` and
        ``yy[y, x] = (y + offset) * stride_h``.
    """
    height, width = featmap_size
    stride_w, stride_h = stride
    xs = (torch.arange(width, dtype=torch.float64) + offset) * stride_w
    ys = (torch.arange(height, dtype=torch.float64) + offset) * stride_h
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return xx, yy


class PriorGenerator(abc.ABC):
    """Priors (anchor boxes or points) on every level of a feature pyramid.

    Subclasses set ``strides`` (per level ``(stride_w, stride_h)`` in pixels) and implement
    :meth:`level_priors`, computed in float64 (pixel coordinates of large images need the
    precision) and cast to the requested dtype here.
    """

    strides: list[tuple[float, float]]

    @property
    def num_levels(self) -> int:
        """Number of pyramid levels."""
        return len(self.strides)

    @abc.abstractmethod
    def level_priors(self, featmap_size: Sequence[int], level: int, **options: Any) -> torch.Tensor:
        """The float64 priors of pyramid level ``level`` on a feature map of ``featmap_size = (H, W)``."""

    def single_level_grid_priors(
        self,
        featmap_size: Sequence[int],
        level: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        **options: Any,
    ) -> torch.Tensor:
        """The priors of one level (see the subclass's :meth:`level_priors`) on ``device`` in ``dtype``."""
        return self.level_priors(featmap_size, level, **options).to(device=device, dtype=dtype)

    def grid_priors(
        self,
        featmap_sizes: Sequence[Sequence[int]],
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        **options: Any,
    ) -> list[torch.Tensor]:
        """Priors of every level.

        Args:
            featmap_sizes: per level ``(H, W)`` of the feature map.
            device: device of the result.
            dtype: dtype of the result.
            **options: passed on to :meth:`single_level_grid_priors` (e.g. the point generator's
                ``with_stride``).

        Returns:
            Per level, the priors of :meth:`single_level_grid_priors`, in image pixels.
        """
        if len(featmap_sizes) != self.num_levels:
            raise ValueError(
                f"{type(self).__name__}: {len(featmap_sizes)} feature maps for {self.num_levels} levels"
            )
        return [
            self.single_level_grid_priors(size, level, device, dtype, **options)
            for level, size in enumerate(featmap_sizes)
        ]
