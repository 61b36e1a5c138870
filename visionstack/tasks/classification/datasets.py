"""Image classification datasets in the ImageNet folder layout or as an image list.

Folder layout (``ImageFolder`` without ``ann_file``)::

    <data_root>/<data_prefix>/<class name>/**/<image>.<ext>

Class names are the sorted sub-folder names (label = position), unless ``classes`` is given.
Image-list layout (``ImageList``, or ``ImageFolder`` with ``ann_file``): a text file of lines
``relative/path label`` (blank lines and ``#`` comments ignored; paths may contain spaces),
relative to ``<data_root>/<data_prefix>``.

Every record is ``{"img_path": str, "gt_label": int}``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...data.base_dataset import BaseDataset
from ...registry import DATASETS

__all__ = ["IMG_EXTENSIONS", "ImageFolder", "ImageList", "read_image_list", "scan_image_folder"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def read_image_list(
    ann_file: str,
    image_folder: str,
    num_classes: int | None,
    report_bad_line: Callable[[int, str], None],
) -> list[dict]:
    """Parse ``relative/path label`` lines into records.

    Args:
        ann_file: the list file.
        image_folder: folder that the relative paths start from ('' for the working directory).
        num_classes: labels must be in [0, num_classes) when given.
        report_bad_line: called with (line number, reason) for a malformed line; it raises or counts.
    """
    if not os.path.isfile(ann_file):
        raise FileNotFoundError(f"image list file not found: {ann_file!r}")
    records = []
    with open(ann_file, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.rsplit(maxsplit=1)
            if len(parts) != 2:
                report_bad_line(line_number, f"expected 'relative/path label', got {text!r}")
                continue
            path, label_text = parts
            try:
                label = int(label_text)
            except ValueError:
                report_bad_line(line_number, f"the label {label_text!r} is not an integer (line {text!r})")
                continue
            if label < 0 or (num_classes is not None and label >= num_classes):
                limit = f"[0, {num_classes})" if num_classes is not None else ">= 0"
                report_bad_line(line_number, f"label {label} is outside {limit} (line {text!r})")
                continue
            records.append({"img_path": os.path.join(image_folder, path), "gt_label": label})
    return records


def scan_image_folder(
    folder: str, classes: Sequence[str] | None, extensions: Sequence[str]
) -> tuple[tuple[str, ...], list[dict]]:
    """Find ``folder/<class>/**/<image>`` files, sorted, and label them by class position.

    Returns:
        the class names and the records.

    Raises:
        FileNotFoundError: the folder or a requested class folder is missing, or a class has no image.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"image folder not found: {folder!r}")
    found = sorted(
        entry.name for entry in os.scandir(folder) if entry.is_dir() and not entry.name.startswith(".")
    )
    class_names = tuple(found) if classes is None else tuple(classes)
    missing = [name for name in class_names if name not in found]
    if missing:
        raise FileNotFoundError(f"image folder {folder!r} has no sub-folder for the classes {missing}")
    suffixes = tuple(extension.lower() for extension in extensions)
    records, empty = [], []
    for label, name in enumerate(class_names):
        paths = _images_under(os.path.join(folder, name), suffixes)
        if not paths:
            empty.append(name)
        records.extend({"img_path": path, "gt_label": label} for path in paths)
    if empty:
        raise FileNotFoundError(
            f"image folder {folder!r}: no file with an extension in {list(suffixes)} for the classes {empty}"
        )
    return class_names, records


def _images_under(class_folder: str, suffixes: tuple[str, ...]) -> list[str]:
    paths = []
    for root, dirs, files in os.walk(class_folder, followlinks=True):
        dirs.sort()
        paths.extend(os.path.join(root, name) for name in sorted(files) if name.lower().endswith(suffixes))
    return paths


def _prefix_dict(data_prefix: str | Mapping[str, str]) -> dict[str, str]:
    return {"img_path": data_prefix} if isinstance(data_prefix, (str, os.PathLike)) else dict(data_prefix)


def _with_classes(
    metainfo: Mapping[str, Any] | None, classes: Sequence[str] | str | None, owner: str
) -> dict:
    merged = dict(metainfo or {})
    if classes is not None:
        if "classes" in merged:
            raise ValueError(
                f"{owner}: give the class names either as `classes` or as metainfo['classes'], not both"
            )
        merged["classes"] = classes
    return merged


@DATASETS.register()
class ImageFolder(BaseDataset):
    """Classification images in class sub-folders (ImageNet layout), or listed in ``ann_file``.

    Args:
        data_root: the dataset root.
        data_prefix: the image folder below ``data_root`` (a str, or ``dict(img_path=...)``).
        ann_file: optional ``relative/path label`` list; without it the folders are scanned.
        classes: class names (or a text file with one per line). Folder mode: only these sub-folders
            are read, labelled by their position here; default: all sub-folders, sorted.
        extensions: file suffixes counted as images (case-insensitive), folder mode only.
        metainfo: see :class:`BaseDataset`; its ``classes`` and the ``classes`` argument are exclusive.
        **kwargs: the other :class:`BaseDataset` arguments (``pipeline``, ``filter_cfg``, ``indices``,
            ``serialize_data``, ``test_mode``, ``lazy_init``, ``skip_bad_samples``, ``max_refetch``);
            config validation checks their names against BaseDataset's.
    """

    def __init__(
        self,
        data_root: str = "",
        data_prefix: str | Mapping[str, str] = "",
        ann_file: str = "",
        classes: Sequence[str] | str | None = None,
        extensions: Sequence[str] = IMG_EXTENSIONS,
        metainfo: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.extensions = tuple(extensions)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=_prefix_dict(data_prefix),
            metainfo=_with_classes(metainfo, classes, type(self).__name__),
            **kwargs,
        )

    @property
    def image_folder(self) -> str:
        """The folder that image paths start from."""
        return self.data_prefix.get("img_path", "") or self.data_root

    def _report_bad_line(self, line_number: int, reason: str) -> None:
        self.report_bad_record(line_number, reason, unit="line")

    def load_data_list(self) -> list[dict]:
        classes = self._metainfo.get("classes")
        if self.ann_file:
            num_classes = None if classes is None else len(classes)
            return read_image_list(self.ann_file, self.image_folder, num_classes, self._report_bad_line)
        class_names, records = scan_image_folder(self.image_folder, classes, self.extensions)
        self._metainfo["classes"] = class_names
        return records


@DATASETS.register()
class ImageList(ImageFolder):
    """Classification images listed in a text file of ``relative/path label`` lines.

    A malformed line raises :class:`~visionstack.data.DatasetError` naming the file and the line
    number (or is counted and skipped with ``skip_bad_samples``).

    Args:
        ann_file: the list file (relative to ``data_root`` unless absolute).
        data_root: the dataset root.
        data_prefix: the folder below ``data_root`` that the listed paths start from.
        classes: class names (or a text file with one per line); labels must be below their count.
        **kwargs: the other :class:`ImageFolder` arguments (``metainfo``, ``pipeline``, ``indices`` ...;
            ``extensions`` has no effect on a list).
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = "",
        data_prefix: str | Mapping[str, str] = "",
        classes: Sequence[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        if not ann_file:
            raise ValueError("ImageList: ann_file is required (a text file of 'relative/path label' lines)")
        super().__init__(
            data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, classes=classes, **kwargs
        )
