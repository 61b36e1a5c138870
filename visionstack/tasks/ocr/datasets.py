"""Text detection and recognition datasets: ICDAR 2015 and Total-Text folders, recognition lists, MMOCR JSON.

Records (what the pipeline receives; ``sample_idx`` is added by the base class):

* detection: ``img_path``, ``height``, ``width`` (read from the image header), ``instances`` =
  ``[dict(polygon=(P, 2) float32 x y pixels, bbox=(4,) float32 x1 y1 x2 y2 (the polygon's box),
  bbox_label=0, ignore=bool, text=str)]``; folder datasets add ``ann_path`` (the gt file);
* recognition: ``img_path``, ``instances`` = ``[dict(text=str)]``.

Folder layouts pair each image with its gt file by the format's naming: ICDAR 2015 ``S.jpg`` <->
``gt_S.txt``, Total-Text ``S.jpg`` <-> ``poly_gt_S.txt`` (``img12.jpg`` <-> ``poly_gt_img12.txt`` in the
real set, ``img_12.jpg`` <-> ``poly_gt_img_12.txt`` in the synthetic one). Images are listed in natural
order (``img_2`` before ``img_10``). Polygons are kept as annotated, even where they reach outside
the image (the transforms clip them).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ...data.base_dataset import BaseDataset, DatasetError
from ...registry import DATASETS
from ...utils.image_io import IMAGE_SUFFIXES, image_header_size
from .formats import (
    AnnotationFormatError,
    iter_recog_list,
    polygon_bbox,
    read_icdar2015_gt,
    read_mmocr_json,
    read_totaltext_gt,
)

__all__ = ["OCRDataset", "TextDetDataset", "TextRecogDataset", "image_header_size", "natural_key"]

logger = logging.getLogger(__name__)

OCR_METAINFO: dict = {"classes": ("text",)}


def natural_key(name: str) -> list:
    """Sort key putting ``img_2`` before ``img_10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _detection_instance(record: Mapping[str, Any]) -> dict:
    polygon = record["polygon"]
    return {
        "polygon": polygon,
        "bbox": record.get("bbox", polygon_bbox(polygon)),
        "bbox_label": int(record.get("bbox_label", 0)),
        "ignore": bool(record.get("ignore", False)),
        "text": str(record.get("text", "")),
    }


class _OCRFilterMixin:
    """``filter_empty_gt`` reading OCR's ``ignore`` key (the base class reads ``ignore_flag``)."""

    def filter_data(self, data_list: list[dict]) -> list[dict]:
        if self.filter_cfg and not self.test_mode and self.filter_cfg.get("filter_empty_gt", False):
            data_list = [
                info
                for info in data_list
                if "instances" not in info or any(not inst.get("ignore", False) for inst in info["instances"])
            ]
        return super().filter_data(data_list)


def _load_mmocr(dataset: BaseDataset, image_folder: str, read_size: bool) -> list[dict]:
    """Records of an MMOCR JSON file (detection or recognition); a bad entry is reported by index."""
    try:
        content = read_mmocr_json(dataset.ann_file)
    except AnnotationFormatError as error:
        dataset.report_bad_record(0, str(error), unit="file")
        return []
    dataset._update_metainfo_from_file(content["metainfo"])
    records = []
    for index, entry in enumerate(content["data_list"]):
        info = dict(entry)
        info["img_path"] = (
            os.path.join(image_folder, entry["img_path"]) if image_folder else entry["img_path"]
        )
        if any("polygon" in instance for instance in entry["instances"]):
            info["instances"] = [
                _detection_instance(instance) if "polygon" in instance else instance
                for instance in entry["instances"]
            ]
            if read_size and (info.get("height") is None or info.get("width") is None):
                try:
                    info["height"], info["width"] = image_header_size(info["img_path"])
                except OSError as error:
                    dataset.report_bad_record(index, str(error))
                    continue
        records.append(info)
    return records


