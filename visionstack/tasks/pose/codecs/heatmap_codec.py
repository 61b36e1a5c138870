"""What the Gaussian-heatmap codecs share: the target renderer and the encode/decode frame.

A heatmap codec maps input-image pixels to heatmap pixels by one scale factor per axis (heatmap
pixel ``i`` is input pixel ``i * scale``), draws one Gaussian per keypoint (``encode``, a single
instance: the top-down view), and decodes each channel's maximum, refined to sub-pixel precision,
back to input pixels. :class:`~.msra_heatmap.MSRAHeatmap` and :class:`~.udp_heatmap.UDPHeatmap`
differ in the scale, where the Gaussian's peak sits, and the refinement.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np

from .base import check_keypoints, check_size, visible_weights
from .refinement import heatmap_maximum

__all__ = ["HeatmapCodec", "gaussian_heatmaps"]


def gaussian_heatmaps(
    centers: np.ndarray,
    weights: np.ndarray,
    heatmap_size: tuple[int, int],
    sigma: float,
    window_centers: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One unnormalized Gaussian (peak value 1 at the centre) per keypoint, the 3-sigma rule for its reach.

    Args:
        centers: (K, 2) x, y of each Gaussian's centre, heatmap pixels (pixel centres at integers).
        weights: (K,) starting target weights; keypoints of weight 0 get an all-zero map.
        heatmap_size: ``(W, H)``.
        sigma: the Gaussian's standard deviation, heatmap pixels.
        window_centers: (K, 2) integer-valued centres of the square window of half-size
            ``floor(3 sigma)`` outside which the map is 0 (SimpleBaseline and UDP, around the
            rounded keypoint); None draws the Gaussian over the whole map (DARK's unbiased target).

    Returns:
        ``(heatmaps, weights)``: float32 (K, H, W) and float32 (K,) with 0 for keypoints whose
        3-sigma window has no pixel on the heatmap (MMPose's "no in-bounds part" rule).
    """
    width, height = heatmap_size
    size = np.array([width, height], dtype=np.float64)
    radius = 3 * sigma
    labelled = weights > 0
    centers = np.where(labelled[:, None], centers, 0.0)
    if window_centers is None:
        reach_low, reach_high = centers - radius, centers + radius
    else:
        window_centers = np.where(labelled[:, None], window_centers, 0.0)
        half = math.floor(radius)
        reach_low, reach_high = window_centers - half, window_centers + half
    in_range = ((reach_low <= size - 1) & (reach_high >= 0)).all(axis=-1)
    weights = np.where(in_range, weights, 0.0).astype(np.float32)

    # exp(-(dx^2 + dy^2) / 2 sigma^2) factors into an x and a y profile per keypoint
    profiles = []
    for axis, length in enumerate((width, height)):
        pixels = np.arange(length, dtype=np.float64)
        profile = np.exp(-((pixels[None, :] - centers[:, axis, None]) ** 2) / (2 * sigma**2))
        if window_centers is not None:
            profile *= np.abs(pixels[None, :] - window_centers[:, axis, None]) <= math.floor(radius)
        profiles.append(profile)
    heatmaps = profiles[1][:, :, None] * profiles[0][:, None, :]
    heatmaps *= (weights > 0)[:, None, None]
    return heatmaps.astype(np.float32), weights


