"""SimpleBaseline's ("MSRA") Gaussian heatmaps, and DARK's unbiased variant.

- Plain (Xiao et al., "Simple Baselines for Human Pose Estimation and Tracking", ECCV 2018): a
  keypoint at input pixel ``p`` sits at heatmap pixel ``p / stride`` (stride = input / heatmap
  size); the target Gaussian peaks at that position rounded to a pixel and is cut at 3 sigma;
  decoding takes the argmax and moves a quarter pixel towards the higher neighbour.
- ``unbiased=True``, DARK (Zhang et al., "Distribution-Aware Coordinate Representation for Human
  Pose Estimation", CVPR 2020): the target Gaussian peaks at the unrounded position (over the whole
  map); decoding blurs the heatmap with a Gaussian kernel, takes its log and refines the argmax by
  one Newton step of the second-order Taylor expansion (:func:`.refinement.refine_dark`).

Both follow MMPose's ``MSRAHeatmap``. Where it differs, on purpose: the rounded centre is
``floor(x + 0.5)`` also for negative coordinates (MMPose truncates towards 0), and a keypoint's
weight is 0 exactly when its 3-sigma window has no pixel on the heatmap (MMPose keeps the weight of
a keypoint whose window ends just before pixel 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import KEYPOINT_CODECS
from .heatmap_codec import HeatmapCodec
from .refinement import refine_dark, refine_quarter_offset

__all__ = ["MSRAHeatmap"]


@KEYPOINT_CODECS.register()
class MSRAHeatmap(HeatmapCodec):
    """Gaussian heatmaps of SimpleBaseline, or DARK's unbiased ones (see the module docstring).

    Args:
        input_size: ``(w, h)`` of the network input, pixels.
        heatmap_size: ``(W, H)`` of the heatmaps (usually a quarter of ``input_size``).
        sigma: the target Gaussian's standard deviation, heatmap pixels.
        unbiased: DARK's encoding and decoding.
        blur_kernel_size: DARK's modulation blur size; OpenCV's sigma for it is
            ``0.3 * ((size - 1) / 2 - 1) + 0.8``, so 11 matches sigma 2 and 17 sigma 3.

    ``encode(keypoints (1, K, 2), keypoints_visible (1, K) | None)`` gives ``heatmaps`` (K, H, W) and
    ``keypoint_weights`` (1, K); ``decode(heatmaps (K, H, W))`` gives keypoints (1, K, 2) in input
    pixels and scores (1, K); ``decode_torch`` decodes (B, K, H, W) tensors.
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        sigma: float = 2.0,
        unbiased: bool = False,
        blur_kernel_size: int = 11,
    ) -> None:
        super().__init__(input_size, heatmap_size, sigma, blur_kernel_size)
        self.unbiased = bool(unbiased)
        self.scale_factor = (np.array(self.input_size) / np.array(self.heatmap_size)).astype(np.float32)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, unbiased={self.unbiased})"

    def _gaussian_centers(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self.unbiased:
            return keypoints, None
        rounded = np.floor(keypoints + 0.5)
        return rounded, rounded

    def _refine(self, locations: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
        if self.unbiased:
            return refine_dark(locations, heatmaps, self.blur_kernel_size)
        return refine_quarter_offset(locations, heatmaps)

    def _refine_torch(self, locations: Any, heatmaps: Any) -> Any:
        from . import torch_decoding

        if self.unbiased:
            return torch_decoding.refine_dark(locations, heatmaps, self.blur_kernel_size)
        return torch_decoding.refine_quarter_offset(locations, heatmaps)
