"""Degradations: MATLAB bicubic against a float64 loop reference of the published kernel (and Pillow's
bicubic away from the borders), Gaussian blur against SciPy, noise, JPEG and the degradation chain."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from visionstack.tasks.editing.degradations import (
    Degradation,
    add_gaussian_noise,
    gaussian_blur,
    gaussian_kernel,
    imresize,
    jpeg_compress,
    random_degradation,
    round_to_uint8,
)


# ---- the slow reference -------------------------------------------------------------------------------
def _keys_cubic(x: float) -> float:
    """Keys (1981) cubic convolution, a = -0.5."""
    a, t = -0.5, abs(x)
    if t <= 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    if t <= 2:
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return 0.0


def _mirror(index: int, length: int) -> int:
    """MATLAB's symmetric padding of a 0-based index: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ..."""
    while index < 0 or index >= length:
        index = -index - 1 if index < 0 else 2 * length - 1 - index
    return index


def _taps(out_index: int, scale: float, antialias: bool) -> list[tuple[int, float]]:
    """(0-based input index before mirroring, normalised weight) of 1-D output pixel ``out_index`` (0-based)."""
    stretch = antialias and scale < 1
    width = 4 / scale if stretch else 4.0
    u = (out_index + 1) / scale + 0.5 * (1 - 1 / scale)  # 1-based input position
    left = math.floor(u - width / 2)
    taps = []
    for k in range(math.ceil(width) + 2):
        j = left + k  # 1-based
        w = scale * _keys_cubic(scale * (u - j)) if stretch else _keys_cubic(u - j)
        taps.append((j - 1, w))
    total = sum(w for _, w in taps)
    return [(j, w / total) for j, w in taps]


def _reference(img: np.ndarray, out_h: int, out_w: int, scale_h: float, scale_w: float, antialias=True):
    """Loop over output pixels: the 2-D sum of the separable weights, float64."""
    src = img.astype(np.float64).reshape(img.shape[0], img.shape[1], -1)
    out = np.zeros((out_h, out_w, src.shape[2]))
    rows = [_taps(i, scale_h, antialias) for i in range(out_h)]
    cols = [_taps(j, scale_w, antialias) for j in range(out_w)]
    for i in range(out_h):
        for j in range(out_w):
            value = np.zeros(src.shape[2])
            for r, wr in rows[i]:
                for c, wc in cols[j]:
                    value += wr * wc * src[_mirror(r, img.shape[0]), _mirror(c, img.shape[1])]
            out[i, j] = value
    return out.reshape((out_h, out_w) + img.shape[2:])


CASES = [  # (shape, scale) - odd sizes, x2 x3 x4 down and x2 up, gray and colour
    ((23, 17), 1 / 2),
    ((25, 19, 3), 1 / 3),
    ((33, 29), 1 / 4),
    ((18, 24, 3), 1 / 4),
    ((11, 9, 3), 2),
    ((7, 13), 2),
]


@pytest.mark.parametrize("shape, scale", CASES)
def test_imresize_float_equals_the_loop_reference(shape, scale):
    img = np.random.default_rng(0).uniform(-20, 280, shape)
    out = imresize(img, scale)
    out_h, out_w = math.ceil(shape[0] * scale - 1e-9), math.ceil(shape[1] * scale - 1e-9)
    assert out.shape == (out_h, out_w) + shape[2:] and out.dtype == np.float64
    np.testing.assert_allclose(out, _reference(img, out_h, out_w, scale, scale), rtol=0, atol=1e-10)


@pytest.mark.parametrize("shape, scale", CASES[:3])
def test_imresize_uint8_rounds_the_reference_half_away_from_zero(shape, scale):
    img = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    out = imresize(img, scale)
    ref = _reference(img, *out.shape[:2], scale, scale)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.floor(np.clip(ref, 0, 255) + 0.5).astype(np.uint8))


def test_imresize_output_shape_and_no_antialias():
    img = np.random.default_rng(2).uniform(0, 255, (21, 30))
    out = imresize(img, output_shape=(10, 12))  # per-axis scales 10/21 and 12/30
    np.testing.assert_allclose(out, _reference(img, 10, 12, 10 / 21, 12 / 30), atol=1e-10)
    plain = imresize(img, 0.5, antialias=False)
    np.testing.assert_allclose(plain, _reference(img, 11, 15, 0.5, 0.5, antialias=False), atol=1e-10)
    assert not np.allclose(plain, imresize(img, 0.5))


