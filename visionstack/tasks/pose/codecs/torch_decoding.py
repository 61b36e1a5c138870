"""PyTorch twins of :mod:`.refinement`, batched and exportable to ONNX.

Every function works on whole batches with argmax, gather, clamp and arithmetic: no Python branch
depends on tensor values (masks select with ``torch.where``), so ``torch.onnx.export`` traces one
graph that decodes any batch. The blur is a convolution with OpenCV's fixed Gaussian kernel, zero
padded, as :func:`.refinement.gaussian_blur`. Results match the NumPy decoding to float32 rounding.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from .refinement import opencv_gaussian_kernel

__all__ = [
    "constant",
    "is_tracing",
    "gaussian_blur",
    "heatmap_maximum",
    "refine_dark",
    "refine_quarter_offset",
    "refine_simcc_dark",
    "refine_udp",
    "simcc_maximum",
]


def constant(values: np.ndarray | list[float], like: torch.Tensor) -> torch.Tensor:
    """``values`` as a tensor of the dtype and device of ``like`` (a constant in an exported graph)."""
    with warnings.catch_warnings():  # the tracer's "registered as constants" warning: constants they are
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return torch.as_tensor(np.asarray(values), dtype=like.dtype, device=like.device)


def is_tracing() -> bool:
    """True while ``torch.jit.trace`` / the TorchScript ONNX exporter records: shape checks are skipped
    then (the shapes are fixed by the example input, and comparing them would warn)."""
    return torch.jit.is_tracing()


def heatmap_maximum(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, H, W) -> ``(locations (B, K, 2) x, y, scores (B, K))``; -1 where the maximum is <= 0."""
    width = heatmaps.shape[-1]
    flat = heatmaps.flatten(2)
    scores, index = flat.max(dim=-1)
    x = torch.remainder(index, width)
    y = torch.div(index, width, rounding_mode="floor")
    locations = torch.stack([x, y], dim=-1).to(heatmaps.dtype)
    return torch.where((scores > 0).unsqueeze(-1), locations, -torch.ones_like(locations)), scores


