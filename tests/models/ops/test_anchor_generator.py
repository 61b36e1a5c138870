"""Anchors against the published formulas, written out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.models.ops import AnchorGenerator
from visionstack.registry import MODELS, build


def test_rpn_base_anchors_by_hand():
    # Faster R-CNN RPN on stride 4 with scale 8: 32-pixel anchors of ratios h/w = 0.5, 1, 2.
    generator = AnchorGenerator(strides=[4], ratios=[0.5, 1.0, 2.0], scales=[8])
    w_half, h_half = 32 * math.sqrt(2) / 2, 32 / math.sqrt(2) / 2  # ratio 0.5: wide
    expected = torch.tensor(
        [[-w_half, -h_half, w_half, h_half], [-16.0, -16, 16, 16], [-h_half, -w_half, h_half, w_half]],
        dtype=torch.float64,
    )
    torch.testing.assert_close(generator.base_anchors[0], expected)
    assert generator.base_anchors[0][0].tolist() == pytest.approx(
        [-22.6274, -11.3137, 22.6274, 11.3137], abs=1e-4
    )


def test_retinanet_octave_scales_and_sizes():
    generator = AnchorGenerator(
        strides=[8, 16, 32, 64, 128], ratios=[0.5, 1.0, 2.0], octave_base_scale=4, scales_per_octave=3
    )
    assert generator.num_base_priors == [9] * 5
    torch.testing.assert_close(
        generator.scales, torch.tensor([4.0, 4 * 2 ** (1 / 3), 4 * 2 ** (2 / 3)], dtype=torch.float64)
    )
    for level, stride in enumerate([8, 16, 32, 64, 128]):
        base = generator.base_anchors[level]
        widths, heights = base[:, 2] - base[:, 0], base[:, 3] - base[:, 1]
        for ratio_index, ratio in enumerate([0.5, 1.0, 2.0]):
            for scale_index in range(3):
                size = stride * 4 * 2 ** (scale_index / 3)
                a = ratio_index * 3 + scale_index  # ratio-major order
                assert widths[a].item() == pytest.approx(size / math.sqrt(ratio))
                assert heights[a].item() == pytest.approx(size * math.sqrt(ratio))
        torch.testing.assert_close((base[:, :2] + base[:, 2:]) / 2, torch.zeros(9, 2, dtype=torch.float64))


def test_grid_order_and_shifts_match_a_loop():
    generator = AnchorGenerator(strides=[(8, 6), 16], ratios=[1.0, 2.0], scales=[2, 3], center_offset=0.5)
    levels = generator.grid_priors([(3, 4), (2, 2)], dtype=torch.float64)
    for level, (height, width) in enumerate([(3, 4), (2, 2)]):
        stride_w, stride_h = generator.strides[level]
        base = generator.base_anchors[level]
        assert levels[level].shape == (height * width * 4, 4)
        for y in range(height):
            for x in range(width):
                for a in range(4):
                    shift = torch.tensor([x * stride_w, y * stride_h] * 2, dtype=torch.float64)
                    torch.testing.assert_close(levels[level][(y * width + x) * 4 + a], base[a] + shift)
    # center_offset 0.5 puts the first center at half the base size (the base size is stride_w = 8)
    torch.testing.assert_close(
        (levels[0][0, :2] + levels[0][0, 2:]) / 2, torch.tensor([4.0, 4.0], dtype=torch.float64)
    )


def test_valid_flags():
    generator = AnchorGenerator(strides=[8], ratios=[1.0], scales=[4, 8])
    flags = generator.valid_flags([(4, 5)], pad_shape=(20, 30))[0].reshape(4, 5, 2)
    expected = torch.zeros(4, 5, dtype=torch.bool)
    expected[:3, :4] = True  # ceil(20 / 8) rows, ceil(30 / 8) columns
    assert torch.equal(flags, expected[..., None].expand(4, 5, 2))


def test_builds_from_config_and_rejects_bad_arguments():
    generator = build(
        dict(type="AnchorGenerator", strides=[8], ratios=[1.0], octave_base_scale=4, scales_per_octave=2),
        MODELS,
    )
    assert generator.scales.tolist() == pytest.approx([4.0, 4 * math.sqrt(2)])
    with pytest.raises(ValueError, match="either scales"):
        AnchorGenerator(strides=[8], ratios=[1.0], scales=[1], octave_base_scale=4, scales_per_octave=3)
    with pytest.raises(ValueError, match="either scales"):
        AnchorGenerator(strides=[8], ratios=[1.0], octave_base_scale=4)
    with pytest.raises(ValueError, match="base_sizes"):
        AnchorGenerator(strides=[8, 16], ratios=[1.0], scales=[1], base_sizes=[8])
    with pytest.raises(ValueError, match="feature maps"):
        AnchorGenerator(strides=[8], ratios=[1.0], scales=[1]).grid_priors([(2, 2), (1, 1)])