@DATASETS.register()
class TextDetDataset(_OCRFilterMixin, BaseDataset):
    """Text detection images with polygon annotations (ICDAR 2015, Total-Text or MMOCR JSON).

    Args:
        data_root: the dataset root; ``img_dir``, ``ann_dir`` and ``ann_file`` are relative to it.
        ann_format: ``icdar2015`` (a folder of ``gt_S.txt``), ``totaltext`` (a folder of
            ``poly_gt_S.txt``) or ``mmocr`` (one JSON ``ann_file``).
        img_dir: the image folder (for ``mmocr`` the folder the JSON's ``img_path`` start from).
        ann_dir: the gt folder (``icdar2015`` and ``totaltext``).
        ann_file: the JSON file (``mmocr``).
        skip_missing: skip images without a gt file (counted in ``missing_annotations``) instead of
            raising.
        img_suffixes: the image file extensions listed in ``img_dir``.
        metainfo: overrides ``METAINFO`` (``classes=("text",)``).
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments (``pipeline``,
            ``test_mode``, ``filter_cfg``, ``indices``, ``skip_bad_samples`` ...).

    Raises:
        DatasetError: an image has no gt file (unless ``skip_missing``), a gt file has a bad line, or
            an image cannot be read; the message names the file (and line).
    """

    METAINFO: ClassVar[dict] = OCR_METAINFO
    FORMATS: ClassVar[dict[str, tuple[str, Callable]]] = {
        "icdar2015": ("gt_{}.txt", read_icdar2015_gt),
        "totaltext": ("poly_gt_{}.txt", read_totaltext_gt),
    }

    def __init__(
        self,
        data_root: str = "",
        ann_format: str = "icdar2015",
        img_dir: str = "",
        ann_dir: str = "",
        ann_file: str = "",
        skip_missing: bool = False,
        img_suffixes: tuple[str, ...] = IMAGE_SUFFIXES,
        metainfo: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if ann_format not in (*self.FORMATS, "mmocr"):
            raise ValueError(
                f"TextDetDataset: unknown ann_format {ann_format!r}; choose icdar2015, totaltext or mmocr"
            )
        if ann_format == "mmocr" and not ann_file:
            raise ValueError("TextDetDataset: ann_format='mmocr' needs ann_file= (the JSON file)")
        if ann_format != "mmocr" and (ann_file or not ann_dir):
            raise ValueError(
                f"TextDetDataset: ann_format={ann_format!r} reads a folder of gt files: pass ann_dir= (not ann_file=)"
            )
        self.ann_format = ann_format
        self.skip_missing = skip_missing
        self.img_suffixes = tuple(suffix.lower() for suffix in img_suffixes)
        self.missing_annotations: list[str] = []
        self.img_dir = (
            os.path.join(data_root, img_dir) if data_root and not os.path.isabs(img_dir) else img_dir
        )
        self.ann_dir = (
            os.path.join(data_root, ann_dir) if data_root and not os.path.isabs(ann_dir) else ann_dir
        )
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(img_path=img_dir),
            metainfo=metainfo,
            **kwargs,
        )

    def source(self) -> str:
        if self.ann_file:
            return f"annotation file {self.ann_file!r}"
        return f"{self.ann_format} gt folder {self.ann_dir!r} (images {self.img_dir!r})"

    def load_data_list(self) -> list[dict]:
        """One record per image (see the module docstring)."""
        if self.ann_format == "mmocr":
            return _load_mmocr(self, self.data_prefix.get("img_path", ""), read_size=True)
        for folder, what in ((self.img_dir, "image"), (self.ann_dir, "gt")):
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"TextDetDataset: the {what} folder {folder!r} does not exist")
        pattern, reader = self.FORMATS[self.ann_format]
        names = sorted(
            (name for name in os.listdir(self.img_dir) if name.lower().endswith(self.img_suffixes)),
            key=natural_key,
        )
        self.missing_annotations = []
        records = []
        for index, name in enumerate(names):
            img_path = os.path.join(self.img_dir, name)
            ann_path = os.path.join(self.ann_dir, pattern.format(os.path.splitext(name)[0]))
            if not os.path.isfile(ann_path):
                self._missing(img_path, ann_path)
                continue
            try:
                instances = [_detection_instance(record) for record in reader(ann_path)]
                height, width = image_header_size(img_path)
            except (AnnotationFormatError, OSError) as error:
                self.report_bad_record(index, str(error), unit=f"image {name!r}, record")
                continue
            records.append(
                {
                    "img_path": img_path,
                    "ann_path": ann_path,
                    "height": height,
                    "width": width,
                    "instances": instances,
                }
            )
        if self.missing_annotations:
            logger.warning(
                "%s: skipped %d image(s) without a gt file", self.source(), len(self.missing_annotations)
            )
        return records

    def _missing(self, img_path: str, ann_path: str) -> None:
        if not self.skip_missing:
            raise DatasetError(
                f"TextDetDataset: the image {img_path!r} has no gt file {ann_path!r} "
                "(pass skip_missing=True to skip and count such images)"
            )
        self.missing_annotations.append(img_path)


