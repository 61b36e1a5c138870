"""Lifting results as files: the JSON that ``test --out-format`` writes and ``eval pose3d`` scores.

The result file is a JSON list with one record per test sample (a whole sequence, or a window's frames)::

    [{"img_path": ".../val/S9_walking.cam_4.npz", "subject": "S9", "action": "walking", "camera": "cam_4",
      "frame_offset": 0, "num_frames": 250, "keypoints_3d": [[[x, y, z], ...17 joints], ...frames],
      "units": "mm", "frame": "camera ..., root-relative"}, ...]

``keypoints_3d`` holds the model's float32 values exactly. :func:`evaluate_files` scores it against the
split index of the dataset (``val.json``) with the in-process :class:`~.metrics.MPJPEMetric`, so ``eval``
gives ``test``'s numbers. ``predictions.json`` of ``visionstack infer`` has the same keys (``frame_offset``
0) and is read the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ....evaluation import BaseMetric, Evaluator, JsonResultWriter
from ....registry import METRICS, build
from ....structures import DataSample, InstanceData
from ...result_files import metric_entries, read_json_list
from .metrics import MPJPEMetric
from .records import lifting_record
from .sequences import read_keypoint_sequence, read_sequence_index

__all__ = ["Pose3dResultWriter", "evaluate_files", "read_result_records"]

META = ("subject", "action", "camera", "frame_offset")


@METRICS.register()
class Pose3dResultWriter(JsonResultWriter):
    """Writes the predictions as the result JSON of the module docstring (not a metric: no keys).

    ``process`` reads each sample's ``pred_instances.keypoints`` (F, 17, 3) mm and its metainfo ``img_path``
    (the sequence file), ``subject``, ``action``, ``camera`` and ``frame_offset``.

    Args:
        out_file: the JSON file to write (folders are created).
        collect_device, prefix: see :class:`~visionstack.evaluation.BaseMetric`.
    """

    json_indent = None
    default_prefix = "pose3d_results"

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            pred = sample.get("pred_instances")
            img_path = sample.metainfo.get("img_path")
            if pred is None or "keypoints" not in pred or img_path is None:
                raise KeyError(
                    f"Pose3dResultWriter: data_samples[{index}] ({img_path or 'no img_path'}) needs "
                    "pred_instances.keypoints and the img_path metainfo"
                )
            keypoints = (
                pred.keypoints.detach().cpu().float().numpy()
                if hasattr(pred.keypoints, "detach")
                else pred.keypoints
            )
            record = {"img_path": str(img_path), **{key: sample.metainfo.get(key) for key in META}}
            record["frame_offset"] = int(record["frame_offset"] or 0)
            record.update(lifting_record(keypoints))
            self.results.append(record)


def read_result_records(path: str | os.PathLike) -> list[dict]:
    """The records of a lifting result file, checked (``img_path`` string, ``keypoints_3d`` (F, J, 3)).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a JSON list of valid records, naming the file and the record.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pose3d results file not found: {str(path)!r}")
    records = read_json_list(path, "pose3d results", "per-sequence records")
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("img_path"), str):
            raise ValueError(f"pose3d results {str(path)!r}, record {index}: needs an `img_path` string")
        joints = np.asarray(record.get("keypoints_3d", []), dtype=np.float32)
        if joints.ndim != 3 or joints.shape[-1] != 3 or not len(joints):
            raise ValueError(
                f"pose3d results {str(path)!r}, record {index} ({record['img_path']}): `keypoints_3d` must be "
                f"(frames, joints, 3), got shape {joints.shape}"
            )
        record["keypoints_3d"] = joints
        record["frame_offset"] = int(record.get("frame_offset") or 0)
    return records


def _path_key(path: str) -> tuple[str, ...]:
    return tuple(
        part for part in os.path.normpath(path).replace("\\", "/").split("/") if part not in ("", ".")
    )


