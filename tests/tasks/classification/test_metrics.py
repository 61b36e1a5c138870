"""Classification metrics against scikit-learn, through the full Evaluator path."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from visionstack.evaluation import Evaluator
from visionstack.registry import METRICS, build
from visionstack.structures import DataSample, LabelData
from visionstack.utils import dist

metrics_module = importlib.import_module("visionstack.tasks.classification.metrics")
Accuracy = metrics_module.Accuracy
SingleLabelMetric = metrics_module.SingleLabelMetric
ConfusionMatrix = metrics_module.ConfusionMatrix


def random_predictions(num_samples: int, num_classes: int, seed: int, never_predicted=(), never_true=()):
    """Scores (N, C) softmax, ground truth (N,); some classes never predicted / never true."""
    generator = np.random.default_rng(seed)
    logits = generator.normal(size=(num_samples, num_classes))
    logits[:, list(never_predicted)] -= 50.0
    allowed = [c for c in range(num_classes) if c not in never_true]
    labels = generator.choice(allowed, size=num_samples)
    scores = torch.softmax(torch.from_numpy(logits), dim=1).float()
    return scores, torch.from_numpy(labels)


def make_samples(scores: torch.Tensor, labels: torch.Tensor, with_score: bool = True) -> list[DataSample]:
    samples = []
    for score, label in zip(scores, labels):
        pred = LabelData(label=score.argmax().reshape(1))
        if with_score:
            pred.score = score
        samples.append(DataSample(pred_label=pred, gt_label=LabelData(label=label.reshape(1).long())))
    return samples


def evaluate_in_batches(metrics, samples, batch_size: int = 7, dataset_meta=None, size=None) -> dict:
    """Feed ``samples`` batch by batch through an Evaluator; ``size`` is the dataset length."""
    evaluator = Evaluator(metrics)
    evaluator.dataset_meta = dataset_meta
    for start in range(0, len(samples), batch_size):
        batch = samples[start : start + batch_size]
        evaluator.process({"inputs": [], "data_samples": batch}, batch)
    return evaluator.evaluate(len(samples) if size is None else size)


CASES = [  # (num_samples, num_classes, seed, never_predicted, never_true)
    (50, 2, 0, (), ()),
    (61, 3, 1, (2,), ()),
    (97, 7, 2, (1, 4), (4,)),
    (203, 10, 3, (0, 9), (5,)),
]


@pytest.mark.parametrize(("num_samples", "num_classes", "seed", "never_predicted", "never_true"), CASES)
def test_accuracy_equals_sklearn(num_samples, num_classes, seed, never_predicted, never_true):
    scores, labels = random_predictions(num_samples, num_classes, seed, never_predicted, never_true)
    topk = (1, 5) if num_classes > 5 else (1,)
    result = evaluate_in_batches([Accuracy(topk=topk)], make_samples(scores, labels))
    assert result["accuracy/top1"] == pytest.approx(100 * accuracy_score(labels, scores.argmax(1)), abs=1e-9)
    if 5 in topk:
        expected = 100 * top_k_accuracy_score(labels, scores.numpy(), k=5, labels=np.arange(num_classes))
        assert result["accuracy/top5"] == pytest.approx(expected, abs=1e-9)
    assert all(isinstance(value, float) for value in result.values())


@pytest.mark.parametrize(("num_samples", "num_classes", "seed", "never_predicted", "never_true"), CASES)
@pytest.mark.parametrize("average", ["macro", "micro", None])
def test_single_label_metric_equals_sklearn(
    num_samples, num_classes, seed, never_predicted, never_true, average
):
    scores, labels = random_predictions(num_samples, num_classes, seed, never_predicted, never_true)
    metric = SingleLabelMetric(average=average, items=("precision", "recall", "f1-score", "support"))
    result = evaluate_in_batches([metric], make_samples(scores, labels), batch_size=5)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, scores.argmax(1), labels=np.arange(num_classes), average=average, zero_division=0
    )
    if average is None:
        np.testing.assert_allclose(result["single-label/precision_classwise"], 100 * precision, atol=1e-9)
        np.testing.assert_allclose(result["single-label/recall_classwise"], 100 * recall, atol=1e-9)
        np.testing.assert_allclose(result["single-label/f1-score_classwise"], 100 * f1, atol=1e-9)
        assert result["single-label/support_classwise"] == support.tolist()
        assert all(isinstance(v, list) and len(v) == num_classes for v in result.values())
    else:
        assert result["single-label/precision"] == pytest.approx(100 * precision, abs=1e-9)
        assert result["single-label/recall"] == pytest.approx(100 * recall, abs=1e-9)
        assert result["single-label/f1-score"] == pytest.approx(100 * f1, abs=1e-9)
        assert result["single-label/support"] == num_samples
        assert all(type(result[f"single-label/{k}"]) is float for k in ("precision", "recall", "f1-score"))


@pytest.mark.parametrize(("num_samples", "num_classes", "seed", "never_predicted", "never_true"), CASES)
def test_confusion_matrix_equals_sklearn(num_samples, num_classes, seed, never_predicted, never_true):
    scores, labels = random_predictions(num_samples, num_classes, seed, never_predicted, never_true)
    result = evaluate_in_batches([ConfusionMatrix()], make_samples(scores, labels), batch_size=16)
    matrix = result["confusion_matrix/result"]
    assert matrix.dtype == torch.int64 and matrix.shape == (num_classes, num_classes)
    expected = sklearn_confusion_matrix(labels, scores.argmax(1), labels=np.arange(num_classes))
    np.testing.assert_array_equal(matrix.numpy(), expected)


def test_micro_average_is_accuracy():
    scores, labels = random_predictions(80, 6, seed=11)
    result = evaluate_in_batches(
        [Accuracy(), SingleLabelMetric(average="micro")], make_samples(scores, labels)
    )
    assert result["single-label/recall"] == pytest.approx(result["accuracy/top1"])
    assert result["single-label/f1-score"] == pytest.approx(result["accuracy/top1"])


def test_accuracy_thresholds_against_a_loop():
    scores, labels = random_predictions(120, 8, seed=5)
    result = evaluate_in_batches([Accuracy(topk=(1, 3), thrs=(None, 0.3))], make_samples(scores, labels))
    for k in (1, 3):
        ranked = scores.argsort(dim=1, descending=True)[:, :k]
        in_topk = [int(labels[i]) in ranked[i].tolist() for i in range(len(labels))]
        confident = [in_topk[i] and scores[i, labels[i]] > 0.3 for i in range(len(labels))]
        assert result[f"accuracy/top{k}_no-thr"] == pytest.approx(100 * np.mean(in_topk))
        assert result[f"accuracy/top{k}_thr-0.30"] == pytest.approx(100 * np.mean(confident))
    assert result["accuracy/top3_thr-0.30"] < result["accuracy/top3_no-thr"]


def test_topk_at_least_num_classes_counts_everything():
    scores, labels = random_predictions(30, 3, seed=4)
    with pytest.warns(UserWarning, match="top5 with 3 classes"):
        result = evaluate_in_batches([Accuracy(topk=(1, 5))], make_samples(scores, labels))
    assert result["accuracy/top5"] == 100.0


def test_fake_two_ranks_with_padding_equal_single_process(monkeypatch):
    """Rank r holds samples r, r+2, ...; the sampler pads with sample 0; the result is exact."""
    num_samples, world_size = 41, 2
    scores, labels = random_predictions(num_samples, 5, seed=9)
    samples = make_samples(scores, labels)
    single = evaluate_in_batches([Accuracy(topk=(1, 2)), SingleLabelMetric()], samples)

    padded = list(range(num_samples)) + list(
        range(math.ceil(num_samples / world_size) * world_size - num_samples)
    )
    shards = [[samples[i] for i in padded[rank::world_size]] for rank in range(world_size)]
    rank_one = [Accuracy(topk=(1, 2)), SingleLabelMetric()]
    for metric in rank_one:
        for start in range(0, len(shards[1]), 4):
            metric.process(None, shards[1][start : start + 4])
    gathered_by_metric = iter([list(metric.results) for metric in rank_one])
    monkeypatch.setattr(dist, "all_gather_object", lambda obj: [obj, next(gathered_by_metric)])
    metrics = [Accuracy(topk=(1, 2)), SingleLabelMetric()]
    distributed = evaluate_in_batches(metrics, shards[0], batch_size=4, size=num_samples)
    assert distributed.keys() == single.keys()
    for key in single:
        assert distributed[key] == pytest.approx(single[key], abs=1e-12), key


def test_padding_would_change_the_result():
    """Guard for the test above: counting the padded duplicate gives a different accuracy."""
    scores, labels = random_predictions(41, 5, seed=9)
    samples = make_samples(scores, labels)
    exact = evaluate_in_batches([Accuracy()], samples)
    with_padding = evaluate_in_batches([Accuracy()], samples + samples[:1])
    assert exact["accuracy/top1"] != with_padding["accuracy/top1"]


def test_labels_only_predictions():
    scores, labels = random_predictions(40, 4, seed=3)
    samples = make_samples(scores, labels, with_score=False)
    result = evaluate_in_batches([Accuracy()], samples)
    assert result["accuracy/top1"] == pytest.approx(100 * accuracy_score(labels, scores.argmax(1)))
    with pytest.raises(ValueError, match="need pred_label.score"):
        evaluate_in_batches([Accuracy(topk=(1, 2))], samples)
    with pytest.raises(ValueError, match="pass num_classes"):
        evaluate_in_batches([SingleLabelMetric()], samples)
    meta = {"classes": ("a", "b", "c", "d", "e")}
    matrix = evaluate_in_batches([ConfusionMatrix()], samples, dataset_meta=meta)["confusion_matrix/result"]
    assert matrix.shape == (5, 5) and int(matrix.sum()) == 40


def test_soft_ground_truth_is_used_only_without_a_label():
    score = torch.tensor([0.1, 0.7, 0.2])
    soft_only = DataSample(
        pred_label=LabelData(score=score, label=torch.tensor([1])),
        gt_label=LabelData(score=torch.tensor([0.2, 0.6, 0.2])),
    )
    both = DataSample(
        pred_label=LabelData(score=score, label=torch.tensor([1])),
        gt_label=LabelData(label=torch.tensor([2]), score=torch.tensor([0.2, 0.6, 0.2])),
    )
    assert evaluate_in_batches([Accuracy()], [soft_only])["accuracy/top1"] == 100.0
    assert evaluate_in_batches([Accuracy()], [both])["accuracy/top1"] == 0.0


def test_plain_dict_samples_give_the_same_numbers():
    scores, labels = random_predictions(33, 4, seed=8)
    samples = make_samples(scores, labels)
    from_objects = evaluate_in_batches([Accuracy(topk=(1, 2)), SingleLabelMetric()], samples)
    from_dicts = evaluate_in_batches(
        [Accuracy(topk=(1, 2)), SingleLabelMetric()], [s.to_dict() for s in samples]
    )
    assert from_dicts == pytest.approx(from_objects)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="single-label"):
        bad = DataSample(
            pred_label=LabelData(score=torch.ones(3) / 3), gt_label=LabelData(label=torch.tensor([0, 2]))
        )
        Accuracy().process(None, [bad])
    with pytest.raises(KeyError, match=r"data_samples\[0\] has no pred_label"):
        Accuracy().process(None, [DataSample(gt_label=LabelData(label=torch.tensor([0])))])
    scores, labels = random_predictions(10, 3, seed=1)
    labels[4] = 7
    with pytest.raises(ValueError, match="sample 4 .* gt_label 7, outside 0..2"):
        evaluate_in_batches([SingleLabelMetric()], make_samples(scores, labels))
    with pytest.raises(ValueError, match="average must be one of"):
        SingleLabelMetric(average="weighted")
    with pytest.raises(ValueError, match="items must be"):
        SingleLabelMetric(items=("precision", "accuracy"))
    with pytest.raises(ValueError, match="topk must be positive"):
        Accuracy(topk=(0,))


def test_registered_and_buildable_with_prefix():
    assert {"Accuracy", "SingleLabelMetric", "ConfusionMatrix"} <= set(METRICS.keys())
    metric = build(dict(type="Accuracy", topk=(1, 3), prefix="val_acc"), METRICS)
    scores, labels = random_predictions(20, 4, seed=2)
    assert set(evaluate_in_batches([metric], make_samples(scores, labels))) == {
        "val_acc/top1",
        "val_acc/top3",
    }


def test_confusion_matrix_plot_writes_a_readable_png(tmp_path):
    scores, labels = random_predictions(200, 6, seed=6, never_predicted=(5,))
    matrix = evaluate_in_batches([ConfusionMatrix()], make_samples(scores, labels))["confusion_matrix/result"]
    names = ["airplane", "bird", "cat", "deer", "dog", "frog"]
    path = ConfusionMatrix.plot(matrix, names, tmp_path / "figures" / "confusion.png")
    assert path.is_file() and path.stat().st_size > 10_000
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    assert pixels.shape[0] > 300 and pixels.std() > 10
