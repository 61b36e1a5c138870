"""PSNR / SSIM / MAE / MSE and the BT.601 YCbCr conversion, against scikit-image and hand computations."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from skimage import color as skcolor
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from visionstack.registry import METRICS, build
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.editing.color import bgr2ycbcr, rgb2ycbcr, ycbcr2bgr, ycbcr2rgb
from visionstack.tasks.editing.metrics import (
    MAE,
    MSE,
    PSNR,
    SSIM,
    gaussian_window,
    mae,
    mse,
    prepare_image,
    psnr,
    ssim,
    ssim_map,
)


def skimage_ssim(pred, gt, channel_axis=2):
    return structural_similarity(
        gt,
        pred,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=channel_axis,
    )


def natural_pair(seed=0, noise=12.0):
    """A BGR uint8 crop of a photo and a degraded copy (blurred, noisy, rounded to 8 bits)."""
    rgb = skdata.astronaut()[60:157, 150:263]  # 97 x 113: odd sizes
    gt = np.ascontiguousarray(rgb[..., ::-1])
    rng = np.random.default_rng(seed)
    blurred = cv2.GaussianBlur(gt, (5, 5), 1.0).astype(np.float64) + rng.normal(0, noise, gt.shape)
    return np.clip(np.round(blurred), 0, 255).astype(np.uint8), gt


def y_of(bgr):
    """The oracle's Y channel: scikit-image's rgb2ycbcr of the RGB image."""
    return skcolor.rgb2ycbcr(bgr[..., ::-1])[..., 0]


def crop(img, border):
    return img[border:-border, border:-border] if border else img


# ---- colour ---------------------------------------------------------------------------------------------
def test_rgb2ycbcr_equals_skimage_on_uint8_and_scaled_float():
    rgb = np.random.default_rng(0).integers(0, 256, (31, 29, 3), dtype=np.uint8)
    expected = skcolor.rgb2ycbcr(rgb)
    np.testing.assert_allclose(rgb2ycbcr(rgb), expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(rgb2ycbcr(rgb, y_only=True), expected[..., 0], rtol=0, atol=1e-10)
    # float input in 0..255 units (never guessed from the dtype) = skimage's float input in 0..1
    floats = rgb.astype(np.float64) + np.random.default_rng(1).uniform(-0.5, 0.5, rgb.shape)
    np.testing.assert_allclose(rgb2ycbcr(floats), skcolor.rgb2ycbcr(floats / 255.0), rtol=0, atol=1e-10)
    assert rgb2ycbcr(rgb).dtype == np.float64


def test_bgr2ycbcr_is_rgb2ycbcr_of_the_reversed_channels():
    bgr = np.random.default_rng(2).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(bgr2ycbcr(bgr), rgb2ycbcr(bgr[..., ::-1]))
    np.testing.assert_allclose(bgr2ycbcr(bgr, y_only=True), y_of(bgr), rtol=0, atol=1e-10)


def test_ycbcr_hand_values_and_studio_swing():
    # black, white, pure red (RGB), and their MATLAB values
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], dtype=np.uint8)
    out = rgb2ycbcr(rgb)
    np.testing.assert_allclose(out[0, 0], [16, 128, 128], atol=1e-12)
    np.testing.assert_allclose(out[0, 1], [235, 128, 128], atol=1e-12)
    np.testing.assert_allclose(out[0, 2], [16 + 65.481, 128 - 37.797, 128 + 112.0], atol=1e-12)
    # a float image in 0..255 is not mistaken for 0..1
    assert rgb2ycbcr(np.full((1, 1, 3), 255.0), y_only=True)[0, 0] == pytest.approx(235.0)


def test_ycbcr_round_trip_and_inverse_equal_skimage():
    rgb = np.random.default_rng(3).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    ycbcr = rgb2ycbcr(rgb)
    np.testing.assert_allclose(ycbcr2rgb(ycbcr), rgb, atol=1e-9)
    np.testing.assert_allclose(ycbcr2rgb(ycbcr), skcolor.ycbcr2rgb(ycbcr) * 255.0, atol=1e-9)
    np.testing.assert_allclose(ycbcr2bgr(bgr2ycbcr(rgb[..., ::-1])), rgb[..., ::-1], atol=1e-9)


def test_ycbcr_rejects_non_colour_images():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        rgb2ycbcr(np.zeros((4, 4), np.uint8))


# ---- PSNR -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("border", [0, 2, 4])
def test_psnr_equals_skimage_on_rgb_and_y(border):
    pred, gt = natural_pair()
    expected = peak_signal_noise_ratio(crop(gt, border), crop(pred, border), data_range=255)
    assert psnr(pred, gt, crop_border=border) == pytest.approx(expected, abs=1e-10)
    expected_y = peak_signal_noise_ratio(crop(y_of(gt), border), crop(y_of(pred), border), data_range=255)
    assert psnr(pred, gt, crop_border=border, convert_to="Y") == pytest.approx(expected_y, abs=1e-10)
    assert abs(expected_y - expected) > 0.05  # Y and RGB are really different numbers here


def test_psnr_hand_value_inf_and_layouts():
    gt = np.full((12, 10, 3), 100, np.uint8)
    pred = gt + np.uint8(5)
    assert psnr(pred, gt) == pytest.approx(10 * math.log10(255**2 / 25))
    assert psnr(gt, gt.copy()) == float("inf")
    pred, gt = natural_pair()
    chw = (pred.transpose(2, 0, 1), gt.transpose(2, 0, 1))
    reference = psnr(pred, gt, crop_border=3, convert_to="Y")
    assert psnr(*chw, crop_border=3, convert_to="Y", input_order="CHW") == reference
    tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in chw]
    assert psnr(*tensors, crop_border=3, convert_to="Y", input_order="CHW") == reference
    # the channel order decides which channel is red in the Y conversion
    rgb_pair = (pred[..., ::-1], gt[..., ::-1])
    assert psnr(*rgb_pair, crop_border=3, convert_to="Y", channel_order="rgb") == pytest.approx(
        reference, abs=1e-12
    )


def test_psnr_with_a_mask_scores_only_the_holes():
    pred, gt = natural_pair()
    mask = np.zeros(gt.shape[:2], np.uint8)
    mask[20:50, 30:70] = 1
    pred_outside = pred.copy()
    pred_outside[mask == 0] = 0  # errors outside the mask must not count
    errors = (pred[20:50, 30:70].astype(np.float64) - gt[20:50, 30:70]) ** 2
    expected = 10 * math.log10(255**2 / errors.mean())
    assert psnr(pred_outside, gt, mask=mask) == pytest.approx(expected, abs=1e-10)
    assert psnr(pred_outside, gt, mask=mask[None], input_order="HWC") == pytest.approx(expected, abs=1e-10)
    # the border crop applies to the mask too
    cropped = psnr(pred, gt, crop_border=25, mask=mask)
    inner = (pred[25:50, 30:70].astype(np.float64) - gt[25:50, 30:70]) ** 2
    assert cropped == pytest.approx(10 * math.log10(255**2 / inner.mean()), abs=1e-10)
    with pytest.raises(ValueError, match="selects no pixel"):
        psnr(pred, gt, mask=np.zeros_like(mask))
    with pytest.raises(ValueError, match="mask of size"):
        psnr(pred, gt, mask=mask[:-1])


def test_psnr_errors_name_the_problem():
    pred, gt = natural_pair()
    with pytest.raises(ValueError, match=r"shape \(97, 113, 3\).*\(96, 113, 3\)"):
        psnr(pred, gt[:-1])
    with pytest.raises(ValueError, match="convert_to"):
        psnr(pred, gt, convert_to="YCbCr")
    with pytest.raises(ValueError, match="needs a 3-channel"):
        psnr(pred[..., 0], gt[..., 0], convert_to="Y")
    with pytest.raises(ValueError, match="crop_border 60 leaves nothing"):
        psnr(pred, gt, crop_border=60)
    with pytest.raises(ValueError, match="input_order"):
        psnr(pred, gt, input_order="NCHW")


# ---- SSIM -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("border", [0, 2, 4])
def test_ssim_equals_skimage_on_rgb_and_y(border):
    pred, gt = natural_pair(seed=border)
    expected = skimage_ssim(crop(pred, border), crop(gt, border))
    assert ssim(pred, gt, crop_border=border) == pytest.approx(expected, abs=1e-10)
    y_pred, y_gt = crop(y_of(pred), border), crop(y_of(gt), border)
    expected_y = skimage_ssim(y_pred, y_gt, channel_axis=None)
    assert ssim(pred, gt, crop_border=border, convert_to="Y") == pytest.approx(expected_y, abs=1e-10)
    chw = (pred.transpose(2, 0, 1), gt.transpose(2, 0, 1))
    assert ssim(*chw, crop_border=border, input_order="CHW") == pytest.approx(expected, abs=1e-12)


def test_ssim_map_equals_a_slow_valid_window_reference():
    """Every map value from its own 11 x 11 window (population statistics), loops in float64."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (14, 17)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 30, x.shape), 0, 255)
    weights = np.outer(gaussian_window(), gaussian_window())
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    expected = np.empty((4, 7))
    for i in range(4):
        for j in range(7):
            a, b = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mu_a, mu_b = (weights * a).sum(), (weights * b).sum()
            var_a, var_b = (weights * (a - mu_a) ** 2).sum(), (weights * (b - mu_b) ** 2).sum()
            cov = (weights * (a - mu_a) * (b - mu_b)).sum()
            expected[i, j] = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
                (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
            )
    np.testing.assert_allclose(ssim_map(x, y), expected, rtol=0, atol=1e-10)


