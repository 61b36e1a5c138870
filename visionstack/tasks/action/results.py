"""Action-recognition results as files: the per-video JSON that ``test`` writes and ``eval`` scores.

The result file is a JSON list with one record per test video, in dataset order::

    [{"filename": "/data/synth/videos_val/000000.mp4",      # the video path (raw frames: the frame_dir)
      "pred_label": 3,                                       # argmax of scores (lower label on ties)
      "scores": [0.01, 0.02, 0.05, 0.81, ...],               # all C clip-averaged scores
      "topk": [{"label": 3, "class": "rotate_anticlockwise", "score": 0.81}, ...]}, ...]

:class:`ActionResultWriter` writes it during ``test``; :func:`evaluate_files` scores it against a
video list (``path label``) or a raw-frame list (``frame_dir total_frames label``) with
:class:`~visionstack.tasks.action.metrics.AccMetric`. Every float32 score is stored as its exact
float64 value, so the scores read back are bit-identical and the numbers equal ``test``'s.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstack.evaluation import JsonResultWriter
from visionstack.registry import METRICS, build

from ..result_files import metric_entries, read_json_list
from .metrics import AccMetric
from .records import ranked_classes

__all__ = ["ActionResultWriter", "evaluate_files", "read_ground_truth_list", "read_result_records"]

PathKey = tuple[str, ...]


@METRICS.register()
class ActionResultWriter(JsonResultWriter):
    """Writes the predictions as the per-video JSON of the module docstring.

    Not a metric: :meth:`compute_metrics` writes the file (rank 0, records in dataset order) and
    returns no value. Put it next to ``AccMetric`` in ``test_evaluator``. ``process`` reads each
    sample's ``pred_label.score`` (C,) and ``img_path`` metainfo (the video path or frame_dir);
    class names come from ``dataset_meta["classes"]``.

    Args:
        out_file: the JSON file to write (folders are created).
        topk: ranked entries per video in ``topk`` (``scores`` always holds every class).
        collect_device: see :class:`~visionstack.evaluation.BaseMetric`.
        prefix: unused (no keys), kept for the metric interface.
    """

    json_indent = 1
    default_prefix = "action_results"

    def __init__(
        self,
        out_file: str | os.PathLike,
        topk: int = 5,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(out_file, collect_device=collect_device, prefix=prefix)
        if topk < 1:
            raise ValueError(f"ActionResultWriter: topk must be >= 1, got {topk}")
        self.topk = int(topk)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        class_names = (self.dataset_meta or {}).get("classes")
        for index, sample in enumerate(data_samples):
            filename = sample.get("img_path")
            pred = sample.get("pred_label")
            score = None if pred is None else pred.get("score")
            if filename is None or score is None:
                missing = "img_path metainfo" if filename is None else "pred_label.score"
                raise KeyError(
                    f"ActionResultWriter: data_samples[{index}] ({filename or 'no img_path'}) has no {missing}; "
                    "the file matches videos by path and keeps every class score"
                )
            if isinstance(score, torch.Tensor):
                score = score.detach().float().cpu().numpy()
            scores = np.asarray(score, dtype=np.float32).reshape(-1)
            self.results.append(
                {
                    "filename": str(filename),
                    "pred_label": int(scores.argmax()),
                    "scores": [float(v) for v in scores],
                    "topk": ranked_classes(scores, class_names, self.topk),
                }
            )


# ---- reading ------------------------------------------------------------------------------------------
def read_result_records(path: str | os.PathLike) -> list[dict]:
    """The records of a result file, checked: each has a ``filename`` string and a non-empty
    ``scores`` list of numbers, all of one length.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file and the record at fault.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"action results file not found: {str(path)!r}")
    records = read_json_list(path, "action results", "per-video records")
    lengths: dict[int, int] = {}
    for index, record in enumerate(records):
        problem = _record_problem(record)
        if problem:
            raise ValueError(f"action results {str(path)!r}, record {index}: {problem}")
        lengths.setdefault(len(record["scores"]), index)
    if len(lengths) > 1:
        (first, i), (second, j) = list(lengths.items())[:2]
        raise ValueError(
            f"action results {str(path)!r}: record {i} has {first} scores but record {j} has {second}"
        )
    return records


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"expected an object, got {type(record).__name__}"
    if not isinstance(record.get("filename"), str):
        return "no `filename` string"
    scores = record.get("scores")
    numbers = isinstance(scores, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores
    )
    if not numbers or not scores:
        return f"{record['filename']!r} has no non-empty `scores` list of numbers"
    return None


def read_ground_truth_list(path: str | os.PathLike) -> dict[str, int]:
    """``{path as written: label}`` of a video list (``path label`` lines) or a raw-frame list
    (``frame_dir total_frames label`` lines), in file order; blank lines are skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file and line (a line of another shape, a label that is not a
            non-negative integer, a path listed twice, no entry at all).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"action ground-truth list not found: {str(path)!r}")
    labels: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (2, 3) or not all(f.isdigit() for f in fields[1:]):
            raise ValueError(
                f"action list {str(path)!r}, line {number}: expected `path label` (videos) or "
                f"`frame_dir total_frames label` (raw frames), got {line.strip()!r}"
            )
        if fields[0] in labels:
            raise ValueError(f"action list {str(path)!r}, line {number}: {fields[0]!r} is listed twice")
        labels[fields[0]] = int(fields[-1])
    if not labels:
        raise ValueError(f"action list {str(path)!r} lists no video")
    return labels


# ---- matching -----------------------------------------------------------------------------------------
def _path_key(path: str) -> PathKey:
    """A path as its components, normalised (``a/./b`` and ``a\\b`` give the same key)."""
    return tuple(
        part for part in os.path.normpath(path).replace("\\", "/").split("/") if part not in ("", ".")
    )


def _gt_key(
    record_path: str, gt_keys: Mapping[PathKey, int], by_basename: Mapping[str, PathKey | None], root: Path
) -> PathKey | None:
    """The ground-truth entry a prediction's path names (see :func:`evaluate_files`), or None."""
    parts = _path_key(record_path)
    if os.path.isabs(record_path):
        relative = os.path.relpath(record_path, root)
        if not relative.startswith(".."):
            parts_rel = _path_key(relative)
            if parts_rel in gt_keys:
                return parts_rel
    for depth in range(len(parts), 0, -1):  # the longest trailing part that is a ground-truth path
        if parts[-depth:] in gt_keys:
            return parts[-depth:]
    return by_basename.get(parts[-1]) if parts else None


