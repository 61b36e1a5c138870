"""Action-recognition accuracy: MMAction2's ``AccMetric`` (top-k and mean class accuracy).

Per video the metric reads the clip-averaged class scores ``pred_label.score`` (num_classes,) and the
label ``gt_label.label`` (1,) (DataSample objects or the dicts their ``to_dict()`` writes). Values are
fractions in 0..1, as MMAction2 reports them (``acc/top1`` 0.7321); the classification task's
``Accuracy`` reports percentages (0..100) as MMPretrain does, so the two are not on the same scale.

Ties are ranked as scikit-learn's ``top_k_accuracy_score`` and MMAction2's NumPy code rank them:
a stable ascending sort read from the end, so among equal scores the higher label ranks first. The
argmax prediction of the mean class accuracy and the confusion matrix (``np.argmax``) takes the
lower label instead, again as MMAction2 does. Exact ties are rare with softmax scores, but an
untrained model's uniform scores are all ties: there top-1 counts a video of the last class as
correct and the mean class accuracy one of class 0.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstack.evaluation import BaseMetric, sample_fields
from visionstack.registry import METRICS
from visionstack.visualization import plot_confusion_matrix

__all__ = ["AccMetric", "confusion_matrix", "mean_class_accuracy", "top_k_accuracy", "write_confusion_matrix"]

METRIC_NAMES = ("top_k_accuracy", "mean_class_accuracy")
MULTI_LABEL_NAMES = ("mean_average_precision", "mmit_mean_average_precision")
_VAL_STEP_OUTPUT = (
    "the output of model.val_step (DataSamples with pred_label.score and the dataset's gt_label)"
)


def top_k_accuracy(scores: Any, labels: Any, topk: Sequence[int] = (1,)) -> list[float]:
    """The fraction of videos whose true class is among the ``k`` highest scores, for every k.

    Args:
        scores: (N, C) class scores.
        labels: (N,) true class indices in 0..C-1.
        topk: the values of k; a k >= C counts every video as correct.

    Returns:
        One fraction in 0..1 per k. Among equal scores the higher label ranks first (see the module
        docstring).
    """
    scores, labels = _scores_and_labels(scores, labels, "top_k_accuracy")
    # A stable ascending sort, reversed: equal scores end up higher label first (scikit-learn's rule).
    ranked = np.argsort(scores, axis=1, kind="stable")[:, ::-1]
    hits = ranked == labels[:, None]
    return [float(hits[:, :k].any(axis=1).mean()) for k in topk]


def mean_class_accuracy(scores: Any, labels: Any) -> float:
    """MMAction2's mean class accuracy: the mean per-class recall of the argmax prediction.

    The mean runs over every class that occurs in the ground truth *or* in the predictions; a class
    that is predicted but has no video in the ground truth has recall 0 and still counts, classes
    in neither are left out. (scikit-learn's ``balanced_accuracy_score`` leaves the predicted-only
    classes out; the two agree when every predicted class is in the ground truth, and otherwise
    this value is the balanced accuracy times ``#gt classes / #(gt or predicted) classes``.)

    Args:
        scores: (N, C) class scores; the prediction is ``argmax`` (the lower label on ties).
        labels: (N,) true class indices.

    Returns:
        A fraction in 0..1.
    """
    scores, labels = _scores_and_labels(scores, labels, "mean_class_accuracy")
    counts = confusion_matrix(scores.argmax(axis=1), labels, scores.shape[1])
    support = counts.sum(axis=1)
    seen = (support > 0) | (counts.sum(axis=0) > 0)
    recall = np.divide(
        np.diag(counts), support, out=np.zeros(len(support), dtype=np.float64), where=support > 0
    )
    return float(recall[seen].mean())


def confusion_matrix(pred: Any, labels: Any, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts; row = ground-truth class, column = predicted class.

    Args:
        pred: (N,) predicted class indices.
        labels: (N,) true class indices.
        num_classes: C; every index must be in 0..C-1.
    """
    pred = np.asarray(pred, dtype=np.int64).reshape(-1)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if pred.shape != labels.shape:
        raise ValueError(f"confusion_matrix: {pred.size} predictions but {labels.size} labels")
    for name, values in (("pred", pred), ("labels", labels)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"confusion_matrix: {name} has indices outside 0..{num_classes - 1}")
    flat = labels * num_classes + pred
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def write_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str] | None, out_dir: str | Path
) -> tuple[Path, Path]:
    """Write ``confusion_matrix.png`` (a heat map with counts) and ``confusion_matrix.csv`` in ``out_dir``.

    The CSV has a header ``gt\\pred,<class names>`` and one row per ground-truth class.

    Returns:
        ``(png path, csv path)``.
    """
    out_dir = Path(out_dir)
    names = [str(i) for i in range(len(matrix))] if class_names is None else [str(n) for n in class_names]
    png = plot_confusion_matrix(matrix, names, out_dir / "confusion_matrix.png")
    csv_path = out_dir / "confusion_matrix.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["gt\\pred", *names])
        for name, row in zip(names, np.asarray(matrix)):
            writer.writerow([name, *(int(v) for v in row)])
    return png, csv_path


