"""Readers and writers of the OCR annotation formats on disk (NumPy and the standard library only).

A text-detection *record* is ``dict(polygon=(P, 2) float32 x y pixels, text=str, ignore=bool)``
(Total-Text records also carry ``ornt``). Formats:

* ICDAR 2015 (``gt_img_12.txt``): one word per line, ``x1,y1,x2,y2,x3,y3,x4,y4,transcription``,
  UTF-8 with or without BOM, CRLF or LF line ends. The first eight fields are the coordinates; the
  rest, joined back with commas, is the text (so ``1,2,...,8,12,50`` is the word ``12,50``).
  ``###`` marks a region to ignore.
* Total-Text legacy txt (``poly_gt_img12.txt``), one word per record, a record may wrap over
  several lines (a line that does not start with ``x:`` continues the previous one)::

      x: [[115 503 494 115]], y: [[322 346 426 404]], ornt: [u'm'], transcriptions: [u'nauGHTY']

  ``#`` (and ``###``) marks a region to ignore.
* Recognition list (``train_list.txt``): ``image text`` per line, the path is everything before the
  first space and the text is the rest exactly (it may hold spaces); blank lines are skipped.
* MMOCR 1.x JSON: ``{"metainfo": {...}, "data_list": [{"img_path", "height", "width", "instances":
  [{"polygon": [x1, y1, ...], "bbox": [x1, y1, x2, y2], "bbox_label": 0, "ignore": bool, "text"}]}]}``
  for detection, ``{"data_list": [{"img_path", "instances": [{"text"}]}]}`` for recognition.

Every reader raises :class:`AnnotationFormatError` (a ``ValueError``) naming the file and the line
(or the ``data_list`` entry) of a bad record.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "AnnotationFormatError",
    "ICDAR_IGNORE_TEXT",
    "TOTALTEXT_IGNORE_TEXTS",
    "iter_recog_list",
    "polygon_bbox",
    "read_icdar2015_gt",
    "read_mmocr_json",
    "read_recog_list",
    "read_totaltext_gt",
    "write_icdar2015_gt",
    "write_mmocr_json",
    "write_recog_list",
    "write_totaltext_gt",
]

ICDAR_IGNORE_TEXT = "###"
TOTALTEXT_IGNORE_TEXTS = ("#", "###")


class AnnotationFormatError(ValueError):
    """A record of an annotation file cannot be parsed; the message names the file and the line or entry."""


def _read_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file (BOM dropped), without their line ends (CRLF or LF)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path!r}")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return handle.read().splitlines()


def _write_text(path: str | os.PathLike, lines: Sequence[str], newline: str, bom: bool) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    text = "".join(line + newline for line in lines)
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        handle.write(text)


def _number_text(value: float) -> str:
    """An integer-valued coordinate as ``12``, any other as the shortest float that reads back exactly."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _as_polygon(polygon: Any, where: str) -> np.ndarray:
    points = np.asarray(polygon, dtype=np.float32)
    if points.ndim == 1 and points.size % 2 == 0:
        points = points.reshape(-1, 2)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
        raise AnnotationFormatError(
            f"{where}: a polygon needs at least 3 (x, y) points, got shape {points.shape}"
        )
    if not np.isfinite(points).all():
        raise AnnotationFormatError(f"{where}: the polygon has a coordinate that is not finite")
    return points


def polygon_bbox(polygon: np.ndarray) -> np.ndarray:
    """The (4,) float32 x1 y1 x2 y2 box enclosing a (P, 2) polygon."""
    points = np.asarray(polygon, dtype=np.float32).reshape(-1, 2)
    return np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float32)


