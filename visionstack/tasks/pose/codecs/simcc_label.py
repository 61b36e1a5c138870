"""SimCC labels: keypoints as two 1-D classifications over sub-pixel bins (Li et al., "SimCC: a Simple
Coordinate Classification Perspective for Human Pose Estimation", ECCV 2022), as RTMPose trains them.

Each axis of the input is split into ``simcc_split_ratio`` bins per pixel (``round(w * ratio)`` x
bins, ``round(h * ratio)`` y bins); a keypoint at input pixel ``p`` falls in bin ``round(p * ratio)``.
The label of an axis is a Gaussian over the bins around that bin (``smoothing_type="gaussian"``,
sigma in bins, divided by ``sigma * sqrt(2 pi)`` when ``normalize``), or a one-hot vector with
optional label smoothing (``"standard"``). Decoding takes each axis's argmax, optionally refined by
the 1-D DARK step (``use_dark``; away from the vector's ends, see :func:`.refinement.refine_simcc_dark`),
and divides by the ratio; the score is the smaller of the two
maxima. This follows MMPose's ``SimCCLabel``; RTMPose-COCO uses sigma (4.9, 5.66) at 192x256 input,
ratio 2 and ``normalize=False``.

A keypoint's weight is 0 when it is unlabelled, or when its label would miss the bins: for the
Gaussian, when the 3-sigma window around its bin has no bin in range (on either axis); for one-hot
labels, when its bin is outside ``[0, bins)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import KEYPOINT_CODECS, check_keypoints, check_size, visible_weights
from .refinement import blur_kernel_size_for_sigma, refine_simcc_dark, simcc_maximum

__all__ = ["SimCCLabel"]

_SMOOTHING_TYPES = ("gaussian", "standard")


@KEYPOINT_CODECS.register()
class SimCCLabel:
    """SimCC label codec (see the module docstring).

    Args:
        input_size: ``(w, h)`` of the network input, pixels.
        smoothing_type: ``"gaussian"`` labels or ``"standard"`` one-hot labels.
        sigma: the Gaussian's standard deviation in bins, one value or ``(sigma_x, sigma_y)``.
        simcc_split_ratio: bins per input pixel.
        label_smooth_weight: with ``"standard"``, the probability mass spread evenly over the other
            bins (the true bin keeps ``1 - label_smooth_weight``).
        normalize: divide Gaussian labels by ``sigma * sqrt(2 pi)`` (a unit-area Gaussian).
        use_dark: refine the decoded bins with the 1-D DARK step; the blur size follows each
            axis's sigma as MMPose derives it (:func:`.refinement.blur_kernel_size_for_sigma`).

    Attributes:
        label_size: ``(Wx, Wy)``, the number of x and y bins.
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        smoothing_type: str = "gaussian",
        sigma: float | tuple[float, float] = 6.0,
        simcc_split_ratio: float = 2.0,
        label_smooth_weight: float = 0.0,
        normalize: bool = True,
        use_dark: bool = False,
    ) -> None:
        self.input_size = check_size("SimCCLabel", "input_size", input_size)
        if smoothing_type not in _SMOOTHING_TYPES:
            raise ValueError(
                f"SimCCLabel: smoothing_type must be one of {_SMOOTHING_TYPES}, got {smoothing_type!r}"
            )
        sigmas = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (2,)).copy()
        if not (sigmas > 0).all():
            raise ValueError(
                f"SimCCLabel: sigma must be > 0 (one value or (sigma_x, sigma_y)), got {sigma!r}"
            )
        if not simcc_split_ratio > 0:
            raise ValueError(f"SimCCLabel: simcc_split_ratio must be > 0, got {simcc_split_ratio!r}")
        if not 0.0 <= label_smooth_weight <= 1.0:
            raise ValueError(
                f"SimCCLabel: label_smooth_weight must be in [0, 1], got {label_smooth_weight!r}"
            )
        if smoothing_type == "gaussian" and label_smooth_weight > 0:
            raise ValueError("SimCCLabel: label_smooth_weight applies to smoothing_type='standard' only")
        self.smoothing_type = smoothing_type
        self.sigma = sigmas
        self.simcc_split_ratio = float(simcc_split_ratio)
        self.label_smooth_weight = float(label_smooth_weight)
        self.normalize = bool(normalize)
        self.use_dark = bool(use_dark)
        width, height = self.input_size
        self.label_size = (round(width * self.simcc_split_ratio), round(height * self.simcc_split_ratio))
        self.blur_kernel_sizes = tuple(blur_kernel_size_for_sigma(value) for value in self.sigma)
        if use_dark and min(self.blur_kernel_sizes) < 1:
            raise ValueError(
                f"SimCCLabel: use_dark needs sigma >= 0.5 bins for its blur, got {tuple(self.sigma)}"
            )

    def __repr__(self) -> str:
        return (
            f"SimCCLabel(input_size={self.input_size}, smoothing_type={self.smoothing_type!r}, "
            f"sigma={tuple(self.sigma.tolist())}, simcc_split_ratio={self.simcc_split_ratio}, "
            f"normalize={self.normalize}, use_dark={self.use_dark})"
        )

    def encode(self, keypoints: Any, keypoints_visible: Any | None = None) -> dict[str, np.ndarray]:
        """SimCC labels of N instances.

        Args:
            keypoints: (N, K, 2) x, y in input-image pixels.
            keypoints_visible: (N, K) visibility (>= 0.5 counts as labelled) or None for all.

        Returns:
            ``keypoint_x_labels`` float32 (N, K, Wx), ``keypoint_y_labels`` float32 (N, K, Wy) and
            ``keypoint_weights`` float32 (N, K) (0 for unlabelled or out-of-range keypoints, whose
            labels are all zeros).
        """
        keypoints, visible = check_keypoints("SimCCLabel.encode", keypoints, keypoints_visible)
        weights = visible_weights(keypoints, visible)
        bins = np.rint(np.where(weights[..., None] > 0, keypoints, 0.0) * self.simcc_split_ratio)
        sizes = np.array(self.label_size)
        if self.smoothing_type == "gaussian":
            radius = 3 * self.sigma
            in_range = ((bins - radius <= sizes - 1) & (bins + radius >= 0)).all(axis=-1)
        else:
            in_range = ((bins >= 0) & (bins <= sizes - 1)).all(axis=-1)
        weights = np.where(in_range, weights, 0.0).astype(np.float32)
        labels = [self._axis_labels(bins[..., axis], axis) * (weights > 0)[..., None] for axis in (0, 1)]
        return {
            "keypoint_x_labels": labels[0].astype(np.float32),
            "keypoint_y_labels": labels[1].astype(np.float32),
            "keypoint_weights": weights,
        }

    def _axis_labels(self, bins: np.ndarray, axis: int) -> np.ndarray:
        """(N, K) integer-valued bins of one axis -> (N, K, L) float64 labels."""
        positions = np.arange(self.label_size[axis], dtype=np.float64)
        if self.smoothing_type == "gaussian":
            sigma = self.sigma[axis]
            labels = np.exp(-((positions - bins[..., None]) ** 2) / (2 * sigma**2))
            return labels / (sigma * math.sqrt(2 * math.pi)) if self.normalize else labels
        one_hot = positions == bins[..., None]
        spread = self.label_smooth_weight / max(self.label_size[axis] - 1, 1)
        return np.where(one_hot, 1.0 - self.label_smooth_weight, spread)

    def decode(self, simcc_x: Any, simcc_y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints from SimCC vectors.

        Args:
            simcc_x: (N, K, Wx) x-axis vectors (or (K, Wx) for one instance).
            simcc_y: (N, K, Wy) y-axis vectors (or (K, Wy)).

        Returns:
            ``(keypoints, scores)``: float32 (N, K, 2) x, y in input-image pixels and float32 (N, K);
            a keypoint whose score is <= 0 decodes to bin -1 on both axes.
        """
        simcc_x = np.asarray(simcc_x, dtype=np.float32)
        simcc_y = np.asarray(simcc_y, dtype=np.float32)
        self._check_vectors("SimCCLabel.decode", tuple(simcc_x.shape), tuple(simcc_y.shape), (2, 3))
        if simcc_x.ndim == 2:
            simcc_x, simcc_y = simcc_x[None], simcc_y[None]
        bins, scores = simcc_maximum(simcc_x, simcc_y)
        if self.use_dark:
            bins = np.stack(
                [
                    refine_simcc_dark(bins[..., 0], simcc_x, self.blur_kernel_sizes[0]),
                    refine_simcc_dark(bins[..., 1], simcc_y, self.blur_kernel_sizes[1]),
                ],
                axis=-1,
            )
        return (bins / self.simcc_split_ratio).astype(np.float32), scores

    def decode_torch(self, simcc_x: Any, simcc_y: Any) -> tuple[Any, Any]:
        """:meth:`decode` of a batch in PyTorch, free of data-dependent control flow (exportable to ONNX).

        Args:
            simcc_x: (B, K, Wx) tensor; simcc_y: (B, K, Wy) tensor.

        Returns:
            ``(keypoints, scores)``: (B, K, 2) x, y input-image pixels and (B, K).
        """
        import torch

        from . import torch_decoding

        if not torch_decoding.is_tracing():
            self._check_vectors("SimCCLabel.decode_torch", tuple(simcc_x.shape), tuple(simcc_y.shape), (3,))
        bins, scores = torch_decoding.simcc_maximum(simcc_x, simcc_y)
        if self.use_dark:
            bins = torch.stack(
                [
                    torch_decoding.refine_simcc_dark(bins[..., 0], simcc_x, self.blur_kernel_sizes[0]),
                    torch_decoding.refine_simcc_dark(bins[..., 1], simcc_y, self.blur_kernel_sizes[1]),
                ],
                dim=-1,
            )
        return bins / self.simcc_split_ratio, scores

    @staticmethod
    def _check_vectors(
        owner: str, shape_x: tuple[int, ...], shape_y: tuple[int, ...], ndims: tuple[int, ...]
    ) -> None:
        layout = " or ".join({2: "(K, L)", 3: "(N, K, L)"}[ndim] for ndim in ndims)
        if len(shape_x) not in ndims or len(shape_y) != len(shape_x) or shape_x[:-1] != shape_y[:-1]:
            raise ValueError(
                f"{owner}: simcc_x and simcc_y must both be {layout} with the same leading dimensions, "
                f"got shapes {shape_x} and {shape_y}"
            )
