"""image_ops against PIL (ImageOps / ImageEnhance), colorsys, OpenCV and NumPy formulas."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from visionstack.data.transforms import image_ops


@pytest.fixture
def photo() -> np.ndarray:
    """A smooth colour image with limited range per channel (so auto-contrast has work to do)."""
    rng = np.random.default_rng(3)
    ys, xs = np.mgrid[0:20, 0:24]
    base = np.stack([40 + 3 * xs, 60 + 4 * ys, 90 + 2 * (xs + ys)], axis=-1).astype(np.float64)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def _pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(img[..., ::-1]))  # BGR -> RGB


def _from_pil(image: Image.Image) -> np.ndarray:
    return np.asarray(image)[..., ::-1]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (image_ops.auto_contrast, ImageOps.autocontrast),
        (image_ops.equalize, ImageOps.equalize),
        (image_ops.invert, ImageOps.invert),
        (lambda img: image_ops.posterize(img, 3), lambda image: ImageOps.posterize(image, 3)),
        (lambda img: image_ops.posterize(img, 8), lambda image: ImageOps.posterize(image, 8)),
        (lambda img: image_ops.solarize(img, 100), lambda image: ImageOps.solarize(image, 100)),
        (lambda img: image_ops.solarize(img, 256), lambda image: ImageOps.solarize(image, 256)),
    ],
)
def test_lookup_ops_equal_pil_exactly(photo, ours, theirs):
    np.testing.assert_array_equal(ours(photo), _from_pil(theirs(_pil(photo))))


def test_lookup_ops_on_a_flat_channel_and_grayscale():
    flat = np.full((5, 6, 3), 77, dtype=np.uint8)
    np.testing.assert_array_equal(image_ops.auto_contrast(flat), flat)
    np.testing.assert_array_equal(image_ops.equalize(flat), flat)
    gray = np.arange(60, dtype=np.uint8).reshape(6, 10) * 2
    np.testing.assert_array_equal(
        image_ops.equalize(gray), np.asarray(ImageOps.equalize(Image.fromarray(gray)))
    )
    assert image_ops.posterize(gray, 0).max() == 0


def test_solarize_add_formula(photo):
    expected = np.where(photo < 128, np.minimum(photo.astype(int) + 60, 255), photo)
    np.testing.assert_array_equal(image_ops.solarize_add(photo, 60.7), expected)


@pytest.mark.parametrize(
    ("ours", "enhancer"),
    [
        (image_ops.adjust_brightness, ImageEnhance.Brightness),
        (image_ops.adjust_saturation, ImageEnhance.Color),
        (image_ops.adjust_contrast, ImageEnhance.Contrast),
        (image_ops.adjust_sharpness, ImageEnhance.Sharpness),
    ],
)
@pytest.mark.parametrize("factor", [0.0, 0.4, 1.0, 1.7])
def test_enhancers_match_pil_within_rounding(photo, ours, enhancer, factor):
    expected = _from_pil(enhancer(_pil(photo)).enhance(factor)).astype(int)
    difference = np.abs(ours(photo, factor).astype(int) - expected)
    # PIL rounds its degenerate image (grey, mean, smoothed) to uint8 and truncates the blend; we
    # round once at the end. A wrong degenerate image would differ by tens of levels.
    assert difference.max() <= 2
    assert difference.mean() <= 1.0


def test_factor_one_is_identity(photo):
    for adjust in (
        image_ops.adjust_brightness,
        image_ops.adjust_contrast,
        image_ops.adjust_saturation,
        image_ops.adjust_sharpness,
    ):
        np.testing.assert_array_equal(adjust(photo, 1.0), photo)


@pytest.mark.parametrize("shift", [-0.5, -0.2, 0.0, 0.13, 0.5])
def test_hue_shift_matches_colorsys(photo, shift):
    out = image_ops.adjust_hue(photo, shift).astype(int)
    rgb = photo[..., ::-1].reshape(-1, 3) / 255.0
    expected = []
    for r, g, b in rgb:
        h, s, v = colorsys.rgb_to_hsv(r, g, b)
        expected.append(colorsys.hsv_to_rgb((h + shift) % 1.0, s, v))
    expected = np.rint(np.array(expected) * 255).astype(int).reshape(photo.shape)[..., ::-1]
    assert np.abs(out - expected).max() <= 1
    with pytest.raises(ValueError, match="hue shift"):
        image_ops.adjust_hue(photo, 0.7)


def test_resize_matches_opencv_and_keeps_channel_axis(photo):
    np.testing.assert_array_equal(
        image_ops.resize(photo, (13, 7), "bicubic"), cv2.resize(photo, (13, 7), interpolation=cv2.INTER_CUBIC)
    )
    assert image_ops.resize(photo[..., :1], (5, 4)).shape == (4, 5, 1)
    with pytest.raises(ValueError, match="unknown interpolation 'cubic'"):
        image_ops.resize(photo, (5, 4), "cubic")


def test_flip_matches_numpy(photo):
    np.testing.assert_array_equal(image_ops.flip(photo, "horizontal"), photo[:, ::-1])
    np.testing.assert_array_equal(image_ops.flip(photo, "vertical"), photo[::-1])
    np.testing.assert_array_equal(image_ops.flip(photo, "diagonal"), photo[::-1, ::-1])
    with pytest.raises(ValueError, match="flip direction"):
        image_ops.flip(photo, "sideways")


def test_rotate_quarter_turn_is_clockwise_rot90():
    square = np.random.default_rng(1).integers(0, 256, size=(9, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(image_ops.rotate(square, 90), np.rot90(square, k=-1))
    np.testing.assert_array_equal(image_ops.rotate(square, -90), np.rot90(square, k=1))
    np.testing.assert_array_equal(image_ops.rotate(square, 0), square)


def test_translate_moves_content_and_pads(photo):
    moved = image_ops.translate(photo, 5, "horizontal", pad_val=(1, 2, 3))
    np.testing.assert_array_equal(moved[:, 5:], photo[:, :-5])
    assert (moved[:, :5] == np.array([1, 2, 3], dtype=np.uint8)).all()
    up = image_ops.translate(photo, -4, "vertical", pad_val=9)
    np.testing.assert_array_equal(up[:-4], photo[4:])
    assert (up[-4:] == 9).all()


def test_shear_matches_a_pixel_loop(photo):
    height, width = photo.shape[:2]
    sheared = image_ops.shear(photo, 1.0, "horizontal", pad_val=0, interpolation="nearest")
    expected = np.zeros_like(photo)
    for y in range(height):
        for x in range(width):
            if 0 <= x - y < width:  # input (x', y) goes to (x' + y, y)
                expected[y, x] = photo[y, x - y]
    np.testing.assert_array_equal(sheared, expected)
    vertical = image_ops.shear(photo, -1.0, "vertical", pad_val=0, interpolation="nearest")
    expected_vertical = np.zeros_like(photo)
    for y in range(height):
        for x in range(width):
            if 0 <= y + x < height:  # input (x, y') goes to (x, y' - x)
                expected_vertical[y, x] = photo[y + x, x]
    np.testing.assert_array_equal(vertical, expected_vertical)
    np.testing.assert_array_equal(image_ops.shear(photo, 0.0), photo)


@pytest.mark.parametrize("operation", ["shear", "translate"])
def test_one_axis_warps_name_themselves_on_a_bad_direction(photo, operation):
    with pytest.raises(
        ValueError, match=f"^{operation} direction must be horizontal or vertical, got 'diagonal'$"
    ):
        getattr(image_ops, operation)(photo, 1.0, "diagonal")


@pytest.mark.parametrize(
    "shape, dtype",
    [
        ((7, 9, 3), np.uint8),
        ((7, 9, 1), np.uint8),
        ((7, 9), np.float32),
        ((7, 9, 5), np.int16),
        ((7, 9), np.int64),
        ((7, 9), np.bool_),
        ((2, 7, 9, 3), np.uint8),
    ],
)
@pytest.mark.parametrize("direction, axes", [("horizontal", (1,)), ("vertical", (0,)), ("diagonal", (0, 1))])
def test_flip_equals_numpy_for_every_layout(shape, dtype, direction, axes):
    """cv2.flip (OpenCV dtypes, up to 3 dims) and the NumPy fallback give NumPy's mirror, contiguous."""
    image = (np.random.default_rng(0).integers(0, 200, shape) % (2 if dtype is np.bool_ else 200)).astype(
        dtype
    )
    flipped = image_ops.flip(image, direction)
    np.testing.assert_array_equal(flipped, np.flip(image, axis=axes))
    assert flipped.shape == image.shape and flipped.dtype == image.dtype and flipped.flags.c_contiguous