def _scores_and_labels(scores: Any, labels: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if scores.ndim != 2 or scores.shape[0] != labels.size or scores.shape[0] == 0:
        raise ValueError(
            f"{owner}: expected (N, C) scores and (N,) labels with N > 0, got {scores.shape} and {labels.shape}"
        )
    num_classes = scores.shape[1]
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        raise ValueError(
            f"{owner}: video {int(bad[0])} (dataset order) has label {int(labels[bad[0]])}, outside "
            f"0..{num_classes - 1}; check num_classes and the dataset's labels"
        )
    nan_rows = np.flatnonzero(np.isnan(scores).any(axis=1))
    if nan_rows.size:
        raise ValueError(f"{owner}: the scores of video {int(nan_rows[0])} (dataset order) contain NaN")
    return scores, labels


def _as_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


@METRICS.register()
class AccMetric(BaseMetric):
    """Top-k accuracy and mean class accuracy of a video classifier, as MMAction2 computes them.

    Keys: ``acc/top1``, ``acc/top5`` (one per k of ``metric_options["top_k_accuracy"]["topk"]``) and
    ``acc/mean1`` (the mean class accuracy), fractions in 0..1. The scores are the model's
    clip-averaged ``pred_label.score`` (probabilities for ``average_clips="prob"``); see the module
    docstring for ties and :func:`mean_class_accuracy` for the classes it averages over.

    Args:
        metric_list: ``"top_k_accuracy"``, ``"mean_class_accuracy"`` or a tuple of them.
        metric_options: ``{"top_k_accuracy": {"topk": (1, 5)}}`` (the default, also when None).
        num_classes: C; None takes the score length. When set, scores of another length are an error.
        confusion_matrix_dir: when set, :meth:`compute_metrics` also writes ``confusion_matrix.png``
            and ``confusion_matrix.csv`` there (argmax predictions; class names from
            ``dataset_meta["classes"]``).
        collect_device: see :class:`~visionstack.evaluation.BaseMetric`.
        prefix: key prefix (default ``"acc"``).
    """

    default_prefix = "acc"

    def __init__(
        self,
        metric_list: str | Sequence[str] = METRIC_NAMES,
        metric_options: Mapping[str, Any] | None = None,
        num_classes: int | None = None,
        confusion_matrix_dir: str | Path | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metric_list = _checked_metric_list(metric_list)
        self.topk = _checked_topk(metric_options)
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"AccMetric: num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.confusion_matrix_dir = None if confusion_matrix_dir is None else Path(confusion_matrix_dir)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            pred, gt = sample_fields(sample, ("pred_label", "gt_label"), "AccMetric", index, _VAL_STEP_OUTPUT)
            score = pred.get("score")
            if score is None:
                raise KeyError(
                    f"AccMetric: data_samples[{index}].pred_label has no `score`; it ranks classes"
                )
            label = gt.get("label")
            if label is None:
                raise KeyError(f"AccMetric: data_samples[{index}].gt_label has no `label`")
            label = _as_numpy(label).reshape(-1)
            if label.size != 1:
                raise ValueError(
                    f"AccMetric: data_samples[{index}].gt_label.label has {label.size} labels; this metric "
                    "is single-label"
                )
            score = _as_numpy(score).astype(np.float32).reshape(-1)
            self.results.append({"score": score, "label": int(label[0])})

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        lengths = {r["score"].size for r in results}
        if len(lengths) > 1:
            raise ValueError(f"AccMetric: the videos' scores have different lengths {sorted(lengths)}")
        scores = np.stack([r["score"] for r in results])
        labels = np.asarray([r["label"] for r in results], dtype=np.int64)
        num_classes = scores.shape[1]
        if self.num_classes is not None and self.num_classes != num_classes:
            raise ValueError(
                f"AccMetric: num_classes is {self.num_classes} but the scores have {num_classes} classes"
            )
        metrics: dict[str, float] = {}
        for name in self.metric_list:
            if name == "top_k_accuracy":
                for k, value in zip(self.topk, top_k_accuracy(scores, labels, self.topk)):
                    metrics[f"top{k}"] = value
            else:
                metrics["mean1"] = mean_class_accuracy(scores, labels)
        if self.confusion_matrix_dir is not None:
            matrix = confusion_matrix(scores.argmax(axis=1), labels, num_classes)
            write_confusion_matrix(matrix, self._class_names(num_classes), self.confusion_matrix_dir)
        return metrics

    def _class_names(self, num_classes: int) -> list[str] | None:
        classes = (self.dataset_meta or {}).get("classes")
        if not classes:
            return None
        if len(classes) != num_classes:
            raise ValueError(
                f"AccMetric: dataset_meta['classes'] has {len(classes)} names but the scores have "
                f"{num_classes} classes"
            )
        return [str(name) for name in classes]


def _checked_metric_list(metric_list: str | Sequence[str]) -> tuple[str, ...]:
    names = (metric_list,) if isinstance(metric_list, str) else tuple(metric_list)
    for name in names:
        if name in MULTI_LABEL_NAMES:
            raise ValueError(
                f"AccMetric: metric_list entry {name!r} is multi-label; it is not implemented here"
            )
        if name not in METRIC_NAMES:
            raise ValueError(f"AccMetric: metric_list entries must be among {METRIC_NAMES}, got {name!r}")
    if not names:
        raise ValueError("AccMetric: metric_list is empty")
    return names


def _checked_topk(metric_options: Mapping[str, Any] | None) -> tuple[int, ...]:
    options = (metric_options or {}).get("top_k_accuracy") or {}
    topk = options.get("topk", (1, 5))
    topk = (topk,) if isinstance(topk, int) else tuple(topk)
    if not topk or any(not isinstance(k, int) or isinstance(k, bool) or k < 1 for k in topk):
        raise ValueError(
            f"AccMetric: metric_options['top_k_accuracy']['topk'] must be positive ints, got {topk!r}"
        )
    return topk