def _match(
    records: list[dict], gt_keys: list[tuple[str, ...]], gt: str, pred: str
) -> dict[tuple[str, ...], list[dict]]:
    """Records grouped by the ground-truth sequence whose path (relative to the index) ends their img_path."""
    known = set(gt_keys)
    depths = sorted({len(key) for key in gt_keys}, reverse=True)
    grouped: dict[tuple[str, ...], list[dict]] = {key: [] for key in gt_keys}
    for index, record in enumerate(records):
        parts = _path_key(record["img_path"])
        key = next((parts[-d:] for d in depths if d <= len(parts) and parts[-d:] in known), None)
        if key is None:
            raise ValueError(f"{pred!r}, record {index}: {record['img_path']!r} is not a sequence of {gt!r}")
        grouped[key].append(record)
    missing = [key for key, found in grouped.items() if not found]
    if missing:
        shown = ", ".join("/".join(key) for key in missing[:5])
        raise ValueError(f"{pred!r} has no prediction for {len(missing)} sequence(s) of {gt!r}: {shown}")
    return grouped


def _metrics_from_config(metrics: Mapping | Sequence[Mapping] | None) -> list[BaseMetric]:
    built = [
        build(dict(entry), METRICS)
        for target, entry in metric_entries(metrics)
        if not issubclass(target, Pose3dResultWriter)
    ]
    return built or [MPJPEMetric()]


def evaluate_files(
    gt: str | os.PathLike,
    pred: str | os.PathLike,
    metrics: Mapping | Sequence[Mapping] | None = None,
    root_index: int = 0,
    **_: Any,
) -> dict[str, Any]:
    """Score a lifting result file against a split index, as ``visionstack test`` does.

    Args:
        gt: the split index (``val.json``) whose sequence files hold ``keypoints_3d``.
        pred: the result JSON of :class:`Pose3dResultWriter` (or ``predictions.json`` of ``infer``).
        metrics: the config's ``test_evaluator`` (writer entries skipped); None: ``MPJPEMetric()``.
        root_index: the root joint of the ground truth.

    Returns:
        The metric keys and values (``pose3d/MPJPE`` ...), equal to ``test``'s for the same predictions.

    Raises:
        FileNotFoundError, ValueError: naming the file and the record or sequence at fault.
    """
    gt, pred = os.fspath(gt), os.fspath(pred)
    _, entries = read_sequence_index(gt)
    folder = os.path.dirname(gt)
    keys = [_path_key(entry["file"]) for entry in entries]
    grouped = _match(read_result_records(pred), keys, gt, pred)
    samples = []
    for entry, key in zip(entries, keys):
        path = entry["file"] if os.path.isabs(entry["file"]) else os.path.join(folder, entry["file"])
        targets = read_keypoint_sequence(path).root_relative_3d(root_index)
        if targets is None:
            raise ValueError(f"{gt!r}: sequence {path!r} has no keypoints_3d to score against")
        for record in sorted(grouped[key], key=lambda item: item["frame_offset"]):
            samples.append(_sample(record, targets, path, entry, pred))
    evaluator = Evaluator(_metrics_from_config(metrics))
    return evaluator.offline_evaluate(samples, chunk_size=len(samples))


def _sample(record: dict, targets: np.ndarray, path: str, entry: Mapping[str, Any], pred: str) -> DataSample:
    offset, joints = record["frame_offset"], record["keypoints_3d"]
    truth = targets[offset : offset + len(joints)]
    if offset < 0 or len(truth) != len(joints) or truth.shape[1:] != joints.shape[1:]:
        raise ValueError(
            f"{pred!r}: {record['img_path']!r} frames {offset}..{offset + len(joints) - 1} of shape {joints.shape[1:]} "
            f"do not fit its ground truth ({targets.shape[0]} frames of {targets.shape[1:]})"
        )
    meta = {"img_path": path, "frame_offset": offset, "action": entry["action"], "subject": entry["subject"]}
    sample = DataSample(metainfo=meta)
    sample.pred_instances = InstanceData(keypoints=torch.from_numpy(np.ascontiguousarray(joints)))
    sample.gt_instances = InstanceData(keypoints=torch.from_numpy(np.ascontiguousarray(truth)))
    return sample
