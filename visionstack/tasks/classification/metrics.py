"""Single-label classification metrics: top-k accuracy, precision/recall/F1, confusion matrix.

Every metric reads, per sample, ``pred_label.score`` (num_classes,) and/or ``pred_label.label`` (1,)
and the ground truth ``gt_label.label`` (1,) (or, when a soft target is all there is,
``gt_label.score`` (num_classes,) reduced by argmax). Samples may be DataSample objects or the
plain dicts their ``to_dict()`` writes. Percentages are in 0-100, as in MMPretrain; division by zero
gives 0 (scikit-learn's ``zero_division=0``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from visionstack.evaluation import BaseMetric, sample_fields
from visionstack.registry import METRICS
from visionstack.visualization import plot_confusion_matrix

__all__ = ["Accuracy", "SingleLabelMetric", "ConfusionMatrix", "topk_accuracy", "confusion_matrix"]

_VAL_STEP_OUTPUT = "the output of model.val_step (DataSamples with pred_label and the dataset's gt_label)"


def topk_accuracy(
    scores: torch.Tensor,
    labels: torch.Tensor,
    topk: Sequence[int] = (1,),
    thrs: Sequence[float | None] = (None,),
) -> list[list[float]]:
    """Top-k accuracy in percent for every (k, threshold) pair.

    A sample counts as correct for ``k`` when its true class is among the ``k`` highest scores and,
    for a threshold ``thr``, that class's score is above ``thr`` (``None``: no threshold).

    Args:
        scores: (N, C) class scores.
        labels: (N,) true class indices.
        topk: the values of k; a k >= C counts every sample as correct.
        thrs: score thresholds.

    Returns:
        ``values[i][j]`` = accuracy for ``topk[i]`` and ``thrs[j]``.
    """
    num_classes = scores.shape[1]
    ranked = scores.topk(min(max(topk), num_classes), dim=1).indices  # (N, k_max)
    hit_rank = ranked.eq(labels[:, None])  # (N, k_max): True at the true class's rank
    true_score = scores.gather(1, labels[:, None]).squeeze(1)
    values = []
    for k in topk:
        in_topk = hit_rank[:, : min(k, num_classes)].any(dim=1)
        row = []
        for thr in thrs:
            correct = in_topk if thr is None else in_topk & (true_score > thr)
            row.append(correct.double().mean().item() * 100.0)
        values.append(row)
    return values


def confusion_matrix(pred_labels: torch.Tensor, gt_labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C, C) int64 counts; row = ground-truth class, column = predicted class."""
    flat = gt_labels.long() * num_classes + pred_labels.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _as_tensor(value: Any) -> torch.Tensor | None:
    if value is None:
        return None
    return value.detach().cpu() if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def _read_sample(sample: Any, index: int, metric: str) -> dict[str, Any]:
    """One record ``{"pred_score": (C,) float | None, "pred_label": int, "gt_label": int}``."""
    pred, gt = sample_fields(sample, ("pred_label", "gt_label"), metric, index, _VAL_STEP_OUTPUT)
    score = _as_tensor(pred.get("score"))
    label = _as_tensor(pred.get("label"))
    if label is None and score is None:
        raise KeyError(f"{metric}: data_samples[{index}].pred_label has neither `label` nor `score`")
    pred_label = int(label.reshape(-1)[0]) if label is not None and label.numel() else int(score.argmax())
    return {
        "pred_score": None if score is None else score.float().reshape(-1),
        "pred_label": pred_label,
        "gt_label": _read_gt_label(gt, index, metric),
    }


def _read_gt_label(gt: Any, index: int, metric: str) -> int:
    label = _as_tensor(gt.get("label"))
    if label is not None and label.numel() > 0:
        if label.numel() > 1:
            raise ValueError(
                f"{metric}: data_samples[{index}].gt_label.label has {label.numel()} labels; this metric is "
                "single-label (use a multi-label metric for multi-label data)"
            )
        return int(label.reshape(-1)[0])
    score = _as_tensor(gt.get("score"))
    if score is None:
        raise KeyError(f"{metric}: data_samples[{index}].gt_label has neither `label` nor `score`")
    return int(score.argmax())  # a soft target (Mixup/CutMix) only: its strongest class


