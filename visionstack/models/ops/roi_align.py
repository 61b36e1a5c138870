"""RoIAlign (He et al., "Mask R-CNN", ICCV 2017, section 3) in pure PyTorch.

The semantics are those of Detectron2 / torchvision's ``roi_align``: each output bin averages a
``grid_h x grid_w`` grid of bilinearly interpolated samples placed at the centers of equal
sub-cells of the bin. Gradients come from autograd through the gathers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ...registry import MODELS

__all__ = ["RoIAlign", "roi_align"]


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 has no device argument
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


def roi_align(
    features: torch.Tensor,
    rois: torch.Tensor,
    output_size: int | Sequence[int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = 0,
    aligned: bool = True,
) -> torch.Tensor:
    """Pool each region of interest to a fixed-size map by bilinear sampling.

    Args:
        features: (N, C, H, W) feature maps.
        rois: (K, 5) rows ``[batch_index, x1, y1, x2, y2]``, boxes in input-image pixels (xyxy).
        output_size: ``(out_h, out_w)`` or one int for both.
        spatial_scale: feature-map size over image size (1 / stride).
        sampling_ratio: samples per bin along each axis; ``<= 0`` uses ``ceil(roi_size / out_size)``
            per RoI (adaptive, Detectron2's default ``0``).
        aligned: subtract half a pixel from the scaled box, so that pixel centers sit at
            half-integer coordinates (Detectron2's ``ROIAlignV2``). With ``False`` (the original
            Mask R-CNN code) RoIs are also enlarged to at least 1x1.

    Returns:
        (K, C, out_h, out_w) pooled features. A sample with y < -1, y > H, x < -1 or x > W
        contributes 0; a sample within one pixel of the border is clamped onto it.
    """
    if _autocast_enabled(features.device.type):
        # Pixel coordinates need float32: in bfloat16 they round by several pixels, and the
        # output buffer and the gathered samples would disagree in dtype.
        with torch.autocast(features.device.type, enabled=False):
            return roi_align(
                features.float(), rois.float(), output_size, spatial_scale, sampling_ratio, aligned
            )
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    _check_inputs(features, rois)
    rois = rois.to(features.dtype)
    offset = 0.5 if aligned else 0.0
    start = rois[:, 1:3] * spatial_scale - offset  # (K, 2) x, y
    size = rois[:, 3:5] * spatial_scale - offset - start  # (K, 2) w, h
    if not aligned:
        size = size.clamp(min=1.0)
    bin_size = size / size.new_tensor([out_w, out_h])
    if sampling_ratio > 0:
        grid = torch.full_like(size, sampling_ratio, dtype=torch.long)
    else:
        grid = torch.ceil(size / size.new_tensor([out_w, out_h])).long().clamp(min=0)
    return _pool_buckets(features, rois[:, 0].long(), start, bin_size, grid, (out_h, out_w))


def _check_inputs(features: torch.Tensor, rois: torch.Tensor) -> None:
    if features.ndim != 4:
        raise ValueError(f"roi_align: features must be (N, C, H, W), got shape {tuple(features.shape)}")
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(
            f"roi_align: rois must be (K, 5) [batch_index, x1, y1, x2, y2], got {tuple(rois.shape)}"
        )
    if rois.numel() and not (0 <= rois[:, 0].min() and rois[:, 0].max() < features.shape[0]):
        raise ValueError(
            f"roi_align: rois[:, 0] must be batch indices in [0, {features.shape[0]}), "
            f"got values in [{rois[:, 0].min().item()}, {rois[:, 0].max().item()}]"
        )


def _pool_buckets(
    features: torch.Tensor,
    batch_index: torch.Tensor,
    start: torch.Tensor,
    bin_size: torch.Tensor,
    grid: torch.Tensor,
    output_size: tuple[int, int],
) -> torch.Tensor:
    """Pool every RoI, bucketed by its sampling grid rounded up to a power of two.

    Inside a bucket the unused samples get weight 0. Few buckets means few kernel calls, and each
    backward call allocates a gradient of the whole feature map, so the count matters more than the
    padding. Returns (K, C, out_h, out_w) in the order of the RoIs.
    """
    out_h, out_w = output_size
    num_rois, channels = batch_index.shape[0], features.shape[1]
    flat = features.permute(0, 2, 3, 1).reshape(-1, channels)  # (N * H * W, C): one row per position
    padded = torch.where(grid > 1, 2 ** torch.ceil(torch.log2(grid.clamp(min=1).double())).long(), grid)
    pieces, order = [], []
    for pad_w, pad_h in torch.unique(padded, dim=0).tolist():
        members = torch.nonzero((padded[:, 0] == pad_w) & (padded[:, 1] == pad_h)).flatten()
        if pad_w == 0 or pad_h == 0:
            # an empty RoI averages no samples: output 0, as in the reference kernels
            pieces.append(features.new_zeros(members.numel(), channels, out_h, out_w))
        else:
            pieces.append(
                _pool_group(
                    flat, features.shape[-2:], batch_index[members], start[members], bin_size[members],
                    grid[members], output_size, (pad_h, pad_w),
                )
            )  # fmt: skip
        order.append(members)
    if not pieces:
        return features.new_zeros(0, channels, out_h, out_w)
    if len(pieces) == 1:
        return pieces[0]
    pooled = torch.cat(pieces)
    position = torch.empty(num_rois, dtype=torch.long, device=features.device)
    position[torch.cat(order)] = torch.arange(num_rois, device=features.device)
    return pooled.index_select(0, position)  # back to the order of ``rois``


def _pool_group(
    flat: torch.Tensor,
    size: tuple[int, int],
    batch_index: torch.Tensor,
    start: torch.Tensor,
    bin_size: torch.Tensor,
    grid: torch.Tensor,
    output_size: tuple[int, int],
    padded_grid: tuple[int, int],
) -> torch.Tensor:
    """RoIAlign for G RoIs whose sampling grids fit in ``padded_grid`` -> (G, C, out_h, out_w).

    ``flat`` is the (N * H * W, C) channels-last view of the features, ``size`` their (H, W) and
    ``grid`` the (G, 2) per-RoI samples per bin (x, y).
    """
    height, width = size
    out_h, out_w = output_size
    pad_h, pad_w = padded_grid
    ys, valid_y = _sample_positions(
        start[:, 1], bin_size[:, 1], grid[:, 1], out_h, pad_h
    )  # (G, out_h * pad_h)
    xs, valid_x = _sample_positions(start[:, 0], bin_size[:, 0], grid[:, 0], out_w, pad_w)
    y_index, y_weight = _interpolation_1d(ys, height)  # (G, out_h * pad_h, 2): both neighbours
    x_index, x_weight = _interpolation_1d(xs, width)
    y_weight = y_weight * valid_y[..., None]
    x_weight = x_weight * (valid_x[..., None] / (grid[:, 0] * grid[:, 1]).to(x_weight.dtype)[:, None, None])
    groups, channels = start.shape[0], flat.shape[1]
    # Every output bin is a weighted sum of 4 * pad_h * pad_w feature rows (the bilinear neighbours
    # of its samples): exactly an ``embedding_bag`` over ``flat`` with per-sample weights. The fused
    # kernel neither materialises the gathered values nor scatters through advanced indexing, which
    # makes it several times faster than gather + weighted sum, forward and backward.
    rows = (batch_index[:, None, None] * height + y_index) * width  # (G, out_h * pad_h, 2)
    rows = rows.reshape(groups, out_h, 1, pad_h, 2, 1, 1)
    cols = x_index.reshape(groups, 1, out_w, 1, 1, pad_w, 2)
    weight_y = y_weight.reshape(groups, out_h, 1, pad_h, 2, 1, 1)
    weight_x = x_weight.reshape(groups, 1, out_w, 1, 1, pad_w, 2)
    bag = 4 * pad_h * pad_w
    indices = (rows + cols).reshape(groups * out_h * out_w, bag)
    weights = (weight_y * weight_x).reshape(groups * out_h * out_w, bag).to(flat.dtype)
    pooled = nn.functional.embedding_bag(indices, flat, mode="sum", per_sample_weights=weights)
    return pooled.reshape(groups, out_h, out_w, channels).permute(0, 3, 1, 2)


def _sample_positions(
    start: torch.Tensor, bin_size: torch.Tensor, grid: torch.Tensor, bins: int, padded: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample coordinates along one axis: ``start + p * bin + (i + 0.5) * bin / grid`` for bin p and
    sample i < grid (the RoI's own grid), laid out bin-major with ``padded`` slots per bin.

    Returns:
        ``(coords, valid)``, each (G, bins * padded); slots ``i >= grid`` are invalid (coordinate
        at the bin's start, weight to be zeroed by the caller).
    """
    steps = torch.arange(bins * padded, device=start.device)
    bin_index = torch.div(steps, padded, rounding_mode="floor")
    sample_index = (steps - bin_index * padded)[None, :]  # (1, bins * padded)
    valid = sample_index < grid[:, None]
    per_grid = grid.clamp(min=1).to(start.dtype)[:, None]
    fraction = bin_index[None, :].to(start.dtype) + torch.where(valid, (sample_index + 0.5) / per_grid, 0.0)
    return start[:, None] + fraction * bin_size[:, None], valid.to(start.dtype)


def _interpolation_1d(coords: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Neighbour indices and linear weights along one axis, with the reference boundary rules:
    a coordinate below -1 or above ``length`` gets zero weights; one in [-1, 0) is clamped to 0;
    one at or past ``length - 1`` uses the last index for both neighbours.

    Returns:
        ``(index, weight)``, each of shape ``coords.shape + (2,)`` (lower, upper neighbour).
    """
    outside = (coords < -1.0) | (coords > length)
    coords = coords.clamp(min=0)
    low = torch.floor(coords).long()
    at_end = low >= length - 1
    low = low.clamp(max=length - 1)
    high = torch.where(at_end, low, low + 1)
    coords = torch.where(at_end, low.to(coords.dtype), coords)
    weight_high = coords - low.to(coords.dtype)
    weights = torch.stack([1 - weight_high, weight_high], dim=-1)
    weights = torch.where(outside[..., None], torch.zeros_like(weights), weights)
    return torch.stack([low, high], dim=-1), weights


@MODELS.register()
class RoIAlign(nn.Module):
    """Module form of :func:`roi_align` (what RoI feature extractors hold, one per pyramid level).

    Args:
        output_size: ``(out_h, out_w)`` or one int.
        spatial_scale: 1 / stride of the feature map.
        sampling_ratio: samples per bin per axis; ``<= 0`` is adaptive.
        aligned: half-pixel-correct sampling (Detectron2's ``ROIAlignV2``).
    """

    def __init__(
        self,
        output_size: int | Sequence[int],
        spatial_scale: float = 1.0,
        sampling_ratio: int = 0,
        aligned: bool = True,
    ) -> None:
        super().__init__()
        self.output_size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        if len(self.output_size) != 2 or min(self.output_size) < 1:
            raise ValueError(f"RoIAlign: output_size must be positive (h, w), got {output_size!r}")
        if not (math.isfinite(spatial_scale) and spatial_scale > 0):
            raise ValueError(
                f"RoIAlign: spatial_scale must be a positive number (1 / stride), got {spatial_scale}"
            )
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, features: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W), (K, 5) ``[batch_index, x1, y1, x2, y2]`` -> (K, C, out_h, out_w)."""
        return roi_align(
            features, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned
        )

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}"
        )
