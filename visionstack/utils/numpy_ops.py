"""NumPy versions of the few tensor operations that post-processing needs without PyTorch."""

from __future__ import annotations

import numpy as np

__all__ = ["resize_bilinear", "softmax"]


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in float32."""
    shifted = logits.astype(np.float32) - logits.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


def _axis_weights(
    out_len: int, in_len: int, align_corners: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (lo, hi) and the weight of ``hi`` for 1-D bilinear resampling (PyTorch's rule)."""
    out = np.arange(out_len, dtype=np.float64)
    if align_corners:
        src = out * ((in_len - 1) / (out_len - 1)) if out_len > 1 else np.zeros_like(out)
    else:
        src = np.maximum((out + 0.5) * (in_len / out_len) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), in_len - 1)
    hi = np.minimum(lo + 1, in_len - 1)
    return lo, hi, (src - lo).astype(np.float32)


def resize_bilinear(maps: np.ndarray, size: tuple[int, int], align_corners: bool = False) -> np.ndarray:
    """Bilinear resize of (C, H, W) maps to ``size = (h, w)``, as ``F.interpolate(mode="bilinear")``."""
    channels, height, width = maps.shape
    out_h, out_w = int(size[0]), int(size[1])
    if (out_h, out_w) == (height, width):
        return maps
    lo, hi, weight = _axis_weights(out_h, height, align_corners)
    rows = maps[:, lo] * (1 - weight)[None, :, None] + maps[:, hi] * weight[None, :, None]
    lo, hi, weight = _axis_weights(out_w, width, align_corners)
    return rows[:, :, lo] * (1 - weight)[None, None, :] + rows[:, :, hi] * weight[None, None, :]
