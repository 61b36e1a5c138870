"""Anchor boxes on every level of a feature pyramid, as in MMDetection's ``AnchorGenerator``.

Anchors are (H * W * A, 4) xyxy boxes in input-image pixels per level, ordered position-major
(row y, then column x) and anchor-minor, i.e. row ``(y * W + x) * A + a`` -- the order in which a
head's (A * 4, H, W) output is flattened after ``permute(1, 2, 0)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...registry import MODELS
from .prior_generator import PriorGenerator, cell_positions

__all__ = ["AnchorGenerator"]


def _pair(value: int | float | Sequence[int | float]) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        return float(value), float(value)
    if len(value) != 2:
        raise ValueError(f"AnchorGenerator: a stride must be a number or (stride_w, stride_h), got {value!r}")
    return float(value[0]), float(value[1])


@MODELS.register()
class AnchorGenerator(PriorGenerator):
    """Base anchors of several sizes and aspect ratios, repeated at every feature-map position.

    Level ``l`` has base anchors of size ``base_sizes[l] * scale`` for every scale and every ratio
    ``r = h / w`` (area kept: ``w = size / sqrt(r)``, ``h = size * sqrt(r)``), centered at
    ``center_offset * base_size``; the anchor at feature position (x, y) is shifted by
    ``(x * stride_w, y * stride_h)``. Anchors of one position are ratio-major: index
    ``ratio_index * num_scales + scale_index`` (MMDetection's ``scale_major=True``).

    The scales are either given (``scales``) or, for RetinaNet (Lin et al., ICCV 2017, section 4),
    ``octave_base_scale * 2 ** (i / scales_per_octave)`` for ``i < scales_per_octave``. RetinaNet:
    ``AnchorGenerator(strides=[8, 16, 32, 64, 128], ratios=[0.5, 1.0, 2.0], octave_base_scale=4,
    scales_per_octave=3)``. Faster R-CNN's RPN: ``strides=[4, 8, 16, 32, 64], ratios=[0.5, 1.0, 2.0],
    scales=[8]``.

    Args:
        strides: per level, a stride or ``(stride_w, stride_h)`` in pixels.
        ratios: aspect ratios h / w.
        scales: anchor scales relative to the base size (exclusive with the octave arguments).
        base_sizes: per-level base size in pixels (default: the stride, its width if a pair).
        octave_base_scale: smallest scale of the octave scheme.
        scales_per_octave: number of scales per octave.
        center_offset: anchor center within the stride cell, as a fraction of the base size
            (MMDetection 2+ uses 0.0: centers on the cell's top-left corner).
    """

    def __init__(
        self,
        strides: Sequence[int | float | Sequence[int | float]],
        ratios: Sequence[float],
        scales: Sequence[float] | None = None,
        base_sizes: Sequence[float] | None = None,
        octave_base_scale: float | None = None,
        scales_per_octave: int | None = None,
        center_offset: float = 0.0,
    ) -> None:
        self.strides = [_pair(s) for s in strides]
        if base_sizes is None:
            base_sizes = [stride[0] for stride in self.strides]
        if len(base_sizes) != len(self.strides):
            raise ValueError(
                f"AnchorGenerator: base_sizes has {len(base_sizes)} entries, strides has {len(self.strides)}"
            )
        uses_octaves = octave_base_scale is not None or scales_per_octave is not None
        octaves_complete = octave_base_scale is not None and scales_per_octave is not None
        if (scales is not None and uses_octaves) or (scales is None and not octaves_complete):
            raise ValueError(
                "AnchorGenerator: give either scales, or both octave_base_scale and scales_per_octave"
            )
        if scales is None:
            scales = [octave_base_scale * 2 ** (i / scales_per_octave) for i in range(scales_per_octave)]
        if not 0.0 <= center_offset <= 1.0:
            raise ValueError(f"AnchorGenerator: center_offset must be in [0, 1], got {center_offset}")
        self.base_sizes = [float(size) for size in base_sizes]
        self.ratios = torch.tensor(ratios, dtype=torch.float64)
        self.scales = torch.tensor(scales, dtype=torch.float64)
        self.center_offset = center_offset
        self.base_anchors = [self._level_base_anchors(size) for size in self.base_sizes]

    @property
    def num_base_priors(self) -> list[int]:
        """Anchors per position, per level (``len(ratios) * len(scales)``)."""
        return [anchors.shape[0] for anchors in self.base_anchors]

    def _level_base_anchors(self, base_size: float) -> torch.Tensor:
        """(A, 4) xyxy anchors around ``center_offset * base_size``, ratio-major."""
        h_ratios = torch.sqrt(self.ratios)
        w_ratios = 1 / h_ratios
        widths = (base_size * w_ratios[:, None] * self.scales[None, :]).reshape(-1)
        heights = (base_size * h_ratios[:, None] * self.scales[None, :]).reshape(-1)
        center = self.center_offset * base_size
        return torch.stack(
            [center - widths / 2, center - heights / 2, center + widths / 2, center + heights / 2], dim=-1
        )

    def level_priors(self, featmap_size: Sequence[int], level: int) -> torch.Tensor:
        """(H * W * A, 4) float64 xyxy anchors of one level in image pixels, position-major."""
        xx, yy = cell_positions(featmap_size, self.strides[level])
        shifts = torch.stack([xx, yy, xx, yy], dim=-1).reshape(-1, 1, 4)
        return (shifts + self.base_anchors[level][None]).reshape(-1, 4)

    def valid_flags(
        self,
        featmap_sizes: Sequence[Sequence[int]],
        pad_shape: Sequence[int],
        device: torch.device | str = "cpu",
    ) -> list[torch.Tensor]:
        """Which anchors sit on feature positions covered by the (unpadded) image.

        Args:
            featmap_sizes: per level ``(H, W)``.
            pad_shape: ``(height, width)`` in pixels of the valid image region inside the batch.
            device: device of the result.

        Returns:
            Per level, (H * W * A,) bool.
        """
        flags = []
        for level, (height, width) in enumerate(featmap_sizes):
            stride_w, stride_h = self.strides[level]
            valid_h = min(int(-(-pad_shape[0] // stride_h)), height)  # ceil
            valid_w = min(int(-(-pad_shape[1] // stride_w)), width)
            rows = torch.arange(height, device=device) < valid_h
            cols = torch.arange(width, device=device) < valid_w
            position_valid = (rows[:, None] & cols[None, :]).reshape(-1)
            flags.append(position_valid[:, None].expand(-1, self.num_base_priors[level]).reshape(-1))
        return flags

    def __repr__(self) -> str:
        return (
            f"AnchorGenerator(strides={self.strides}, ratios={self.ratios.tolist()}, "
            f"scales={self.scales.tolist()}, base_sizes={self.base_sizes}, center_offset={self.center_offset})"
        )
