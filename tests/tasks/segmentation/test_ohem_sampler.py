"""OHEMPixelSampler against a NumPy restatement of MMSegmentation's rule, and inside a decode head."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from visionstack.models.losses import CrossEntropyLoss
from visionstack.registry import MODELS
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.segmentation.models.fcn_head import FCNHead
from visionstack.tasks.segmentation.models.ohem_sampler import OHEMPixelSampler


def numpy_ohem(
    logits: np.ndarray, labels: np.ndarray, thresh: float | None, min_kept: int, ignore: int = 255
):
    """0/1 keep mask: true-class probability below max(thresh, the k-th smallest), or the k largest losses."""
    batch_kept = min_kept * labels.shape[0]
    valid = labels != ignore
    exps = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exps / exps.sum(axis=1, keepdims=True)
    safe = np.where(valid, labels, 0)
    true_prob = np.take_along_axis(probs, safe[:, None], axis=1)[:, 0]
    keep = np.zeros(labels.shape)
    if thresh is not None:
        ordered = np.sort(true_prob[valid])
        threshold = max(ordered[min(batch_kept, ordered.size - 1)], thresh)
        keep[valid & (true_prob < threshold)] = 1
        return keep
    losses = -np.log(true_prob)
    flat_valid = np.flatnonzero(valid)
    hardest = flat_valid[np.argsort(-losses.ravel()[flat_valid])[:batch_kept]]
    keep.ravel()[hardest] = 1
    return keep


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(11)
    logits = torch.randn(2, 5, 8, 9, generator=generator, dtype=torch.float64) * 2
    labels = torch.randint(0, 5, (2, 8, 9), generator=generator)
    labels[0, :3, :4] = 255
    return logits, labels


def ce_pixel_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels, ignore_index=255, reduction="none")


@pytest.mark.parametrize(("thresh", "min_kept"), [(0.3, 10), (0.7, 10), (0.05, 20), (None, 15), (None, 1000)])
def test_matches_the_numpy_rule(batch, thresh, min_kept):
    logits, labels = batch
    weight = OHEMPixelSampler(thresh=thresh, min_kept=min_kept).sample(logits, labels, 255, ce_pixel_losses)
    expected = numpy_ohem(logits.numpy(), labels.numpy(), thresh, min_kept)
    np.testing.assert_array_equal(weight.numpy(), expected)
    assert weight[labels == 255].sum() == 0


def test_keeps_at_least_min_kept_when_the_model_is_confident(batch):
    _, labels = batch
    labels = labels.masked_fill(labels == 255, 0)
    confident = F.one_hot(labels, 5).movedim(-1, 1).double() * 8 + torch.rand(2, 5, 8, 9, dtype=torch.float64)
    weight = OHEMPixelSampler(thresh=0.5, min_kept=12).sample(confident, labels)
    assert weight.sum().item() == 24  # every probability is above thresh: exactly min_kept * N are kept


def test_ranks_by_loss_needs_a_loss_function_and_validates(batch):
    logits, labels = batch
    with pytest.raises(ValueError, match="needs loss_fn"):
        OHEMPixelSampler(min_kept=10).sample(logits, labels)
    with pytest.raises(ValueError, match="min_kept must be > 1"):
        OHEMPixelSampler(min_kept=1)
    assert isinstance(MODELS.build(dict(type="OHEMPixelSampler", thresh=0.7, min_kept=5)), OHEMPixelSampler)


def test_head_loss_uses_the_sampled_pixels_only(batch):
    _, labels = batch
    torch.manual_seed(0)
    head = FCNHead(
        in_channels=4,
        channels=6,
        num_classes=5,
        num_convs=1,
        dropout_ratio=0.0,
        sampler=OHEMPixelSampler(min_kept=20),
        loss_decode=CrossEntropyLoss(avg_non_ignore=False),
    ).double()
    feats = (torch.randn(2, 4, 4, 5, dtype=torch.float64),)
    samples = [DataSample(gt_sem_seg=PixelData(data=labels[i : i + 1])) for i in range(2)]
    losses = head.loss(feats, samples)
    logits = F.interpolate(head(feats), size=(8, 9), mode="bilinear", align_corners=False)
    keep = torch.from_numpy(numpy_ohem(logits.detach().numpy(), labels.numpy(), None, 20))
    expected = (ce_pixel_losses(logits, labels) * keep).sum() / labels.numel()
    torch.testing.assert_close(losses["loss_ce"], expected)
    assert keep.sum() == 40