class HeatmapCodec(abc.ABC):
    """Base of the single-instance Gaussian-heatmap codecs (see the module docstring).

    Args:
        input_size: ``(w, h)`` of the network input, pixels.
        heatmap_size: ``(W, H)`` of the heatmaps.
        sigma: the target Gaussian's standard deviation, heatmap pixels.
        blur_kernel_size: the odd Gaussian-blur size of the DARK/UDP modulation at decoding (11
            suits sigma 2, 17 sigma 3).

    Subclasses set ``scale_factor`` and implement :meth:`_gaussian_centers`, :meth:`_refine` and
    :meth:`_refine_torch`.
    """

    scale_factor: np.ndarray  # (2,) float32 input pixels per heatmap pixel, x and y

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        sigma: float = 2.0,
        blur_kernel_size: int = 11,
    ) -> None:
        name = type(self).__name__
        self.input_size = check_size(name, "input_size", input_size)
        self.heatmap_size = check_size(name, "heatmap_size", heatmap_size)
        if not sigma > 0:
            raise ValueError(f"{name}: sigma must be > 0, got {sigma!r}")
        if blur_kernel_size < 1 or blur_kernel_size % 2 != 1:
            raise ValueError(f"{name}: blur_kernel_size must be a positive odd int, got {blur_kernel_size!r}")
        self.sigma = float(sigma)
        self.blur_kernel_size = int(blur_kernel_size)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, heatmap_size={self.heatmap_size}, "
            f"sigma={self.sigma})"
        )

    def encode(self, keypoints: Any, keypoints_visible: Any | None = None) -> dict[str, np.ndarray]:
        """Heatmap targets of one instance.

        Args:
            keypoints: (1, K, 2) x, y in input-image pixels.
            keypoints_visible: (1, K) visibility (>= 0.5 counts as labelled) or None for all.

        Returns:
            ``heatmaps``: float32 (K, H, W); ``keypoint_weights``: float32 (1, K), the visibility,
            0 for unlabelled keypoints and for those whose Gaussian misses the heatmap.
        """
        owner = f"{type(self).__name__}.encode"
        keypoints, visible = check_keypoints(owner, keypoints, keypoints_visible)
        if keypoints.shape[0] != 1:
            raise ValueError(
                f"{owner}: heatmaps hold one instance, got keypoints of {keypoints.shape[0]} instances "
                f"(shape {keypoints.shape}); encode each instance on its own"
            )
        weights = visible_weights(keypoints[0], visible[0])
        centers, window_centers = self._gaussian_centers(keypoints[0] / self.scale_factor)
        heatmaps, weights = gaussian_heatmaps(centers, weights, self.heatmap_size, self.sigma, window_centers)
        return {"heatmaps": heatmaps, "keypoint_weights": weights[None]}

    def decode(self, heatmaps: Any) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints of one instance from its heatmaps.

        Args:
            heatmaps: (K, H, W) predicted heatmaps.

        Returns:
            ``(keypoints, scores)``: float32 (1, K, 2) x, y in input-image pixels and float32 (1, K)
            heatmap maxima. A channel whose maximum is <= 0 decodes to heatmap pixel (-1, -1).
        """
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        self._check_heatmaps(f"{type(self).__name__}.decode", tuple(heatmaps.shape), 3, "(K, H, W)")
        locations, scores = heatmap_maximum(heatmaps)
        locations = self._refine(locations, heatmaps)
        return (locations * self.scale_factor)[None].astype(np.float32), scores[None]

    def decode_torch(self, heatmaps: Any) -> tuple[Any, Any]:
        """:meth:`decode` of a batch in PyTorch, free of data-dependent control flow (exportable to ONNX).

        Args:
            heatmaps: (B, K, H, W) float tensor.

        Returns:
            ``(keypoints, scores)``: (B, K, 2) x, y input-image pixels and (B, K), of the input's dtype.
        """
        from . import torch_decoding

        if not torch_decoding.is_tracing():
            self._check_heatmaps(
                f"{type(self).__name__}.decode_torch", tuple(heatmaps.shape), 4, "(B, K, H, W)"
            )
        locations, scores = torch_decoding.heatmap_maximum(heatmaps)
        locations = self._refine_torch(locations, heatmaps)
        scale = torch_decoding.constant(self.scale_factor, heatmaps)
        return locations * scale, scores

    def _check_heatmaps(self, owner: str, shape: tuple[int, ...], ndim: int, layout: str) -> None:
        width, height = self.heatmap_size
        if len(shape) != ndim or shape[-2:] != (height, width):
            raise ValueError(
                f"{owner}: heatmaps must be {layout} with (H, W) = {(height, width)} (heatmap_size "
                f"{self.heatmap_size} is (W, H)), got shape {shape}"
            )

    @abc.abstractmethod
    def _gaussian_centers(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(K, 2) heatmap-pixel keypoints -> the Gaussians' centres and window centres (see
        :func:`gaussian_heatmaps`)."""

    @abc.abstractmethod
    def _refine(self, locations: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
        """(K, 2) integer maxima of (K, H, W) heatmaps -> sub-pixel heatmap locations."""

    @abc.abstractmethod
    def _refine_torch(self, locations: Any, heatmaps: Any) -> Any:
        """:meth:`_refine` on (B, K, 2) maxima of (B, K, H, W) tensors."""
