"""AccMetric and its NumPy functions against scikit-learn, through the full Evaluator path."""

from __future__ import annotations

import csv
import warnings

import cv2
import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from visionstack.evaluation import Evaluator
from visionstack.registry import METRICS, build
from visionstack.structures import DataSample, LabelData
from visionstack.tasks.action.metrics import AccMetric, confusion_matrix, mean_class_accuracy, top_k_accuracy

CLASSES = (
    "move_left",
    "move_right",
    "rotate_clockwise",
    "rotate_anticlockwise",
    "grow",
    "shrink",
    "approach",
)


def random_scores(
    num_videos: int, num_classes: int, seed: int, levels: int | None = None, never_predicted=(), never_true=()
):
    """(N, C) float32 softmax scores and (N,) labels. ``levels`` rounds the scores to that many
    values, so rows hold many exact ties."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(num_videos, num_classes)) * 2
    logits[:, list(never_predicted)] -= 50.0
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if levels is not None:
        scores = np.round(scores * levels) / levels
    allowed = [c for c in range(num_classes) if c not in never_true]
    return scores.astype(np.float32), rng.choice(allowed, size=num_videos)


CASES = [  # (num_videos, num_classes, seed, levels, never_predicted, never_true)
    (40, 3, 0, None, (), ()),
    (97, 7, 1, 4, (), (4,)),
    (203, 10, 2, 3, (0, 9), (5, 6)),
    (64, 12, 3, 1, (), ()),  # levels=1: mostly all-zero rows, ties everywhere
]


@pytest.mark.parametrize(
    ("num_videos", "num_classes", "seed", "levels", "never_predicted", "never_true"), CASES
)
def test_top_k_accuracy_equals_sklearn_with_ties(
    num_videos, num_classes, seed, levels, never_predicted, never_true
):
    scores, labels = random_scores(num_videos, num_classes, seed, levels, never_predicted, never_true)
    topk = [k for k in (1, 2, 3, 5, num_classes - 1) if k < num_classes]
    values = top_k_accuracy(scores, labels, topk)
    for k, value in zip(topk, values):
        expected = top_k_accuracy_score(labels, scores, k=k, labels=np.arange(num_classes))
        assert value == pytest.approx(expected, abs=1e-12), k
    assert top_k_accuracy(scores, labels, (num_classes, num_classes + 3)) == [1.0, 1.0]


def test_top_k_tie_rule_is_higher_label_first():
    scores = np.array([[0.5, 0.5, 0.0], [0.2, 0.4, 0.4], [1 / 3, 1 / 3, 1 / 3]])
    assert top_k_accuracy(scores, [1, 2, 2], (1,)) == [1.0]
    assert top_k_accuracy(scores, [0, 1, 0], (1,)) == [0.0]
    assert top_k_accuracy(scores, [0, 1, 1], (2,)) == [1.0]


@pytest.mark.parametrize(
    ("num_videos", "num_classes", "seed", "levels", "never_predicted", "never_true"), CASES
)
def test_confusion_matrix_equals_sklearn(num_videos, num_classes, seed, levels, never_predicted, never_true):
    scores, labels = random_scores(num_videos, num_classes, seed, levels, never_predicted, never_true)
    pred = scores.argmax(axis=1)
    matrix = confusion_matrix(pred, labels, num_classes)
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(
        matrix, sklearn_confusion_matrix(labels, pred, labels=np.arange(num_classes))
    )


@pytest.mark.parametrize(
    ("num_videos", "num_classes", "seed", "levels", "never_predicted", "never_true"), CASES
)
def test_mean_class_accuracy_against_balanced_accuracy(
    num_videos, num_classes, seed, levels, never_predicted, never_true
):
    """Equal to scikit-learn when every predicted class is in the ground truth; otherwise MMAction2
    also averages the predicted-only classes, each with recall 0."""
    scores, labels = random_scores(num_videos, num_classes, seed, levels, never_predicted, never_true)
    pred = scores.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        balanced = balanced_accuracy_score(labels, pred)
    in_gt, in_either = set(labels.tolist()), set(labels.tolist()) | set(pred.tolist())
    expected = balanced * len(in_gt) / len(in_either)
    assert mean_class_accuracy(scores, labels) == pytest.approx(expected, abs=1e-12)


def test_mean_class_accuracy_counts_predicted_only_classes_as_zero():
    scores = np.eye(4)[[0, 0, 3, 1]]  # predictions 0, 0, 3, 1
    labels = np.array([0, 1, 1, 1])  # classes 0 and 1 in the ground truth, 3 predicted only, 2 nowhere
    # recalls: class 0 1/1, class 1 1/3, class 3 0 (predicted only); class 2 is left out
    assert mean_class_accuracy(scores, labels) == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert balanced_accuracy_score(labels[[0, 1, 3]], [0, 0, 1]) == pytest.approx((1 + 1 / 2) / 2)


def make_samples(scores: np.ndarray, labels: np.ndarray) -> list[DataSample]:
    samples = []
    for score, label in zip(scores, labels):
        score = torch.from_numpy(score)
        pred = LabelData(label=score.argmax().reshape(1), score=score)
        samples.append(DataSample(pred_label=pred, gt_label=LabelData(label=torch.tensor([int(label)]))))
    return samples


def evaluate_in_batches(metric, samples, batch_size: int = 5, dataset_meta=None) -> dict:
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = dataset_meta
    for start in range(0, len(samples), batch_size):
        batch = samples[start : start + batch_size]
        evaluator.process({"inputs": [], "data_samples": batch}, batch)
    return evaluator.evaluate(len(samples))


def test_acc_metric_end_to_end_keys_and_fractions(tmp_path):
    scores, labels = random_scores(53, len(CLASSES), seed=7, never_true=(2,))
    metric = build(dict(type="AccMetric", confusion_matrix_dir=str(tmp_path / "cm")), METRICS)
    result = evaluate_in_batches(metric, make_samples(scores, labels), dataset_meta={"classes": CLASSES})
    assert list(result) == ["acc/top1", "acc/top5", "acc/mean1"]
    top1, top5 = top_k_accuracy(scores, labels, (1, 5))
    assert result == {"acc/top1": top1, "acc/top5": top5, "acc/mean1": mean_class_accuracy(scores, labels)}
    assert 0 < result["acc/top1"] < result["acc/top5"] <= 1.0  # fractions, as MMAction2 reports them
    assert all(isinstance(v, float) for v in result.values())

    picture = cv2.imread(str(tmp_path / "cm" / "confusion_matrix.png"))
    assert picture is not None and picture.size > 0 and min(picture.shape[:2]) > 200
    with open(tmp_path / "cm" / "confusion_matrix.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["gt\\pred", *CLASSES]
    assert [row[0] for row in rows[1:]] == list(CLASSES)
    written = np.array([[int(v) for v in row[1:]] for row in rows[1:]])
    np.testing.assert_array_equal(written, confusion_matrix(scores.argmax(axis=1), labels, len(CLASSES)))


def test_metric_list_options_and_prefix():
    scores, labels = random_scores(30, 6, seed=3)
    samples = make_samples(scores, labels)
    metric = AccMetric(metric_list="mean_class_accuracy", prefix="val")
    assert evaluate_in_batches(metric, samples) == {"val/mean1": mean_class_accuracy(scores, labels)}
    metric = AccMetric(metric_list=("top_k_accuracy",), metric_options=dict(top_k_accuracy=dict(topk=3)))
    assert evaluate_in_batches(metric, samples) == {"acc/top3": top_k_accuracy(scores, labels, (3,))[0]}


def test_plain_dict_samples_give_the_same_numbers():
    scores, labels = random_scores(20, 5, seed=4)
    samples = make_samples(scores, labels)
    as_dicts = [sample.to_dict() for sample in samples]
    assert evaluate_in_batches(AccMetric(), as_dicts) == evaluate_in_batches(AccMetric(), samples)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="metric_list.*'top1'"):
        AccMetric(metric_list=("top1",))
    with pytest.raises(ValueError, match="multi-label"):
        AccMetric(metric_list=("mean_average_precision",))
    with pytest.raises(ValueError, match="topk"):
        AccMetric(metric_options=dict(top_k_accuracy=dict(topk=(0, 1))))
    scores, labels = random_scores(4, 5, seed=0)
    with pytest.raises(ValueError, match="num_classes is 6 but the scores have 5"):
        evaluate_in_batches(AccMetric(num_classes=6), make_samples(scores, labels))
    with pytest.raises(ValueError, match=r"video 2 .* label 7, outside 0\.\.4"):
        evaluate_in_batches(AccMetric(), make_samples(scores, np.array([0, 1, 7, 2])))
    sample = DataSample(
        pred_label=LabelData(label=torch.tensor([1])), gt_label=LabelData(label=torch.tensor([1]))
    )
    with pytest.raises(KeyError, match=r"data_samples\[0\]\.pred_label has no `score`"):
        AccMetric().process(None, [sample])
    sample = DataSample(
        pred_label=LabelData(score=torch.ones(3)), gt_label=LabelData(label=torch.tensor([0, 2]))
    )
    with pytest.raises(ValueError, match="single-label"):
        AccMetric().process(None, [sample])
    with pytest.raises(KeyError, match="data_samples\\[0\\] has no gt_label"):
        AccMetric().process(None, [DataSample(pred_label=LabelData(score=torch.ones(3)))])
    metric = AccMetric(confusion_matrix_dir="unused")
    metric.dataset_meta = {"classes": CLASSES[:3]}
    with pytest.raises(ValueError, match="3 names but the scores have 5"):
        metric.compute_metrics([{"score": s, "label": int(y)} for s, y in zip(scores, labels)])