def _match(records: list[dict], gt_labels: dict[PathKey, int], root: Path, gt: str, pred: str) -> list[dict]:
    """The prediction of every ground-truth video, in ground-truth order."""
    by_basename: dict[str, PathKey | None] = {}
    for key in gt_labels:
        by_basename[key[-1]] = None if key[-1] in by_basename else key  # None: ambiguous basename
    matched: dict[PathKey, int] = {}
    for index, record in enumerate(records):
        key = _gt_key(record["filename"], gt_labels, by_basename, root)
        if key is None:
            raise ValueError(
                f"{pred!r}, record {index}: {record['filename']!r} is not a video of the ground truth {gt!r} "
                f"(matched by the path relative to {str(root)!r}, the end of the path, or a unique basename)"
            )
        if key in matched:
            raise ValueError(
                f"{pred!r}: records {matched[key]} and {index} are both predictions for {'/'.join(key)!r}"
            )
        matched[key] = index
    missing = ["/".join(key) for key in gt_labels if key not in matched]
    if missing:
        shown = ", ".join(repr(name) for name in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ValueError(f"{pred!r} has no prediction for {len(missing)} video(s) of {gt!r}: {shown}")
    return [records[matched[key]] for key in gt_labels]


# ---- scoring ------------------------------------------------------------------------------------------
def _acc_metrics(metrics: Mapping | Sequence[Mapping] | None, topk: Sequence[int]) -> list[AccMetric]:
    """The ``AccMetric`` entries of a ``test_evaluator`` config, or one with ``topk``."""
    built = [
        build(dict(entry), METRICS)
        for target, entry in metric_entries(metrics)
        if issubclass(target, AccMetric)
    ]
    return built or [AccMetric(metric_options={"top_k_accuracy": {"topk": tuple(topk)}})]


def evaluate_files(
    gt: str | os.PathLike,
    pred: str | os.PathLike,
    topk: Sequence[int] = (1, 5),
    classes: Sequence[str] | None = None,
    metrics: Mapping | Sequence[Mapping] | None = None,
) -> dict[str, float]:
    """Score a result file against a ground-truth list, with ``test``'s numbers.

    Matching: a prediction's ``filename`` belongs to the list entry whose path (relative to the
    list's folder, as the synthetic data and MMAction2's lists write it) is (1) the filename made
    relative to the list's folder, when it is absolute and inside it; else (2) the longest trailing
    part of the filename, compared component by component (``/any/root/videos_val/000000.mp4``
    matches ``videos_val/000000.mp4``); else (3) the entry with the same basename, when only one
    entry has it. Every entry needs exactly one prediction.

    Args:
        gt: a video list (``path label``) or raw-frame list (``frame_dir total_frames label``).
        pred: the JSON of :class:`ActionResultWriter`.
        topk: the k of ``acc/top{k}`` when ``metrics`` has no ``AccMetric``.
        classes: the class names in label order; checks the score length and the labels.
        metrics: a config's ``test_evaluator`` (a dict or a list); its ``AccMetric`` entries are used
            as configured (other entries, such as the writer, are skipped).

    Returns:
        ``{"acc/top1": ..., "acc/top5": ..., "acc/mean1": ...}`` (fractions), as ``AccMetric`` gives.

    Raises:
        FileNotFoundError, ValueError: naming the file, line or record at fault (a video without a
            prediction, a prediction of no listed video, two predictions of one video, a label
            outside the classes).
    """
    gt, pred = os.fspath(gt), os.fspath(pred)
    records = read_result_records(pred)
    listed = read_ground_truth_list(gt)
    gt_labels = {_path_key(path): label for path, label in listed.items()}
    if len(gt_labels) != len(listed):
        raise ValueError(f"action list {gt!r} lists a video twice under two spellings of its path")
    matched = _match(records, gt_labels, Path(gt).resolve().parent, gt, pred)
    num_classes = len(matched[0]["scores"])
    if classes is not None and len(classes) != num_classes:
        raise ValueError(f"{pred!r} has {num_classes} scores per video but {len(classes)} classes were given")
    for path, label in listed.items():
        if label >= num_classes:
            raise ValueError(
                f"{gt!r}: {path!r} has label {label}, outside the {num_classes} classes of {pred!r}"
            )
    samples = [
        {
            "pred_label": {"score": np.asarray(record["scores"], dtype=np.float32)},
            "gt_label": {"label": np.asarray([label])},
        }
        for record, label in zip(matched, gt_labels.values())
    ]
    results: dict[str, float] = {}
    for metric in _acc_metrics(metrics, topk):
        metric.dataset_meta = {"classes": list(classes)} if classes is not None else None
        metric.process(None, samples)
        for name, value in metric.evaluate(len(samples)).items():
            if name in results:
                raise ValueError(
                    f"evaluate_files: two AccMetric entries give {name!r}; set a different prefix"
                )
            results[name] = value
    return results
