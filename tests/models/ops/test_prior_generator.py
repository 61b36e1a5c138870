"""The shared parts of the prior generators: the cell grid and the loop over levels."""

from __future__ import annotations

import pytest
import torch

from visionstack.models.ops.prior_generator import PriorGenerator, cell_positions


def test_cell_positions_by_hand():
    xx, yy = cell_positions((2, 3), (8.0, 16.0), offset=0.5)
    assert xx.dtype == torch.float64 and xx.shape == yy.shape == (2, 3)
    torch.testing.assert_close(xx, torch.tensor([[4.0, 12.0, 20.0]] * 2, dtype=torch.float64))
    torch.testing.assert_close(yy, torch.tensor([[8.0] * 3, [24.0] * 3], dtype=torch.float64))


class _CornerGenerator(PriorGenerator):
    def __init__(self, strides: list[tuple[float, float]]) -> None:
        self.strides = strides

    def level_priors(self, featmap_size, level, scale: float = 1.0):
        xx, yy = cell_positions(featmap_size, self.strides[level])
        return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1) * scale


def test_grid_priors_casts_and_passes_options():
    generator = _CornerGenerator([(4.0, 4.0), (8.0, 8.0)])
    assert generator.num_levels == 2
    level0, level1 = generator.grid_priors([(1, 2), (1, 1)], dtype=torch.float16, scale=0.5)
    assert level0.dtype == level1.dtype == torch.float16
    torch.testing.assert_close(level0, torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=torch.float16))
    with pytest.raises(ValueError, match="_CornerGenerator: 1 feature maps for 2 levels"):
        generator.grid_priors([(1, 1)])
