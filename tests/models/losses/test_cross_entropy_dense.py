"""CrossEntropyLoss's dense (MMSegmentation) conventions: avg_non_ignore, pixel weights, per-call ignore_index."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from visionstack.models.losses import CrossEntropyLoss


def manual_pixel_losses(
    logits: np.ndarray, labels: np.ndarray, class_weight: np.ndarray, ignore: int
) -> np.ndarray:
    """(N, H, W) ``class_weight[y] * -log softmax(x)_y``, 0 at ignored pixels."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    out = np.zeros(labels.shape)
    for index in np.ndindex(*labels.shape):
        label = labels[index]
        if label != ignore:
            n, y, x = index
            out[index] = -class_weight[label] * log_probs[n, label, y, x]
    return out


@pytest.fixture
def dense_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    logits = torch.randn(2, 3, 4, 5, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 3, (2, 4, 5), generator=generator)
    labels[0, 0, :] = 255
    labels[1, 2, 1:4] = 255
    return logits, labels


def test_class_weights_and_ignore_match_the_manual_mmseg_mean(dense_batch):
    logits, labels = dense_batch
    weight = np.array([0.5, 2.0, 1.5])
    per_pixel = manual_pixel_losses(logits.numpy(), labels.numpy(), weight, 255)
    valid = (labels != 255).sum().item()
    all_pixels = CrossEntropyLoss(class_weight=weight.tolist(), ignore_index=255, avg_non_ignore=False)
    assert all_pixels(logits, labels).item() == pytest.approx(per_pixel.sum() / labels.numel(), rel=1e-12)
    non_ignored = CrossEntropyLoss(class_weight=weight.tolist(), ignore_index=255, avg_non_ignore=True)
    assert non_ignored(logits, labels).item() == pytest.approx(per_pixel.sum() / valid, rel=1e-12)
    # the default keeps torch's convention: divide by the summed class weights of the valid pixels
    torch_mean = CrossEntropyLoss(class_weight=weight.tolist(), ignore_index=255)(logits, labels)
    divisor = weight[labels.numpy()[labels.numpy() != 255]].sum()
    assert torch_mean.item() == pytest.approx(per_pixel.sum() / divisor, rel=1e-12)


def test_pixel_weights_multiply_the_per_pixel_loss(dense_batch):
    logits, labels = dense_batch
    keep = (torch.arange(40).view(2, 4, 5) % 3 == 0).double()
    per_pixel = F.cross_entropy(logits, labels, ignore_index=255, reduction="none")
    loss = CrossEntropyLoss(ignore_index=255, avg_non_ignore=False)(logits, labels, weight=keep)
    torch.testing.assert_close(loss, (per_pixel * keep).sum() / labels.numel())
    loss_sum = CrossEntropyLoss(ignore_index=255)(logits, labels, weight=keep, reduction_override="sum")
    torch.testing.assert_close(loss_sum, (per_pixel * keep).sum())


def test_call_ignore_index_and_reduction_override(dense_batch):
    logits, labels = dense_batch
    loss = CrossEntropyLoss(avg_non_ignore=False)  # constructor's ignore_index is torch's -100
    per_pixel = loss(logits, labels, ignore_index=255, reduction_override="none")
    torch.testing.assert_close(per_pixel, F.cross_entropy(logits, labels, ignore_index=255, reduction="none"))
    assert per_pixel.shape == labels.shape and CrossEntropyLoss().loss_name == "loss_ce"
    assert CrossEntropyLoss(loss_name="loss_aux").loss_name == "loss_aux"
