from __future__ import annotations

import numpy as np
import pytest

from visionstack.data import ColorJitter, RandAugment, image_ops
from visionstack.data.transforms import AugmentPolicy


def _photo() -> np.ndarray:
    rng = np.random.default_rng(11)
    return rng.integers(20, 230, size=(16, 20, 3), dtype=np.uint8)


def _run(transform, img: np.ndarray) -> np.ndarray:
    return transform({"img": img.copy(), "img_shape": img.shape[:2]})["img"]


def test_color_jitter_with_zero_strengths_is_identity(seeded):
    img = _photo()
    np.testing.assert_array_equal(_run(ColorJitter(), img), img)
    np.testing.assert_array_equal(_run(ColorJitter(brightness=0, contrast=(1, 1), hue=(0, 0)), img), img)


def test_color_jitter_fixed_factors_equal_the_formulas(seeded):
    img = _photo()
    brighter = _run(ColorJitter(brightness=(1.5, 1.5)), img)
    np.testing.assert_array_equal(brighter, np.clip(np.rint(img * 1.5), 0, 255).astype(np.uint8))
    flat = _run(ColorJitter(contrast=(0.0, 0.0)), img)
    luma = img.astype(np.float64) @ np.array([0.114, 0.587, 0.299])
    assert np.all(flat == np.rint(luma.mean()))
    gray = _run(ColorJitter(saturation=(0.0, 0.0)), img)
    assert np.all(gray[..., 0] == gray[..., 1]) and np.all(gray[..., 1] == gray[..., 2])
    assert np.abs(gray[..., 0].astype(int) - np.rint(luma).astype(int)).max() <= 1


def test_color_jitter_seeded_regression_against_a_reconstruction():
    transform = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    img = _photo()
    np.random.seed(2024)
    out = _run(transform, img)
    np.random.seed(2024)
    order = np.random.permutation(4)
    factors = [
        np.random.uniform(0.6, 1.4),
        np.random.uniform(0.6, 1.4),
        np.random.uniform(0.6, 1.4),
        np.random.uniform(-0.1, 0.1),
    ]
    adjust = [
        image_ops.adjust_brightness,
        image_ops.adjust_contrast,
        image_ops.adjust_saturation,
        image_ops.adjust_hue,
    ]
    expected = img
    for index in order:
        expected = adjust[index](expected, factors[index])
    np.testing.assert_array_equal(out, expected)
    np.random.seed(2025)
    assert not np.array_equal(_run(transform, img), out)


def test_color_jitter_validates_arguments():
    with pytest.raises(ValueError, match="brightness"):
        ColorJitter(brightness=-0.1)
    with pytest.raises(ValueError, match="hue"):
        ColorJitter(hue=0.6)
    with pytest.raises(ValueError, match="saturation range"):
        ColorJitter(saturation=(2.0, 1.0))
    with pytest.raises(TypeError, match="ColorJitter works on uint8 images, got float32"):
        ColorJitter(brightness=0.2)({"img": np.zeros((2, 2, 3), np.float32)})
    with pytest.raises(TypeError, match="RandAugment works on uint8"):
        RandAugment()({"img": np.zeros((2, 2, 3), np.float32)})


def _single(op: str, magnitude_range=None, **kwargs) -> RandAugment:
    return RandAugment(
        policies=[dict(op=op, magnitude_range=magnitude_range)], num_policies=1, prob=1.0, **kwargs
    )


