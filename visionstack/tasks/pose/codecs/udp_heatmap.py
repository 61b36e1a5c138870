"""UDP's Gaussian heatmaps (Huang et al., "The Devil is in the Details: Delving into Unbiased Data
Processing for Human Pose Estimation", CVPR 2020), the Gaussian target type of MMPose's ``UDPHeatmap``.

UDP measures sizes in pixel *intervals*: the first and last pixel centres of the input map onto the
first and last heatmap pixel centres, so input pixel ``p`` sits at heatmap pixel
``p * (heatmap_size - 1) / (input_size - 1)``, with no half-pixel bias between the two grids.
The target Gaussian peaks at that unrounded position, cut at 3 sigma around the rounded one.
Decoding refines the argmax with the Newton step of :func:`.refinement.refine_udp` (log of the
blurred heatmap, step-1 differences) and maps back by ``(input_size - 1) / (heatmap_size - 1)``,
the exact inverse of the encoding.

Note for callers mapping keypoints back to the image: MMPose's ``UDPHeatmap.decode`` multiplies by
``input_size / (heatmap_size - 1)`` instead, because its top-down inverse then divides by
``input_size``; this codec returns true input pixels, so invert the UDP affine warp itself
(``(input_size - 1) / bbox_size``) to reach the image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import KEYPOINT_CODECS
from .heatmap_codec import HeatmapCodec
from .refinement import refine_udp

__all__ = ["UDPHeatmap"]


@KEYPOINT_CODECS.register()
class UDPHeatmap(HeatmapCodec):
    """Unbiased-data-processing Gaussian heatmaps (see the module docstring).

    Args:
        input_size: ``(w, h)`` of the network input, pixels (at least 2 each).
        heatmap_size: ``(W, H)`` of the heatmaps (at least 2 each).
        sigma: the target Gaussian's standard deviation, heatmap pixels.
        blur_kernel_size: the modulation blur size of the refinement (11 for sigma 2).

    ``encode(keypoints (1, K, 2), keypoints_visible (1, K) | None)`` gives ``heatmaps`` (K, H, W) and
    ``keypoint_weights`` (1, K); ``decode(heatmaps (K, H, W))`` gives keypoints (1, K, 2) in input
    pixels and scores (1, K); ``decode_torch`` decodes (B, K, H, W) tensors.
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        sigma: float = 2.0,
        blur_kernel_size: int = 11,
    ) -> None:
        super().__init__(input_size, heatmap_size, sigma, blur_kernel_size)
        if min(self.input_size) < 2 or min(self.heatmap_size) < 2:
            raise ValueError(
                f"UDPHeatmap: input_size and heatmap_size need at least 2 pixels per side (UDP scales by "
                f"size - 1), got {self.input_size} and {self.heatmap_size}"
            )
        input_intervals = np.array(self.input_size) - 1
        heatmap_intervals = np.array(self.heatmap_size) - 1
        self.scale_factor = (input_intervals / heatmap_intervals).astype(np.float32)

    def _gaussian_centers(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return keypoints, np.floor(keypoints + 0.5)

    def _refine(self, locations: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
        return refine_udp(locations, heatmaps, self.blur_kernel_size)

    def _refine_torch(self, locations: Any, heatmaps: Any) -> Any:
        from . import torch_decoding

        return torch_decoding.refine_udp(locations, heatmaps, self.blur_kernel_size)