def test_gaussian_window_is_opencvs_kernel():
    np.testing.assert_allclose(gaussian_window(), cv2.getGaussianKernel(11, 1.5)[:, 0], atol=1e-15)
    assert gaussian_window().sum() == pytest.approx(1.0)


def test_ssim_identity_and_small_images():
    pred, gt = natural_pair()
    assert ssim(gt, gt.copy()) == pytest.approx(1.0, abs=1e-12)
    assert ssim(pred, gt) < 0.9
    with pytest.raises(ValueError, match="at least 11 x 11"):
        ssim(gt[:10, :20], gt[:10, :20])
    with pytest.raises(ValueError, match="at least 11 x 11"):
        ssim(gt[:20, :20], gt[:20, :20], crop_border=5)


# ---- MAE / MSE -----------------------------------------------------------------------------------------
def test_mae_and_mse_hand_values_on_the_unit_scale():
    gt = np.zeros((4, 4, 3), np.uint8)
    pred = gt.copy()
    pred[0, 0, 0] = 255  # one element off by the full range
    assert mae(pred, gt) == pytest.approx(1 / 48)
    assert mse(pred, gt) == pytest.approx(1 / 48)
    pred[1, 1] = 51  # a pixel off by 0.2 in every channel
    mask = np.zeros((4, 4), np.uint8)
    mask[1, 1] = mask[2, 2] = 1  # masked: the mean over the mask's pixels, all channels
    assert mae(pred, gt, mask=mask) == pytest.approx(3 * 0.2 / 6)
    assert mse(pred, gt, mask=mask) == pytest.approx(3 * 0.04 / 6)


