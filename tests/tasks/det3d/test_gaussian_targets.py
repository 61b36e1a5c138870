"""Tests of the Gaussian heatmap targets and the penalty-reduced focal loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from visionstack.tasks.det3d.models.gaussian_targets import (
    GaussianFocalLoss,
    draw_heatmap_gaussian,
    gaussian_2d,
    gaussian_radius,
)


def test_gaussian_radius_hand_case():
    # 10 x 10 cells at overlap 0.5: the three roots are (20 + sqrt(400 - 4 * 100 / 3)) / 2 = 18.17,
    # (40 + sqrt(1600 - 800)) / 2 = 34.14 and (-20 + sqrt(400 + 400)) / 2 = 10 sqrt(2) - 10 = 4.14
    # (MMDetection3D's formulas, divided by 2 and not 2a); the third is the smallest
    assert gaussian_radius((10, 10), 0.5) == pytest.approx(10 * math.sqrt(2) - 10)
    # 4 x 8 cells at overlap 0.1: r3 = (-2.4 + sqrt(5.76 + 1.6 * 28.8)) / 2 = (-2.4 + 7.2) / 2 = 2.4
    assert gaussian_radius((4, 8), 0.1) == pytest.approx(2.4)
    # the radius scales with the object: a car of 3.9 x 1.6 m on a 0.4 m grid (overlap 0.1) gets 2 cells, on 0.2 m 5
    assert int(gaussian_radius((1.6 / 0.4, 3.9 / 0.4), 0.1)) == 2
    assert gaussian_radius((1.6 / 0.2, 3.9 / 0.2), 0.1) == pytest.approx(
        2 * gaussian_radius((4.0, 9.75), 0.1)
    )


def test_gaussian_2d_values():
    g = gaussian_2d((5, 5), sigma=5 / 6)
    assert g.shape == (5, 5) and g[2, 2] == 1.0
    np.testing.assert_allclose(g, g.T)
    np.testing.assert_allclose(g[2, 3], math.exp(-1 / (2 * (5 / 6) ** 2)))
    np.testing.assert_allclose(g[0, 0], math.exp(-8 / (2 * (5 / 6) ** 2)))


def _slow_gaussian(heatmap: np.ndarray, center: tuple[int, int], radius: int) -> np.ndarray:
    out = heatmap.copy()
    sigma = (2 * radius + 1) / 6
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            dx, dy = x - center[0], y - center[1]
            if abs(dx) <= radius and abs(dy) <= radius:
                value = math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma))
                if value < np.finfo(np.float64).eps:
                    value = 0.0
                out[y, x] = max(out[y, x], value)
    return out


@pytest.mark.parametrize("center,radius", [((5, 4), 2), ((0, 0), 3), ((9, 6), 2), ((7, 1), 4)])
def test_draw_heatmap_gaussian_matches_loop_and_clips(center, radius):
    rng = np.random.default_rng(0)
    base = (rng.random((7, 10)) * 0.5).astype(np.float32)
    heatmap = torch.from_numpy(base.copy())
    draw_heatmap_gaussian(heatmap, center, radius)
    np.testing.assert_allclose(heatmap.numpy(), _slow_gaussian(base, center, radius), atol=1e-6)
    assert heatmap[center[1], center[0]] == 1.0
    assert heatmap.eq(1).sum() == 1


def test_draw_keeps_the_maximum_of_two_objects():
    heatmap = torch.zeros(9, 9)
    draw_heatmap_gaussian(heatmap, (3, 4), 2)
    draw_heatmap_gaussian(heatmap, (5, 4), 2)
    assert heatmap[4, 3] == 1 and heatmap[4, 5] == 1
    # the cell between the peaks is one cell from each: exp(-1 / (2 sigma^2)), not the sum
    assert heatmap[4, 4] == pytest.approx(math.exp(-1 / (2 * (5 / 6) ** 2)), rel=1e-6)


def test_gaussian_focal_loss_hand_case():
    pred = torch.tensor([0.8, 0.3, 0.1])
    target = torch.tensor([1.0, 0.5, 0.0])
    pos = -math.log(0.8) * 0.2**2
    neg1 = -math.log(0.7) * 0.3**2 * 0.5**4
    neg2 = -math.log(0.9) * 0.1**2 * 1.0
    loss = GaussianFocalLoss(reduction="mean")
    assert loss(pred, target, avg_factor=1.0).item() == pytest.approx(pos + neg1 + neg2, rel=1e-5)
    assert loss(pred, target).item() == pytest.approx((pos + neg1 + neg2) / 3, rel=1e-5)
    none = GaussianFocalLoss(reduction="none", loss_weight=2.0)(pred, target)
    np.testing.assert_allclose(none.numpy(), 2 * np.array([pos, neg1, neg2]), rtol=1e-5)


def test_gaussian_focal_loss_gradient_and_shape_error():
    pred = torch.rand(1, 2, 4, 4, dtype=torch.float64).clamp(0.05, 0.95).requires_grad_()
    target = torch.rand(1, 2, 4, 4, dtype=torch.float64)
    target[0, 0, 1, 1] = 1
    assert torch.autograd.gradcheck(lambda p: GaussianFocalLoss()(p, target), (pred,))
    with pytest.raises(ValueError, match="shapes differ"):
        GaussianFocalLoss()(pred, target[:, :1])
