"""Action recognition datasets in MMAction2's annotation formats: video lists, raw-frame lists, skeleton pickles.

Video list (``VideoDataset``), one video per line, path relative to ``data_prefix["video"]``::

    videos_train/000000.mp4 3

Raw-frame list (``RawframeDataset``), one folder of extracted frames per line (``img_00001.jpg`` ...)::

    rawframes_val/000000 32 3            # frame_dir total_frames label
    rawframes_val/000001 4 32 3          # frame_dir offset total_frames label (with_offset=True)

A line with no label (only the path) gets label -1, as MMAction2's inference lists; blank lines and
``#`` comments are skipped; a malformed line raises :class:`~visionstack.data.DatasetError` naming the
file and the line number. Skeleton pickle (``PoseDataset``), as written by MMAction2 / PYSKL::

    {"split": {"xsub_train": [frame_dir, ...], "xsub_val": [...]},
     "annotations": [{"frame_dir", "label", "total_frames", "img_shape", "keypoint" (M, T, V, C),
                      "keypoint_score" (M, T, V)}, ...]}

Records (what the pipeline receives; ``sample_idx`` is added by the base class):

* video: ``filename`` (path), ``label`` (int), ``start_index`` 0, ``modality`` "RGB";
* raw frames: ``frame_dir``, ``total_frames``, ``label``, ``start_index`` (1), ``filename_tmpl``,
  ``modality``, and ``offset`` with ``with_offset``;
* skeleton: the annotation's keys, ``keypoint`` / ``keypoint_score`` as float32, ``start_index`` 0,
  ``modality`` "Pose".

Class names: ``classes=`` (a list, or a text file with one name per line) or ``metainfo=dict(classes=...)``;
when given, every label must be below their count.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ...data.base_dataset import BaseDataset, DatasetError
from ...registry import DATASETS

__all__ = ["ActionDataset", "PoseDataset", "RawframeDataset", "VideoDataset", "read_list_file"]


def read_list_file(
    ann_file: str, parse_line: Callable[[list[str], str], dict], report_bad_line: Callable[[int, str], None]
) -> list[dict]:
    """Parse a whitespace-separated list file into records, one per non-blank, non-comment line.

    Args:
        ann_file: the list file.
        parse_line: ``(fields, line text) -> record``; raises ValueError for a malformed line.
        report_bad_line: called with (line number, reason); it raises or counts.
    """
    if not os.path.isfile(ann_file):
        raise FileNotFoundError(f"annotation list file not found: {ann_file!r}")
    records = []
    with open(ann_file, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                records.append(parse_line(text.split(), text))
            except ValueError as error:
                report_bad_line(line_number, f"{error} (line {text!r})")
    return records


def _int_field(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"the {name} {text!r} is not an integer") from None


class ActionDataset(BaseDataset):
    """Base of the action datasets: class names, label checks, ``start_index`` and ``modality``.

    Args:
        ann_file: the annotation file (relative to ``data_root`` unless absolute).
        data_root: the dataset root.
        data_prefix: folders joined to the records' paths, by kind (``video``, ``img``).
        classes: class names, or a text file with one per line (line i = label i).
        start_index: the number of a video's first frame: 0 for videos, 1 for MMAction2's raw frames.
        modality: ``RGB`` (or ``Pose`` for skeletons), copied into each record.
        metainfo: see :class:`~visionstack.data.BaseDataset`; its ``classes`` and ``classes`` are exclusive.
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments (``pipeline``,
            ``test_mode``, ``indices``, ``lazy_init``, ``skip_bad_samples`` ...).
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = "",
        data_prefix: Mapping[str, str] | None = None,
        classes: Sequence[str] | str | None = None,
        start_index: int = 0,
        modality: str = "RGB",
        metainfo: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        merged = dict(metainfo or {})
        if classes is not None:
            if "classes" in merged:
                raise ValueError(
                    f"{type(self).__name__}: give the class names either as `classes` or as "
                    "metainfo['classes'], not both"
                )
            merged["classes"] = classes
        self.start_index = int(start_index)
        self.modality = modality
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(data_prefix or {}),
            metainfo=merged,
            **kwargs,
        )

    def _report_bad_line(self, line_number: int, reason: str) -> None:
        self.report_bad_record(line_number, reason, unit="line")

    def _check_label(self, label: int) -> int:
        """``label`` if it is -1 (no label) or a class index; ValueError otherwise."""
        classes = self._metainfo.get("classes")
        if label < -1 or (classes is not None and label >= len(classes)):
            limit = f"[0, {len(classes)})" if classes is not None else ">= 0"
            raise ValueError(f"label {label} is outside {limit} (-1 marks a sample without a label)")
        return label

    def _prefix(self, key: str) -> str:
        return self.data_prefix.get(key, "") or self.data_root

    def get_data_info(self, idx: int) -> dict:
        """Record ``idx`` with ``sample_idx``, ``start_index`` and ``modality``."""
        info = super().get_data_info(idx)
        info.setdefault("start_index", self.start_index)
        info.setdefault("modality", self.modality)
        return info

    def get_cat_ids(self, idx: int) -> list[int]:
        """The label of record ``idx`` as a one-element list (empty without a label)."""
        label = int(self.get_data_info(idx).get("label", -1))
        return [label] if label >= 0 else []

    def _describe(self, idx: int) -> str:
        try:
            record = self._records[idx]
            path = record.get("filename") or record.get("frame_dir")
        except Exception:  # describing must never mask the original error
            path = None
        where = f" ({path!r})" if path is not None else ""
        return f"{self.source()}, record {idx}{where}"


