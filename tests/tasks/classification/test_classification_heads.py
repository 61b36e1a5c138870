"""Classification heads: logits, loss with hard and soft targets, training accuracy, predictions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionstack.models import CrossEntropyLoss
from visionstack.structures import DataSample, LabelData
from visionstack.tasks.classification import LinearClsHead, VisionTransformerClsHead, gather_targets


def samples_with_labels(*labels: int) -> list[DataSample]:
    return [DataSample(gt_label=LabelData(label=torch.tensor([label]))) for label in labels]


def test_linear_head_logits_and_loss_match_torch():
    torch.manual_seed(0)
    head = LinearClsHead(
        num_classes=4, in_channels=8, loss=CrossEntropyLoss(label_smoothing=0.1), topk=(1, 2)
    )
    feats = (torch.randn(5, 3), torch.randn(5, 8))  # only the last feature is used
    logits = head(feats)
    torch.testing.assert_close(logits, feats[-1] @ head.fc.weight.T + head.fc.bias)
    labels = torch.tensor([0, 3, 1, 1, 2])
    losses = head.loss(feats, samples_with_labels(*labels.tolist()))
    torch.testing.assert_close(losses["loss"], F.cross_entropy(logits, labels, label_smoothing=0.1))
    top1 = (logits.argmax(1) == labels).float().mean() * 100
    top2 = (logits.topk(2, dim=1).indices == labels[:, None]).any(1).float().mean() * 100
    torch.testing.assert_close(losses["accuracy_top1"], top1)
    torch.testing.assert_close(losses["accuracy_top2"], top2)
    assert not losses["accuracy_top1"].requires_grad


def test_soft_targets_are_used_when_every_sample_has_a_score():
    torch.manual_seed(0)
    head = LinearClsHead(num_classes=3, in_channels=4)
    feats = (torch.randn(2, 4),)
    samples = samples_with_labels(0, 2)
    samples[0].gt_label.score = torch.tensor([0.7, 0.3, 0.0])
    samples[1].gt_label.score = torch.tensor([0.0, 0.4, 0.6])
    losses = head.loss(feats, samples)
    target = torch.stack([s.gt_label.score for s in samples])
    expected = -(target * F.log_softmax(head(feats), dim=1)).sum(1).mean()
    torch.testing.assert_close(losses["loss"], expected)
    assert set(losses) == {"loss"}  # no accuracy against soft targets
    del samples[1].gt_label.score  # mixed batch: fall back to hard labels
    assert gather_targets(samples).tolist() == [0, 2]


def test_predict_writes_argmax_and_softmax_scores():
    torch.manual_seed(0)
    head = LinearClsHead(num_classes=5, in_channels=4)
    feats = (torch.randn(3, 4),)
    samples = head.predict(feats, samples_with_labels(0, 1, 2))
    logits = head(feats)
    for index, sample in enumerate(samples):
        assert sample.pred_label.label.shape == (1,) and sample.pred_label.label.dtype == torch.int64
        assert sample.pred_label.label.item() == logits[index].argmax().item()
        torch.testing.assert_close(sample.pred_label.score, torch.softmax(logits[index], 0))
        assert "gt_label" in sample
    fresh = head.predict(feats)
    assert len(fresh) == 3 and fresh[0].pred_label.score.sum().item() == pytest.approx(1.0)


def test_vit_head_pre_logits_layer():
    torch.manual_seed(0)
    head = VisionTransformerClsHead(num_classes=3, in_channels=8, hidden_dim=6)
    x = torch.randn(2, 8)
    hidden = torch.tanh(x @ head.pre_logits_layer.fc.weight.T + head.pre_logits_layer.fc.bias)
    torch.testing.assert_close(head((x,)), hidden @ head.fc.weight.T + head.fc.bias)
    assert set(head.state_dict()) == {
        "pre_logits_layer.fc.weight",
        "pre_logits_layer.fc.bias",
        "fc.weight",
        "fc.bias",
    }
    plain = VisionTransformerClsHead(num_classes=3, in_channels=8)
    torch.testing.assert_close(plain((x,)), x @ plain.fc.weight.T + plain.fc.bias)


def test_errors_name_the_problem():
    head = LinearClsHead(num_classes=3, in_channels=4)
    with pytest.raises(ValueError, match="add a neck such as GlobalAveragePooling"):
        head((torch.randn(2, 4, 3, 3),))
    multi = [DataSample(gt_label=LabelData(label=torch.tensor([0, 2])))]
    with pytest.raises(ValueError, match="sample 0 has 2 labels"):
        head.loss((torch.randn(1, 4),), multi)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        LinearClsHead(num_classes=0, in_channels=4)
