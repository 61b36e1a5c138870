"""The engine metric of multi-object tracking (:class:`MOTMetric`): HOTA, CLEAR and Identity via trackeval.

The model predicts one frame at a time; the metric keeps each frame's tracks, writes one MOT result file per
sequence when the dataset is done (``<SEQ>.txt``, optionally after linear interpolation of short gaps) and
scores the files against the sequences' ``gt/gt.txt`` with :func:`.evaluation.evaluate_mot`. Keys (prefix
``tracking``) are :func:`.evaluation.evaluate_mot`'s: ``HOTA``, ``MOTA``, ``IDF1`` ... for the class-averaged
combination, ``<class>/<metric>``, ``det_av/<metric>`` and ``seq/<SEQ>/<metric>``.
"""

from __future__ import annotations

import logging
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstack.evaluation import BaseMetric, sample_fields
from visionstack.registry import METRICS

from .evaluation import METRIC_NAMES, evaluate_mot, resolve_class_ids
from .interpolation import interpolate_results
from .mot_format import write_results

__all__ = ["MOTMetric"]

logger = logging.getLogger(__name__)

_EXPECTS = (
    "tracking DataSamples with seq_name, seq_dir and frame_id metainfo and pred_track_instances "
    "(bboxes (N, 4) xyxy, scores (N,), labels (N,), instances_id (N,))"
)


def _numpy(value: Any, dtype: Any = np.float64) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def _read_tracks(sample: Any, index: int) -> dict[str, Any]:
    """One frame's tracks as a small picklable record (see :meth:`MOTMetric.process`)."""
    seq_name, seq_dir, frame_id, tracks = sample_fields(
        sample, ("seq_name", "seq_dir", "frame_id", "pred_track_instances"), "MOTMetric", index, _EXPECTS
    )
    fields = []
    for name in ("bboxes", "scores", "labels", "instances_id"):
        value = tracks.get(name)
        if value is None:
            raise KeyError(f"MOTMetric: data_samples[{index}].pred_track_instances has no {name}; {_EXPECTS}")
        fields.append(value)
    bboxes = _numpy(fields[0]).reshape(-1, 4)
    scores, labels, ids = (_numpy(v).reshape(-1) for v in fields[1:])
    if not len(bboxes) == len(scores) == len(labels) == len(ids):
        raise ValueError(
            f"MOTMetric: data_samples[{index}].pred_track_instances has {len(bboxes)} boxes, {len(scores)} "
            f"scores, {len(labels)} labels and {len(ids)} ids"
        )
    return {
        "seq_name": str(seq_name),
        "seq_dir": str(seq_dir),
        "frame_id": int(_numpy(frame_id).reshape(-1)[0]),
        "bboxes": bboxes,
        "scores": scores,
        "labels": labels.astype(np.int64),
        "ids": ids.astype(np.int64),
    }


