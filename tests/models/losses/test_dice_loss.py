"""DiceLoss against a slow per-pixel loop in float64."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.models.losses import DiceLoss
from visionstack.registry import MODELS


def loop_dice_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    use_sigmoid: bool,
    naive: bool,
    eps: float,
    ignore_index: int = 255,
    pixel_weight: torch.Tensor | None = None,
) -> list[float]:
    """Per-image ``1 - dice`` written out pixel by pixel (the oracle)."""
    num_images, num_classes, height, width = logits.shape
    losses = []
    for n in range(num_images):
        inter = pred_sum = target_sum = 0.0
        for y in range(height):
            for x in range(width):
                label = int(labels[n, y, x])
                if label == ignore_index:
                    continue
                w = 1.0 if pixel_weight is None else float(pixel_weight[n, y, x])
                scores = [float(logits[n, c, y, x]) for c in range(num_classes)]
                if use_sigmoid:
                    probs = [1.0 / (1.0 + math.exp(-s)) for s in scores]
                else:
                    top = max(scores)
                    exps = [math.exp(s - top) for s in scores]
                    probs = [e / sum(exps) for e in exps]
                for c in range(num_classes):
                    t = 1.0 if c == label else 0.0
                    inter += w * probs[c] * t
                    pred_sum += w * (probs[c] if naive else probs[c] ** 2)
                    target_sum += w * (t if naive else t * t)
        if naive:
            dice = (2 * inter + eps) / (pred_sum + target_sum + eps)
        else:
            dice = 2 * inter / (pred_sum + eps + target_sum + eps)
        losses.append(1.0 - dice)
    return losses


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 4, 5, 6, generator=generator, dtype=torch.float64) * 2
    labels = torch.randint(0, 4, (2, 5, 6), generator=generator)
    labels[0, :2, :3] = 255
    labels[1, 4, :] = 255
    return logits, labels


@pytest.mark.parametrize("use_sigmoid", [False, True])
@pytest.mark.parametrize("naive", [False, True])
def test_matches_the_loop_reference(batch, use_sigmoid, naive):
    logits, labels = batch
    loss = DiceLoss(use_sigmoid=use_sigmoid, naive_dice=naive, eps=1e-3, reduction="none")(logits, labels)
    expected = loop_dice_loss(logits, labels, use_sigmoid=use_sigmoid, naive=naive, eps=1e-3)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    mean = DiceLoss(use_sigmoid=use_sigmoid, naive_dice=naive, loss_weight=0.5)(logits, labels)
    assert mean.item() == pytest.approx(0.5 * sum(expected) / 2, rel=1e-12)


def test_ignored_pixels_take_no_part(batch):
    logits, labels = batch
    changed = logits.clone()
    changed[0, :, :2, :3] = torch.randn(4, 2, 3, dtype=torch.float64) * 10  # only ignored pixels
    loss = DiceLoss(use_sigmoid=False)
    torch.testing.assert_close(loss(changed, labels), loss(logits, labels), rtol=0, atol=0)
    # the ignore value passed per call (as the decode head does) wins over the constructor's
    relabelled = labels.masked_fill(labels == 255, 7)
    torch.testing.assert_close(
        DiceLoss(use_sigmoid=False, ignore_index=0)(logits, relabelled, ignore_index=7), loss(logits, labels)
    )


def test_pixel_and_image_weights(batch):
    logits, labels = batch
    pixel_weight = (torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(1)) > 0.4).double()
    loss = DiceLoss(use_sigmoid=False, reduction="none")(logits, labels, weight=pixel_weight)
    expected = loop_dice_loss(
        logits, labels, use_sigmoid=False, naive=False, eps=1e-3, pixel_weight=pixel_weight
    )
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))
    per_image = DiceLoss(use_sigmoid=False, reduction="none")(logits, labels)
    weighted = DiceLoss(use_sigmoid=False, reduction="sum")(
        logits, labels, weight=torch.tensor([2.0, 0.0]).double()
    )
    torch.testing.assert_close(weighted, 2.0 * per_image[0])


def test_perfect_prediction_is_near_zero_and_gradients_flow(batch):
    _, labels = batch
    labels = labels.masked_fill(labels == 255, 0)
    perfect = torch.nn.functional.one_hot(labels, 4).movedim(-1, 1).double() * 40 - 20
    assert DiceLoss(use_sigmoid=False)(perfect, labels).item() < 1e-4
    logits = torch.randn(2, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: DiceLoss(use_sigmoid=False)(x, labels), (logits,))


def test_one_hot_target_of_pred_shape_equals_labels(batch):
    logits, labels = batch
    labels = labels.masked_fill(labels == 255, 1)
    onehot = torch.nn.functional.one_hot(labels, 4).movedim(-1, 1)
    loss = DiceLoss(use_sigmoid=True)
    torch.testing.assert_close(loss(logits, onehot), loss(logits, labels))


def test_registered_with_loss_name_and_errors_name_the_problem(batch):
    logits, labels = batch
    built = MODELS.build(dict(type="DiceLoss", use_sigmoid=False, loss_name="loss_dice_aux"))
    assert built.loss_name == "loss_dice_aux" and DiceLoss().loss_name == "loss_dice"
    with pytest.raises(ValueError, match="target must be class indices of shape"):
        DiceLoss()(logits, labels[:, :4])
    with pytest.raises(ValueError, match="reduction must be"):
        DiceLoss(reduction="avg")