@DATASETS.register()
class VideoDataset(ActionDataset):
    """Videos listed in a text file of ``relative/path label`` lines (MMAction2's ``VideoDataset``).

    Paths may contain spaces (the label is the last field). Records: ``filename`` (the path joined to
    ``data_prefix["video"]``), ``label``, ``start_index`` (0), ``modality``.

    Args:
        ann_file: the list file.
        data_prefix: ``dict(video=folder)``: the folder (below ``data_root``) the paths start from.
        start_index: 0 for videos (frames decoded from a video count from 0).
        **kwargs: the :class:`ActionDataset` arguments (``data_root``, ``classes``, ``pipeline`` ...).
    """

    def __init__(
        self,
        ann_file: str,
        data_prefix: Mapping[str, str] | None = None,
        start_index: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            ann_file,
            data_prefix=dict(video="") if data_prefix is None else data_prefix,
            start_index=start_index,
            **kwargs,
        )

    def load_data_list(self) -> list[dict]:
        folder = self._prefix("video")

        def parse(fields: list[str], text: str) -> dict:
            path, label = text, -1
            if len(fields) > 1:
                path, label_text = text.rsplit(maxsplit=1)
                label = _int_field(label_text, "label")
            return {"filename": os.path.join(folder, path), "label": self._check_label(label)}

        return read_list_file(self.ann_file, parse, self._report_bad_line)


@DATASETS.register()
class RawframeDataset(ActionDataset):
    """Folders of extracted frames listed as ``frame_dir total_frames label`` (MMAction2's ``RawframeDataset``).

    Frame ``i`` (``start_index``-based, as ``SampleFrames`` writes ``frame_inds``) of a record is the file
    ``frame_dir / filename_tmpl.format(i + offset)``.

    Args:
        ann_file: the list file.
        data_prefix: ``dict(img=folder)``: the folder (below ``data_root``) the frame folders start from.
        filename_tmpl: the frame file name, formatted with the frame number.
        with_offset: the lines are ``frame_dir offset total_frames label``.
        start_index: the number of the first frame file (1: ``img_00001.jpg``).
        **kwargs: the :class:`ActionDataset` arguments (``data_root``, ``classes``, ``pipeline`` ...).
    """

    def __init__(
        self,
        ann_file: str,
        data_prefix: Mapping[str, str] | None = None,
        filename_tmpl: str = "img_{:05d}.jpg",
        with_offset: bool = False,
        start_index: int = 1,
        **kwargs: Any,
    ) -> None:
        self.filename_tmpl = filename_tmpl
        self.with_offset = with_offset
        super().__init__(
            ann_file,
            data_prefix=dict(img="") if data_prefix is None else data_prefix,
            start_index=start_index,
            **kwargs,
        )

    def load_data_list(self) -> list[dict]:
        folder = self._prefix("img")
        numbers = ("offset", "total_frames") if self.with_offset else ("total_frames",)
        layout = " ".join(("frame_dir", *numbers, "label"))

        def parse(fields: list[str], text: str) -> dict:
            if not len(numbers) + 1 <= len(fields) <= len(numbers) + 2:
                raise ValueError(f"expected '{layout}' (label optional)")
            record = {"frame_dir": os.path.join(folder, fields[0])}
            for name, value in zip(numbers, fields[1:], strict=False):
                record[name] = _int_field(value, name)
            if record["total_frames"] <= 0:
                raise ValueError(f"total_frames must be positive, got {record['total_frames']}")
            label = _int_field(fields[-1], "label") if len(fields) == len(numbers) + 2 else -1
            record["label"] = self._check_label(label)
            return record

        return read_list_file(self.ann_file, parse, self._report_bad_line)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info["filename_tmpl"] = self.filename_tmpl
        return info


