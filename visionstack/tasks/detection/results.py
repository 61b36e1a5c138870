"""Detection results as files: COCO result JSONs, written during ``test`` and scored by ``eval``.

The standard result files are COCO's (what a COCO evaluation server takes), written by
``CocoMetric(outfile_prefix=PREFIX)``:

- ``PREFIX.bbox.json``: ``[{"image_id", "category_id", "bbox": [x, y, w, h] (absolute pixels), "score"}]``;
- ``PREFIX.segm.json`` (models with masks): ``[{"image_id", "category_id", "segmentation": RLE, "score"}]``;
- ``PREFIX.gt.json`` when the metric had no ``ann_file``: the ground truth it built from the samples.

:func:`evaluate_files` scores them against a COCO annotation file with ``CocoMetric``'s own evaluation
(:meth:`CocoMetric.evaluate_results`), so the keys and values are those of ``test``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from visionstack.registry import METRICS, build

from ..result_files import metric_entries, read_json_list
from .metrics.coco_metric import CocoMetric

__all__ = ["evaluate_files", "read_coco_results", "result_files"]

# options of a test-time CocoMetric that write files or need the config's own ground truth
_WRITER_OPTIONS = ("ann_file", "outfile_prefix", "format_only")


def result_files(pred: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The result files named by ``pred``: files, or prefixes ``P`` of ``P.bbox.json`` (+ ``P.segm.json``).

    Raises:
        FileNotFoundError: naming a path that is neither a file nor such a prefix.
    """
    entries = [pred] if isinstance(pred, (str, os.PathLike)) else list(pred)
    files: list[Path] = []
    for entry in entries:
        path = Path(entry)
        if path.is_file():
            files.append(path)
            continue
        prefixed = [Path(f"{path}.{kind}.json") for kind in ("bbox", "segm")]
        if not prefixed[0].is_file():
            raise FileNotFoundError(
                f"COCO results not found: {str(path)!r} is neither a file nor a prefix P of P.bbox.json"
            )
        files.extend(p for p in prefixed if p.is_file())
    return files


def read_coco_results(path: str | os.PathLike) -> tuple[str, list[dict]]:
    """``(kind, results)`` of one COCO results file: ``"segm"`` when its records hold ``segmentation``
    (or it is empty and named ``*.segm.json``), else ``"bbox"``.

    Raises:
        ValueError: not JSON, not a list, or a record without ``image_id``, ``category_id``, a numeric
            ``score``, and ``bbox`` (four numbers) or ``segmentation`` (an RLE dict); naming the file
            and the record.
    """
    path = Path(path)
    results = read_json_list(path, "COCO results", "detections")
    if results:
        kind = "segm" if isinstance(results[0], dict) and "segmentation" in results[0] else "bbox"
    else:
        kind = "segm" if path.name.endswith(".segm.json") else "bbox"
    for index, result in enumerate(results):
        problem = _result_problem(result, kind)
        if problem:
            raise ValueError(f"COCO results {str(path)!r}, result {index}: {problem}")
    return kind, results


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _result_problem(result: Any, kind: str) -> str | None:
    if not isinstance(result, dict):
        return f"expected an object, got {type(result).__name__}"
    missing = [key for key in ("image_id", "category_id", "score") if key not in result]
    if missing:
        return f"missing {missing}"
    if not _is_number(result["score"]):
        return f"score {result['score']!r} is not a number"
    if kind == "segm":
        rle = result.get("segmentation")
        if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
            return "`segmentation` must be an RLE dict with `size` and `counts` (as in the other records)"
        return None
    box = result.get("bbox")
    if not isinstance(box, list) or len(box) != 4 or not all(_is_number(v) for v in box):
        return f"bbox {box!r} is not [x, y, w, h] numbers (or the file mixes bbox and segm records)"
    return None


def _coco_metric(metrics: Mapping | Sequence[Mapping] | None, gt: str, kinds: set[str]) -> CocoMetric:
    """The config's CocoMetric re-made to score against ``gt`` and write nothing; default: one for ``kinds``."""
    coco_entries = []
    for target, entry in metric_entries(metrics):
        if not issubclass(target, CocoMetric):
            raise ValueError(
                f"eval detection scores COCO results with CocoMetric; the config's {target.__name__} "
                "cannot read them (use a CocoMetric test_evaluator)"
            )
        coco_entries.append(entry)
    if len(coco_entries) > 1:
        raise ValueError("eval detection: the config has several CocoMetric entries; give one")
    if not coco_entries:
        return CocoMetric(ann_file=gt, metric=tuple(sorted(kinds)))
    cfg = {key: value for key, value in coco_entries[0].items() if key not in _WRITER_OPTIONS}
    return build({**cfg, "ann_file": gt}, METRICS)


def evaluate_files(
    gt: str | os.PathLike,
    pred: str | os.PathLike | Sequence[str | os.PathLike],
    metrics: Mapping | Sequence[Mapping] | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, float]:
    """Score COCO result files against a COCO annotation file, as ``visionstack test`` does.

    Every image of ``gt`` is evaluated (an image without results is one where the model found
    nothing), as the test set of a ``CocoDataset`` holds every image of its file.

    Args:
        gt: the COCO annotation JSON (``instances_val.json``, or ``PREFIX.gt.json`` written by a
            CocoMetric without ``ann_file``).
        pred: result files (``PREFIX.bbox.json``, ``PREFIX.segm.json``), a list of them, or the prefix.
        metrics: the config's ``test_evaluator`` (a CocoMetric dict, or a list holding one): its
            ``metric``, ``classwise``, ``iou_thrs``, ``proposal_nums``, ``backend`` and ``prefix``
            are used, its ``ann_file``/``outfile_prefix``/``format_only`` are not. None:
            ``CocoMetric(metric=...)`` for the kinds of the files given (``bbox``, plus ``segm``).
        classes: the dataset's class names when it keeps a subset or another order of the file's
            categories (``metainfo=dict(classes=...)``); None: every category, in sorted id order.

    Returns:
        ``{"coco/bbox_mAP": ..., ...}``: the keys and values of the in-process CocoMetric.

    Raises:
        FileNotFoundError, ValueError: naming the file and record at fault (malformed records,
            an image or category that ``gt`` does not have, two files of one kind).
    """
    gt = os.fspath(gt)
    if not os.path.isfile(gt):
        raise FileNotFoundError(f"COCO annotation file not found: {gt!r}")
    by_kind: dict[str, tuple[Path, list[dict]]] = {}
    for path in result_files(pred):
        kind, results = read_coco_results(path)
        if kind in by_kind:
            raise ValueError(f"two {kind} result files: {str(by_kind[kind][0])!r} and {str(path)!r}")
        by_kind[kind] = (path, results)
    metric = _coco_metric(metrics, gt, set(by_kind))
    if classes is not None:
        metric.dataset_meta = {"classes": tuple(classes)}
    for path, results in by_kind.values():
        try:
            metric.check_results(results)
        except ValueError as error:
            raise ValueError(f"COCO results {str(path)!r}, {error}") from error
    wanted = {"segm" if kind == "segm" else "bbox" for kind in metric.metric_types}
    absent = sorted(wanted - set(by_kind))
    if absent:
        raise ValueError(
            f"CocoMetric metric {list(metric.metric_types)} needs {absent} results; got only {sorted(by_kind)}"
        )
    bbox_results = by_kind.get("bbox", (None, []))[1]
    segm_results = by_kind.get("segm", (None, []))[1]
    values = metric.evaluate_results(bbox_results, segm_results)
    return {f"{metric.prefix}/{key}" if metric.prefix else key: value for key, value in values.items()}
