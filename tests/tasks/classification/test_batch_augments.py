"""Mixup, CutMix and RandomBatchAugment: mixed images and soft targets follow the stated lambda."""

from __future__ import annotations

import pytest
import torch

from visionstack.models import RandomBatchAugment
from visionstack.structures import DataSample, LabelData
from visionstack.tasks.classification.batch_augments import CutMix, Mixup

NUM_CLASSES = 6


def make_batch(num: int = 5) -> tuple[torch.Tensor, list[DataSample]]:
    """Images (N, 3, 16, 12) and samples whose labels are all different (so a mix is traceable)."""
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(num, 3, 16, 12, generator=generator)
    samples = [DataSample(gt_label=LabelData(label=torch.tensor([i]))) for i in range(num)]
    return images, samples


def partner_of(scores: torch.Tensor, lam: float) -> list[int]:
    """For each row, the other class its score was mixed with (the permutation), recovered from
    the soft target ``lam * e_i + (1 - lam) * e_perm(i)``."""
    partners = []
    for index, row in enumerate(scores):
        others = row.clone()
        others[index] -= lam
        partners.append(int(others.argmax()) if others.max() > 1e-6 else index)
    return partners


def test_mixup_mixes_images_and_targets_with_the_same_lambda():
    torch.manual_seed(0)
    images, samples = make_batch()
    mixup = Mixup(alpha=1.0, num_classes=NUM_CLASSES)
    mixed, samples = mixup(images.clone(), samples)
    lam = mixup.last_lambda
    scores = torch.stack([s.gt_label.score for s in samples])
    torch.testing.assert_close(scores.sum(dim=1), torch.ones(5))
    perm = partner_of(scores, lam)
    assert sorted(perm) == list(range(5))
    torch.testing.assert_close(mixed, lam * images + (1 - lam) * images[perm])
    for index, partner in enumerate(perm):
        expected = torch.zeros(NUM_CLASSES)
        expected[index] += lam
        expected[partner] += 1 - lam
        torch.testing.assert_close(scores[index], expected)


def test_mixup_lambda_follows_the_beta_distribution():
    torch.manual_seed(0)
    mixup = Mixup(alpha=0.4, num_classes=NUM_CLASSES)
    lams = []
    for _ in range(2000):
        images, samples = make_batch(2)
        mixup(images, samples)
        lams.append(mixup.last_lambda)
    lams = torch.tensor(lams)
    # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1))
    assert lams.mean().item() == pytest.approx(0.5, abs=0.02)
    assert lams.var().item() == pytest.approx(1 / (4 * 1.8), rel=0.08)


def test_mixup_is_reproducible_through_the_global_seed():
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        images, samples = make_batch()
        outputs.append(Mixup(alpha=0.8, num_classes=NUM_CLASSES)(images, samples)[0])
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


def test_mixup_uses_existing_soft_scores():
    images, samples = make_batch(2)
    samples[0].gt_label.score = torch.tensor([0.5, 0.5, 0, 0, 0, 0])
    samples[1].gt_label.score = torch.tensor([0, 0, 0, 0, 0.25, 0.75])
    torch.manual_seed(0)
    mixup = Mixup(alpha=1.0, num_classes=NUM_CLASSES)
    _, samples = mixup(images, samples)
    total = samples[0].gt_label.score + samples[1].gt_label.score
    torch.testing.assert_close(total, torch.tensor([0.5, 0.5, 0, 0, 0.25, 0.75]))  # mass is conserved


@pytest.mark.parametrize("seed", range(5))
def test_cutmix_pastes_a_box_and_corrects_lambda_to_its_area(seed):
    torch.manual_seed(seed)
    images, samples = make_batch()
    cutmix = CutMix(alpha=1.0, num_classes=NUM_CLASSES)
    mixed, samples = cutmix(images.clone(), samples)
    y1, y2, x1, x2 = cutmix.last_box
    lam = cutmix.last_lambda
    assert lam == pytest.approx(1 - (y2 - y1) * (x2 - x1) / (16 * 12))
    scores = torch.stack([s.gt_label.score for s in samples])
    torch.testing.assert_close(scores.sum(dim=1), torch.ones(5))
    perm = partner_of(scores, lam) if lam < 1 else list(range(5))
    inside = torch.zeros(16, 12, dtype=torch.bool)
    inside[y1:y2, x1:x2] = True
    for index, partner in enumerate(perm):
        torch.testing.assert_close(mixed[index][:, inside], images[partner][:, inside])
        torch.testing.assert_close(mixed[index][:, ~inside], images[index][:, ~inside])


def test_cutmix_box_side_follows_sqrt_of_one_minus_lambda():
    from visionstack.tasks.classification.batch_augments import cutmix_box

    torch.manual_seed(0)
    for lam in (0.1, 0.5, 0.9):
        for _ in range(50):
            y1, y2, x1, x2 = cutmix_box(100, 80, lam)
            assert 0 <= y1 <= y2 <= 100 and 0 <= x1 <= x2 <= 80
            side = (1 - lam) ** 0.5
            assert y2 - y1 <= int(100 * side) and x2 - x1 <= int(80 * side)


def test_random_batch_augment_chooses_with_the_given_probabilities():
    calls = {"a": 0, "b": 0}

    def make(name):
        def augment(inputs, data_samples):
            calls[name] += 1
            return inputs, data_samples

        return augment

    torch.manual_seed(0)
    chooser = RandomBatchAugment([make("a"), make("b")], probs=[0.5, 0.3])
    images, samples = make_batch(2)
    for _ in range(4000):
        chooser(images, samples)
    assert calls["a"] / 4000 == pytest.approx(0.5, abs=0.03)
    assert calls["b"] / 4000 == pytest.approx(0.3, abs=0.03)  # the other 20 %: unchanged
    with pytest.raises(ValueError, match="2 augments but 1 probs"):
        RandomBatchAugment([make("a"), make("b")], probs=[1.0])
    with pytest.raises(ValueError, match="sum to at most 1"):
        RandomBatchAugment([make("a")], probs=[1.5])


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="alpha must be > 0"):
        Mixup(alpha=0.0, num_classes=3)
    images, samples = make_batch(2)
    samples[1].gt_label.score = torch.ones(4) / 4
    with pytest.raises(ValueError, match=r"sample 1 has a score of shape \(4,\)"):
        CutMix(alpha=1.0, num_classes=NUM_CLASSES)(images, samples)