def test_prepare_image_order_conversion_crop():
    bgr = np.random.default_rng(5).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    out = prepare_image(bgr.transpose(2, 0, 1), crop_border=2, input_order="CHW", convert_to="y")
    assert out.shape == (16, 20, 1) and out.dtype == np.float64
    np.testing.assert_allclose(out[..., 0], y_of(bgr)[2:-2, 2:-2], atol=1e-10)
    assert prepare_image(bgr[..., 0]).shape == (20, 24, 1)


# ---- metric classes -------------------------------------------------------------------------------------
def edit_sample(pred, gt, mask=None, path="gt/img.png"):
    sample = DataSample(metainfo={"gt_path": path, "img_path": path})
    sample.gt_img = PixelData(data=torch.from_numpy(np.ascontiguousarray(gt.transpose(2, 0, 1))))
    sample.pred_img = PixelData(data=torch.from_numpy(np.ascontiguousarray(pred.transpose(2, 0, 1))))
    if mask is not None:
        sample.mask = PixelData(data=torch.from_numpy(mask[None]))
    return sample


def test_metric_classes_average_the_per_image_values():
    pairs = [natural_pair(seed, noise) for seed, noise in ((0, 5.0), (1, 20.0), (2, 40.0))]
    samples = [edit_sample(p, g) for p, g in pairs]
    metric = build(dict(type="PSNR", crop_border=2, convert_to="Y"), METRICS)
    assert isinstance(metric, PSNR)
    metric.process(None, samples[:2])
    metric.process(None, samples[2:])
    expected = np.mean([psnr(p, g, crop_border=2, convert_to="Y") for p, g in pairs])
    assert metric.evaluate(3) == {"PSNR": pytest.approx(expected, abs=1e-12)}
    # not the PSNR of the pooled MSE: the per-image mean (MMagic)
    pooled = np.mean(
        [np.mean((prepare_image(p, 2, "HWC", "Y") - prepare_image(g, 2, "HWC", "Y")) ** 2) for p, g in pairs]
    )
    assert abs(expected - 10 * np.log10(255**2 / pooled)) > 0.1
    ssim_metric = SSIM(crop_border=4, prefix="val")
    ssim_metric.process(None, samples)
    expected = np.mean([skimage_ssim(crop(p, 4), crop(g, 4)) for p, g in pairs])
    assert ssim_metric.evaluate(3) == {"val/SSIM": pytest.approx(expected, abs=1e-10)}
    for kind, function in ((MAE, mae), (MSE, mse)):
        built = kind()
        built.process(None, samples)
        key = kind.__name__
        assert built.evaluate(3) == {key: pytest.approx(np.mean([function(p, g) for p, g in pairs]))}


def test_metric_classes_with_a_mask_key():
    pred, gt = natural_pair()
    mask = np.zeros(gt.shape[:2], np.uint8)
    mask[10:40, 10:60] = 1
    metric = PSNR(mask_key="mask")
    metric.process(None, [edit_sample(pred, gt, mask)])
    assert metric.evaluate(1)["PSNR"] == pytest.approx(psnr(pred, gt, mask=mask))
    metric = MAE(mask_key="mask")
    metric.process(None, [edit_sample(pred, gt, mask)])
    assert metric.evaluate(1)["MAE"] == pytest.approx(mae(pred, gt, mask=mask))


def test_metric_classes_error_messages():
    pred, gt = natural_pair()
    sample = edit_sample(pred, gt)
    del sample.pred_img
    with pytest.raises(KeyError, match=r"data_samples\[0\] has no pred_img"):
        PSNR().process(None, [sample])
    with pytest.raises(ValueError, match=r"gt/odd.png.*shape"):
        PSNR().process(None, [edit_sample(pred[:-1], gt, path="gt/odd.png")])
    with pytest.raises(ValueError, match="convert_to"):
        SSIM(convert_to="Lab")
