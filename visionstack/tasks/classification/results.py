"""Classification results as files: the top-k JSON that ``test`` writes and ``eval`` scores.

The standard result file is a JSON list with one record per image, the records of ``visionstack
infer`` (``predictions.json`` is read the same way)::

    [{"img_path": "data/val/cat/0001.png",
      "topk": [{"label": 3, "class": "cat", "score": 0.91}, ...],   # best first
      "pred_label": 3, "pred_class": "cat", "pred_score": 0.91}, ...]

:class:`ClsResultWriter` writes it during ``test``; :func:`evaluate_files` scores it against an
ImageFolder-style folder or an image-list file with the in-process metrics (``Accuracy``,
``SingleLabelMetric``, ``ConfusionMatrix``), fed with scores rebuilt from the records, so the keys
and values are the ones ``test`` reports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstack.evaluation import Evaluator, JsonResultWriter
from visionstack.registry import METRICS, build

from ..result_files import metric_entries, read_json_list
from .datasets import IMG_EXTENSIONS, read_image_list, scan_image_folder
from .metrics import Accuracy
from .records import classification_record

__all__ = ["ClsResultWriter", "evaluate_files", "read_result_records"]


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().float().cpu().numpy()
    return np.asarray(value)


@METRICS.register()
class ClsResultWriter(JsonResultWriter):
    """Writes the predictions as the top-k JSON of ``visionstack infer`` (see the module docstring).

    Not a metric: :meth:`compute_metrics` writes the file (rank 0, records in dataset order) and
    returns no value. Put it next to the real metrics in ``test_evaluator``.

    ``process`` reads each sample's ``pred_label.score`` (C,) and ``img_path`` metainfo; class
    names come from ``dataset_meta["classes"]``.

    Args:
        out_file: the JSON file to write (folders are created).
        topk: ranked entries per image; scoring ``Accuracy(topk=k)`` offline needs ``k <= topk``
            (or ``topk >= C``).
        collect_device: see :class:`~visionstack.evaluation.BaseMetric`.
        prefix: unused (no keys), kept for the metric interface.
    """

    json_indent = 2
    default_prefix = "cls_results"

    def __init__(
        self,
        out_file: str | os.PathLike,
        topk: int = 5,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(out_file, collect_device=collect_device, prefix=prefix)
        if topk < 1:
            raise ValueError(f"ClsResultWriter: topk must be >= 1, got {topk}")
        self.topk = int(topk)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        class_names = (self.dataset_meta or {}).get("classes")
        for index, sample in enumerate(data_samples):
            img_path = sample.get("img_path")
            pred = sample.get("pred_label")
            score = None if pred is None else pred.get("score")
            if img_path is None or score is None:
                missing = "img_path metainfo" if img_path is None else "pred_label.score"
                raise KeyError(
                    f"ClsResultWriter: data_samples[{index}] ({img_path or 'no img_path'}) has no {missing}; "
                    "the file matches images by path and ranks classes by score"
                )
            record = {"img_path": str(img_path)}
            record.update(classification_record(_numpy(score), class_names, self.topk))
            self.results.append(record)


# ---- reading ------------------------------------------------------------------------------------------
def read_result_records(path: str | os.PathLike) -> list[dict]:
    """The records of a top-k JSON file, checked.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not JSON, not a list of records, or a record without ``img_path`` or a valid
            ``topk`` list (``label`` int, ``score`` number); naming the file and the record.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"classification results file not found: {str(path)!r}")
    records = read_json_list(path, "classification results", "per-image records")
    for index, record in enumerate(records):
        problem = _record_problem(record)
        if problem:
            raise ValueError(f"classification results {str(path)!r}, record {index}: {problem}")
    return records


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"expected an object, got {type(record).__name__}"
    if not isinstance(record.get("img_path"), str):
        return "no `img_path` string"
    ranked = record.get("topk")
    if not isinstance(ranked, list) or not ranked:
        return f"{record['img_path']!r} has no non-empty `topk` list"
    for entry in ranked:
        ok = isinstance(entry, dict) and isinstance(entry.get("label"), int) and entry["label"] >= 0
        if not ok or isinstance(entry.get("score"), bool) or not isinstance(entry.get("score"), (int, float)):
            return (
                f"{record['img_path']!r}: topk entry {entry!r} needs `label` (int >= 0) and `score` (number)"
            )
    return None


