"""SmoothL1Loss and L1Loss against torch's functional losses, with weights and avg_factor."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionstack.models.losses.smooth_l1_loss import L1Loss, SmoothL1Loss, smooth_l1
from visionstack.registry import MODELS, build


@pytest.mark.parametrize("beta", [1.0, 1.0 / 9, 0.5])
def test_smooth_l1_matches_torch(beta):
    torch.manual_seed(0)
    pred, target = torch.randn(20, 4), torch.randn(20, 4)
    torch.testing.assert_close(
        SmoothL1Loss(beta=beta)(pred, target), F.smooth_l1_loss(pred, target, beta=beta)
    )
    torch.testing.assert_close(
        SmoothL1Loss(beta=beta, reduction="none")(pred, target),
        F.smooth_l1_loss(pred, target, beta=beta, reduction="none"),
    )


def test_smooth_l1_is_continuous_at_beta():
    beta = 0.3
    below, above = (
        smooth_l1(torch.tensor(beta - 1e-6), torch.tensor(0.0), beta),
        smooth_l1(torch.tensor(beta + 1e-6), torch.tensor(0.0), beta),
    )
    assert abs(below.item() - above.item()) < 1e-5
    torch.testing.assert_close(smooth_l1(torch.tensor([2.0]), torch.tensor([0.5]), 0.0), torch.tensor([1.5]))


def test_l1_with_weight_and_avg_factor():
    torch.manual_seed(1)
    pred, target = torch.randn(6, 4), torch.randn(6, 4)
    weight = torch.zeros(6, 4)
    weight[[1, 4]] = 1.0
    loss = L1Loss(loss_weight=3.0)(pred, target, weight=weight, avg_factor=2.0)
    expected = 3.0 * (pred[[1, 4]] - target[[1, 4]]).abs().sum() / 2.0
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(L1Loss()(pred, target), F.l1_loss(pred, target))
    torch.testing.assert_close(
        L1Loss(reduction="sum")(pred, target), F.l1_loss(pred, target, reduction="sum")
    )


def test_no_positives_gives_a_zero_with_a_graph():
    pred = torch.zeros(0, 4, requires_grad=True)
    loss = L1Loss()(pred, torch.zeros(0, 4), avg_factor=1.0)
    loss.backward()
    assert loss.item() == 0.0 and pred.grad is not None


def test_gradients_and_errors():
    pred = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    target = torch.randn(5, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: SmoothL1Loss(beta=0.7)(x, target), (pred,))
    with pytest.raises(ValueError, match="shapes differ"):
        L1Loss()(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="beta"):
        SmoothL1Loss(beta=-1.0)
    assert isinstance(build(dict(type="SmoothL1Loss", beta=0.11), MODELS), SmoothL1Loss)
    assert isinstance(build(dict(type="L1Loss"), MODELS), L1Loss)
