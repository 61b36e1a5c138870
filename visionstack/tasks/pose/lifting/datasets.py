"""The lifting dataset: receptive-field windows (training) or whole sequences (evaluation) of sequence files.

Each split is an index file (``train.json``: ``data_list`` of sequence files with subject, action and camera;
see :mod:`.sequences`). The sequences are read once and held in memory (a few MB for the synthetic data);
the serialized records are only ``(sequence, first target frame)`` pairs, and :meth:`get_data_info` cuts
the sample out of the arrays.

A sample's 2D inputs are the target frames' windows: ``receptive_field`` frames centred on each target
frame (or ending at it, ``causal=True``), the sequence padded at both ends by repeating its first and last
frames (VideoPose3D's edge padding). ``sample_unit="window"`` gives ``frames_per_sample`` consecutive target
frames per sample (1: VideoPose3D's single-frame training windows); ``"sequence"`` gives one sample per
sequence with every frame a target, as VideoPose3D evaluates (and as MPJVE needs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ....data.base_dataset import BaseDataset
from ....registry import DATASETS
from ..metainfo import H36M_KEYPOINTS
from .sequences import pad_edges, read_keypoint_sequence, read_sequence_index, window_padding

__all__ = ["Pose3dSequenceDataset", "training_mean_pose"]

SAMPLE_UNITS = ("window", "sequence")


@dataclass
class _LoadedSequence:
    inputs: np.ndarray  # (T + rf - 1, 17, 2) float32, normalised and edge-padded
    targets: np.ndarray | None  # (T, 17, 3) float32 root-relative camera frame, mm
    meta: dict[str, Any]


@DATASETS.register()
class Pose3dSequenceDataset(BaseDataset):
    """2D keypoint sequences and their root-relative 3D joints (camera frame, mm), for 2D -> 3D lifters.

    Args:
        ann_file: the split index (``train.json``), relative to ``data_root``; its ``file`` entries are
            relative to the index's folder.
        receptive_field: the lifter's window in frames (odd; 1 for a single-frame lifter).
        causal: windows end at their target frame instead of being centred on it.
        sample_unit: ``"window"`` (training) or ``"sequence"`` (evaluation), see the module docstring.
        frames_per_sample: consecutive target frames per window sample (their inputs are
            ``receptive_field + frames_per_sample - 1`` frames).
        frame_stride: use every n-th target frame only (window samples; VideoPose3D's ``downsample``).
        subjects, actions, cameras: keep only these (None: all).
        root_index: the joint the 3D targets are relative to.
        **kwargs: :class:`~visionstack.data.base_dataset.BaseDataset` options (``data_root``, ``pipeline``,
            ``indices``, ``test_mode`` ...).
    """

    METAINFO: ClassVar[dict] = dict(H36M_KEYPOINTS)

    def __init__(
        self,
        ann_file: str,
        receptive_field: int = 1,
        causal: bool = False,
        sample_unit: str = "window",
        frames_per_sample: int = 1,
        frame_stride: int = 1,
        subjects: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        cameras: Sequence[str] | None = None,
        root_index: int = 0,
        **kwargs: Any,
    ) -> None:
        if sample_unit not in SAMPLE_UNITS:
            raise ValueError(
                f"Pose3dSequenceDataset: sample_unit must be one of {SAMPLE_UNITS}, got {sample_unit!r}"
            )
        if frames_per_sample < 1 or frame_stride < 1:
            raise ValueError("Pose3dSequenceDataset: frames_per_sample and frame_stride must be >= 1")
        self.padding = window_padding(receptive_field, causal)
        self.receptive_field = int(receptive_field)
        self.causal = bool(causal)
        self.sample_unit = sample_unit
        self.frames_per_sample = int(frames_per_sample)
        self.frame_stride = int(frame_stride)
        self.selection = {"subject": subjects, "action": actions, "camera": cameras}
        self.root_index = int(root_index)
        self.sequences: list[_LoadedSequence] = []
        super().__init__(ann_file=ann_file, **kwargs)

    # ---- loading ------------------------------------------------------------------------------------
    def load_data_list(self) -> list[dict]:
        """Read the index and every selected sequence; one record per sample."""
        file_metainfo, entries = read_sequence_index(self.ann_file)
        self._update_metainfo_from_file(
            {key: value for key, value in file_metainfo.items() if key != "keypoint_names"}
        )
        folder = os.path.dirname(self.ann_file)
        self.sequences = []
        records: list[dict] = []
        for number, entry in enumerate(entries):
            if any(wanted is not None and entry[key] not in wanted for key, wanted in self.selection.items()):
                continue
            path = entry["file"] if os.path.isabs(entry["file"]) else os.path.join(folder, entry["file"])
            try:
                loaded = self._load(path, entry)
            except (OSError, ValueError) as error:
                self.report_bad_record(number, f"{type(error).__name__}: {error}")
                continue
            self.sequences.append(loaded)
            records.extend(self._records_of(len(self.sequences) - 1, loaded))
        if not records:
            raise ValueError(f"{self.source()}: no sequence left after selecting {self._selection_text()}")
        return records

    def _load(self, path: str, entry: dict) -> _LoadedSequence:
        sequence = read_keypoint_sequence(path)
        targets = sequence.root_relative_3d(self.root_index)
        if targets is None and not self.test_mode:
            raise ValueError(f"{path!r} has no keypoints_3d: a training sequence needs its 3D ground truth")
        width, height = sequence.image_size
        meta = {
            "img_path": path,
            "subject": str(entry["subject"]),
            "action": str(entry["action"]),
            "camera": str(entry["camera"]),
            "image_size": (width, height),
            "ori_shape": (height, width),
            "img_shape": (height, width),
            "sequence_frames": sequence.num_frames,
        }
        return _LoadedSequence(pad_edges(sequence.normalized_inputs(), *self.padding), targets, meta)

    def _records_of(self, index: int, loaded: _LoadedSequence) -> list[dict]:
        frames = loaded.meta["sequence_frames"]
        if self.sample_unit == "sequence":
            return [{"sequence": index, "start": 0, "stop": frames}]
        chunk = min(self.frames_per_sample, frames)
        starts = list(range(0, frames - chunk + 1, self.frame_stride * chunk))
        if chunk > 1 and starts[-1] + chunk < frames:
            starts.append(frames - chunk)  # the last frames, in an overlapping chunk of full length
        return [{"sequence": index, "start": start, "stop": start + chunk} for start in starts]

    def _selection_text(self) -> str:
        chosen = {key: list(value) for key, value in self.selection.items() if value is not None}
        return str(chosen) if chosen else "everything"

    # ---- samples ------------------------------------------------------------------------------------
    def get_data_info(self, idx: int) -> dict:
        """The sample ``idx``: its record plus ``keypoints_2d`` (L, 17, 2), ``keypoints_3d`` (F, 17, 3) and the
        sequence's metainfo (see :mod:`.transforms`)."""
        record = super().get_data_info(idx)
        loaded = self.sequences[record["sequence"]]
        start, stop = record["start"], record["stop"]
        info = dict(loaded.meta)
        info.update(
            sample_idx=record["sample_idx"],
            keypoints_2d=loaded.inputs[start : stop + self.receptive_field - 1],
            num_frames=stop - start,
            frame_offset=start,
        )
        if loaded.targets is not None:
            info["keypoints_3d"] = loaded.targets[start:stop]
        return info

    def _describe(self, idx: int) -> str:
        try:
            path = self.sequences[self._records[idx]["sequence"]].meta["img_path"]
        except Exception:  # describing must never mask the original error
            path = None
        return f"{self.source()}, sample {idx}" + (f" (sequence {path!r})" if path else "")


def training_mean_pose(dataset: Pose3dSequenceDataset) -> np.ndarray:
    """(17, 3) float64: the mean root-relative 3D pose (camera frame, mm) over every frame of the dataset's
    sequences, the "mean pose" baseline's prediction for any input."""
    dataset.full_init()
    frames = [loaded.targets for loaded in dataset.sequences if loaded.targets is not None]
    if not frames:
        raise ValueError(f"training_mean_pose: {dataset.source()} has no 3D ground truth")
    return np.concatenate(frames).astype(np.float64).mean(axis=0)