# ---- ground truth -------------------------------------------------------------------------------------
def _path_key(path: str) -> tuple[str, ...]:
    """A path as its components, normalised (``a/./b`` and ``a\\b`` give the same key)."""
    return tuple(
        part for part in os.path.normpath(path).replace("\\", "/").split("/") if part not in ("", ".")
    )


def _read_ground_truth(
    gt: str, classes: Sequence[str] | None, num_classes: int | None
) -> tuple[tuple[str, ...] | None, dict[tuple[str, ...], int]]:
    """``(class names or None, {relative path key: label} in dataset order)``."""
    if os.path.isdir(gt):
        names, records = scan_image_folder(gt, classes, IMG_EXTENSIONS)
        return names, {_path_key(os.path.relpath(r["img_path"], gt)): r["gt_label"] for r in records}

    def report(line_number: int, reason: str) -> None:
        raise ValueError(f"image list {gt!r}, line {line_number}: {reason}")

    limit = len(classes) if classes is not None else num_classes
    records = read_image_list(gt, "", limit, report)
    labels: dict[tuple[str, ...], int] = {}
    for record in records:
        key = _path_key(record["img_path"])
        if key in labels:
            raise ValueError(f"image list {gt!r} lists {record['img_path']!r} twice")
        labels[key] = record["gt_label"]
    if not labels:
        raise ValueError(f"image list {gt!r} lists no image")
    return (tuple(classes) if classes is not None else None), labels


def _match(records: list[dict], gt_labels: dict[tuple[str, ...], int], gt: str, pred: str) -> list[dict]:
    """The prediction of every ground-truth image, in ground-truth order (see :func:`evaluate_files`)."""
    depths = sorted({len(key) for key in gt_labels}, reverse=True)
    matched: dict[tuple[str, ...], tuple[int, dict]] = {}
    for index, record in enumerate(records):
        parts = _path_key(record["img_path"])
        key = next((parts[-d:] for d in depths if d <= len(parts) and parts[-d:] in gt_labels), None)
        if key is None:
            raise ValueError(
                f"{pred!r}, record {index}: {record['img_path']!r} is not an image of the ground truth {gt!r} "
                "(matched by the end of the path against the ground truth's paths relative to its root)"
            )
        if key in matched:
            raise ValueError(
                f"{pred!r}: records {matched[key][0]} and {index} are both predictions for {'/'.join(key)!r}"
            )
        matched[key] = (index, record)
    missing = [key for key in gt_labels if key not in matched]
    if missing:
        shown = ", ".join(repr("/".join(key)) for key in missing[:5])
        raise ValueError(
            f"{pred!r} has no prediction for {len(missing)} image(s) of the ground truth {gt!r}: {shown}"
            + (", ..." if len(missing) > 5 else "")
        )
    return [matched[key][1] for key in gt_labels]


# ---- scoring ------------------------------------------------------------------------------------------
def _rebuilt_sample(record: dict, gt_label: int, num_classes: int, class_names: Sequence[str] | None) -> dict:
    """A sample as the metrics read it: ``pred_label.score`` (C,) float32 with the recorded top-k
    scores and -inf elsewhere, ``pred_label.label`` (1,), ``gt_label.label`` (1,)."""
    scores = torch.full((num_classes,), float("-inf"), dtype=torch.float32)
    for entry in record["topk"]:
        label = entry["label"]
        if label >= num_classes:
            raise ValueError(f"{record['img_path']!r}: label {label} is outside 0..{num_classes - 1}")
        named = entry.get("class")
        expected = class_names[label] if class_names is not None and label < len(class_names) else None
        if expected is not None and named not in (None, str(label), expected):
            raise ValueError(
                f"{record['img_path']!r}: label {label} is class {named!r} in the predictions but "
                f"{expected!r} in the ground truth; the class orders differ"
            )
        scores[label] = entry["score"]
    pred_label = int(record.get("pred_label", record["topk"][0]["label"]))
    return {
        "pred_label": {"score": scores, "label": torch.tensor([pred_label])},
        "gt_label": {"label": torch.tensor([gt_label])},
    }


