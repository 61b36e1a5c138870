"""RoIAlign against a float64 loop written from the reference kernel's rules, and gradcheck."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.models.ops import RoIAlign, roi_align


def bilinear(p: list[list[float]], y: float, x: float) -> float:
    height, width = len(p), len(p[0])
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    return (
        hy * hx * p[y_low][x_low]
        + hy * lx * p[y_low][x_high]
        + ly * hx * p[y_high][x_low]
        + ly * lx * p[y_high][x_high]
    )


def reference_roi_align(features, rois, out_h, out_w, scale, sampling_ratio, aligned):
    num_rois, channels = rois.shape[0], features.shape[1]
    output = torch.zeros(num_rois, channels, out_h, out_w, dtype=torch.float64)
    offset = 0.5 if aligned else 0.0
    planes = features.tolist()
    for k, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        start_x, start_y = x1 * scale - offset, y1 * scale - offset
        roi_w, roi_h = x2 * scale - offset - start_x, y2 * scale - offset - start_y
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / out_h, roi_w / out_w
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / out_h)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / out_w)
        count = max(grid_h * grid_w, 1)
        for c in range(channels):
            plane = planes[int(b)][c]
            for ph in range(out_h):
                for pw in range(out_w):
                    total = 0.0
                    for iy in range(grid_h):
                        y = start_y + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                        for ix in range(grid_w):
                            x = start_x + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                            total += bilinear(plane, y, x)
                    output[k, c, ph, pw] = total / count
    return output


def make_inputs(seed: int):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(2, 2, 9, 11, generator=generator, dtype=torch.float64)
    rois = torch.tensor(
        [
            [0, 3.0, 5.0, 30.0, 22.0],  # inside
            [1, -8.0, -6.0, 12.0, 10.0],  # over the top-left border
            [0, 30.0, 20.0, 60.0, 50.0],  # over the bottom-right border
            [1, 10.0, 10.0, 10.5, 10.2],  # tiny
            [0, 1.0, 2.0, 44.0, 35.0],  # large: bigger adaptive grid
            [1, 50.0, 45.0, 70.0, 60.0],  # completely outside
        ],
        dtype=torch.float64,
    )
    return features, rois


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [0, 1, 2, 3])
def test_roi_align_matches_reference(aligned, sampling_ratio):
    features, rois = make_inputs(0)
    out = roi_align(
        features, rois, (3, 4), spatial_scale=0.25, sampling_ratio=sampling_ratio, aligned=aligned
    )
    expected = reference_roi_align(features, rois, 3, 4, 0.25, sampling_ratio, aligned)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    assert out[-1].abs().max() == 0  # a RoI beyond the border samples zeros
    single = roi_align(features.float(), rois.float(), (3, 4), 0.25, sampling_ratio, aligned)
    torch.testing.assert_close(single, expected.float(), atol=1e-5, rtol=1e-5)


def test_roi_align_on_a_linear_ramp_returns_bin_centers():
    # Bilinear interpolation reproduces a linear function exactly, so each bin returns the
    # mean of x over its samples: the bin center. Pixel i covers [i, i + 1) and holds the value i,
    # so the continuous bin centers 3, 5, 7, 9 read as 2.5, 4.5, 6.5, 8.5 when aligned.
    width = 16
    features = torch.arange(width, dtype=torch.float64).repeat(1, 1, 8, 1)
    rois = torch.tensor([[0, 2.0, 1.0, 10.0, 5.0]], dtype=torch.float64)
    out = roi_align(features, rois, (2, 4), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([3.0, 5.0, 7.0, 9.0], dtype=torch.float64) - 0.5)


def test_roi_align_gradcheck():
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(1, 2, 5, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 0.3, 0.7, 4.1, 3.9], [0, -1.2, 1.1, 3.3, 6.6]], dtype=torch.float64)
    for aligned in (True, False):
        assert torch.autograd.gradcheck(lambda f, a=aligned: roi_align(f, rois, 2, 1.0, 0, a), (features,))


def test_adaptive_grids_padded_to_powers_of_two_match_the_reference():
    """RoIs whose adaptive grids are 1, 2, 3, 5 and 6 share padded buckets (1, 2, 4, 8): unused
    samples must weigh nothing, and the outputs come back in the order of the RoIs."""
    generator = torch.Generator().manual_seed(3)
    features = torch.randn(2, 3, 20, 24, generator=generator, dtype=torch.float64)
    rois = torch.tensor(
        [
            [1, 2.0, 3.0, 10.0, 9.0],  # small: grid 1
            [0, 0.5, 1.0, 44.0, 70.0],  # wide range of grids along x and y
            [1, 5.0, 2.0, 17.0, 30.0],
            [0, 3.0, 3.0, 90.0, 40.0],
            [0, 10.0, 12.0, 10.0, 12.0],  # empty: grid 0
            [1, 1.0, 1.0, 60.0, 95.0],
        ],
        dtype=torch.float64,
    )
    got = roi_align(features, rois, (3, 2), 0.25, 0, True)
    want = reference_roi_align(features, rois, 3, 2, 0.25, 0, True)
    torch.testing.assert_close(got, want, atol=1e-10, rtol=0)
    features.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: roi_align(f, rois, (3, 2), 0.25, 0, True), (features,))


def test_module_and_errors():
    features, rois = make_inputs(3)
    layer = RoIAlign(output_size=(3, 4), spatial_scale=0.25, sampling_ratio=2, aligned=True)
    torch.testing.assert_close(layer(features, rois), roi_align(features, rois, (3, 4), 0.25, 2, True))
    assert "sampling_ratio=2" in repr(layer)
    assert roi_align(features, rois[:0], 3).shape == (0, 2, 3, 3)
    with pytest.raises(ValueError, match=r"\(K, 5\)"):
        roi_align(features, rois[:, 1:], 3)
    with pytest.raises(ValueError, match="output_size"):
        RoIAlign(output_size=0)
    with pytest.raises(ValueError, match="spatial_scale"):
        RoIAlign(output_size=7, spatial_scale=0.0)
    with pytest.raises(ValueError, match=r"batch indices in \[0, 2\)"):
        roi_align(features, rois + torch.tensor([2.0, 0, 0, 0, 0], dtype=rois.dtype), 3)


def test_roi_align_under_bfloat16_autocast_matches_float32():
    features = torch.randn(1, 3, 12, 12)
    rois = torch.tensor([[0, 1.3, 2.1, 9.7, 8.2]])
    expected = roi_align(features, rois, 4, 1.0, 2, True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pooled = roi_align(features, rois, 4, 1.0, 2, True)
    assert pooled.dtype == torch.float32 and torch.allclose(pooled, expected)
