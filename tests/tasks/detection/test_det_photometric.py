"""PhotoMetricDistortion against a float64 per-pixel reference written with colorsys."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from visionstack.tasks.detection.transforms import PhotoMetricDistortion


def reference(img: np.ndarray, choice: dict) -> np.ndarray:
    """The SSD distortion pixel by pixel in float64 (colorsys's HSV with H in turns, S in [0, 1])."""
    out = img.astype(np.float64)
    if choice["brightness"]:
        out += choice["delta"]
    if choice["contrast_first"] and choice["contrast"]:
        out *= choice["alpha"]
    result = np.empty_like(out)
    for index in np.ndindex(out.shape[:2]):
        blue, green, red = out[index]
        hue, saturation, value = colorsys.rgb_to_hsv(red, green, blue)
        if choice["saturation"]:
            saturation *= choice["saturation_factor"]
            if choice["saturation_factor"] > 1:
                saturation = min(max(saturation, 0.0), 1.0)
        if choice["hue"]:
            hue = (hue * 360 + choice["hue_shift"]) % 360 / 360
        red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
        result[index] = (blue, green, red)
    if not choice["contrast_first"] and choice["contrast"]:
        result *= choice["alpha"]
    if choice["swap"]:
        result = result[..., choice["permutation"]]
    return result


@pytest.mark.parametrize("contrast_first", [True, False])
def test_distort_matches_reference(contrast_first):
    rng = np.random.default_rng(0)
    img = rng.integers(20, 200, size=(5, 6, 3)).astype(np.uint8)
    choice = dict(
        contrast_first=contrast_first, brightness=True, contrast=True, saturation=True, hue=True, swap=True,
        delta=12.5, alpha=1.2, saturation_factor=0.7, hue_shift=-15.0, permutation=np.array([2, 0, 1]),
    )  # fmt: skip
    transform = PhotoMetricDistortion()
    np.testing.assert_allclose(transform.distort(img, choice), reference(img, choice), rtol=1e-4, atol=0.05)
    choice.update(saturation_factor=1.4, hue_shift=17.0)
    np.testing.assert_allclose(transform.distort(img, choice), reference(img, choice), rtol=1e-4, atol=0.05)


def test_transform_is_uint8_seeded_and_draws_in_range():
    img = np.random.default_rng(1).integers(0, 256, size=(8, 9, 3)).astype(np.uint8)
    transform = PhotoMetricDistortion(brightness_delta=10, hue_delta=5)
    np.random.seed(3)
    first = transform({"img": img.copy()})["img"]
    np.random.seed(3)
    second = transform({"img": img.copy()})["img"]
    assert first.dtype == np.uint8 and np.array_equal(first, second)
    for _ in range(20):
        choice = transform.draw()
        assert (
            -10 <= choice["delta"] <= 10 and 0.5 <= choice["alpha"] <= 1.5 and -5 <= choice["hue_shift"] <= 5
        )
    with pytest.raises(ValueError, match="contrast_range"):
        PhotoMetricDistortion(contrast_range=(1.5, 0.5))


def test_swap_channels_false_keeps_the_channel_order_and_the_other_draws():
    from visionstack.data.transforms.photometric_distortion import PhotoMetricDistortion as Distortion

    image = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    mmdet, mmseg = Distortion(), Distortion(swap_channels=False)
    swapped = 0
    for seed in range(20):
        np.random.seed(seed)
        with_swap = mmdet.draw()
        np.random.seed(seed)
        without = mmseg.draw()
        assert not without["swap"]
        assert {k: v for k, v in with_swap.items() if k not in ("swap", "permutation")} == {
            k: v for k, v in without.items() if k not in ("swap", "permutation")
        }
        if with_swap["swap"] and list(with_swap["permutation"]) != [0, 1, 2]:
            swapped += 1
            plain = dict(with_swap, swap=False)
            assert np.array_equal(mmseg.distort(image, without), mmdet.distort(image, plain))
    assert swapped > 0