@DATASETS.register()
class TextRecogDataset(BaseDataset):
    """Word crops with their texts: an ``image text`` list file or an MMOCR ``textrecog_*.json``.

    Args:
        ann_file: the list (``train_list.txt``) or JSON file, relative to ``data_root``.
        data_root: the dataset root.
        data_prefix: ``dict(img_path=folder)``: the folder the listed paths start from (relative to
            ``data_root``); by default ``data_root`` itself.
        ann_format: ``list``, ``mmocr`` or ``auto`` (``mmocr`` for a ``.json`` file).
        metainfo: overrides ``METAINFO`` (``classes=("text",)``).
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments.

    Raises:
        DatasetError: a line without text (naming the file and line), unless ``skip_bad_samples``.
    """

    METAINFO: ClassVar[dict] = OCR_METAINFO

    def __init__(
        self,
        ann_file: str,
        data_root: str = "",
        data_prefix: Mapping[str, str] | None = None,
        ann_format: str = "auto",
        metainfo: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if ann_format not in ("auto", "list", "mmocr"):
            raise ValueError(
                f"TextRecogDataset: unknown ann_format {ann_format!r}; choose auto, list or mmocr"
            )
        if ann_format == "auto":
            ann_format = "mmocr" if os.fspath(ann_file).lower().endswith(".json") else "list"
        self.ann_format = ann_format
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(img_path="") if data_prefix is None else data_prefix,
            metainfo=metainfo,
            **kwargs,
        )

    def _image_folder(self) -> str:
        return self.data_prefix.get("img_path") or self.data_root

    def load_data_list(self) -> list[dict]:
        """One record per word crop: ``img_path`` and ``instances=[{"text"}]``."""
        if self.ann_format == "mmocr":
            return _load_mmocr(self, self._image_folder(), read_size=False)
        folder = self._image_folder()
        records = []
        for line_number, item in iter_recog_list(self.ann_file):
            if isinstance(item, AnnotationFormatError):
                self.report_bad_record(line_number, str(item), unit="line")
                continue
            image, text = item
            records.append(
                {"img_path": os.path.join(folder, image) if folder else image, "instances": [{"text": text}]}
            )
        return records


@DATASETS.register()
class OCRDataset(_OCRFilterMixin, BaseDataset):
    """MMOCR's ``OCRDataset``: an MMOCR 1.x JSON file, detection or recognition (so MMOCR configs run).

    Detection entries get ``height``/``width`` from the image header when the JSON lacks them, and
    instances as in :class:`TextDetDataset`; recognition entries keep ``instances=[{"text"}]``.

    Args:
        ann_file: the JSON file (``textdet_train.json``, ``textrecog_test.json`` ...).
        data_root: the dataset root.
        data_prefix: ``dict(img_path=folder)``, the folder the entries' ``img_path`` start from.
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments.
    """

    METAINFO: ClassVar[dict] = OCR_METAINFO

    def __init__(
        self, ann_file: str, data_root: str = "", data_prefix: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(img_path="") if data_prefix is None else data_prefix,
            **kwargs,
        )

    def load_data_list(self) -> list[dict]:
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f"OCRDataset: annotation file not found: {self.ann_file!r}")
        return _load_mmocr(self, self.data_prefix.get("img_path", ""), read_size=True)