@METRICS.register()
class MOTMetric(BaseMetric):
    """HOTA (DetA, AssA, LocA), CLEAR (MOTA, MOTP, IDSW, Frag) and Identity (IDF1, IDP, IDR), per class
    and combined, as trackeval computes them on the written MOT result files.

    ``process`` reads, per frame: ``seq_name`` (the sequence folder's name), ``seq_dir`` (the sequence
    folder, holding ``gt/gt.txt`` and ``seqinfo.ini``), ``frame_id`` (MOT's 1-based frame number) metainfo,
    and ``pred_track_instances``: ``bboxes`` (N, 4) xyxy 0-based absolute pixels, ``scores`` (N,), ``labels``
    (N,) 0-based indices into ``dataset_meta["classes"]`` and ``instances_id`` (N,) track ids. Samples may
    be DataSamples or dicts with the same keys.

    Class names are ``dataset_meta["classes"]`` (default ``("pedestrian",)``), their MOT class ids (column 8
    of the files) ``dataset_meta["class_ids"]`` when present, else by name / 1..K as in
    :func:`.evaluation.resolve_class_ids`.

    Args:
        metric: a subset of ``("HOTA", "CLEAR", "Identity")``.
        outfile_prefix: the folder the ``<SEQ>.txt`` result files are written to and kept in; None: a
            temporary folder, removed after scoring.
        interpolate: None, or the keyword arguments of :func:`.interpolation.interpolate_tracks`
            (``max_gap``, ``min_track_length`` ...) to fill short gaps of each track before scoring
            (``{}`` for its defaults).
        collect_device: see :class:`BaseMetric`.
        prefix: key prefix (default ``"tracking"``).
    """

    default_prefix = "tracking"

    def __init__(
        self,
        metric: str | Sequence[str] = METRIC_NAMES,
        outfile_prefix: str | Path | None = None,
        interpolate: dict | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metrics = (metric,) if isinstance(metric, str) else tuple(metric)
        unknown = [m for m in self.metrics if m not in METRIC_NAMES]
        if unknown or not self.metrics:
            raise ValueError(
                f"MOTMetric: metric must be a non-empty subset of {METRIC_NAMES}, got {metric!r}"
            )
        if interpolate is not None and not isinstance(interpolate, dict):
            raise TypeError(
                f"MOTMetric: interpolate must be None or a dict of keyword arguments, got {interpolate!r}"
            )
        self.outfile_prefix = outfile_prefix
        self.interpolate = interpolate

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            self.results.append(_read_tracks(sample, index))

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        classes, class_ids = self._classes()
        sequences = _group_by_sequence(results)
        if self.outfile_prefix is not None:
            return self._write_and_score(Path(self.outfile_prefix), sequences, classes, class_ids)
        with tempfile.TemporaryDirectory(prefix="visionstack_mot_") as tmp:
            return self._write_and_score(Path(tmp), sequences, classes, class_ids)

    def _classes(self) -> tuple[list[str], list[int]]:
        meta = self.dataset_meta or {}
        return resolve_class_ids(meta.get("classes") or ("pedestrian",), meta.get("class_ids"))

    def _write_and_score(
        self, out_dir: Path, sequences: dict[str, dict], classes: list[str], class_ids: list[int]
    ) -> dict[str, float]:
        out_dir.mkdir(parents=True, exist_ok=True)
        lookup = np.asarray(class_ids, dtype=np.int64)
        for seq, item in sequences.items():
            rows = item["rows"]
            labels = rows[:, 7].astype(np.int64)
            if len(labels) and (labels.min() < 0 or labels.max() >= len(lookup)):
                raise ValueError(
                    f"MOTMetric: sequence {seq!r} has labels {sorted(set(labels.tolist()))}, but the dataset "
                    f"has {len(classes)} classes {classes}"
                )
            rows = np.concatenate([rows[:, :7], lookup[labels, None]], axis=1)
            if self.interpolate is not None:
                rows = interpolate_results(rows, sequences[seq]["frames"], **self.interpolate)
            write_results(
                out_dir / f"{seq}.txt", rows[:, 0], rows[:, 1], rows[:, 2:6], rows[:, 6], rows[:, 7]
            )
        gt_dir, names = _ground_truth_split(sequences, out_dir)
        logger.info("MOTMetric: %d result files in %s", len(sequences), out_dir)
        return evaluate_mot(gt_dir, out_dir, classes, names, self.metrics, class_ids)


def _group_by_sequence(results: list[dict]) -> dict[str, dict]:
    """``{seq: {"seq_dir", "rows": (N, 8) [frame, id, x1, y1, x2, y2, score, label]}}`` in sorted order."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    for record in results:
        grouped[record["seq_name"]].append(record)
    sequences = {}
    for seq, records in sorted(grouped.items()):
        seq_dirs = {r["seq_dir"] for r in records}
        if len(seq_dirs) > 1:
            raise ValueError(f"MOTMetric: sequence {seq!r} comes from several folders {sorted(seq_dirs)}")
        rows = [
            np.column_stack(
                [np.full(len(r["ids"]), r["frame_id"]), r["ids"], r["bboxes"], r["scores"], r["labels"]]
            )
            for r in records
        ]
        sequences[seq] = {
            "seq_dir": seq_dirs.pop(),
            "rows": np.concatenate(rows).reshape(-1, 8),
            "frames": np.array(sorted({int(r["frame_id"]) for r in records})),
        }
    return sequences


def _ground_truth_split(sequences: dict[str, dict], out_dir: Path) -> tuple[Path, list[str]]:
    """The split folder holding every evaluated sequence under its name, and the names.

    Usually the common parent of the ``seq_dir``s; otherwise a folder of links next to the results."""
    dirs = {seq: Path(item["seq_dir"]) for seq, item in sequences.items()}
    parents = {d.parent for d in dirs.values()}
    if len(parents) == 1 and all(d.name == seq for seq, d in dirs.items()):
        return parents.pop(), list(dirs)
    split = out_dir / "_gt_links"
    split.mkdir(exist_ok=True)
    for seq, seq_dir in dirs.items():
        link = split / seq
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(seq_dir.resolve(), target_is_directory=True)
    return split, list(dirs)
