"""FocalLoss: element-wise formula against a scalar reference, reductions, weights and gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from visionstack.models.losses.focal_loss import FocalLoss, sigmoid_focal_loss
from visionstack.registry import MODELS, build


def reference_focal(logit: float, target: int, gamma: float, alpha: float) -> float:
    """The paper's FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t), one element at a time."""
    p = 1.0 / (1.0 + math.exp(-logit))
    p_t = p if target == 1 else 1.0 - p
    alpha_t = alpha if target == 1 else 1.0 - alpha
    return -alpha_t * (1.0 - p_t) ** gamma * math.log(p_t)


def test_matches_the_scalar_formula_with_background_labels():
    torch.manual_seed(0)
    logits = torch.randn(7, 4, dtype=torch.float64) * 3
    labels = torch.tensor([0, 3, 4, 1, 4, 2, 4])  # 4 = background
    loss = FocalLoss(gamma=2.0, alpha=0.25, reduction="none")(logits, labels)
    expected = torch.tensor(
        [
            [reference_focal(logits[i, c].item(), int(labels[i] == c), 2.0, 0.25) for c in range(4)]
            for i in range(7)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(loss, expected)


def test_gamma_zero_without_alpha_is_binary_cross_entropy():
    torch.manual_seed(1)
    logits, targets = torch.randn(5, 3), (torch.rand(5, 3) > 0.5).float()
    torch.testing.assert_close(
        sigmoid_focal_loss(logits, targets, gamma=0.0, alpha=-1.0),
        F.binary_cross_entropy_with_logits(logits, targets, reduction="none"),
    )


def test_easy_examples_are_down_weighted():
    confident = torch.tensor([[6.0]])
    bce = F.binary_cross_entropy_with_logits(confident, torch.ones(1, 1))
    focal = sigmoid_focal_loss(confident, torch.ones(1, 1), gamma=2.0, alpha=-1.0)
    assert focal.item() < 1e-4 * bce.item()


def test_weight_avg_factor_and_loss_weight():
    torch.manual_seed(2)
    logits = torch.randn(6, 3)
    labels = torch.tensor([0, 1, 3, 2, 3, 3])
    weight = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.5, 1.0])
    elementwise = FocalLoss(reduction="none")(logits, labels)
    loss = FocalLoss(loss_weight=2.0)(logits, labels, weight=weight, avg_factor=3.0)
    torch.testing.assert_close(loss, 2.0 * (elementwise * weight[:, None]).sum() / 3.0, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(FocalLoss()(logits, labels), elementwise.mean())
    torch.testing.assert_close(FocalLoss(reduction="sum")(logits, labels), elementwise.sum())


def test_one_hot_float_targets_equal_class_indices():
    logits = torch.randn(4, 3)
    labels = torch.tensor([2, 3, 0, 1])
    one_hot = torch.zeros(4, 3)
    one_hot[[0, 2, 3], [2, 0, 1]] = 1.0
    torch.testing.assert_close(FocalLoss()(logits, labels), FocalLoss()(logits, one_hot))


def test_gradient_matches_finite_differences():
    logits = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 2, 1])
    assert torch.autograd.gradcheck(lambda x: FocalLoss()(x, labels, avg_factor=2.0), (logits,))


def test_builds_from_config_and_rejects_bad_shapes():
    loss = build(dict(type="FocalLoss", gamma=1.5, alpha=0.5), MODELS)
    assert isinstance(loss, FocalLoss) and loss.gamma == 1.5
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        loss(torch.randn(4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="weight"):
        loss(torch.randn(4, 2), torch.zeros(4, dtype=torch.long), weight=torch.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        FocalLoss(reduction="avg")
