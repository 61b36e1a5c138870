"""Running a tracker over MOT sequences (NumPy only): detections per frame in, MOT result rows out.

This is the path of public detections (``det/det.txt``) and of the benchmarks; a detector model goes through
:class:`..models.MOTModel` and the engine's test loop instead, which calls the same trackers frame by frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import MODELS
from .metainfo import MOT_CLASS_IDS
from .mot_format import (
    MotRecords,
    frame_paths,
    frame_timestamps,
    read_mot_file,
    read_seqinfo,
    write_results,
)
from .trackers import BaseTracker, Detections

__all__ = ["build_tracker", "public_detections", "track_sequence", "track_split"]


def build_tracker(cfg: Mapping[str, Any] | BaseTracker, **defaults: Any) -> BaseTracker:
    """A tracker from its config dict (``type`` a registered tracker); ``defaults`` fill missing keys."""
    if isinstance(cfg, BaseTracker):
        return cfg
    cfg = {**defaults, **dict(cfg)}
    return MODELS.build(cfg)


def public_detections(
    seq_dir: str | os.PathLike, class_ids: Sequence[int] = MOT_CLASS_IDS
) -> dict[int, Detections]:
    """``det/det.txt`` of a sequence as ``{frame: Detections}``. A detection's class is column 8 when it
    holds one of ``class_ids`` (our class-aware public detections), else label 0 (MOT's ``-1``)."""
    records = read_mot_file(Path(seq_dir) / "det" / "det.txt", "det")
    labels = np.zeros(len(records), dtype=np.int64)
    for label, class_id in enumerate(class_ids):
        labels[records.classes == class_id] = label
    found: dict[int, Detections] = {}
    for frame in np.unique(records.frames):
        rows = records.frames == frame
        found[int(frame)] = Detections(records.bboxes[rows], records.scores[rows], labels[rows])
    return found


def track_sequence(
    tracker: BaseTracker,
    seq_dir: str | os.PathLike,
    detections: Mapping[int, Detections] | Callable[[int, np.ndarray | None], Detections] | None = None,
    class_ids: Sequence[int] = MOT_CLASS_IDS,
    need_images: bool | None = None,
) -> MotRecords:
    """Track one sequence: the frames present in ``img1/`` (dropped ones are skipped), in order.

    Args:
        tracker: reset here and run frame by frame; its ``frame_rate`` is set from ``seqinfo.ini``.
        seq_dir: the sequence folder (MOT layout).
        detections: ``{frame: Detections}``, a function ``(frame, image) -> Detections``, or None for the
            sequence's public detections.
        class_ids: MOT class id of each label (written in the results' class column).
        need_images: read every frame image (default: when the tracker compensates camera motion or
            ``detections`` is a function).

    Returns:
        The tracks as MOT result records (``classes`` are MOT class ids).
    """
    import cv2

    seq_dir = Path(seq_dir)
    info = read_seqinfo(seq_dir)
    times = frame_timestamps(seq_dir, info)
    if detections is None:
        detections = public_detections(seq_dir, class_ids)
    if need_images is None:
        need_images = tracker.camera_motion is not None or callable(detections)
    tracker.frame_rate = info.frame_rate
    tracker.reset()
    rows: list[tuple[int, int, np.ndarray, float, int]] = []
    for frame, path in frame_paths(seq_dir, info):
        image = cv2.imread(str(path)) if need_images else None
        if callable(detections):
            found = detections(frame, image)
        else:
            found = detections.get(frame, Detections.empty())
        output = tracker.update(found, frame_id=frame, timestamp=times.get(frame), image=image)
        for track_id, box, score, label in zip(output.ids, output.bboxes, output.scores, output.labels):
            rows.append((frame, int(track_id), box, float(score), int(class_ids[label])))
    return _records(rows)


def track_split(
    tracker: BaseTracker,
    split_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    sequences: Sequence[str] | None = None,
    class_ids: Sequence[int] = MOT_CLASS_IDS,
    interpolate: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Track every sequence of a split with its public detections and write ``out_dir/<SEQ>.txt``.

    ``interpolate``: keyword arguments of :func:`..interpolation.interpolate_tracks` (linear filling of short
    gaps), or None."""
    from .mot_format import list_sequences

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for seq_dir in list_sequences(split_dir):
        if sequences is not None and seq_dir.name not in sequences:
            continue
        records = track_sequence(tracker, seq_dir, class_ids=class_ids)
        frames = [frame for frame, _ in frame_paths(seq_dir)]
        written.append(write_records(out_dir / f"{seq_dir.name}.txt", records, interpolate, frames))
    return written


def write_records(
    path: Path,
    records: MotRecords,
    interpolate: Mapping[str, Any] | None = None,
    frames: Sequence[int] | None = None,
) -> Path:
    """Write result records, with short gaps filled first when ``interpolate`` is given (rows only for the
    sequence's ``frames`` when given: a dropped frame gets none)."""
    table = np.column_stack([records.frames, records.ids, records.bboxes, records.scores, records.classes])
    if interpolate is not None and len(records):
        from .interpolation import interpolate_results

        table = interpolate_results(table, frames, **interpolate)
    return write_results(path, table[:, 0], table[:, 1], table[:, 2:6], table[:, 6], table[:, 7])


def _records(rows: list[tuple[int, int, np.ndarray, float, int]]) -> MotRecords:
    count = len(rows)
    return MotRecords(
        frames=np.array([r[0] for r in rows], np.int64),
        ids=np.array([r[1] for r in rows], np.int64),
        bboxes=np.array([r[2] for r in rows], np.float64).reshape(count, 4),
        scores=np.array([r[3] for r in rows], np.float64),
        classes=np.array([r[4] for r in rows], np.int64),
        visibility=np.ones(count),
    )
