"""CrossEntropyLoss against torch's F.cross_entropy and a hand-written NumPy formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from visionstack.models.losses import CrossEntropyLoss


def numpy_smoothed_cross_entropy(logits: np.ndarray, target: np.ndarray, eps: float) -> float:
    """Mean over samples of -sum_c q_c log softmax(x)_c with q = (1 - eps) * target + eps / C."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    smoothed = (1 - eps) * target + eps / logits.shape[1]
    return float(-(smoothed * log_probs).sum(axis=1).mean())


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(6, 5, generator=generator, dtype=torch.float64), torch.tensor([0, 4, 2, 2, 1, 3])


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_hard_labels_match_torch_and_the_hand_formula(batch, eps):
    logits, labels = batch
    loss = CrossEntropyLoss(label_smoothing=eps)(logits, labels)
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels, label_smoothing=eps))
    onehot = np.eye(5)[labels.numpy()]
    assert loss.item() == pytest.approx(numpy_smoothed_cross_entropy(logits.numpy(), onehot, eps), rel=1e-10)


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_soft_targets_match_the_hand_formula(batch, eps):
    logits, _ = batch
    target = torch.softmax(torch.randn(6, 5, dtype=torch.float64), dim=1)
    loss = CrossEntropyLoss(label_smoothing=eps)(logits, target)
    assert loss.item() == pytest.approx(
        numpy_smoothed_cross_entropy(logits.numpy(), target.numpy(), eps), rel=1e-10
    )


def test_one_hot_soft_targets_equal_hard_labels(batch):
    logits, labels = batch
    loss = CrossEntropyLoss(label_smoothing=0.1)
    torch.testing.assert_close(loss(logits, F.one_hot(labels, 5).double()), loss(logits, labels))


def test_class_weight_loss_weight_and_reductions(batch):
    logits, labels = batch
    weight = [1.0, 2.0, 0.5, 1.0, 3.0]
    loss = CrossEntropyLoss(class_weight=weight, loss_weight=2.0)(logits, labels)
    expected = 2.0 * F.cross_entropy(logits, labels, weight=torch.tensor(weight, dtype=torch.float64))
    torch.testing.assert_close(loss, expected)
    per_sample = CrossEntropyLoss(reduction="none")(logits, labels)
    torch.testing.assert_close(per_sample, F.cross_entropy(logits, labels, reduction="none"))
    torch.testing.assert_close(CrossEntropyLoss(reduction="sum")(logits, labels), per_sample.sum())


def test_dense_logits_and_ignore_index():
    logits = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    labels = torch.randint(0, 4, (2, 3, 3))
    labels[0, 0, 0] = 255
    loss = CrossEntropyLoss(ignore_index=255)(logits, labels)
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels, ignore_index=255))


def test_gradcheck_soft_targets():
    logits = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    target = torch.softmax(torch.randn(3, 4, dtype=torch.float64), dim=1)
    loss = CrossEntropyLoss(label_smoothing=0.1, class_weight=[1.0, 2.0, 1.0, 0.5])
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (logits,))


def test_errors_name_the_problem(batch):
    logits, _ = batch
    with pytest.raises(ValueError, match="soft targets must have the logits' shape"):
        CrossEntropyLoss()(logits, torch.rand(6, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="class_weight has 3 entries"):
        CrossEntropyLoss(class_weight=[1.0, 1.0, 1.0])(logits, torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match="label_smoothing"):
        CrossEntropyLoss(label_smoothing=1.0)
