"""Prior points: offsets, strides and order."""

from __future__ import annotations

import pytest
import torch

from visionstack.models.ops import AnchorGenerator, MlvlPointGenerator


@pytest.mark.parametrize("offset", [0.0, 0.5])
def test_points_by_hand(offset):
    generator = MlvlPointGenerator(strides=[8, (16, 32)], offset=offset)
    level0, level1 = generator.grid_priors([(2, 3), (2, 2)], dtype=torch.float64, with_stride=True)
    expected0 = [[(x + offset) * 8, (y + offset) * 8, 8, 8] for y in range(2) for x in range(3)]
    expected1 = [[(x + offset) * 16, (y + offset) * 32, 16, 32] for y in range(2) for x in range(2)]
    torch.testing.assert_close(level0, torch.tensor(expected0, dtype=torch.float64))
    torch.testing.assert_close(level1, torch.tensor(expected1, dtype=torch.float64))
    assert generator.grid_priors([(2, 3), (1, 1)])[0].shape == (6, 2)
    assert generator.num_base_priors == [1, 1]


def test_points_are_the_centers_of_one_anchor_per_position():
    # With offset 0 a point sits where a center_offset=0 anchor is centered: same grid, same order.
    points = MlvlPointGenerator(strides=[16], offset=0.0).grid_priors([(3, 5)])[0]
    anchors = AnchorGenerator(strides=[16], ratios=[1.0], scales=[1.0]).grid_priors([(3, 5)])[0]
    torch.testing.assert_close(points, (anchors[:, :2] + anchors[:, 2:]) / 2)
    with pytest.raises(ValueError, match="feature maps"):
        MlvlPointGenerator(strides=[16]).grid_priors([])
