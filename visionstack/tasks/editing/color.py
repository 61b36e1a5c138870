"""YCbCr of ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` computes it: the colour space of Y-channel PSNR / SSIM.

Super-resolution papers report PSNR and SSIM on the luma Y of MATLAB's ``rgb2ycbcr``, the "studio swing"
BT.601 conversion: from R, G, B in 0..255,

    Y  =  16 + ( 65.481 R + 128.553 G +  24.966 B) / 255        (16..235)
    Cb = 128 + (-37.797 R -  74.203 G + 112.000 B) / 255        (16..240)
    Cr = 128 + (112.000 R -  93.786 G -  18.214 B) / 255        (16..240)

The values here are float64 and not rounded. ``skimage.color.rgb2ycbcr`` (of ``rgb / 255`` or of a uint8
image) gives the same numbers; MMagic's metrics (``mmcv.bgr2ycbcr(img / 255., y_only=True) * 255.``) and
BasicSR's ``bgr2ycbcr(img, y_only=True)`` compute the same formula, unrounded, in float32 (they differ
from these float64 values by about 1e-5). MATLAB itself rounds when its input is uint8; PSNR / SSIM in the
SR literature follow the unrounded float path, as here. PIL's ``convert("YCbCr")`` is a different
conversion (full swing JPEG YCbCr, rounded): do not mix the two.

Inputs are always in 0..255 units (uint8 or float); the range is never guessed from the dtype. Images are
(..., 3) with the channels last; ``bgr2*`` take OpenCV's BGR order, ``rgb2*`` RGB.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bgr2ycbcr", "rgb2ycbcr", "ycbcr2bgr", "ycbcr2rgb"]

# rows: Y, Cb, Cr; columns: R, G, B (MATLAB's rgb2ycbcr for 0..1 inputs, i.e. scaled by 1/255 here)
_RGB_TO_YCBCR = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ],
    dtype=np.float64,
)
_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64)


def _channels_last(img: np.ndarray, owner: str) -> np.ndarray:
    array = np.asarray(img)
    if array.ndim < 1 or array.shape[-1] != 3:
        raise ValueError(f"{owner}: expected an (..., 3) image, channels last, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"{owner}: expected a numeric image, got dtype {array.dtype}")
    return array.astype(np.float64)


def rgb2ycbcr(img: np.ndarray, y_only: bool = False) -> np.ndarray:
    """BT.601 YCbCr (MATLAB's ``rgb2ycbcr``) of an RGB image in 0..255 units.

    Args:
        img: (..., 3) RGB, uint8 or float, 0..255.

    Returns:
        float64: (..., 3) Y, Cb, Cr, or (...) Y alone with ``y_only``; 0..255 units, not rounded.
    """
    rgb = _channels_last(img, "rgb2ycbcr")
    if y_only:
        return 16.0 + rgb @ (_RGB_TO_YCBCR[0] / 255.0)
    return rgb @ (_RGB_TO_YCBCR.T / 255.0) + _OFFSET


def bgr2ycbcr(img: np.ndarray, y_only: bool = False) -> np.ndarray:
    """:func:`rgb2ycbcr` of a BGR image (OpenCV's channel order); the output is Y, Cb, Cr all the same."""
    return rgb2ycbcr(_channels_last(img, "bgr2ycbcr")[..., ::-1], y_only=y_only)


def ycbcr2rgb(img: np.ndarray) -> np.ndarray:
    """The inverse of :func:`rgb2ycbcr`: (..., 3) Y, Cb, Cr -> float64 (..., 3) RGB in 0..255 units.

    Not clipped nor rounded (a YCbCr triple outside the RGB cube gives values outside 0..255).
    """
    ycbcr = _channels_last(img, "ycbcr2rgb")
    return (ycbcr - _OFFSET) @ np.linalg.inv(_RGB_TO_YCBCR / 255.0).T


def ycbcr2bgr(img: np.ndarray) -> np.ndarray:
    """:func:`ycbcr2rgb` with the output in BGR order."""
    return ycbcr2rgb(img)[..., ::-1]