def _metrics_from_config(metrics: Mapping | Sequence[Mapping] | None, ranked: int, num_classes: int) -> list:
    """The scoring metrics of a ``test_evaluator`` config (writers left out), or the default Accuracy."""
    built = []
    for target, entry in metric_entries(metrics):
        if issubclass(target, ClsResultWriter):
            continue
        built.append(build(dict(entry), METRICS))
    if built:
        return built
    return [Accuracy(topk=(1, 5) if ranked >= 5 and num_classes > 5 else (1,))]


def _check_topk_coverage(metrics: list, ranked: int, num_classes: int, pred: str) -> None:
    """A top-k file ranks ``ranked`` classes: Accuracy with a larger k would count wrongly."""
    if ranked >= num_classes:
        return
    for metric in metrics:
        too_large = [k for k in metric.topk if k > ranked] if isinstance(metric, Accuracy) else []
        if too_large:
            raise ValueError(
                f"{pred!r} ranks {ranked} classes per image, too few for Accuracy top{max(too_large)}; "
                f"write the results with a larger topk (ClsResultWriter(topk={max(too_large)}) or infer --topk)"
            )


def evaluate_files(
    gt: str | os.PathLike,
    pred: str | os.PathLike,
    metrics: Mapping | Sequence[Mapping] | None = None,
    classes: Sequence[str] | None = None,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """Score a top-k JSON file against a classification dataset, as ``visionstack test`` does.

    Images are matched by path: every ground-truth image has a path relative to the data root (the
    folder ``gt`` itself, or for an image list the folder its lines are relative to), and a
    prediction's ``img_path`` (absolute, or relative to any folder) belongs to the ground-truth image
    whose relative path is the longest trailing part of it, compared component by component:
    ``/data/digits/val/3/0001.png`` and ``val/3/0001.png`` both match ``3/0001.png``.

    The metrics see ``pred_label.score`` rebuilt from the records: the recorded top-k scores
    (float32 as in the model, so the JSON round trip is exact) and -inf for the unranked classes, so
    ``Accuracy`` for ``k`` up to the recorded top-k and the argmax metrics give ``test``'s values.
    The one exception is a tie at rank k: ``torch.topk`` orders equal scores arbitrarily, the
    records lowest label first.

    Args:
        gt: an ImageFolder-style folder (``gt/<class>/**/<image>``, classes = sorted sub-folders
            unless ``classes`` is given) or an image-list file of ``relative/path label`` lines.
        pred: the JSON of :class:`ClsResultWriter` or ``predictions.json`` of ``visionstack infer``.
        metrics: the config's ``test_evaluator`` (a dict or a list of dicts; ``ClsResultWriter``
            entries are skipped); None: ``Accuracy(topk=(1, 5))`` (``(1,)`` for 5 classes or fewer).
        classes: the class names, in label order.
        num_classes: the model's class count C; default ``len(classes)``, else 1 + the largest
            label in the ground truth and the predictions (pass it for an image list when macro
            averages must count classes absent from both).

    Returns:
        ``{"accuracy/top1": ..., ...}``, the keys and values of the in-process metrics.

    Raises:
        FileNotFoundError, ValueError: naming the file, line or record at fault (an image without
            a prediction, a prediction of no ground-truth image, two predictions of one image).
    """
    gt, pred = os.fspath(gt), os.fspath(pred)
    records = read_result_records(pred)
    class_names, gt_labels = _read_ground_truth(gt, classes, num_classes)
    matched = _match(records, gt_labels, gt, pred)
    if num_classes is None:
        largest = max([*gt_labels.values(), *(e["label"] for r in matched for e in r["topk"])], default=0)
        num_classes = len(class_names) if class_names is not None else largest + 1
    ranked = min(len(record["topk"]) for record in matched)
    evaluator = Evaluator(_metrics_from_config(metrics, ranked, num_classes))
    _check_topk_coverage(evaluator.metrics, ranked, num_classes, pred)
    evaluator.dataset_meta = {"classes": class_names} if class_names is not None else None
    samples = [
        _rebuilt_sample(record, label, num_classes, class_names)
        for record, label in zip(matched, gt_labels.values())
    ]
    return evaluator.offline_evaluate(samples, chunk_size=len(samples))
