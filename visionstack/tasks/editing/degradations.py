"""Image degradations for restoration training and benchmarks (NumPy + OpenCV only, no PyTorch).

- :func:`imresize`: MATLAB's ``imresize(..., 'bicubic')`` (antialiased bicubic, the kernel of Keys 1981
  with a = -0.5), the down-sampling behind DIV2K's ``LR_bicubic`` and Set5's ``LRbic`` images.
- :func:`gaussian_kernel`, :func:`gaussian_blur`: isotropic or axis-aligned Gaussian blur, ``reflect``
  borders (``d c b a | a b c d | d c b a``, SciPy's ``mode="reflect"``, OpenCV's ``BORDER_REFLECT``).
- :func:`add_gaussian_noise`: additive white Gaussian noise in 0..255 units, float32, not clipped (as the
  denoising benchmarks add it: sigma = 25 means 25 grey levels).
- :func:`jpeg_compress`: an OpenCV JPEG encode/decode round trip.
- :class:`Degradation` / :func:`random_degradation`: the first-order chain of Real-ESRGAN (Wang et al.
  2021, Sec. 3.1) simplified: Gaussian blur -> MATLAB-bicubic down-sampling -> Gaussian noise -> JPEG.

Images are (H, W) or (H, W, C) arrays (BGR for colour; the operations act per channel). Rounding to uint8
is half away from zero, as MATLAB rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "Degradation",
    "add_gaussian_noise",
    "cubic_kernel",
    "gaussian_blur",
    "gaussian_kernel",
    "imresize",
    "jpeg_compress",
    "random_degradation",
    "resize_weights",
    "round_to_uint8",
]


# ---- MATLAB bicubic --------------------------------------------------------------------------------
def cubic_kernel(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``), support [-2, 2]."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = 1.5 * ax3 - 2.5 * ax2 + 1.0
    outer = -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    return np.where(ax <= 1.0, inner, np.where(ax <= 2.0, outer, 0.0))


def resize_weights(
    in_length: int, out_length: int, scale: float, antialias: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The taps of a 1-D MATLAB bicubic resize (MATLAB's ``contributions``).

    Output pixel x (1-based) reads at input position ``u = x / scale + 0.5 * (1 - 1 / scale)``; when
    down-sampling with ``antialias`` the kernel is stretched by ``1 / scale`` (and scaled by ``scale``);
    the weights of an output pixel are normalised to sum 1; indices outside the input are mirrored
    (symmetric: ``... 2 1 | 1 2 ... n | n n-1 ...``).

    Args:
        in_length: input size along the axis.
        out_length: output size along the axis.
        scale: output / input scale factor.
        antialias: stretch the kernel when ``scale < 1``.

    Returns:
        ``weights`` (out_length, P) float64 and ``indices`` (out_length, P) int64, 0-based.
    """
    stretch = antialias and scale < 1.0
    kernel_width = 4.0 / scale if stretch else 4.0
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based
    distance = u[:, None] - indices
    weights = scale * cubic_kernel(scale * distance) if stretch else cubic_kernel(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # drop the tap columns that are zero for every output pixel (MATLAB does the same)
    used = np.any(weights != 0.0, axis=0)
    first, last = np.argmax(used), len(used) - np.argmax(used[::-1])
    weights, indices = weights[:, first:last], indices[:, first:last].astype(np.int64) - 1
    period = 2 * in_length  # symmetric extension: 0..n-1 then n-1..0
    indices = np.mod(indices, period)
    indices = np.where(indices < in_length, indices, period - 1 - indices)
    return weights, indices


def _resize_axis(img: np.ndarray, axis: int, out_length: int, scale: float, antialias: bool) -> np.ndarray:
    weights, indices = resize_weights(img.shape[axis], out_length, scale, antialias)
    shape = [1] * img.ndim
    shape[axis] = out_length
    out = np.zeros(img.shape[:axis] + (out_length,) + img.shape[axis + 1 :], dtype=np.float64)
    for tap in range(weights.shape[1]):
        out += np.take(img, indices[:, tap], axis=axis) * weights[:, tap].reshape(shape)
    return out


def _output_size(in_size: tuple[int, int], scale: float | Sequence[float] | None, output_shape) -> tuple:
    if (scale is None) == (output_shape is None):
        raise ValueError("imresize: give exactly one of `scale` and `output_shape`")
    if output_shape is not None:
        out = tuple(int(s) for s in output_shape)
        if len(out) != 2 or min(out) < 1:
            raise ValueError(f"imresize: output_shape must be (h, w) of positive ints, got {output_shape}")
        return out, (out[0] / in_size[0], out[1] / in_size[1])
    scales = (float(scale), float(scale)) if np.isscalar(scale) else tuple(float(s) for s in scale)
    if len(scales) != 2 or min(scales) <= 0:
        raise ValueError(f"imresize: scale must be positive (one value or (h, w)), got {scale}")
    # MATLAB: ceil(scale * size); the tolerance keeps 12 * (1 / 3) at 4, not 5
    out = tuple(max(1, math.ceil(n * s - 1e-9)) for n, s in zip(in_size, scales))
    return out, scales


def imresize(
    img: np.ndarray,
    scale: float | Sequence[float] | None = None,
    output_shape: Sequence[int] | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """Resize like MATLAB's ``imresize(img, scale, 'bicubic')`` (or ``imresize(img, [h w], 'bicubic')``).

    Separable, float64 inside, the dimension with the smaller scale first (MATLAB's order; the height
    first on ties). With ``scale`` the output size is ``ceil(scale * size)`` and the kernel uses ``scale``
    itself; with ``output_shape`` the scale of each axis is ``out / in``.

    MATLAB's own uint8 path rounds the intermediate image to uint8 between the two passes; here it stays
    float64 (as BasicSR's and MMagic's ports do), so a pixel may differ from MATLAB's by one grey level.

    Args:
        img: (H, W) or (H, W, C) image, uint8 or float.
        scale: output / input factor (``0.5`` halves), one value or (scale_h, scale_w).
        output_shape: (h, w) of the output, instead of ``scale``.
        antialias: stretch the kernel when down-sampling (MATLAB's default ``Antialiasing`` true).

    Returns:
        uint8 in -> uint8 out (clipped to 0..255, rounded half away from zero); float in -> the same
        float dtype out (not clipped); other integer types -> float64.
    """
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize: expected an (H, W) or (H, W, C) image, got shape {img.shape}")
    (out_h, out_w), (scale_h, scale_w) = _output_size(img.shape[:2], scale, output_shape)
    out = img.astype(np.float64)
    passes = [(0, out_h, scale_h), (1, out_w, scale_w)]
    for axis, length, axis_scale in sorted(passes, key=lambda p: p[2]):  # stable: height first on ties
        out = _resize_axis(out, axis, length, axis_scale, antialias)
    if img.dtype == np.uint8:
        return round_to_uint8(out)
    if np.issubdtype(img.dtype, np.floating):
        return out.astype(img.dtype)
    return out


def round_to_uint8(img: np.ndarray) -> np.ndarray:
    """Clip to 0..255 and round half away from zero (MATLAB's ``uint8(x)``), as uint8."""
    return np.floor(np.clip(img, 0.0, 255.0) + 0.5).astype(np.uint8)


# ---- blur, noise, JPEG ----------------------------------------------------------------------------
def _pair(value: float | Sequence[float]) -> tuple[float, float]:
    if np.isscalar(value):
        return float(value), float(value)
    first, second = value
    return float(first), float(second)


def _gaussian_1d(size: int, sigma: float) -> np.ndarray:
    if size < 1 or size % 2 == 0:
        raise ValueError(f"Gaussian kernel size must be a positive odd number, got {size}")
    if sigma <= 0:
        raise ValueError(f"Gaussian sigma must be positive, got {sigma}")
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_kernel(size: int | Sequence[int], sigma: float | Sequence[float]) -> np.ndarray:
    """A normalised 2-D Gaussian kernel, float64 (kh, kw), sum 1.

    Args:
        size: odd kernel size, one value or (kh, kw).
        sigma: standard deviation in pixels, one value or (sigma_y, sigma_x).
    """
    size_h, size_w = (int(s) for s in _pair(size))
    sigma_y, sigma_x = _pair(sigma)
    return np.outer(_gaussian_1d(size_h, sigma_y), _gaussian_1d(size_w, sigma_x))


def _default_size(sigma: float) -> int:
    # SciPy's default extent: radius = round(4 sigma)
    return 2 * int(4.0 * sigma + 0.5) + 1


def gaussian_blur(
    img: np.ndarray, sigma: float | Sequence[float], size: int | Sequence[int] | None = None
) -> np.ndarray:
    """Gaussian blur with ``reflect`` borders (``d c b a | a b c d``), float64 inside.

    Equal to ``scipy.ndimage.gaussian_filter(img, (sigma_y, sigma_x, 0), mode="reflect",
    truncate=radius / sigma)`` with ``radius = (size - 1) // 2``; the default ``size`` is
    ``2 * round(4 sigma) + 1``, SciPy's default ``truncate=4``.

    Args:
        img: (H, W) or (H, W, C) image.
        sigma: standard deviation in pixels, one value or (sigma_y, sigma_x).
        size: odd kernel size, one value or (kh, kw); from sigma when None.

    Returns:
        uint8 in -> uint8 out (rounded half away from zero); float in -> the same float dtype out.
    """
    img = np.asarray(img)
    sigma_y, sigma_x = _pair(sigma)
    size_h, size_w = (
        (_default_size(sigma_y), _default_size(sigma_x)) if size is None else (int(s) for s in _pair(size))
    )
    kernel_y, kernel_x = _gaussian_1d(size_h, sigma_y), _gaussian_1d(size_w, sigma_x)
    source = img.astype(np.float64)
    channels = [source] if source.ndim == 2 else [source[..., c] for c in range(source.shape[2])]
    # channel by channel: OpenCV filters at most 4 channels at once
    blurred = [
        cv2.sepFilter2D(
            np.ascontiguousarray(c), cv2.CV_64F, kernel_x, kernel_y, borderType=cv2.BORDER_REFLECT
        )
        for c in channels
    ]
    out = blurred[0] if source.ndim == 2 else np.stack(blurred, axis=-1)
    if img.dtype == np.uint8:
        return round_to_uint8(out)
    return out.astype(img.dtype) if np.issubdtype(img.dtype, np.floating) else out


def add_gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``img + sigma * N(0, 1)``, float32 in 0..255 units, not clipped nor rounded.

    The noise is drawn with ``rng.standard_normal(img.shape)`` (float64) and added in float64.
    """
    img = np.asarray(img)
    if sigma < 0:
        raise ValueError(f"add_gaussian_noise: sigma must be >= 0, got {sigma}")
    noise = rng.standard_normal(img.shape)
    return (img.astype(np.float64) + float(sigma) * noise).astype(np.float32)


def jpeg_compress(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at ``quality`` (1..100) and decode with OpenCV; uint8 of the input's shape.

    Float images are clipped and rounded to uint8 first (JPEG holds 8 bits).
    """
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"jpeg_compress: quality must be in 1..100, got {quality}")
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = round_to_uint8(img)
    ok, encoded = cv2.imencode(".jpg", img, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError(f"jpeg_compress: OpenCV could not encode an image of shape {img.shape}")
    flag = cv2.IMREAD_GRAYSCALE if img.ndim == 2 or img.shape[2] == 1 else cv2.IMREAD_COLOR
    decoded = cv2.imdecode(encoded, flag)
    return decoded.reshape(img.shape)


# ---- the degradation chain -------------------------------------------------------------------------
@dataclass(frozen=True)
class Degradation:
    """One draw of the blur -> down-sample -> noise -> JPEG chain.

    Attributes:
        blur_sigma: Gaussian blur sigma in HR pixels (0: no blur).
        scale: integer down-sampling factor (MATLAB bicubic, 1: none).
        noise_sigma: Gaussian noise sigma in grey levels (0: no noise).
        jpeg_quality: JPEG quality 1..100 (None: no JPEG).
    """

    blur_sigma: float = 0.0
    scale: int = 1
    noise_sigma: float = 0.0
    jpeg_quality: int | None = None

    def apply(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Degrade ``img`` (uint8 or float, (H, W[, C])); uint8 out, ceil(H / scale) x ceil(W / scale).

        ``rng`` draws the noise. The image is rounded to uint8 at the end (before or by the JPEG step).
        """
        out = np.asarray(img).astype(np.float64)
        if self.blur_sigma > 0:
            out = gaussian_blur(out, self.blur_sigma)
        if self.scale != 1:
            out = imresize(out, 1.0 / self.scale)
        if self.noise_sigma > 0:
            out = add_gaussian_noise(out, self.noise_sigma, rng)
        if self.jpeg_quality is not None:
            return jpeg_compress(out, self.jpeg_quality)
        return round_to_uint8(out)


def random_degradation(
    img: np.ndarray,
    rng: np.random.Generator,
    scale: int = 4,
    blur_sigma: tuple[float, float] = (0.2, 3.0),
    noise_sigma: tuple[float, float] = (1.0, 30.0),
    jpeg_quality: tuple[int, int] = (30, 95),
) -> tuple[np.ndarray, Degradation]:
    """Real-ESRGAN's first-order degradation, simplified, with parameters drawn from ``rng``.

    Real-ESRGAN (Wang et al. 2021) draws generalised/plateau/sinc blur kernels, a random resize
    (area/bilinear/bicubic, up or down), Gaussian or Poisson noise (colour or grey) and JPEG, twice. Here:
    an isotropic Gaussian blur (sigma uniform in ``blur_sigma``), MATLAB-bicubic down-sampling by
    ``scale``, colour Gaussian noise (sigma uniform in ``noise_sigma``), JPEG (quality uniform integer in
    ``jpeg_quality``, both ends included), once.

    Returns:
        the degraded uint8 image and the :class:`Degradation` drawn (``apply`` it to another image
        with the same parameters).
    """
    degradation = Degradation(
        blur_sigma=float(rng.uniform(*blur_sigma)),
        scale=int(scale),
        noise_sigma=float(rng.uniform(*noise_sigma)),
        jpeg_quality=int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1)),
    )
    return degradation.apply(img, rng), degradation