def test_imresize_matches_pillow_bicubic_away_from_the_border():
    """Pillow's reducing bicubic is the same antialiased Keys kernel (a = -0.5, pixel centres at +0.5) but
    clips its window at the border instead of mirroring: the interiors agree (float32 'F' mode)."""
    img = np.random.default_rng(3).uniform(0, 255, (48, 60)).astype(np.float32)
    for factor in (2, 3, 4):
        ours = imresize(img, 1 / factor)
        pil = np.asarray(Image.fromarray(img, mode="F").resize((60 // factor, 48 // factor), Image.BICUBIC))
        np.testing.assert_allclose(ours[3:-3, 3:-3], pil[3:-3, 3:-3], atol=1e-3)
    up = np.asarray(Image.fromarray(img, mode="F").resize((120, 96), Image.BICUBIC))
    np.testing.assert_allclose(imresize(img, 2)[4:-4, 4:-4], up[4:-4, 4:-4], atol=1e-3)


def test_imresize_known_facts():
    constant = np.full((17, 23, 3), 77, np.uint8)
    assert np.all(imresize(constant, 1 / 3) == 77) and imresize(constant, 1 / 3).shape == (6, 8, 3)
    assert np.allclose(imresize(constant.astype(np.float32), 2), 77, atol=1e-4)
    assert imresize(np.zeros((12, 7)), 1 / 3).shape == (4, 3)  # ceil(scale * size), 12 / 3 stays 4
    assert imresize(np.zeros((5, 5), np.float32), 0.5).dtype == np.float32
    # a smooth image down-sampled x4 is close to OpenCV's area average (loose: different kernels)
    yy, xx = np.mgrid[0:64, 0:64]
    smooth = (127 + 100 * np.sin(xx / 9.0) * np.cos(yy / 7.0)).astype(np.uint8)
    area = cv2.resize(smooth, (16, 16), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(imresize(smooth, 1 / 4).astype(float) - area).mean() < 2.0
    with pytest.raises(ValueError, match="exactly one"):
        imresize(constant, 0.5, output_shape=(4, 4))


def test_round_to_uint8_is_half_away_from_zero_and_clips():
    values = np.array([0.5, 1.5, 2.5, 2.4999, -3.0, 254.5, 300.0])
    np.testing.assert_array_equal(round_to_uint8(values), [1, 2, 3, 2, 0, 255, 255])


# ---- blur, noise, JPEG ----------------------------------------------------------------------------------
def test_gaussian_kernel_is_normalised_and_separable():
    kernel = gaussian_kernel(7, 1.5)
    x = np.arange(7) - 3.0
    g = np.exp(-(x**2) / (2 * 1.5**2))
    np.testing.assert_allclose(kernel, np.outer(g, g) / np.outer(g, g).sum(), atol=1e-15)
    assert kernel.shape == (7, 7) and abs(kernel.sum() - 1) < 1e-12
    assert gaussian_kernel((3, 5), (1.0, 2.0)).shape == (3, 5)
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel(4, 1.0)


@pytest.mark.parametrize("sigma, size", [(1.0, None), (2.3, None), ((0.8, 1.7), None), (1.5, 7)])
def test_gaussian_blur_equals_scipy_reflect(sigma, size):
    img = np.random.default_rng(4).uniform(0, 255, (19, 26, 3))
    sigma_y, sigma_x = (sigma, sigma) if np.isscalar(sigma) else sigma
    if size is None:
        truncate = {"truncate": 4.0}
        expected = ndimage.gaussian_filter(img, (sigma_y, sigma_x, 0), mode="reflect", **truncate)
    else:
        radius = (size - 1) // 2
        expected = np.stack(
            [
                ndimage.gaussian_filter(img[..., c], (sigma_y, sigma_x), mode="reflect", radius=radius)
                for c in range(3)
            ],
            axis=-1,
        )
    np.testing.assert_allclose(gaussian_blur(img, sigma, size), expected, atol=1e-10)


def test_gaussian_blur_keeps_dtype_and_rounds_uint8():
    img = np.random.default_rng(5).integers(0, 256, (16, 16), dtype=np.uint8)
    blurred = gaussian_blur(img, 1.2)
    expected = ndimage.gaussian_filter(img.astype(float), 1.2, mode="reflect")
    assert blurred.dtype == np.uint8
    np.testing.assert_array_equal(blurred, np.floor(expected + 0.5).astype(np.uint8))
    assert gaussian_blur(img.astype(np.float32), 1.2).dtype == np.float32


def test_add_gaussian_noise_is_float32_unclipped_and_seeded():
    img = np.zeros((64, 64, 3), np.uint8)
    noisy = add_gaussian_noise(img, 25.0, np.random.default_rng(6))
    assert noisy.dtype == np.float32 and noisy.min() < 0
    expected = 25.0 * np.random.default_rng(6).standard_normal(img.shape)
    np.testing.assert_allclose(noisy, expected.astype(np.float32), atol=1e-5)
    assert abs(noisy.std() - 25.0) < 1.0
    np.testing.assert_array_equal(noisy, add_gaussian_noise(img, 25.0, np.random.default_rng(6)))


def test_jpeg_compress_round_trip():
    yy, xx = np.mgrid[0:32, 0:40]
    img = np.stack([xx * 6, yy * 7, (xx + yy) * 3], axis=-1).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 50])
    np.testing.assert_array_equal(jpeg_compress(img, 50), cv2.imdecode(encoded, cv2.IMREAD_COLOR))
    errors = [np.abs(jpeg_compress(img, q).astype(int) - img).mean() for q in (10, 50, 95)]
    assert errors[0] > errors[1] > errors[2]
    assert jpeg_compress(img[..., 0], 80).shape == (32, 40)
    assert jpeg_compress(img.astype(np.float32) + 0.3, 80).dtype == np.uint8
    with pytest.raises(ValueError, match="quality"):
        jpeg_compress(img, 0)


def test_degradation_chain_is_the_composition_and_seeded():
    img = np.random.default_rng(7).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    degradation = Degradation(blur_sigma=1.3, scale=3, noise_sigma=5.0, jpeg_quality=70)
    out = degradation.apply(img, np.random.default_rng(8))
    step = imresize(gaussian_blur(img.astype(np.float64), 1.3), 1 / 3)
    step = add_gaussian_noise(step, 5.0, np.random.default_rng(8))
    np.testing.assert_array_equal(out, jpeg_compress(step, 70))
    assert out.shape == (10, 14, 3) and out.dtype == np.uint8

    first, params = random_degradation(img, np.random.default_rng(9), scale=2)
    second, again = random_degradation(img, np.random.default_rng(9), scale=2)
    np.testing.assert_array_equal(first, second)
    assert params == again and 0.2 <= params.blur_sigma <= 3.0 and 30 <= params.jpeg_quality <= 95
    assert first.shape == (15, 21, 3)
