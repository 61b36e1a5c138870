"""QualityFocalLoss against a float64 element loop, its focal-loss limit, targets and reductions."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.models.losses.gfocal_loss import QualityFocalLoss, quality_focal_loss


def _reference(logits: torch.Tensor, labels: torch.Tensor, scores: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-sample QFL summed over classes, element by element (GFL paper, eq. 3)."""
    out = torch.zeros(logits.shape[0], dtype=torch.float64)
    for i in range(logits.shape[0]):
        for c in range(logits.shape[1]):
            y = float(scores[i]) if int(labels[i]) == c else 0.0
            p = 1.0 / (1.0 + math.exp(-float(logits[i, c])))
            bce = -(y * math.log(p) + (1 - y) * math.log(1 - p))
            out[i] += bce * abs(y - p) ** beta
    return out


def test_matches_hand_formula_per_sample():
    torch.manual_seed(0)
    logits = torch.randn(7, 4, dtype=torch.float64) * 2
    labels = torch.tensor([0, 4, 2, 4, 3, 1, 4])  # 4 = background
    scores = torch.tensor([0.9, 0.0, 0.3, 0.0, 0.75, 0.05, 0.0], dtype=torch.float64)
    loss = QualityFocalLoss(beta=2.0, reduction="none")(logits, (labels, scores))
    torch.testing.assert_close(loss, _reference(logits, labels, scores, 2.0))
    loss_beta1 = QualityFocalLoss(beta=1.0, reduction="none")(logits, (labels, scores))
    torch.testing.assert_close(loss_beta1, _reference(logits, labels, scores, 1.0))


def test_hard_targets_give_the_sigmoid_focal_loss_without_alpha():
    torch.manual_seed(1)
    logits = torch.randn(5, 3, dtype=torch.float64)
    target = torch.zeros(5, 3, dtype=torch.float64)
    target[torch.arange(5), torch.tensor([0, 2, 1, 1, 0])] = 1.0
    p = logits.sigmoid()
    p_t = torch.where(target > 0, p, 1 - p)
    focal = -((1 - p_t) ** 2) * p_t.log()  # Lin et al. 2017, gamma = 2, no alpha
    torch.testing.assert_close(quality_focal_loss(logits, target, beta=2.0), focal)


def test_tuple_and_dense_targets_agree_and_background_is_all_zero():
    torch.manual_seed(2)
    logits = torch.randn(4, 3)
    labels = torch.tensor([3, 1, 3, 0])
    scores = torch.tensor([0.7, 0.5, 0.2, 1.0])  # scores of background rows are ignored
    dense = torch.zeros(4, 3)
    dense[1, 1], dense[3, 0] = 0.5, 1.0
    loss = QualityFocalLoss(reduction="none")
    torch.testing.assert_close(loss(logits, (labels, scores)), loss(logits, dense))


def test_perfect_soft_prediction_costs_nothing_and_gradient_points_to_target():
    # sigmoid(x) == y: the modulating factor is 0, so the loss and its gradient vanish.
    y = torch.tensor([[0.3, 0.0]])
    x = torch.tensor([[math.log(0.3 / 0.7), -30.0]], requires_grad=True)
    loss = QualityFocalLoss()(x, y)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    x2 = torch.tensor([[0.0, 0.0]], requires_grad=True)
    QualityFocalLoss()(x2, y).backward()
    assert x2.grad[0, 0] > 0 and x2.grad[0, 1] > 0  # both probabilities 0.5 are above their targets


def test_weight_avg_factor_and_loss_weight():
    torch.manual_seed(3)
    logits = torch.randn(6, 2)
    labels = torch.tensor([0, 1, 2, 2, 0, 1])
    scores = torch.rand(6)
    weight = torch.tensor([1.0, 0.0, 2.0, 1.0, 0.5, 1.0])
    per_sample = QualityFocalLoss(reduction="none")(logits, (labels, scores))
    loss = QualityFocalLoss(loss_weight=3.0)(logits, (labels, scores), weight=weight, avg_factor=2.5)
    torch.testing.assert_close(loss, 3.0 * (per_sample * weight).sum() / 2.5)
    total = QualityFocalLoss()(logits, (labels, scores), reduction_override="sum")
    torch.testing.assert_close(total, per_sample.sum())
    torch.testing.assert_close(QualityFocalLoss()(logits, (labels, scores)), per_sample.mean())


def test_activated_predictions_match_logits():
    torch.manual_seed(4)
    logits = torch.randn(3, 4, dtype=torch.float64)
    target = torch.rand(3, 4, dtype=torch.float64) * (torch.rand(3, 4) > 0.5)
    expected = QualityFocalLoss()(logits, target)
    torch.testing.assert_close(QualityFocalLoss(activated=True)(logits.sigmoid(), target), expected)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="use_sigmoid"):
        QualityFocalLoss(use_sigmoid=False)
    with pytest.raises(ValueError, match="shape of pred"):
        QualityFocalLoss()(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="labels and scores"):
        QualityFocalLoss()(torch.zeros(2, 3), (torch.zeros(3, dtype=torch.long), torch.zeros(3)))
