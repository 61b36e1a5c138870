"""Box coders: hand formulas and encode/decode round trips."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.models.ops import DeltaXYWHBBoxCoder, DistancePointBBoxCoder
from visionstack.testing import random_boxes


def test_delta_encode_by_hand():
    coder = DeltaXYWHBBoxCoder(target_stds=(0.1, 0.1, 0.2, 0.2))
    prior = torch.tensor([[0.0, 0, 10, 20]])  # center (5, 10), size (10, 20)
    target = torch.tensor([[2.0, 4, 22, 24]])  # center (12, 14), size (20, 20)
    expected = torch.tensor([[(7 / 10) / 0.1, (4 / 20) / 0.1, math.log(2) / 0.2, math.log(1) / 0.2]])
    torch.testing.assert_close(coder.encode(prior, target), expected)


@pytest.mark.parametrize(
    "means_stds", [((0, 0, 0, 0), (1, 1, 1, 1)), ((0.1, -0.2, 0.0, 0.3), (0.1, 0.1, 0.2, 0.2))]
)
def test_delta_round_trip(means_stds):
    generator = torch.Generator().manual_seed(0)
    priors = random_boxes(50, 100, generator, min_size=2).double()
    targets = random_boxes(50, 100, generator, min_size=2).double()
    coder = DeltaXYWHBBoxCoder(*means_stds, wh_ratio_clip=1e-6)
    torch.testing.assert_close(coder.decode(priors, coder.encode(priors, targets)), targets)


def test_delta_decode_clamps_and_clips():
    prior = torch.tensor([[10.0, 10, 20, 20]])  # center 15, size 10
    huge = torch.tensor([[50.0, 0.0, 10.0, -10.0]])
    boxes = DeltaXYWHBBoxCoder(clip_border=False).decode(prior, huge)
    max_ratio = abs(math.log(16 / 1000))
    width, height = 10 * math.exp(max_ratio), 10 * math.exp(-max_ratio)
    torch.testing.assert_close(
        boxes, torch.tensor([[515 - width / 2, 15 - height / 2, 515 + width / 2, 15 + height / 2]])
    )
    ctr_clamped = DeltaXYWHBBoxCoder(clip_border=False, add_ctr_clamp=True, ctr_clamp=32).decode(prior, huge)
    torch.testing.assert_close((ctr_clamped[:, 0] + ctr_clamped[:, 2]) / 2, torch.tensor([15.0 + 32]))
    clipped = DeltaXYWHBBoxCoder().decode(prior, huge, max_shape=(40, 60))
    assert clipped[0].tolist() == pytest.approx([60.0, 15 - height / 2, 60.0, 15 + height / 2], rel=1e-5)


def test_distance_coder_by_hand_and_round_trip():
    coder = DistancePointBBoxCoder()
    points = torch.tensor([[5.0, 6.0]])
    boxes = torch.tensor([[1.0, 2.0, 11.0, 9.0]])
    distances = coder.encode(points, boxes)
    torch.testing.assert_close(distances, torch.tensor([[4.0, 4.0, 6.0, 3.0]]))
    torch.testing.assert_close(coder.decode(points, distances), boxes)
    torch.testing.assert_close(
        coder.encode(points, boxes, max_distance=5.0), torch.tensor([[4.0, 4.0, 4.9, 3.0]])
    )
    torch.testing.assert_close(
        coder.decode(points, distances, max_shape=(8, 10)), torch.tensor([[1.0, 2.0, 10.0, 8.0]])
    )
    assert torch.equal(DistancePointBBoxCoder(clip_border=False).decode(points, distances, (8, 10)), boxes)
    with pytest.raises(ValueError, match="4 values"):
        DeltaXYWHBBoxCoder(target_means=(0, 0))
