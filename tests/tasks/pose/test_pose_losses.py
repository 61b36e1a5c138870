"""Pose losses against slow float64 loop references, their gradients (gradcheck), registration and errors."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.registry import MODELS, build
from visionstack.tasks.pose.losses import KeypointMSELoss, KLDiscretLoss


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ KeypointMSELoss


def _reference_mse(output, target, weights, mask, use_target_weight, skip_empty_channel, loss_weight):
    """Loop over every pixel: squared error times the keypoint weight, the mask and the non-empty flag,
    summed and divided by the number of pixels of all keypoints and images."""
    batch, keypoints, height, width = output.shape
    total = 0.0
    for b in range(batch):
        for k in range(keypoints):
            non_empty = any(float(v) != 0 for v in target[b, k].flatten())
            factor = float(weights[b, k]) if use_target_weight else 1.0
            if skip_empty_channel and not non_empty:
                factor = 0.0
            for y in range(height):
                for x in range(width):
                    pixel = 1.0 if mask is None else float(mask[b, min(k, mask.shape[1] - 1), y, x])
                    total += (float(output[b, k, y, x]) - float(target[b, k, y, x])) ** 2 * factor * pixel
    return total / (batch * keypoints * height * width) * loss_weight


@pytest.mark.parametrize("use_target_weight", [False, True])
@pytest.mark.parametrize("skip_empty_channel", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
def test_keypoint_mse_matches_loop_reference(use_target_weight, skip_empty_channel, with_mask):
    g = _generator(0)
    output = torch.rand(2, 3, 5, 4, generator=g, dtype=torch.float64)
    target = torch.rand(2, 3, 5, 4, generator=g, dtype=torch.float64)
    target[1, 2] = 0  # an unlabelled keypoint's empty channel
    weights = torch.rand(2, 3, generator=g, dtype=torch.float64)
    mask = (torch.rand(2, 1, 5, 4, generator=g) > 0.3).double() if with_mask else None
    loss = KeypointMSELoss(use_target_weight, skip_empty_channel, loss_weight=0.7)(
        output, target, weights, mask
    )
    expected = _reference_mse(output, target, weights, mask, use_target_weight, skip_empty_channel, 0.7)
    assert loss.shape == ()
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_keypoint_mse_pixel_weights_and_zero_for_equal_maps():
    g = _generator(1)
    output = torch.rand(2, 3, 4, 4, generator=g, dtype=torch.float64)
    target = torch.rand(2, 3, 4, 4, generator=g, dtype=torch.float64)
    pixel_weights = torch.rand(2, 3, 4, 4, generator=g, dtype=torch.float64)
    loss = KeypointMSELoss(use_target_weight=True)(output, target, pixel_weights)
    assert loss.item() == pytest.approx(((output - target) ** 2 * pixel_weights).mean().item(), rel=1e-12)
    assert KeypointMSELoss()(target, target).item() == 0.0


def test_keypoint_mse_gradcheck():
    g = _generator(2)
    output = torch.rand(2, 2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.rand(2, 2, 3, 3, generator=g, dtype=torch.float64)
    weights = torch.rand(2, 2, generator=g, dtype=torch.float64)
    loss = KeypointMSELoss(use_target_weight=True, skip_empty_channel=True, loss_weight=2.0)
    assert torch.autograd.gradcheck(lambda out: loss(out, target, weights), (output,))


def test_keypoint_mse_errors():
    with pytest.raises(ValueError, match="KeypointMSELoss: output and target"):
        KeypointMSELoss()(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="use_target_weight=True needs target_weights"):
        KeypointMSELoss(use_target_weight=True)(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="target_weights must be"):
        KeypointMSELoss(use_target_weight=True)(
            torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), torch.ones(2, 1)
        )
    with pytest.raises(ValueError, match="mask of shape"):
        KeypointMSELoss()(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), mask=torch.ones(1, 2, 3, 4))


# ------------------------------------------------------------------ KLDiscretLoss


def _softmax(values):
    peak = max(values)
    exps = [math.exp(v - peak) for v in values]
    return [e / sum(exps) for e in exps]


def _reference_kl(
    preds, labels, weights, beta, label_softmax, label_beta, use_target_weight, mask, mask_weight
):
    """Per axis, image and keypoint: sum_i q_i (log q_i - log p_i) / L with p = softmax(beta * pred) and
    q the labels (or softmax(label_beta * labels)); weighted, summed, divided by the keypoint count."""
    batch, keypoints = preds[0].shape[:2]
    total = 0.0
    for pred, label in zip(preds, labels):
        for b in range(batch):
            for k in range(keypoints):
                p = _softmax([beta * float(v) for v in pred[b, k]])
                q = [float(v) for v in label[b, k]]
                if label_softmax:
                    q = _softmax([label_beta * v for v in q])
                kl = sum(qi * (math.log(qi) - math.log(pi)) for qi, pi in zip(q, p) if qi > 0) / len(p)
                factor = float(weights[b, k]) if use_target_weight else 1.0
                if mask is not None and k in mask:
                    factor *= mask_weight
                total += kl * factor
    return total / keypoints


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(beta=10.0, label_softmax=True),  # RTMPose's setting
        dict(beta=2.0, label_softmax=True, label_beta=3.0, use_target_weight=False),
        dict(beta=1.5, mask=[0, 2], mask_weight=4.0),
    ],
)
def test_kl_discret_matches_loop_reference(options):
    g = _generator(3)
    preds = (
        torch.randn(2, 3, 12, generator=g, dtype=torch.float64),
        torch.randn(2, 3, 16, generator=g, dtype=torch.float64),
    )
    labels = (
        torch.rand(2, 3, 12, generator=g, dtype=torch.float64),
        torch.rand(2, 3, 16, generator=g, dtype=torch.float64),
    )
    labels[0][0, 1, :6] = 0  # zero label bins contribute 0 (0 log 0)
    weights = torch.rand(2, 3, generator=g, dtype=torch.float64)
    full = (
        dict(
            beta=1.0, label_softmax=False, label_beta=10.0, use_target_weight=True, mask=None, mask_weight=1.0
        )
        | options
    )
    loss = KLDiscretLoss(**full, loss_weight=1.0)(preds, labels, weights)
    expected = _reference_kl(preds, labels, weights, **full)
    assert loss.shape == ()
    assert loss.item() == pytest.approx(expected, rel=1e-10)
    assert KLDiscretLoss(**full, loss_weight=0.5)(preds, labels, weights).item() == pytest.approx(
        expected / 2
    )


def test_kl_discret_is_zero_when_the_prediction_is_the_label_distribution():
    g = _generator(4)
    logits = (
        torch.randn(2, 3, 10, generator=g, dtype=torch.float64),
        torch.randn(2, 3, 8, generator=g, dtype=torch.float64),
    )
    labels = tuple(torch.softmax(2.0 * x, dim=-1) for x in logits)
    loss = KLDiscretLoss(beta=2.0)(logits, labels, torch.ones(2, 3, dtype=torch.float64))
    assert abs(loss.item()) < 1e-12


def test_kl_discret_gradcheck():
    g = _generator(5)
    pred_x = torch.randn(2, 2, 6, generator=g, dtype=torch.float64, requires_grad=True)
    pred_y = torch.randn(2, 2, 5, generator=g, dtype=torch.float64, requires_grad=True)
    labels = (
        torch.rand(2, 2, 6, generator=g, dtype=torch.float64),
        torch.rand(2, 2, 5, generator=g, dtype=torch.float64),
    )
    weights = torch.rand(2, 2, generator=g, dtype=torch.float64)
    loss = KLDiscretLoss(beta=10.0, label_softmax=True, mask=[1], mask_weight=2.0)
    assert torch.autograd.gradcheck(lambda x, y: loss((x, y), labels, weights), (pred_x, pred_y))


def test_kl_discret_errors():
    preds = (torch.zeros(2, 3, 8), torch.zeros(2, 3, 6))
    with pytest.raises(ValueError, match=r"needs target_weight of shape \(2, 3\), got None"):
        KLDiscretLoss()(preds, preds)
    with pytest.raises(ValueError, match="axis 1"):
        KLDiscretLoss()(preds, (torch.zeros(2, 3, 8), torch.zeros(2, 3, 7)), torch.ones(2, 3))
    with pytest.raises(ValueError, match="one tensor per axis"):
        KLDiscretLoss()(preds, preds[:1], torch.ones(2, 3))


# ------------------------------------------------------------------ registration


def test_losses_build_from_the_model_registry():
    assert MODELS.get("KeypointMSELoss") is KeypointMSELoss and MODELS.get("KLDiscretLoss") is KLDiscretLoss
    loss = build(dict(type="KLDiscretLoss", beta=10.0, label_softmax=True, use_target_weight=True), MODELS)
    assert isinstance(loss, KLDiscretLoss) and loss.beta == 10.0 and loss.label_softmax
    mse = build(dict(type="KeypointMSELoss", use_target_weight=True), MODELS)
    assert isinstance(mse, KeypointMSELoss) and mse.use_target_weight