def simcc_maximum(simcc_x: torch.Tensor, simcc_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, Wx), (B, K, Wy) -> ``(bins (B, K, 2), scores (B, K))``: the score is the smaller maximum."""
    max_x, bin_x = simcc_x.max(dim=-1)
    max_y, bin_y = simcc_y.max(dim=-1)
    scores = torch.minimum(max_x, max_y)
    bins = torch.stack([bin_x, bin_y], dim=-1).to(simcc_x.dtype)
    return torch.where((scores > 0).unsqueeze(-1), bins, -torch.ones_like(bins)), scores


def gaussian_blur(maps: torch.Tensor, kernel_size: int, ndim: int = 2) -> torch.Tensor:
    """Blur (B, K, H, W) heatmaps (``ndim=2``) or (B, K, L) vectors (``ndim=1``), zero padded, each map
    rescaled to its original maximum (all zeros where the blurred maximum is 0)."""
    kernel_1d = constant(opencv_gaussian_kernel(kernel_size), maps)
    border = kernel_size // 2
    spatial = maps.shape[-ndim:]
    flat = maps.reshape(-1, 1, *spatial)
    if ndim == 2:
        blurred = F.conv2d(flat, torch.outer(kernel_1d, kernel_1d)[None, None], padding=border)
    else:
        blurred = F.conv1d(flat, kernel_1d[None, None], padding=border)
    blurred = blurred.reshape(maps.shape)
    dims = tuple(range(maps.ndim - ndim, maps.ndim))
    original_max = maps.amax(dim=dims, keepdim=True)
    blurred_max = blurred.amax(dim=dims, keepdim=True)
    nonzero = blurred_max != 0
    ratio = torch.where(nonzero, original_max / torch.where(nonzero, blurred_max, 1), 0)
    return blurred * ratio


class _Sampler:
    """Reads ``maps[b, k, y + dy, x + dx]`` at every keypoint, the indices clamped into the map."""

    def __init__(self, maps: torch.Tensor, locations: torch.Tensor) -> None:
        self.height, self.width = maps.shape[-2:]
        self.flat = maps.flatten(2)
        self.x = locations[..., 0].long()
        self.y = locations[..., 1].long()

    def __call__(self, dx: int, dy: int) -> torch.Tensor:
        x = torch.clamp(self.x + dx, 0, self.width - 1)
        y = torch.clamp(self.y + dy, 0, self.height - 1)
        return self.flat.gather(2, (y * self.width + x).unsqueeze(-1)).squeeze(-1)


def refine_quarter_offset(locations: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
    """:func:`.refinement.refine_quarter_offset` on (B, K, 2) maxima of (B, K, H, W) heatmaps."""
    at = _Sampler(heatmaps, locations)
    x, y, width, height = at.x, at.y, at.width, at.height
    move_x = (x > 1) & (x < width - 1) & (y > 0) & (y < height)
    move_y = (y > 1) & (y < height - 1) & (x > 0) & (x < width)
    dx = torch.where(move_x, at(1, 0) - at(-1, 0), 0)
    dy = torch.where(move_y, at(0, 1) - at(0, -1), 0)
    return locations + 0.25 * torch.stack([torch.sign(dx), torch.sign(dy)], dim=-1)


def refine_dark(locations: torch.Tensor, heatmaps: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """:func:`.refinement.refine_dark` on (B, K, 2) maxima of (B, K, H, W) heatmaps."""
    log_maps = torch.log(torch.clamp(gaussian_blur(heatmaps, kernel_size), min=1e-10))
    at = _Sampler(log_maps, locations)
    inside = (at.x > 1) & (at.x < at.width - 2) & (at.y > 1) & (at.y < at.height - 2)
    gx = 0.5 * (at(1, 0) - at(-1, 0))
    gy = 0.5 * (at(0, 1) - at(0, -1))
    hxx = 0.25 * (at(2, 0) - 2 * at(0, 0) + at(-2, 0))
    hyy = 0.25 * (at(0, 2) - 2 * at(0, 0) + at(0, -2))
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    return locations + _newton_offset(gx, gy, hxx, hxy, hyy, inside)


def refine_udp(locations: torch.Tensor, heatmaps: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """:func:`.refinement.refine_udp` on (B, K, 2) maxima of (B, K, H, W) heatmaps."""
    log_maps = torch.log(torch.clamp(gaussian_blur(heatmaps, kernel_size), 1e-3, 50.0))
    at = _Sampler(log_maps, locations)
    center = at(0, 0)
    right, left, down, up = at(1, 0), at(-1, 0), at(0, 1), at(0, -1)
    gx, gy = 0.5 * (right - left), 0.5 * (down - up)
    eps = float(np.finfo(np.float32).eps)
    hxx = right - 2 * center + left + eps
    hyy = down - 2 * center + up + eps
    hxy = 0.5 * (at(1, 1) - right - down + 2 * center - left - up + at(-1, -1))
    return locations + _newton_offset(gx, gy, hxx, hxy, hyy, at.x >= 0)


def _newton_offset(
    gx: torch.Tensor,
    gy: torch.Tensor,
    hxx: torch.Tensor,
    hxy: torch.Tensor,
    hyy: torch.Tensor,
    apply: torch.Tensor,
) -> torch.Tensor:
    """(B, K, 2) ``-H^-1 g``, zero where ``apply`` is False or the Hessian is singular."""
    det = hxx * hyy - hxy * hxy
    apply = apply & (det != 0)
    safe_det = torch.where(apply, det, 1)
    offset = torch.stack([-(hyy * gx - hxy * gy) / safe_det, -(hxx * gy - hxy * gx) / safe_det], dim=-1)
    return torch.where(apply.unsqueeze(-1), offset, 0)


def refine_simcc_dark(bins: torch.Tensor, simcc: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """:func:`.refinement.refine_simcc_dark` on (B, K) bins of (B, K, L) vectors."""
    log_simcc = torch.log(torch.clamp(gaussian_blur(simcc, kernel_size, ndim=1), 1e-3, 50.0))
    length = simcc.shape[-1]
    index = bins.long()

    def at(shift: int) -> torch.Tensor:
        return log_simcc.gather(2, torch.clamp(index + shift, 0, length - 1).unsqueeze(-1)).squeeze(-1)

    gradient = 0.5 * (at(1) - at(-1))
    curvature = 1e-9 + 0.25 * (at(2) - 2 * at(0) + at(-2))
    return bins - torch.where((index >= 2) & (index <= length - 3), gradient / curvature, 0)