# ---- ICDAR 2015 -----------------------------------------------------------------------------------
def read_icdar2015_gt(path: str | os.PathLike, ignore_text: str = ICDAR_IGNORE_TEXT) -> list[dict]:
    """Read an ICDAR 2015 ground-truth file into records ``dict(polygon=(4, 2) float32, text, ignore)``.

    Raises:
        FileNotFoundError: the file does not exist.
        AnnotationFormatError: a line has fewer than eight coordinates, a coordinate is not a number
            or there is no transcription; the message names the file and the line number.
    """
    records = []
    for line_number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        where = f"{os.fspath(path)}, line {line_number}"
        coordinates = []
        for field in fields[:8]:
            try:
                coordinates.append(float(field))
            except ValueError:
                break
        if len(coordinates) < 8 or len(fields) < 9:
            what = (
                f"fewer than 8 numbers ({len(coordinates)})"
                if len(coordinates) < 8
                else "no transcription after the 8 numbers"
            )
            raise AnnotationFormatError(f"{where}: {what}; expected x1,y1,...,x4,y4,text, got {line!r}")
        text = ",".join(fields[8:])
        records.append(
            {
                "polygon": _as_polygon(coordinates, where),
                "text": text,
                "ignore": text == ignore_text,
            }
        )
    return records


def write_icdar2015_gt(
    path: str | os.PathLike, records: Sequence[Mapping[str, Any]], bom: bool = True, newline: str = "\r\n"
) -> None:
    """Write records as an ICDAR 2015 file (by default UTF-8 with BOM and CRLF, as the official files).

    Ignored records are written with the text ``###``.

    Raises:
        ValueError: a polygon is not four points.
    """
    lines = []
    for index, record in enumerate(records):
        points = np.asarray(record["polygon"], dtype=np.float64).reshape(-1, 2)
        if len(points) != 4:
            raise ValueError(
                f"write_icdar2015_gt: record {index} has {len(points)} points; ICDAR 2015 needs 4"
            )
        text = ICDAR_IGNORE_TEXT if record.get("ignore", False) else str(record.get("text", ""))
        lines.append(",".join([*(_number_text(v) for v in points.reshape(-1)), text]))
    _write_text(path, lines, newline, bom)


# ---- Total-Text -----------------------------------------------------------------------------------
_TOTALTEXT_FIELDS = re.compile(
    r"^x:\s*\[\[(?P<x>[^\]]*)\]\],\s*y:\s*\[\[(?P<y>[^\]]*)\]\],\s*ornt:\s*(?P<ornt>\[.*?\]),\s*"
    r"transcriptions:\s*(?P<text>\[.*\])\s*$",
    re.DOTALL,
)


