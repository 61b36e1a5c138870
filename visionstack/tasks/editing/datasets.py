"""Image-editing datasets: folders of images paired by file name (MMagic's ``BasicImageDataset`` family).

A sample is a *stem* (the file name without its suffix, e.g. ``0001``). The stems come from the folder of
the ``search_key`` (``gt`` when there is one, else ``img``), or from an ``ann_file``; every other folder of
``data_prefix`` must hold the stem's partner, named by ``filename_tmpl`` (``"{}x2"`` finds DIV2K's
``0001x2.png`` for the stem ``0001``), with any image suffix (``.png .jpg .jpeg .bmp .tif .tiff .webp``,
any case). Records (what the pipeline receives; ``sample_idx`` is added by the base class)::

    {"key": "0001", "img_path": ".../X2/0001x2.png", "gt_path": ".../HR/0001.png", "mask_path": ...}

one ``<key>_path`` per ``data_prefix`` key. With ``recursive=True`` stems keep their sub-folder
(``00001/0266``) and the template applies to the file name only (``00001/0266x2``).

An ``ann_file`` lists one stem per line, relative to the search folder; the first whitespace-separated
token is used and an image suffix is dropped, so MMagic's meta-info lines (``0001_s001.png (480,480,3)``)
are accepted as they are.

A missing partner is a :class:`~visionstack.data.DatasetError` naming the expected file (with
``skip_bad_samples=True`` the sample is skipped and counted instead); two files with the same stem and
different suffixes (``0001.png`` and ``0001.jpg``) are an error too, since either could be meant.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ...data.base_dataset import BaseDataset, DatasetError
from ...registry import DATASETS
from ...utils.image_io import IMAGE_SUFFIXES

__all__ = ["BasicImageDataset", "PairedImageDataset", "UnpairedImageDataset", "index_image_folder"]

EDIT_METAINFO: dict = {"dataset_type": "basic_image_dataset", "task_name": "editing"}


def _natural_key(name: str) -> list:
    """Sort key putting ``img_2`` before ``img_10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def index_image_folder(
    folder: str, suffixes: Sequence[str] = IMAGE_SUFFIXES, recursive: bool = False
) -> dict[str, list[str]]:
    """The image files of ``folder`` by name without suffix.

    Args:
        folder: the folder to list.
        suffixes: the file suffixes taken as images (compared case-insensitively).
        recursive: also list sub-folders; names then keep their sub-folder, ``/``-separated.

    Returns:
        ``{name: [paths]}`` (more than one path when the same name exists with several suffixes).

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"image folder not found: {folder!r}")
    lowered = tuple(suffix.lower() for suffix in suffixes)
    index: dict[str, list[str]] = {}
    for current, subfolders, files in os.walk(folder):
        subfolders.sort()
        relative = os.path.relpath(current, folder)
        for file in sorted(files):
            stem, suffix = os.path.splitext(file)
            if suffix.lower() not in lowered:
                continue
            name = stem if relative == "." else f"{relative.replace(os.sep, '/')}/{stem}"
            index.setdefault(name, []).append(os.path.join(current, file))
        if not recursive:
            break
    return index


def _apply_template(template: str, stem: str) -> str:
    """The file name (no suffix) of ``stem`` by ``template``; a sub-folder in the stem is kept."""
    folder, _, base = stem.rpartition("/")
    name = template.format(base)
    return f"{folder}/{name}" if folder else name


def _stem_of(template: str, name: str) -> str | None:
    """Invert :func:`_apply_template`: the stem of a file named ``name``, or None if it does not match."""
    folder, _, base = name.rpartition("/")
    head, tail = template.split("{}")
    if len(base) <= len(head) + len(tail) or not (base.startswith(head) and base.endswith(tail)):
        return None
    stem = base[len(head) : len(base) - len(tail)]
    return f"{folder}/{stem}" if folder else stem


@DATASETS.register()
class BasicImageDataset(BaseDataset):
    """Images (and their ground truths, masks ...) in folders, paired by file name.

    Args:
        data_root: the dataset root; ``data_prefix`` folders and ``ann_file`` are relative to it.
        data_prefix: one folder per key: ``img`` (the model's input, e.g. the LQ images), ``gt``
            (the ground truths), ``mask`` (inpainting masks) or any other key; each record gets
            ``<key>_path``. Default ``dict(img="")``.
        filename_tmpl: per key, the file name of a stem (``"{}"`` by default; ``"{}x2"`` for DIV2K's
            LR files). The suffix is not part of it.
        ann_file: a text file listing the stems (see the module docstring); '' lists the search folder.
        search_key: the key whose folder lists the samples (default ``gt`` if present, else ``img``,
            else the first key).
        img_suffixes: the file suffixes taken as images.
        recursive: list sub-folders too.
        metainfo: overrides ``METAINFO``.
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments (``pipeline``,
            ``test_mode``, ``indices``, ``skip_bad_samples``, ``lazy_init`` ...).

    Raises:
        ValueError: a template without exactly one ``{}``, a template or search key naming no folder.
        FileNotFoundError: a ``data_prefix`` folder does not exist.
        DatasetError: a partner file is missing or ambiguous, or no sample was found.
    """

    METAINFO: ClassVar[dict] = EDIT_METAINFO
    REQUIRED_KEYS: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        data_root: str = "",
        data_prefix: Mapping[str, str] | None = None,
        filename_tmpl: Mapping[str, str] | None = None,
        ann_file: str = "",
        search_key: str | None = None,
        img_suffixes: Sequence[str] = IMAGE_SUFFIXES,
        recursive: bool = False,
        metainfo: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = type(self).__name__
        prefixes = (
            dict(img="") if data_prefix is None else {key: os.fspath(v) for key, v in data_prefix.items()}
        )
        missing = [key for key in self.REQUIRED_KEYS if key not in prefixes]
        if missing or not prefixes:
            raise ValueError(
                f"{name}: data_prefix must name a folder for "
                f"{list(self.REQUIRED_KEYS) or 'at least one key'}; "
                f"got keys {sorted(prefixes)}"
            )
        templates = {key: "{}" for key in prefixes}
        for key, template in (filename_tmpl or {}).items():
            if key not in prefixes:
                raise ValueError(
                    f"{name}: filename_tmpl has the key {key!r}, which names no data_prefix folder "
                    f"(keys: {sorted(prefixes)})"
                )
            if template.count("{}") != 1:
                raise ValueError(
                    f"{name}: filename_tmpl[{key!r}] = {template!r} must contain '{{}}' exactly once"
                )
            templates[key] = template
        if search_key is None:
            search_key = next((key for key in ("gt", "img") if key in prefixes), next(iter(prefixes)))
        if search_key not in prefixes:
            raise ValueError(
                f"{name}: search_key {search_key!r} is not a data_prefix key ({sorted(prefixes)})"
            )
        self.filename_tmpl = templates
        self.search_key = search_key
        self.img_suffixes = tuple(img_suffixes)
        self.recursive = recursive
        super().__init__(
            ann_file=ann_file, data_root=data_root, data_prefix=prefixes, metainfo=metainfo, **kwargs
        )

    def source(self) -> str:
        if self.ann_file:
            return f"{type(self).__name__} annotation file {self.ann_file!r}"
        return f"{type(self).__name__} folder {self.data_prefix[self.search_key]!r}"

    def load_data_list(self) -> list[dict]:
        """One record per stem (see the module docstring)."""
        indexes = {}
        for key, folder in self.data_prefix.items():
            if not os.path.isdir(folder):
                raise FileNotFoundError(
                    f"{type(self).__name__}: the {key!r} folder {folder!r} does not exist"
                )
            indexes[key] = index_image_folder(folder, self.img_suffixes, self.recursive)
        stems = self._stems_from_ann() if self.ann_file else self._stems_from_folder(indexes[self.search_key])
        records = []
        for position, stem in enumerate(stems):
            record: dict[str, Any] = {"key": stem}
            try:
                for key, index in indexes.items():
                    record[f"{key}_path"] = self._partner(key, index, stem)
            except LookupError as error:
                self.report_bad_record(position, str(error), unit="sample")
                continue
            records.append(record)
        if not records and not self.bad_samples:
            raise DatasetError(
                f"{self.source()}: no sample found (image suffixes {list(self.img_suffixes)}, "
                f"filename_tmpl {self.filename_tmpl[self.search_key]!r})"
            )
        return records

    def _stems_from_folder(self, index: Mapping[str, list[str]]) -> list[str]:
        template = self.filename_tmpl[self.search_key]
        stems = (_stem_of(template, name) for name in index)
        return sorted((stem for stem in stems if stem is not None), key=_natural_key)

    def _stems_from_ann(self) -> list[str]:
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f"{type(self).__name__}: annotation file not found: {self.ann_file!r}")
        lowered = tuple(suffix.lower() for suffix in self.img_suffixes)
        stems = []
        with open(self.ann_file, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                token = line.split()[0].replace("\\", "/").lstrip("/")
                stem, suffix = os.path.splitext(token)
                stems.append(stem if suffix.lower() in lowered else token)
        return stems

    def _partner(self, key: str, index: Mapping[str, list[str]], stem: str) -> str:
        """The ``key`` file of ``stem``; LookupError naming the expected file when missing or ambiguous."""
        name = _apply_template(self.filename_tmpl[key], stem)
        found = index.get(name, [])
        if len(found) == 1:
            return found[0]
        expected = os.path.join(self.data_prefix[key], name)
        if not found:
            raise LookupError(
                f"sample {stem!r} has no {key!r} file: expected {expected}"
                f"{{{','.join(sorted({s.lower() for s in self.img_suffixes}))}}}"
            )
        raise LookupError(f"sample {stem!r}: the {key!r} file {expected!r} is ambiguous: {sorted(found)}")


@DATASETS.register()
class PairedImageDataset(BasicImageDataset):
    """:class:`BasicImageDataset` whose ``data_prefix`` must hold both ``img`` (input) and ``gt`` folders."""

    REQUIRED_KEYS: ClassVar[tuple[str, ...]] = ("img", "gt")

    def __init__(
        self, data_root: str = "", data_prefix: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(data_root=data_root, data_prefix=data_prefix or {}, **kwargs)


@DATASETS.register()
class UnpairedImageDataset(BaseDataset):
    """Two folders of unrelated images (domains A and B, as for CycleGAN).

    Records: ``img_a_path`` and ``img_b_path``. The length is the larger folder's; record ``i`` holds
    A's image ``i mod len(A)`` and B's image ``i mod len(B)`` (files in natural order), so a pass over
    the dataset sees every image of both. With ``random_b=True`` (training only) B's image is drawn at
    random on each access instead, as MMagic's dataset does in training.

    Args:
        data_root: the dataset root.
        data_prefix: ``dict(img_a=..., img_b=...)``; default ``trainA``/``trainB`` (``testA``/``testB``
            in test mode), MMagic's layout.
        img_suffixes: the file suffixes taken as images.
        recursive: list sub-folders too (default True, as MMagic).
        random_b: draw B's image with NumPy's global generator (seeded per worker by the engine) when
            not in test mode.
        metainfo: overrides ``METAINFO``.
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments.
    """

    METAINFO: ClassVar[dict] = {"dataset_type": "unpaired_image_dataset", "task_name": "editing"}

    def __init__(
        self,
        data_root: str = "",
        data_prefix: Mapping[str, str] | None = None,
        img_suffixes: Sequence[str] = IMAGE_SUFFIXES,
        recursive: bool = True,
        random_b: bool = False,
        metainfo: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        phase = "test" if kwargs.get("test_mode", False) else "train"
        prefixes = dict(data_prefix) if data_prefix else dict(img_a=f"{phase}A", img_b=f"{phase}B")
        if set(prefixes) != {"img_a", "img_b"}:
            raise ValueError(
                "UnpairedImageDataset: data_prefix must have the keys img_a and img_b, "
                f"got {sorted(prefixes)}"
            )
        self.img_suffixes = tuple(img_suffixes)
        self.recursive = recursive
        self.random_b = random_b
        self.b_paths: list[str] = []
        super().__init__(data_root=data_root, data_prefix=prefixes, metainfo=metainfo, **kwargs)

    def source(self) -> str:
        return f"UnpairedImageDataset folders {self.data_prefix['img_a']!r} and {self.data_prefix['img_b']!r}"

    def load_data_list(self) -> list[dict]:
        domains = {}
        for key, folder in self.data_prefix.items():
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"UnpairedImageDataset: the {key!r} folder {folder!r} does not exist")
            index = index_image_folder(folder, self.img_suffixes, self.recursive)
            paths = [path for name in sorted(index, key=_natural_key) for path in sorted(index[name])]
            if not paths:
                raise DatasetError(f"UnpairedImageDataset: the {key!r} folder {folder!r} holds no image")
            domains[key] = paths
        a_paths, self.b_paths = domains["img_a"], domains["img_b"]
        size = max(len(a_paths), len(self.b_paths))
        return [
            {"img_a_path": a_paths[i % len(a_paths)], "img_b_path": self.b_paths[i % len(self.b_paths)]}
            for i in range(size)
        ]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if self.random_b and not self.test_mode:
            info["img_b_path"] = self.b_paths[int(np.random.randint(len(self.b_paths)))]
        return info
