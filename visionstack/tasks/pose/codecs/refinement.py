"""NumPy decoding steps of the keypoint codecs: maxima, Gaussian modulation and sub-pixel refinement.

- :func:`heatmap_maximum` / :func:`simcc_maximum`: the argmax and its value (MMPose's
  ``get_heatmap_maximum`` / ``get_simcc_maximum``: a non-positive maximum gives location -1).
- :func:`refine_quarter_offset`: SimpleBaseline's shift of a quarter pixel towards the higher
  neighbour (Xiao et al., ECCV 2018).
- :func:`refine_dark`: DARK (Zhang et al., "Distribution-Aware Coordinate Representation for Human
  Pose Estimation", CVPR 2020, Sec. 3.1): modulate the heatmap with a Gaussian blur, take its log,
  and move by one Newton step ``-H^-1 g`` of the second-order Taylor expansion at the maximum,
  with central differences of step 2 for the second derivatives (as MMPose's ``refine_keypoints_dark``).
- :func:`refine_udp`: the same Newton step as UDP's decoding does it (Huang et al., "The Devil is in
  the Details: Delving into Unbiased Data Processing", CVPR 2020; MMPose's
  ``refine_keypoints_dark_udp``): log of the blurred map clipped to [1e-3, 50], differences of step
  1, edge-replicated borders, the Hessian regularized by float32 epsilon.
- :func:`refine_simcc_dark`: the 1-D version for SimCC vectors.

The blur is OpenCV's ``GaussianBlur`` with sigma 0 (the sigma follows the kernel size) on a
zero-padded map, rescaled to the map's original maximum; :func:`opencv_gaussian_kernel` reproduces
OpenCV's kernel so no OpenCV call is needed. Everything is float32, as MMPose computes it.
``torch_decoding`` holds the PyTorch twins of these functions (same arithmetic, exportable to ONNX).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "blur_kernel_size_for_sigma",
    "gaussian_blur",
    "heatmap_maximum",
    "opencv_gaussian_kernel",
    "refine_dark",
    "refine_quarter_offset",
    "refine_simcc_dark",
    "refine_udp",
    "simcc_maximum",
]

# OpenCV's fixed kernels for sizes 1-7 with sigma <= 0 (getGaussianKernel's small_gaussian_tab)
_SMALL_KERNELS = {
    1: (1.0,),
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
}


def opencv_gaussian_kernel(size: int) -> np.ndarray:
    """OpenCV's ``getGaussianKernel(size, 0)``: (size,) float32 weights summing to 1.

    The sigma follows the size as OpenCV sets it, ``0.3 * ((size - 1) / 2 - 1) + 0.8`` (sigma 2 for
    size 11, about 3 for 17); sizes up to 7 use OpenCV's fixed binomial-like tables.
    """
    if size < 1 or size % 2 != 1:
        raise ValueError(
            f"opencv_gaussian_kernel: the blur kernel size must be a positive odd int, got {size}"
        )
    if size in _SMALL_KERNELS:
        return np.asarray(_SMALL_KERNELS[size], dtype=np.float32)
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    return (kernel / kernel.sum()).astype(np.float32)


def blur_kernel_size_for_sigma(sigma: float) -> int:
    """The SimCC DARK blur size MMPose derives from a label sigma: ``(20 sigma - 7) // 3``, made odd downwards."""
    size = int((sigma * 20 - 7) // 3)
    return size - 1 if size % 2 == 0 else size


def gaussian_blur(maps: np.ndarray, kernel_size: int, ndim: int = 2) -> np.ndarray:
    """Blur the last ``ndim`` axes of ``maps`` (zero padding) and rescale each map to its original maximum.

    Args:
        maps: (..., H, W) heatmaps (``ndim=2``) or (..., L) SimCC vectors (``ndim=1``).
        kernel_size: odd size of OpenCV's Gaussian kernel (see :func:`opencv_gaussian_kernel`).
        ndim: how many trailing axes to blur.

    Returns:
        float32 array of the shape of ``maps``; a map whose blur has maximum 0 becomes all zeros.
    """
    kernel = opencv_gaussian_kernel(kernel_size)
    maps = np.asarray(maps, dtype=np.float32)
    blurred = maps
    for axis in range(maps.ndim - 1, maps.ndim - 1 - ndim, -1):  # x first, as OpenCV's separable filter
        blurred = _correlate_same(blurred, kernel, axis)
    axes = tuple(range(maps.ndim - ndim, maps.ndim))
    original_max = maps.max(axis=axes, keepdims=True)
    blurred_max = blurred.max(axis=axes, keepdims=True)
    ratio = np.divide(original_max, blurred_max, out=np.zeros_like(blurred_max), where=blurred_max != 0)
    return blurred * ratio


def _correlate_same(values: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Zero-padded correlation with an odd 1-D kernel along ``axis``, output the size of the input."""
    border = len(kernel) // 2
    length = values.shape[axis]
    pad = [(0, 0)] * values.ndim
    pad[axis] = (border, border)
    padded = np.pad(values, pad)
    out = np.zeros_like(values)
    for tap, weight in enumerate(kernel):
        out += weight * np.take(padded, np.arange(tap, tap + length), axis=axis)
    return out


def heatmap_maximum(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Location and value of each heatmap's maximum (the first one in row-major order).

    Args:
        heatmaps: (..., H, W).

    Returns:
        ``(locations, scores)``: float32 (..., 2) x, y heatmap pixels (-1, -1 where the maximum is
        <= 0) and float32 (...) maxima.
    """
    height, width = heatmaps.shape[-2:]
    flat = heatmaps.reshape(*heatmaps.shape[:-2], height * width)
    index = flat.argmax(axis=-1)
    scores = flat.max(axis=-1).astype(np.float32)
    locations = np.stack([index % width, index // width], axis=-1).astype(np.float32)
    locations[scores <= 0] = -1
    return locations, scores


def simcc_maximum(simcc_x: np.ndarray, simcc_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bins and score of SimCC vectors: the argmax per axis; the score is the smaller of the two maxima.

    Args:
        simcc_x: (..., Wx) x-axis vectors; simcc_y: (..., Wy) y-axis vectors.

    Returns:
        ``(locations, scores)``: float32 (..., 2) bins (-1, -1 where the score is <= 0) and float32 (...).
    """
    locations = np.stack([simcc_x.argmax(axis=-1), simcc_y.argmax(axis=-1)], axis=-1).astype(np.float32)
    scores = np.minimum(simcc_x.max(axis=-1), simcc_y.max(axis=-1)).astype(np.float32)
    locations[scores <= 0] = -1
    return locations, scores


class _Sampler:
    """Reads ``maps[k, y + dy, x + dx]`` at every keypoint, the indices clipped into the map."""

    def __init__(self, maps: np.ndarray, locations: np.ndarray) -> None:
        self.maps = maps.reshape(-1, *maps.shape[-2:])
        self.height, self.width = self.maps.shape[-2:]
        flat = locations.reshape(-1, 2).astype(np.int64)
        self.x, self.y = flat[:, 0], flat[:, 1]
        self.channel = np.arange(len(flat))

    def __call__(self, dx: int, dy: int) -> np.ndarray:
        y = np.clip(self.y + dy, 0, self.height - 1)
        x = np.clip(self.x + dx, 0, self.width - 1)
        return self.maps[self.channel, y, x]


def refine_quarter_offset(locations: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Shift each maximum by 0.25 pixel towards its higher neighbour, per axis.

    The bounds are MMPose's ``refine_keypoints``: x moves when ``1 < x < W - 1`` (and y inside the
    map), y when ``1 < y < H - 1``; equal neighbours (or a -1 location) leave the axis unchanged.

    Args:
        locations: (..., 2) integer-valued x, y maxima; heatmaps: (..., H, W) of the same leading shape.

    Returns:
        float32 (..., 2) refined locations.
    """
    at = _Sampler(heatmaps, locations)
    x, y, width, height = at.x, at.y, at.width, at.height
    move_x = (x > 1) & (x < width - 1) & (y > 0) & (y < height)
    move_y = (y > 1) & (y < height - 1) & (x > 0) & (x < width)
    dx = np.where(move_x, at(1, 0) - at(-1, 0), 0)
    dy = np.where(move_y, at(0, 1) - at(0, -1), 0)
    offset = np.stack([np.sign(dx), np.sign(dy)], axis=-1).astype(np.float32) * 0.25
    return (locations.reshape(-1, 2) + offset).reshape(locations.shape).astype(np.float32)


def refine_dark(locations: np.ndarray, heatmaps: np.ndarray, kernel_size: int) -> np.ndarray:
    """DARK's Taylor refinement (see the module docstring) of the maxima of ``heatmaps``.

    Applied where ``1 < x < W - 2`` and ``1 < y < H - 2`` (all five-point differences inside the
    map) and the Hessian's determinant is non-zero; other locations are returned unchanged.

    Args:
        locations: (..., 2) integer-valued maxima; heatmaps: (..., H, W) raw heatmaps.
        kernel_size: the modulation blur size (11 for training sigma 2).

    Returns:
        float32 (..., 2) refined locations.
    """
    log_maps = np.log(np.maximum(gaussian_blur(heatmaps, kernel_size), 1e-10))
    at = _Sampler(log_maps, locations)
    inside = (at.x > 1) & (at.x < at.width - 2) & (at.y > 1) & (at.y < at.height - 2)
    gx = 0.5 * (at(1, 0) - at(-1, 0))
    gy = 0.5 * (at(0, 1) - at(0, -1))
    hxx = 0.25 * (at(2, 0) - 2 * at(0, 0) + at(-2, 0))
    hyy = 0.25 * (at(0, 2) - 2 * at(0, 0) + at(0, -2))
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    offset = _newton_offset(gx, gy, hxx, hxy, hyy, inside)
    return (locations.reshape(-1, 2) + offset).reshape(locations.shape).astype(np.float32)


def refine_udp(locations: np.ndarray, heatmaps: np.ndarray, kernel_size: int) -> np.ndarray:
    """UDP's Newton refinement (see the module docstring); locations of -1 (no maximum) stay.

    Args:
        locations: (..., 2) integer-valued maxima; heatmaps: (..., H, W) raw heatmaps.
        kernel_size: the modulation blur size.

    Returns:
        float32 (..., 2) refined locations.
    """
    log_maps = np.log(np.clip(gaussian_blur(heatmaps, kernel_size), 1e-3, 50.0))
    at = _Sampler(log_maps, locations)
    center = at(0, 0)
    right, left, down, up = at(1, 0), at(-1, 0), at(0, 1), at(0, -1)
    gx, gy = 0.5 * (right - left), 0.5 * (down - up)
    eps = np.finfo(np.float32).eps
    hxx = right - 2 * center + left + eps
    hyy = down - 2 * center + up + eps
    hxy = 0.5 * (at(1, 1) - right - down + 2 * center - left - up + at(-1, -1))
    offset = _newton_offset(gx, gy, hxx, hxy, hyy, at.x >= 0)
    return (locations.reshape(-1, 2) + offset).reshape(locations.shape).astype(np.float32)


def _newton_offset(
    gx: np.ndarray, gy: np.ndarray, hxx: np.ndarray, hxy: np.ndarray, hyy: np.ndarray, apply: np.ndarray
) -> np.ndarray:
    """(M, 2) float32 ``-H^-1 g`` of the symmetric 2x2 Hessians, zero where ``apply`` is False or H is singular."""
    det = hxx * hyy - hxy * hxy
    apply = apply & (det != 0)
    safe_det = np.where(apply, det, 1)
    offset_x = -(hyy * gx - hxy * gy) / safe_det
    offset_y = -(hxx * gy - hxy * gx) / safe_det
    return np.where(apply[:, None], np.stack([offset_x, offset_y], axis=-1), 0).astype(np.float32)


def refine_simcc_dark(bins: np.ndarray, simcc: np.ndarray, kernel_size: int) -> np.ndarray:
    """One-axis DARK for SimCC (MMPose's ``refine_simcc_dark``): a 1-D Newton step on the log of the blurred vector.

    Args:
        bins: (...) integer-valued argmax bins (-1 where there is no maximum).
        simcc: (..., L) vectors of the same leading shape.
        kernel_size: odd blur size (:func:`blur_kernel_size_for_sigma`).

    Returns:
        float32 (...) refined bins: ``bin - g / (1e-9 + h)`` with ``g`` the step-1 and ``h`` the
        step-2 central difference, where the five taps lie inside the vector (``2 <= bin <= L - 3``,
        heatmap DARK's rule); other bins stay. MMPose repeats the edge values instead and refines
        every bin, which near the ends divides by a near-zero difference (jumps of 100+ bins).
    """
    log_simcc = np.log(np.clip(gaussian_blur(simcc, kernel_size, ndim=1), 1e-3, 50.0))
    length = log_simcc.shape[-1]
    flat = log_simcc.reshape(-1, length)
    index = bins.reshape(-1).astype(np.int64)
    rows = np.arange(len(index))

    def at(shift: int) -> np.ndarray:
        return flat[rows, np.clip(index + shift, 0, length - 1)]

    gradient = 0.5 * (at(1) - at(-1))
    curvature = 1e-9 + 0.25 * (at(2) - 2 * at(0) + at(-2))
    offset = np.where((index >= 2) & (index <= length - 3), gradient / curvature, 0)
    return (bins.reshape(-1) - offset).reshape(bins.shape).astype(np.float32)
