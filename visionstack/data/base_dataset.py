"""BaseDataset: the annotation list, its metainfo, and the pipeline that turns a record into a sample.

Life of a dataset:

1. ``__init__`` resolves paths against ``data_root`` and merges metainfo (class ``METAINFO`` <
   ``metainfo`` argument); nothing is read yet when ``lazy_init=True``.
2. ``full_init()`` (run on first use) calls ``load_data_list()`` (subclasses parse their format;
   the default reads the OpenMMLab 2.0 JSON ``{"metainfo": {...}, "data_list": [...]}``, whose
   metainfo fills only keys not set by the class or the argument), then ``filter_data()``, then
   keeps ``indices``, and stores the records serialized (:class:`SerializedList`).
3. ``dataset[i]`` = ``pipeline(get_data_info(i))``; a bad record raises :class:`DatasetError`
   naming the annotation file and the record, or with ``skip_bad_samples`` is counted and replaced.

Bad input caught: a record that does not parse, an instance box that is not four finite numbers,
has a negative size or reaches outside the image (``check_instance_boxes``, at parse time, in the
main process), and any error while loading the sample (missing, empty, truncated or non-image
file ...). During training the runner logs the replaced samples per epoch, summed over workers and
ranks (``bad_samples`` in the log).
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch.utils.data

from ..registry import DATASETS
from .serialized_list import SerializedList
from .transforms.base import Compose, Transform

__all__ = ["BaseDataset", "DatasetError", "check_instance_boxes"]

logger = logging.getLogger(__name__)


class DatasetError(RuntimeError):
    """A record cannot be read or used; the message names the annotation file (or folder) and the record."""


@DATASETS.register()
class BaseDataset(torch.utils.data.Dataset):
    """Base class of the datasets: lazy loading, metainfo, serialized records, bad-sample policy.

    Args:
        ann_file: annotation file, relative to ``data_root`` unless absolute ('' for none).
        data_root: root folder joined to relative ``ann_file`` and ``data_prefix`` paths.
        data_prefix: per path key (``img_path``, ``seg_map_path`` ...), a folder joined to the
            record's relative path of that key.
        metainfo: overrides the class ``METAINFO`` and the annotation file's metainfo
            (``classes`` may be the path of a text file with one class name per line).
        pipeline: built transforms applied to each record (callables ``dict -> dict | None``).
        filter_cfg: record filters for ``filter_data`` (base keys: ``filter_empty_gt``, ``min_size``).
        indices: keep only the first N records (an int; negative: the last N) or these indices.
        serialize_data: store records pickled in one buffer (DataLoader workers share its pages).
        test_mode: evaluation mode: no filtering, no refetching when the pipeline returns None.
        lazy_init: do not load annotations until first use (metainfo is available at once).
        skip_bad_samples: count and replace bad records instead of raising (``bad_samples`` lists
            them; counts are per process, so each DataLoader worker counts its own). In test mode a
            replacement duplicates another sample and so biases metrics; every one is logged.
        max_refetch: how many replacement samples to try before giving up.
    """

    METAINFO: ClassVar[dict] = {}
    FILTER_KEYS: ClassVar[tuple[str, ...]] = ("filter_empty_gt", "min_size")

    def __init__(
        self,
        ann_file: str = "",
        data_root: str = "",
        data_prefix: Mapping[str, str] | None = None,
        metainfo: Mapping[str, Any] | None = None,
        pipeline: Sequence[Transform] = (),
        filter_cfg: Mapping[str, Any] | None = None,
        indices: int | Sequence[int] | None = None,
        serialize_data: bool = True,
        test_mode: bool = False,
        lazy_init: bool = False,
        skip_bad_samples: bool = False,
        max_refetch: int = 100,
    ) -> None:
        self.data_root = os.fspath(data_root) if data_root else ""
        self.ann_file = self._join_root(os.fspath(ann_file)) if ann_file else ""
        prefixes = dict(img_path="") if data_prefix is None else dict(data_prefix)
        self.data_prefix = {key: self._join_root(os.fspath(value)) for key, value in prefixes.items()}
        self.filter_cfg = dict(filter_cfg) if filter_cfg else None
        self.indices = indices
        self.serialize_data = serialize_data
        self.test_mode = test_mode
        self.skip_bad_samples = skip_bad_samples
        self.max_refetch = max_refetch
        self.pipeline = Compose(pipeline)
        self.bad_samples: list[tuple[int, str]] = []
        self._last_was_bad = False
        self._metainfo = self._merge_metainfo(metainfo)
        self._records: SerializedList | list[dict] = []
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    # ---- paths and metainfo -------------------------------------------------------------------
    def _join_root(self, path: str) -> str:
        if not self.data_root or os.path.isabs(path):
            return path
        return os.path.join(self.data_root, path)

    def _merge_metainfo(self, metainfo: Mapping[str, Any] | None) -> dict:
        merged = copy.deepcopy(dict(self.METAINFO))
        for key, value in (metainfo or {}).items():
            merged[key] = self._read_classes(value) if key == "classes" else copy.deepcopy(value)
        if "classes" in merged and merged["classes"] is not None:
            merged["classes"] = tuple(merged["classes"])
        return merged

    def _read_classes(self, value: Any) -> Any:
        if not isinstance(value, (str, os.PathLike)):
            return value
        path = os.fspath(value)
        candidates = [path, self._join_root(path)]
        found = next((candidate for candidate in candidates if os.path.isfile(candidate)), None)
        if found is None:
            raise FileNotFoundError(
                f"{type(self).__name__}: `classes` is a string, so it must be a text file with one class "
                f"name per line, but {path!r} does not exist (also tried {candidates[1]!r})"
            )
        with open(found, encoding="utf-8") as handle:
            return tuple(line.strip() for line in handle if line.strip())

    def _update_metainfo_from_file(self, file_metainfo: Mapping[str, Any]) -> None:
        """Fill in annotation-file metainfo; keys set by the class or the argument win."""
        for key, value in file_metainfo.items():
            if key not in self._metainfo:
                self._metainfo[key] = tuple(value) if key == "classes" else value

    @property
    def metainfo(self) -> dict:
        """A copy of the metainfo (``classes`` tuple, ``palette`` ...)."""
        return copy.deepcopy(self._metainfo)

    def source(self) -> str:
        """Where the records come from, for messages: the annotation file or the image folder."""
        if self.ann_file:
            return f"annotation file {self.ann_file!r}"
        folder = self.data_prefix.get("img_path") or self.data_root
        return f"{type(self).__name__} folder {folder!r}"

    # ---- loading ------------------------------------------------------------------------------
    def full_init(self) -> None:
        """Load, filter, subset and store the records (once)."""
        if self._fully_initialized:
            return
        records = self.filter_data(self.load_data_list())
        if self.indices is not None:
            records = _select(records, self.indices, self.source())
        self._records = SerializedList(records) if self.serialize_data else records
        self._fully_initialized = True

    def load_data_list(self) -> list[dict]:
        """Read the OpenMMLab 2.0 JSON annotation file: ``{"metainfo": {...}, "data_list": [...]}``."""
        if not self.ann_file:
            raise ValueError(
                f"{type(self).__name__}: no ann_file given; pass ann_file= or use a dataset class for your layout"
            )
        try:
            with open(self.ann_file, encoding="utf-8") as handle:
                content = json.load(handle)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"{type(self).__name__}: annotation file not found: {self.ann_file!r}"
            ) from error
        except json.JSONDecodeError as error:
            raise DatasetError(f"annotation file {self.ann_file!r} is not valid JSON: {error}") from error
        if not isinstance(content, dict) or not isinstance(content.get("data_list"), list):
            raise DatasetError(
                f"annotation file {self.ann_file!r} must hold a JSON object with a `data_list` list "
                "(and optionally `metainfo`)"
            )
        self._update_metainfo_from_file(content.get("metainfo") or {})
        records: list[dict] = []
        for index, raw in enumerate(content["data_list"]):
            try:
                parsed = self.parse_data_info(raw)
                parsed = parsed if isinstance(parsed, list) else [parsed]
                for info in parsed:
                    check_instance_boxes(info)
            except (KeyError, TypeError, ValueError) as error:
                self.report_bad_record(index, f"{type(error).__name__}: {error}")
                continue
            records.extend(parsed)
        return records

    def parse_data_info(self, raw: dict) -> dict | list[dict]:
        """Turn one raw annotation record into data info(s): join ``data_prefix`` folders to paths."""
        if not isinstance(raw, dict):
            raise TypeError(f"a record must be a JSON object, got {type(raw).__name__}")
        info = dict(raw)
        for key, prefix in self.data_prefix.items():
            if key in info and info[key] is not None and prefix:
                info[key] = os.path.join(prefix, info[key])
        return info

    def report_bad_record(self, index: int, reason: str, unit: str = "record") -> None:
        """A record could not be parsed: raise naming the source and record, or count it when skipping.

        Args:
            index: the record's position in the annotation file (or its line number).
            reason: what is wrong, for the message.
            unit: what ``index`` counts (``record``, ``line``).
        """
        message = f"{self.source()}, {unit} {index}: {reason}"
        if not self.skip_bad_samples:
            raise DatasetError(f"{message} (pass skip_bad_samples=True to skip and count bad records)")
        self.bad_samples.append((index, message))
        logger.warning("skipping a bad record: %s", message)

    def filter_data(self, data_list: list[dict]) -> list[dict]:
        """Apply ``filter_cfg`` (skipped in test mode, so evaluation sees every image).

        Base keys: ``filter_empty_gt`` drops records whose ``instances`` has no non-ignored instance;
        ``min_size`` drops records whose ``width`` or ``height`` is below it.
        """
        if not self.filter_cfg or self.test_mode:
            return data_list
        unknown = sorted(set(self.filter_cfg) - set(self.FILTER_KEYS))
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: unknown filter_cfg key(s) {unknown}; known keys: {list(self.FILTER_KEYS)}"
            )
        kept = data_list
        if self.filter_cfg.get("filter_empty_gt", False):
            kept = [info for info in kept if "instances" not in info or _has_valid_instance(info)]
        min_size = self.filter_cfg.get("min_size")
        if min_size is not None:
            kept = [
                info
                for info in kept
                if min(info.get("width", min_size), info.get("height", min_size)) >= min_size
            ]
        return kept

    # ---- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        self.full_init()
        return len(self._records)

    def get_data_info(self, idx: int) -> dict:
        """A fresh copy of record ``idx`` with ``sample_idx`` added."""
        self.full_init()
        record = self._records[idx]
        info = record if self.serialize_data else copy.deepcopy(record)
        info["sample_idx"] = idx if idx >= 0 else len(self) + idx
        return info

    def get_cat_ids(self, idx: int) -> list[int]:
        """Category ids of record ``idx``: its ``gt_label`` or the ``bbox_label`` of its instances."""
        info = self.get_data_info(idx)
        if "gt_label" in info:
            label = info["gt_label"]
            return [int(v) for v in np.atleast_1d(label)]
        return [
            int(instance["bbox_label"]) for instance in info.get("instances", []) if "bbox_label" in instance
        ]

    def prepare_data(self, idx: int) -> Any:
        """``pipeline(get_data_info(idx))``."""
        return self.pipeline(self.get_data_info(idx))

    def __getitem__(self, idx: int) -> Any:
        self.full_init()
        current = int(idx)
        for attempt in range(self.max_refetch + 1):
            data = self._prepare_or_skip(current)
            if data is not None:
                return data
            if self.test_mode and not self._last_was_bad:
                raise DatasetError(
                    f"{self._describe(current)}: the pipeline returned None in test mode; every test sample "
                    "must pass the pipeline"
                )
            current = self._replacement(int(idx), attempt)
        raise DatasetError(
            f"{self._describe(int(idx))}: no usable sample after {self.max_refetch} replacements; "
            "check the pipeline and the data (or raise max_refetch)"
        )

    def _prepare_or_skip(self, idx: int) -> Any:
        """The sample, or None when the pipeline rejected it or (skipping) the record is bad."""
        self._last_was_bad = False
        try:
            return self.prepare_data(idx)
        except Exception as error:  # a bad image or record can fail in any transform
            message = f"{self._describe(idx)}: {type(error).__name__}: {error}"
            if not self.skip_bad_samples:
                raise DatasetError(
                    f"{message} (pass skip_bad_samples=True to skip and count bad samples)"
                ) from error
            self.bad_samples.append((idx, message))
            self._last_was_bad = True
            logger.warning("skipping a bad sample: %s", message)
            return None

    def _replacement(self, idx: int, attempt: int) -> int:
        """Another index: seeded by (idx, attempt) for bad records, the global RNG for rejections."""
        size = len(self)
        if size < 2:
            raise DatasetError(f"{self._describe(idx)}: the dataset has no other sample to use instead")
        if self._last_was_bad:
            other = int(np.random.default_rng([idx % size, attempt]).integers(size - 1))
        else:
            other = int(np.random.randint(size - 1))
        return other + 1 if other >= idx % size else other

    def _describe(self, idx: int) -> str:
        try:
            path = self._records[idx].get("img_path")
        except Exception:  # describing must never mask the original error
            path = None
        where = f" (img_path={path!r})" if path is not None else ""
        return f"{self.source()}, record {idx}{where}"

    @property
    def bad_sample_count(self) -> int:
        """Bad records met so far in this process (parsing and loading)."""
        return len(self.bad_samples)

    def get_subset(self, indices: int | Sequence[int]) -> BaseDataset:
        """A copy holding only ``indices`` (an int: the first N; negative: the last N)."""
        self.full_init()
        subset = copy.copy(self)
        positions = _select(list(range(len(self))), indices, self.source())
        if isinstance(self._records, SerializedList):
            subset._records = self._records.subset(positions)
        else:
            subset._records = [copy.deepcopy(self._records[i]) for i in positions]
        subset.bad_samples = list(self.bad_samples)
        subset._metainfo = copy.deepcopy(self._metainfo)
        return subset

    def __repr__(self) -> str:
        size = len(self._records) if self._fully_initialized else "not loaded"
        classes = self._metainfo.get("classes")
        lines = [
            f"{type(self).__name__}(",
            f"  size: {size}",
            f"  source: {self.source()}",
            f"  classes: {len(classes) if classes is not None else None}",
            f"  test_mode: {self.test_mode}",
            f"  pipeline: {self.pipeline!r}".replace("\n", "\n  "),
            ")",
        ]
        return "\n".join(lines)


def check_instance_boxes(info: Mapping[str, Any]) -> None:
    """Check the ``bbox`` (x1, y1, x2, y2 pixels) of every entry of ``info["instances"]``.

    Raises:
        ValueError: a box is not four finite numbers, has a negative width or height, or (when the
            record gives ``width`` and ``height``) reaches outside the image; the message names the
            instance and the box.
    """
    width, height = info.get("width"), info.get("height")
    for position, instance in enumerate(info.get("instances") or ()):
        box = instance.get("bbox") if isinstance(instance, Mapping) else None
        if box is None:
            continue
        values = np.asarray(box, dtype=np.float64).reshape(-1)
        if values.size != 4 or not np.isfinite(values).all():
            raise ValueError(f"instance {position}: bbox {box!r} is not four finite numbers [x1, y1, x2, y2]")
        x1, y1, x2, y2 = values
        if x2 < x1 or y2 < y1:
            raise ValueError(f"instance {position}: bbox {box!r} has a negative size (x2 < x1 or y2 < y1)")
        if width is not None and height is not None and (x1 < 0 or y1 < 0 or x2 > width or y2 > height):
            raise ValueError(f"instance {position}: bbox {box!r} reaches outside the {width}x{height} image")


def _has_valid_instance(info: dict) -> bool:
    return any(not instance.get("ignore_flag", 0) for instance in info.get("instances", []))


def _select(records: list, indices: int | Sequence[int], source: str) -> list:
    if isinstance(indices, (int, np.integer)):
        return records[: int(indices)] if indices >= 0 else records[int(indices) :]
    size = len(records)
    bad = [i for i in indices if not -size <= int(i) < size]
    if bad:
        raise IndexError(f"{source}: indices {bad[:5]} are out of range for {size} records")
    return [records[int(i)] for i in indices]