def _resolve_num_classes(metric: BaseMetric, num_classes: int | None, results: list[dict]) -> int:
    """The class count: the argument, else the score length, else ``dataset_meta["classes"]``."""
    if num_classes is not None:
        return num_classes
    if results[0]["pred_score"] is not None:
        return int(results[0]["pred_score"].numel())
    classes = (metric.dataset_meta or {}).get("classes")
    if classes:
        return len(classes)
    raise ValueError(
        f"{type(metric).__name__}: the predictions carry labels only and neither num_classes nor "
        "dataset_meta['classes'] is set; pass num_classes=..."
    )


def _labels_in_range(results: list[dict], num_classes: int, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    pred = torch.tensor([r["pred_label"] for r in results], dtype=torch.long)
    gt = torch.tensor([r["gt_label"] for r in results], dtype=torch.long)
    for name, labels in (("pred_label", pred), ("gt_label", gt)):
        bad = ((labels < 0) | (labels >= num_classes)).nonzero().flatten()
        if bad.numel():
            i = int(bad[0])
            raise ValueError(
                f"{metric}: sample {i} (dataset order) has {name} {int(labels[i])}, outside 0..{num_classes - 1}; "
                "check num_classes and the dataset's labels"
            )
    return pred, gt


class _ClassificationMetric(BaseMetric):
    """Shared ``process``: one record per sample (see :func:`_read_sample`)."""

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        name = type(self).__name__
        self.results.extend(_read_sample(sample, i, name) for i, sample in enumerate(data_samples))


@METRICS.register()
class Accuracy(_ClassificationMetric):
    """Top-k accuracy in percent: keys ``accuracy/top1``, ``accuracy/top5`` ...

    With several thresholds the keys get a suffix: ``top1_no-thr``, ``top1_thr-0.50``.

    Args:
        topk: the values of k. k > 1 needs ``pred_label.score``.
        thrs: a score threshold, several, or None (no threshold); a sample counts only when its
            true class's score is above the threshold.
        collect_device: see :class:`BaseMetric`.
        prefix: key prefix (default ``"accuracy"``).
    """

    default_prefix = "accuracy"

    def __init__(
        self,
        topk: int | Sequence[int] = (1,),
        thrs: float | Sequence[float | None] | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not self.topk or any(k < 1 for k in self.topk):
            raise ValueError(f"Accuracy: topk must be positive integers, got {topk!r}")
        self.thrs = (thrs,) if thrs is None or isinstance(thrs, (int, float)) else tuple(thrs)

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        gt = torch.tensor([r["gt_label"] for r in results], dtype=torch.long)
        if any(r["pred_score"] is None for r in results):
            if max(self.topk) > 1 or any(thr is not None for thr in self.thrs):
                raise ValueError(
                    "Accuracy: top-k with k > 1 and thresholds need pred_label.score; the predictions "
                    "carry labels only"
                )
            pred = torch.tensor([r["pred_label"] for r in results], dtype=torch.long)
            return {"top1": pred.eq(gt).double().mean().item() * 100.0}
        scores = torch.stack([r["pred_score"] for r in results])
        num_classes = scores.shape[1]
        if max(self.topk) >= num_classes:
            warnings.warn(
                f"Accuracy: top{max(self.topk)} with {num_classes} classes counts every sample as correct",
                stacklevel=2,
            )
        _labels_in_range(results, num_classes, "Accuracy")
        values = topk_accuracy(scores, gt, self.topk, self.thrs)
        metrics = {}
        for k, row in zip(self.topk, values):
            for thr, value in zip(self.thrs, row):
                name = f"top{k}"
                if len(self.thrs) > 1:
                    name += "_no-thr" if thr is None else f"_thr-{thr:.2f}"
                metrics[name] = value
        return metrics


@METRICS.register()
class SingleLabelMetric(_ClassificationMetric):
    """Precision, recall and F1-score in percent (and support), from the argmax prediction.

    Keys ``single-label/precision`` ... for ``average="macro"`` (unweighted mean over all classes,
    absent ones included) or ``"micro"`` (from the summed counts; equals accuracy for single-label
    data); ``single-label/precision_classwise`` ... (lists, one value per class) for ``None``.

    Args:
        average: ``"macro"``, ``"micro"`` or None.
        items: which of ``precision``, ``recall``, ``f1-score``, ``support`` to report.
        num_classes: the class count; None takes it from the score length or ``dataset_meta``.
        collect_device: see :class:`BaseMetric`.
        prefix: key prefix (default ``"single-label"``).
    """

    default_prefix = "single-label"
    ITEMS = ("precision", "recall", "f1-score", "support")
    AVERAGES = ("macro", "micro", None)

    def __init__(
        self,
        average: str | None = "macro",
        items: Sequence[str] = ("precision", "recall", "f1-score"),
        num_classes: int | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if average not in self.AVERAGES:
            raise ValueError(f"SingleLabelMetric: average must be one of {self.AVERAGES}, got {average!r}")
        unknown = [item for item in items if item not in self.ITEMS]
        if unknown or not items:
            raise ValueError(
                f"SingleLabelMetric: items must be a non-empty subset of {self.ITEMS}, got {items!r}"
            )
        self.average = average
        self.items = tuple(items)
        self.num_classes = num_classes

    def compute_metrics(self, results: list[dict]) -> dict[str, Any]:
        num_classes = _resolve_num_classes(self, self.num_classes, results)
        pred, gt = _labels_in_range(results, num_classes, "SingleLabelMetric")
        counts = confusion_matrix(pred, gt, num_classes).double()
        true_positive = counts.diag()
        predicted, actual = counts.sum(dim=0), counts.sum(dim=1)
        if self.average == "micro":
            true_positive, predicted, actual = true_positive.sum(), predicted.sum(), actual.sum()
        values = {
            "precision": _safe_divide(true_positive, predicted) * 100.0,
            "recall": _safe_divide(true_positive, actual) * 100.0,
            # F1 from counts, 2TP / (2TP + FP + FN), as scikit-learn computes it.
            "f1-score": _safe_divide(2.0 * true_positive, predicted + actual) * 100.0,
        }
        metrics: dict[str, Any] = {}
        for item in self.items:
            if item == "support":
                support = actual.long()
                metrics[item if self.average else "support_classwise"] = (
                    int(support.sum()) if self.average else support.tolist()
                )
            elif self.average is None:
                metrics[f"{item}_classwise"] = values[item].tolist()
            else:
                metrics[item] = float(values[item].mean())
        return metrics


def _safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator with 0 where the denominator is 0 (``zero_division=0``)."""
    return torch.where(
        denominator > 0, numerator / denominator.clamp(min=1e-300), torch.zeros_like(numerator)
    )


@METRICS.register()
class ConfusionMatrix(_ClassificationMetric):
    """The confusion matrix: key ``confusion_matrix/result``, a (C, C) int64 tensor.

    Rows are ground-truth classes, columns predicted classes (argmax). Not a scalar: the loops log
    scalars only; draw it with :meth:`plot`.

    Args:
        num_classes: the class count; None takes it from the score length or ``dataset_meta``.
        collect_device: see :class:`BaseMetric`.
        prefix: key prefix (default ``"confusion_matrix"``).
    """

    default_prefix = "confusion_matrix"

    def __init__(
        self, num_classes: int | None = None, collect_device: str = "cpu", prefix: str | None = None
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes

    def compute_metrics(self, results: list[dict]) -> dict[str, torch.Tensor]:
        num_classes = _resolve_num_classes(self, self.num_classes, results)
        pred, gt = _labels_in_range(results, num_classes, "ConfusionMatrix")
        return {"result": confusion_matrix(pred, gt, num_classes)}

    @staticmethod
    def plot(
        matrix: torch.Tensor,
        class_names: Sequence[str] | None,
        out_path: str | Path,
        normalize: bool = False,
    ) -> Path:
        """Write the matrix as a PNG heat map with the values in the cells.

        See :func:`visionstack.visualization.plot_confusion_matrix`.
        """
        return plot_confusion_matrix(matrix, class_names, out_path, normalize=normalize)