def _totaltext_records(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(first line number, joined record text) of each record; continuation lines are joined with a space."""
    start, parts = 0, []
    for line_number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("x:") and parts:
            yield start, " ".join(parts)
            parts = []
        if not parts:
            start = line_number
        parts.append(stripped)
    if parts:
        yield start, " ".join(parts)


def _literal_strings(text: str, where: str, name: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise AnnotationFormatError(f"{where}: the {name} {text!r} is not a list of quoted strings") from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AnnotationFormatError(f"{where}: the {name} {text!r} is not a list of quoted strings")
    return value


def read_totaltext_gt(
    path: str | os.PathLike, ignore_texts: Sequence[str] = TOTALTEXT_IGNORE_TEXTS
) -> list[dict]:
    """Read a Total-Text legacy txt file into records ``dict(polygon=(P, 2) float32, text, ignore, ornt)``.

    Several transcriptions in one record are joined with commas (as MMOCR); an empty list is ``#``.

    Raises:
        FileNotFoundError: the file does not exist.
        AnnotationFormatError: a record does not parse, or its x and y lists differ in length; the
            message names the file and the record's first line.
    """
    records = []
    for line_number, text in _totaltext_records(_read_lines(path)):
        where = f"{os.fspath(path)}, line {line_number}"
        match = _TOTALTEXT_FIELDS.match(text)
        if match is None:
            raise AnnotationFormatError(
                f"{where}: expected \"x: [[...]], y: [[...]], ornt: [u'c'], transcriptions: [u'...']\", got {text!r}"
            )
        try:
            xs = [float(v) for v in match["x"].replace(",", " ").split()]
            ys = [float(v) for v in match["y"].replace(",", " ").split()]
        except ValueError:
            raise AnnotationFormatError(f"{where}: a coordinate is not a number in {text!r}") from None
        if len(xs) != len(ys):
            raise AnnotationFormatError(f"{where}: {len(xs)} x values but {len(ys)} y values")
        orientation = _literal_strings(match["ornt"], where, "ornt")
        words = _literal_strings(match["text"], where, "transcriptions")
        word = ",".join(words) if words else "#"
        records.append(
            {
                "polygon": _as_polygon(np.stack([xs, ys], axis=1), where),
                "text": word,
                "ignore": word in ignore_texts,
                "ornt": orientation[0] if orientation else "#",
            }
        )
    return records


def write_totaltext_gt(
    path: str | os.PathLike, records: Sequence[Mapping[str, Any]], ignore_text: str = "#", newline: str = "\n"
) -> None:
    """Write records as a Total-Text legacy txt file, one line per record.

    ``ornt`` is the record's (``h`` when absent; ``#`` for ignored records, whose text is ``ignore_text``).
    """
    lines = []
    for record in records:
        points = np.asarray(record["polygon"], dtype=np.float64).reshape(-1, 2)
        ignored = bool(record.get("ignore", False))
        text = ignore_text if ignored else str(record.get("text", ""))
        orientation = "#" if ignored else str(record.get("ornt", "h"))
        xs = " ".join(_number_text(v) for v in points[:, 0])
        ys = " ".join(_number_text(v) for v in points[:, 1])
        lines.append(f"x: [[{xs}]], y: [[{ys}]], ornt: [u{orientation!r}], transcriptions: [u{text!r}]")
    _write_text(path, lines, newline, bom=False)


# ---- recognition list ------------------------------------------------------------------------------
def iter_recog_list(path: str | os.PathLike) -> Iterator[tuple[int, str | AnnotationFormatError]]:
    """``(line number, (image path, text))`` for each non-blank line, or ``(line number, error)``.

    Yields the error of a bad line instead of raising, so a dataset can skip and count it.
    """
    for line_number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        image, _, text = line.partition(" ")
        if not image or not text:
            yield (
                line_number,
                AnnotationFormatError(
                    f"{os.fspath(path)}, line {line_number}: expected 'image_path text', got {line!r} (no text)"
                ),
            )
            continue
        yield line_number, (image, text)


def read_recog_list(path: str | os.PathLike) -> list[tuple[str, str]]:
    """Read an ``image text`` list into ``(image path, text)`` pairs (paths as written, not joined).

    Raises:
        FileNotFoundError: the file does not exist.
        AnnotationFormatError: a line has no text; the message names the file and the line number.
    """
    pairs = []
    for _, item in iter_recog_list(path):
        if isinstance(item, AnnotationFormatError):
            raise item
        pairs.append(item)
    return pairs


def write_recog_list(path: str | os.PathLike, pairs: Sequence[tuple[str, str]], newline: str = "\n") -> None:
    """Write ``(image path, text)`` pairs as ``image text`` lines.

    Raises:
        ValueError: a path contains a space or a line break, or a text is empty or has a line break
            (it would not read back).
    """
    lines = []
    for index, (image, text) in enumerate(pairs):
        if not image or any(c in image for c in " \r\n") or not text or any(c in text for c in "\r\n"):
            raise ValueError(
                f"write_recog_list: pair {index} ({image!r}, {text!r}) cannot be written: the path must not "
                "contain spaces or line breaks and the text must be non-empty without line breaks"
            )
        lines.append(f"{image} {text}")
    _write_text(path, lines, newline, bom=False)


# ---- MMOCR 1.x JSON --------------------------------------------------------------------------------
def _parse_mmocr_instance(raw: Any, where: str) -> dict:
    if not isinstance(raw, Mapping):
        raise AnnotationFormatError(f"{where}: an instance must be a JSON object, got {type(raw).__name__}")
    instance: dict[str, Any] = {}
    if raw.get("polygon") is not None:
        instance["polygon"] = _as_polygon(raw["polygon"], where)
    if raw.get("bbox") is not None:
        box = np.asarray(raw["bbox"], dtype=np.float32).reshape(-1)
        if box.size != 4 or not np.isfinite(box).all():
            raise AnnotationFormatError(f"{where}: bbox {raw['bbox']!r} is not four finite numbers")
        instance["bbox"] = box
    elif "polygon" in instance:
        instance["bbox"] = polygon_bbox(instance["polygon"])
    if "polygon" in instance or "bbox" in instance:
        instance["bbox_label"] = int(raw.get("bbox_label", 0))
        instance["ignore"] = bool(raw.get("ignore", raw.get("ignore_flag", False)))
    if "text" in raw:
        instance["text"] = str(raw["text"])
    if not instance:
        raise AnnotationFormatError(f"{where}: an instance needs a polygon, a bbox or a text")
    return instance


def read_mmocr_json(path: str | os.PathLike) -> dict:
    """Read an MMOCR 1.x annotation file (``textdet_*.json`` or ``textrecog_*.json``).

    Returns:
        ``dict(metainfo=dict, data_list=[dict(img_path, height?, width?, instances=[...])])`` where a
        detection instance is ``dict(polygon=(P, 2) float32, bbox=(4,) float32, bbox_label, ignore,
        text?)`` and a recognition instance ``dict(text=str)``; ``img_path`` is as written (relative).

    Raises:
        FileNotFoundError: the file does not exist.
        AnnotationFormatError: not JSON, no ``data_list``, or a bad entry (named by its index).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path!r}")
    try:
        with open(path, encoding="utf-8-sig") as handle:
            content = json.load(handle)
    except json.JSONDecodeError as error:
        raise AnnotationFormatError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(content, dict) or not isinstance(content.get("data_list"), list):
        raise AnnotationFormatError(f"{path}: expected a JSON object with a `data_list` list")
    data_list = []
    for index, raw in enumerate(content["data_list"]):
        where = f"{path}, data_list[{index}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("img_path"), str):
            raise AnnotationFormatError(f"{where}: an entry must be an object with an `img_path` string")
        entry = {key: value for key, value in raw.items() if key != "instances"}
        instances = raw.get("instances") or []
        entry["instances"] = [
            _parse_mmocr_instance(instance, f"{where}.instances[{position}]")
            for position, instance in enumerate(instances)
        ]
        data_list.append(entry)
    return {"metainfo": dict(content.get("metainfo") or {}), "data_list": data_list}


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.reshape(-1).tolist() if value.ndim > 1 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_mmocr_json(
    path: str | os.PathLike, data_list: Sequence[Mapping[str, Any]], metainfo: Mapping[str, Any] | None = None
) -> None:
    """Write an MMOCR 1.x annotation file; polygons become flat ``[x1, y1, x2, y2, ...]`` lists.

    Without ``metainfo``, MMOCR's is written: ``task_name`` ``textdet`` when an instance has a
    polygon or a box, else ``textrecog``.
    """
    entries = []
    for entry in data_list:
        written = {key: _plain(value) for key, value in entry.items() if key != "instances"}
        written["instances"] = [
            {key: _plain(value) for key, value in instance.items()} for instance in entry.get("instances", [])
        ]
        entries.append(written)
    if metainfo is None:
        detection = any("polygon" in i or "bbox" in i for e in data_list for i in e.get("instances", []))
        metainfo = (
            {
                "dataset_type": "TextDetDataset",
                "task_name": "textdet",
                "category": [{"id": 0, "name": "text"}],
            }
            if detection
            else {"dataset_type": "TextRecogDataset", "task_name": "textrecog"}
        )
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"metainfo": dict(metainfo), "data_list": entries}, handle, ensure_ascii=False)
