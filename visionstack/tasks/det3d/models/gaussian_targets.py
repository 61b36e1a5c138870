"""Gaussian heatmap targets and the penalty-reduced focal loss of CenterNet / CenterPoint.

Facts followed (MMDetection's ``gaussian_target.py`` and ``GaussianFocalLoss``, which MMDetection3D's
``CenterHead`` uses):

- :func:`gaussian_radius` is CornerNet's radius (Law & Deng, "CornerNet", section 4.1: the largest
  corner shift that keeps IoU >= ``min_overlap``) computed with MMDetection's three quadratic cases,
  including the ``(b + sqrt(b^2 - 4ac)) / 2`` roots (not divided by ``2a``): the published CenterPoint
  models are trained with these radii, so they are kept.
- :func:`gaussian_2d` has ``sigma = diameter / 6`` in :func:`draw_heatmap_gaussian`; values below
  ``eps * max`` are zeroed.
- :func:`draw_heatmap_gaussian` writes ``max(existing, gaussian)`` (overlapping objects keep both peaks).
- :class:`GaussianFocalLoss` is CornerNet's eq. 1: ``-(1 - p)^alpha log p`` at the peaks (target == 1)
  and ``-(1 - y)^gamma p^alpha log(1 - p)`` elsewhere, alpha 2, gamma 4, ``eps = 1e-12`` in the logs.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ....models.losses.utils import ElementwiseLoss, Reduction
from ....registry import MODELS

__all__ = [
    "GaussianFocalLoss",
    "draw_heatmap_gaussian",
    "gaussian_2d",
    "gaussian_focal_loss",
    "gaussian_radius",
]


def gaussian_radius(det_size: tuple[float, float], min_overlap: float = 0.5) -> float:
    """CornerNet's Gaussian radius of an object of ``det_size = (height, width)`` (in heatmap cells).

    The smallest of the three roots of the cases "both corners inside", "both outside" and "one in,
    one out", as MMDetection computes them.
    """
    height, width = float(det_size[0]), float(det_size[1])
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * c1)) / 2

    a2 = 4.0
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2

    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def gaussian_2d(shape: tuple[int, int], sigma: float = 1.0) -> np.ndarray:
    """An unnormalised 2D Gaussian of ``shape`` (rows, cols), 1 at the centre, tiny values set to 0.

    Returns:
        float64 (rows, cols) array.
    """
    m, n = [(side - 1.0) / 2.0 for side in shape]
    y, x = np.ogrid[-m : m + 1, -n : n + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    return h


def draw_heatmap_gaussian(
    heatmap: torch.Tensor, center: tuple[int, int], radius: int, k: float = 1.0
) -> torch.Tensor:
    """Draw a Gaussian of ``radius`` at integer ``center = (x, y)`` into ``heatmap`` (H, W), in place.

    Each cell becomes ``max(old, k * gaussian)``; the part outside the map is cut off.

    Returns:
        ``heatmap`` (the same tensor).
    """
    radius = int(radius)
    diameter = 2 * radius + 1
    gaussian = torch.from_numpy(gaussian_2d((diameter, diameter), sigma=diameter / 6)).to(heatmap)
    x, y = int(center[0]), int(center[1])
    height, width = heatmap.shape[:2]
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    window = heatmap[y - top : y + bottom, x - left : x + right]
    patch = gaussian[radius - top : radius + bottom, radius - left : radius + right]
    if min(patch.shape) > 0 and min(window.shape) > 0:
        torch.maximum(window, patch * k, out=window)
    return heatmap


def gaussian_focal_loss(
    pred: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, gamma: float = 4.0, eps: float = 1e-12
) -> torch.Tensor:
    """Element-wise penalty-reduced focal loss of probabilities ``pred`` against a Gaussian ``target``."""
    pos_weight = target.eq(1).to(pred.dtype)
    neg_weight = (1 - target).pow(gamma)
    pos_loss = -(pred + eps).log() * (1 - pred).pow(alpha) * pos_weight
    neg_loss = -(1 - pred + eps).log() * pred.pow(alpha) * neg_weight
    return pos_loss + neg_loss


@MODELS.register()
class GaussianFocalLoss(ElementwiseLoss):
    """CornerNet's penalty-reduced focal loss on heatmaps (MMDetection's ``GaussianFocalLoss``).

    Call: ``loss(pred, target, weight=None, avg_factor=None, reduction_override=None)`` with ``pred``
    the probabilities (after a sigmoid, e.g. clamped to [1e-4, 1 - 1e-4]) and ``target`` the Gaussian
    heatmap of the same shape (B, C, H, W); CenterPoint divides the sum by ``avg_factor`` = the
    number of peaks (cells equal to 1).

    Args:
        alpha: exponent of the prediction's focusing term.
        gamma: exponent of ``1 - target`` that reduces the penalty near the peaks.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        loss_weight: multiplies the loss.
    """

    def __init__(
        self, alpha: float = 2.0, gamma: float = 4.0, reduction: Reduction = "mean", loss_weight: float = 1.0
    ) -> None:
        super().__init__(loss_weight, reduction)
        self.alpha = alpha
        self.gamma = gamma

    def elementwise_loss(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if pred.shape != target.shape:
            raise ValueError(
                f"GaussianFocalLoss: pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}"
            )
        return gaussian_focal_loss(pred, target.to(pred.dtype), self.alpha, self.gamma), weight
