"""MOT sequences as a frame dataset for the engine's test loop (MMTracking's video datasets' role).

One record per frame, sequences one after another and frames in order, so that a loader with batch size 1
and no shuffling feeds a tracking model the frames of each sequence in time order. Training a tracking model's
detector uses the sequences' COCO conversion (``annotations/<split>_cocoformat.json``) with a ``CocoDataset``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...data.base_dataset import BaseDataset, DatasetError
from ...registry import DATASETS
from .metainfo import MOT_CLASS_IDS, SYNTH_CLASSES

__all__ = ["MOTSequenceDataset"]

# metainfo keys a tracking model and MOTMetric read (give them to PackDetInputs' meta_keys)
TRACKING_META_KEYS = (
    "img_id",
    "img_path",
    "ori_shape",
    "img_shape",
    "scale_factor",
    "seq_name",
    "seq_dir",
    "frame_id",
    "timestamp",
    "frame_rate",
    "is_first_frame",
    "public_detections",
)


@DATASETS.register()
class MOTSequenceDataset(BaseDataset):
    """Every frame of the MOT-layout sequences under ``data_root/split`` (``<SEQ>/{seqinfo.ini, img1/}``).

    Args:
        split: the folder of sequences under ``data_root`` (``val``, ``train``; MOT17's ``train``), or a
            single sequence folder.
        sequences: only these sequence names (default: all, sorted, or those of ``seqmap``).
        seqmap: a trackeval seqmap file (relative to ``data_root``) naming the sequences.
        load_public_detections: put ``det/det.txt``'s boxes of each frame in the record
            (``public_detections`` (N, 6): x1 y1 x2 y2 score label), for trackers on public detections.
        with_gt: load ``gt/gt.txt``'s boxes as ``gt_bboxes``/``gt_bboxes_labels``/``gt_instances_ids`` (for
            drawing); boxes of classes not in ``class_ids`` are left out.
        class_ids: MOT class id of each label (metainfo ``class_ids``).
        **kwargs: :class:`BaseDataset` arguments (``data_root``, ``pipeline``, ``metainfo``, ``indices``...).
    """

    METAINFO = {"classes": SYNTH_CLASSES, "class_ids": MOT_CLASS_IDS}

    def __init__(
        self,
        split: str = "val",
        sequences: Sequence[str] | None = None,
        seqmap: str | None = None,
        load_public_detections: bool = False,
        with_gt: bool = False,
        **kwargs: Any,
    ) -> None:
        self.split = split
        self.sequences = None if sequences is None else list(sequences)
        self.seqmap = seqmap
        self.load_public_detections = load_public_detections
        self.with_gt = with_gt
        kwargs.setdefault("test_mode", True)
        super().__init__(**kwargs)

    @property
    def class_ids(self) -> tuple[int, ...]:
        return tuple(self.metainfo.get("class_ids") or range(1, len(self.metainfo["classes"]) + 1))

    def load_data_list(self) -> list[dict]:
        from .mot_format import frame_paths, frame_timestamps, list_sequences, read_seqinfo

        split_dir = Path(self._join_root(self.split))
        if not split_dir.is_dir():
            raise DatasetError(f"MOTSequenceDataset: no sequence folder {split_dir} (data_root + split)")
        seqmap = self._join_root(self.seqmap) if self.seqmap else None
        records: list[dict] = []
        for seq_dir in list_sequences(split_dir, seqmap):
            if self.sequences is not None and seq_dir.name not in self.sequences:
                continue
            info = read_seqinfo(seq_dir)
            times = frame_timestamps(seq_dir, info)
            public = self._public_detections(seq_dir) if self.load_public_detections else {}
            gt = self._ground_truth(seq_dir) if self.with_gt else {}
            for position, (frame, path) in enumerate(frame_paths(seq_dir, info)):
                record = {
                    "img_path": os.fspath(path),
                    "img_id": len(records),
                    "seq_name": seq_dir.name,
                    "seq_dir": os.fspath(seq_dir),
                    "frame_id": frame,
                    "timestamp": float(times.get(frame, (frame - 1) / info.frame_rate)),
                    "frame_rate": float(info.frame_rate),
                    "is_first_frame": position == 0,
                    "width": info.im_width,
                    "height": info.im_height,
                }
                if self.load_public_detections:
                    record["public_detections"] = public.get(frame, np.zeros((0, 6)))
                if self.with_gt:
                    record.update(gt.get(frame, _no_gt()))
                records.append(record)
        if not records:
            raise DatasetError(f"MOTSequenceDataset: no frames found under {split_dir}")
        return records

    def _public_detections(self, seq_dir: Path) -> dict[int, np.ndarray]:
        from .sequences import public_detections

        return {
            frame: np.column_stack([found.bboxes, found.scores, found.labels]).astype(np.float32)
            for frame, found in public_detections(seq_dir, self.class_ids).items()
        }

    def _ground_truth(self, seq_dir: Path) -> dict[int, dict]:
        from .mot_format import read_mot_file

        records = read_mot_file(seq_dir / "gt" / "gt.txt", "gt")
        label_of = {class_id: label for label, class_id in enumerate(self.class_ids)}
        by_frame: dict[int, dict] = {}
        for frame in np.unique(records.frames):
            rows = records.at_frame(frame)
            keep = np.array([c in label_of for c in rows.classes], dtype=bool) & rows.consider
            by_frame[int(frame)] = {
                "gt_bboxes": rows.bboxes[keep].astype(np.float32),
                "gt_bboxes_labels": np.array([label_of[c] for c in rows.classes[keep]], dtype=np.int64),
                "gt_instances_ids": rows.ids[keep].astype(np.int64),
                "gt_ignore_flags": np.zeros(int(keep.sum()), dtype=bool),
            }
        return by_frame


def _no_gt() -> dict:
    return {
        "gt_bboxes": np.zeros((0, 4), np.float32),
        "gt_bboxes_labels": np.zeros(0, np.int64),
        "gt_instances_ids": np.zeros(0, np.int64),
        "gt_ignore_flags": np.zeros(0, bool),
    }
