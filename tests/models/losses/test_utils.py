"""The shared call of the element-wise losses: per-element loss, then weight, reduce and scale."""

from __future__ import annotations

import pytest
import torch

from visionstack.models.losses import ElementwiseLoss


class _SquaredError(ElementwiseLoss):
    def elementwise_loss(self, pred, target, weight, power: float = 2.0):
        return (pred - target).abs() ** power, weight


def test_forward_weights_reduces_scales_and_passes_options():
    loss = _SquaredError(loss_weight=2.0)
    pred, target, weight = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.5])
    torch.testing.assert_close(loss(pred, target), torch.tensor(10.0))  # 2 * mean(1, 9)
    torch.testing.assert_close(
        loss(pred, target, weight, avg_factor=2.0), torch.tensor(5.5), rtol=1e-6, atol=0
    )
    torch.testing.assert_close(
        loss(pred, target, reduction_override="none", power=1.0), torch.tensor([2.0, 6.0])
    )
    with pytest.raises(ValueError, match="_SquaredError: reduction must be"):
        loss(pred, target, reduction_override="max")


def test_elementwise_loss_is_required():
    with pytest.raises(TypeError, match="abstract"):
        ElementwiseLoss()