@pytest.mark.parametrize(
    ("op", "magnitude_range", "reference"),
    [
        ("AutoContrast", None, image_ops.auto_contrast),
        ("Equalize", None, image_ops.equalize),
        ("Invert", None, lambda img: 255 - img),
        # level 9 of 10 in (4, 0) is 0.4 bits, rounded up to 1: keep the top bit
        ("Posterize", (4, 0), lambda img: img & 0b1000_0000),
        # level 9 of 10 in (256, 0) is a threshold of 25.6
        ("Solarize", (256, 0), lambda img: np.where(img < 25.6, img, 255 - img)),
        (
            "SolarizeAdd",
            (0, 110),
            lambda img: np.where(img < 128, np.minimum(img.astype(int) + 99, 255), img),
        ),
    ],
)
def test_randaugment_ops_equal_direct_formulas(seeded, op, magnitude_range, reference):
    img = _photo()
    out = _run(_single(op, magnitude_range, magnitude_level=9), img)
    np.testing.assert_array_equal(out, reference(img).astype(np.uint8))


@pytest.mark.parametrize(
    ("op", "magnitude_range", "apply"),
    [
        ("Rotate", (0, 30), lambda img, m: image_ops.rotate(img, m, 128, "nearest")),
        ("Brightness", (0, 0.9), lambda img, m: image_ops.adjust_brightness(img, 1 + m)),
        ("Color", (0, 0.9), lambda img, m: image_ops.adjust_saturation(img, 1 + m)),
        (
            "TranslateX",
            (0, 0.45),
            lambda img, m: image_ops.translate(img, m * img.shape[1], "horizontal", 128),
        ),
        ("ShearY", (0, 0.3), lambda img, m: image_ops.shear(img, m, "vertical", 128, "bicubic")),
    ],
)
def test_signed_ops_use_the_level_magnitude_with_random_sign(op, magnitude_range, apply):
    img = _photo()
    magnitude = magnitude_range[1] * 0.6
    candidates = [apply(img, magnitude), apply(img, -magnitude)]
    seen = set()
    for seed in range(12):
        np.random.seed(seed)
        out = _run(_single(op, magnitude_range, magnitude_level=6), img)
        matches = [index for index, candidate in enumerate(candidates) if np.array_equal(out, candidate)]
        assert matches, f"{op} output is neither sign of magnitude {magnitude}"
        seen.update(matches)
    assert seen == {0, 1}


def test_magnitude_noise_stays_in_range():
    transform = _single("Rotate", (0, 30), magnitude_level=9, magnitude_std=2.0)
    np.random.seed(0)
    values = [transform._magnitude(transform.policies[0]) for _ in range(500)]
    assert 0 <= min(values) and max(values) <= 30 and np.std(values) > 2
    uniform = _single("Rotate", (0, 30), magnitude_level=5, magnitude_std="inf")
    values = [uniform._magnitude(uniform.policies[0]) for _ in range(500)]
    assert 0 <= min(values) < 2 and 13 < max(values) <= 15


def test_randaugment_probability_and_determinism():
    img = _photo()
    np.testing.assert_array_equal(_run(RandAugment(prob=0.0), img), img)
    transform = RandAugment(num_policies=2, magnitude_level=9, magnitude_std=0.5)
    outputs = []
    for seed in (3, 3, 4):
        np.random.seed(seed)
        outputs.append(_run(transform, img))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    changed = 0
    for seed in range(20):
        np.random.seed(seed)
        changed += not np.array_equal(_run(transform, img), img)
    assert changed >= 10


def test_randaugment_policy_validation():
    with pytest.raises(ValueError, match="unknown op 'Rotation'"):
        RandAugment(policies=[dict(op="Rotation", magnitude_range=(0, 30))])
    with pytest.raises(ValueError, match="'Rotate' needs magnitude_range"):
        RandAugment(policies=["Rotate"])
    with pytest.raises(ValueError, match="'Invert' takes no magnitude_range"):
        RandAugment(policies=[AugmentPolicy("Invert", (0, 1))])
    with pytest.raises(ValueError, match="policies\\[0\\] must be dict"):
        RandAugment(policies=[dict(type="Rotate", magnitude_range=(0, 30))])
    with pytest.raises(ValueError, match="magnitude_level"):
        RandAugment(magnitude_level=11)
    assert "Rotate(0, 30)" in repr(RandAugment())