@DATASETS.register()
class PoseDataset(ActionDataset):
    """Skeleton sequences from an MMAction2 / PYSKL pickle, optionally one named split of it.

    The pickle is ``{"split": {name: [frame_dir, ...]}, "annotations": [record, ...]}`` (or a bare list
    of records without ``split``); a split keeps the annotations whose ``frame_dir`` (``filename``
    when the records have one) it lists, in the annotations' order. Each record needs ``label`` and
    ``keypoint`` (M, T, V, C); ``keypoint_score`` (M, T, V) is optional; ``total_frames`` defaults to T.
    Only open pickles you trust: unpickling runs code.

    Args:
        ann_file: the ``.pkl`` file.
        split: the split to keep (e.g. ``xsub_train``); None keeps every annotation.
        data_prefix: ``dict(video=folder)`` joins the folder to ``filename`` / ``frame_dir`` (for
            pipelines that also read the video); default: none.
        **kwargs: the :class:`ActionDataset` arguments (``data_root``, ``classes``, ``pipeline`` ...).
    """

    def __init__(
        self,
        ann_file: str,
        split: str | None = None,
        data_prefix: Mapping[str, str] | None = None,
        start_index: int = 0,
        **kwargs: Any,
    ) -> None:
        self.split = split
        kwargs.setdefault("modality", "Pose")
        super().__init__(ann_file, data_prefix=data_prefix or {}, start_index=start_index, **kwargs)

    def _read_pickle(self) -> Any:
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f"PoseDataset: annotation file not found: {self.ann_file!r}")
        try:
            with open(self.ann_file, "rb") as handle:
                return pickle.load(handle)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as error:
            raise DatasetError(
                f"annotation file {self.ann_file!r} is not a readable pickle: {error}"
            ) from error

    def _select_split(self, content: Any) -> list:
        if isinstance(content, list):
            if self.split is not None:
                raise DatasetError(
                    f"annotation file {self.ann_file!r} is a bare list of records with no `split`, "
                    f"so split={self.split!r} cannot be selected; pass split=None"
                )
            return content
        if not isinstance(content, dict) or not isinstance(content.get("annotations"), list):
            raise DatasetError(
                f"annotation file {self.ann_file!r} must hold a dict with an `annotations` list "
                "(and a `split` dict), as MMAction2 / PYSKL write it"
            )
        annotations = content["annotations"]
        if self.split is None:
            return annotations
        splits = content.get("split")
        if not isinstance(splits, dict) or self.split not in splits:
            available = sorted(splits) if isinstance(splits, dict) else []
            raise DatasetError(
                f"annotation file {self.ann_file!r} has no split {self.split!r}; splits there: {available}"
            )
        names = set(splits[self.split])
        key = (
            "filename"
            if annotations and isinstance(annotations[0], dict) and "filename" in annotations[0]
            else "frame_dir"
        )
        selected = [record for record in annotations if isinstance(record, dict) and record.get(key) in names]
        if names and not selected:
            raise DatasetError(
                f"annotation file {self.ann_file!r}: split {self.split!r} lists {len(names)} names but no "
                f"annotation has a matching `{key}`"
            )
        return selected

    def _parse_record(self, raw: Any) -> dict:
        if not isinstance(raw, dict):
            raise TypeError(f"a record must be a dict, got {type(raw).__name__}")
        if "keypoint" not in raw or "label" not in raw:
            raise KeyError(f"a skeleton record needs `keypoint` and `label`; it has {sorted(raw)}")
        record = dict(raw)
        keypoint = np.asarray(record["keypoint"], dtype=np.float32)
        if keypoint.ndim != 4:
            raise ValueError(f"`keypoint` must be (M, T, V, C), got shape {keypoint.shape}")
        record["keypoint"] = keypoint
        if record.get("keypoint_score") is not None:
            score = np.asarray(record["keypoint_score"], dtype=np.float32)
            if score.shape != keypoint.shape[:3]:
                raise ValueError(
                    f"`keypoint_score` shape {score.shape} does not match `keypoint` (M, T, V) {keypoint.shape[:3]}"
                )
            record["keypoint_score"] = score
        total = int(record.get("total_frames", keypoint.shape[1]))
        if total != keypoint.shape[1]:
            raise ValueError(f"total_frames {total} differs from the keypoint frames T={keypoint.shape[1]}")
        record["total_frames"] = total
        record["label"] = self._check_label(int(record["label"]))
        prefix = self.data_prefix.get("video")
        if prefix:
            for key in ("filename", "frame_dir"):
                if key in record:
                    record[key] = os.path.join(prefix, record[key])
        return record

    def load_data_list(self) -> list[dict]:
        records = []
        for index, raw in enumerate(self._select_split(self._read_pickle())):
            try:
                records.append(self._parse_record(raw))
            except (KeyError, TypeError, ValueError) as error:
                name = raw.get("frame_dir") if isinstance(raw, dict) else None
                label = f" (frame_dir {name!r})" if name is not None else ""
                self.report_bad_record(index, f"{type(error).__name__}: {error}{label}")
        return records
