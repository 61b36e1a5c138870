"""The MOT Challenge layout: ``seqinfo.ini``, gt / det / result text files, sequence and frame listing.

A sequence folder holds ``seqinfo.ini``, ``img1/000001.jpg ...``, ``gt/gt.txt`` and ``det/det.txt``, and
optionally ``timestamps.txt`` (our extension for variable frame rate and dropped frames: one ``frame seconds``
line per frame). Text rows are comma separated (whitespace is accepted when reading)::

    gt      frame, id, bb_left, bb_top, w, h, consider, class, visibility
    det     frame, -1, bb_left, bb_top, w, h, score, -1, -1, -1
    result  frame, id, bb_left, bb_top, w, h, score, class, -1, -1

Files store 1-based ``bb_left, bb_top, w, h``; in memory boxes are (N, 4) float64 **xyxy, 0-based** pixels
(``x1 = bb_left - 1``): this module is the only place that converts. Frames are MOT's 1-based numbers.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

__all__ = [
    "MOT_KINDS",
    "MotRecords",
    "SequenceInfo",
    "drop_frames",
    "frame_paths",
    "frame_timestamps",
    "list_sequences",
    "read_mot_file",
    "read_seqinfo",
    "read_timestamps",
    "write_detections",
    "write_gt",
    "write_mot_file",
    "write_results",
    "write_seqinfo",
    "write_timestamps",
]

MOT_KINDS = ("gt", "det", "result")
_SPLIT = re.compile(r"[,\s]+")


@dataclass
class SequenceInfo:
    """The ``[Sequence]`` section of ``seqinfo.ini``."""

    name: str
    frame_rate: float
    seq_length: int
    im_width: int
    im_height: int
    im_dir: str = "img1"
    im_ext: str = ".jpg"


_INI_KEYS = (  # (attribute, ini key, type)
    ("name", "name", str),
    ("im_dir", "imDir", str),
    ("frame_rate", "frameRate", float),
    ("seq_length", "seqLength", int),
    ("im_width", "imWidth", int),
    ("im_height", "imHeight", int),
    ("im_ext", "imExt", str),
)


def read_seqinfo(seq_dir: str | os.PathLike) -> SequenceInfo:
    """Parse ``<seq_dir>/seqinfo.ini`` (keys are case-insensitive, as configparser reads them)."""
    path = Path(seq_dir) / "seqinfo.ini"
    if not path.is_file():
        raise FileNotFoundError(f"no seqinfo.ini in {seq_dir}")
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    if "Sequence" not in parser:
        raise ValueError(f"{path}: no [Sequence] section")
    section = parser["Sequence"]
    values = {}
    for attribute, key, kind in _INI_KEYS:
        if key not in section:
            if attribute in ("im_dir", "im_ext"):
                continue
            raise ValueError(f"{path}: [Sequence] has no {key}")
        try:
            values[attribute] = kind(float(section[key])) if kind is int else kind(section[key])
        except ValueError as error:
            raise ValueError(f"{path}: {key} = {section[key]!r} is not a {kind.__name__}") from error
    return SequenceInfo(**values)


def write_seqinfo(seq_dir: str | os.PathLike, info: SequenceInfo) -> Path:
    """Write ``<seq_dir>/seqinfo.ini`` with MOT's key names and order."""
    path = Path(seq_dir) / "seqinfo.ini"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["[Sequence]"]
    for attribute, key, kind in _INI_KEYS:
        value = getattr(info, attribute)
        if kind is float:
            value = f"{value:g}"
        lines.append(f"{key}={value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class MotRecords:
    """The rows of one MOT text file as arrays (N rows, file order).

    Attributes:
        frames: (N,) int64 1-based frame numbers.
        ids: (N,) int64 identities (-1 for detections).
        bboxes: (N, 4) float64 xyxy, 0-based absolute pixels.
        scores: (N,) float64 detection / track score; for gt, the ``consider`` flag (1 or 0).
        classes: (N,) int64 MOT class ids (-1 for detections: unknown; results' -1 reads as 1).
        visibility: (N,) float64 visible fraction in [0, 1] (1 where the file has no such column).
    """

    frames: np.ndarray
    ids: np.ndarray
    bboxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    visibility: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def consider(self) -> np.ndarray:
        """(N,) bool: gt's consider flag (column 7)."""
        return self.scores > 0

    def select(self, keep: np.ndarray) -> MotRecords:
        """The rows picked by a boolean mask or an index array."""
        return MotRecords(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})

    def at_frame(self, frame: int) -> MotRecords:
        """The rows of one frame."""
        return self.select(self.frames == frame)


def _parse_row(path: Path, line_number: int, line: str, kind: str) -> list[float]:
    parts = [part for part in _SPLIT.split(line.strip()) if part]
    if len(parts) < 6:
        raise ValueError(
            f"{path}:{line_number}: a {kind} row needs at least 6 numbers (frame, id, bb_left, bb_top, w, h), "
            f"got {len(parts)}: {line.strip()!r}"
        )
    try:
        values = [float(part) for part in parts]
    except ValueError as error:
        raise ValueError(f"{path}:{line_number}: not a number in {line.strip()!r}") from error
    if values[0] < 1 or values[0] != int(values[0]):
        raise ValueError(f"{path}:{line_number}: frame must be an integer >= 1, got {parts[0]!r}")
    if values[4] < 0 or values[5] < 0:
        raise ValueError(f"{path}:{line_number}: negative box size w={parts[4]}, h={parts[5]}")
    return values


def read_mot_file(path: str | os.PathLike, kind: str) -> MotRecords:
    """Read a gt, det or result text file into :class:`MotRecords` (empty lines are skipped).

    Args:
        path: the text file.
        kind: ``"gt"`` (consider defaults to 1, class to 1, visibility to 1 when the columns are missing),
            ``"det"`` (score defaults to 1; ids are -1; class: column 8 when a multi-class detector wrote
            it there, else -1) or ``"result"`` (score defaults to 1,
            class -1 or missing reads as 1).

    Raises:
        ValueError: naming the file and line of a malformed row.
    """
    if kind not in MOT_KINDS:
        raise ValueError(f"read_mot_file: kind must be one of {MOT_KINDS}, got {kind!r}")
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.strip():
                rows.append(_parse_row(path, line_number, line, kind))
    count = len(rows)

    def column(index: int, default: float) -> np.ndarray:
        return np.array([row[index] if len(row) > index else default for row in rows], dtype=np.float64)

    frames, ids = column(0, 0).astype(np.int64), column(1, -1).astype(np.int64)
    left, top, width, height = column(2, 0) - 1, column(3, 0) - 1, column(4, 0), column(5, 0)
    bboxes = np.stack([left, top, left + width, top + height], axis=1).reshape(count, 4)
    scores = column(6, 1.0)
    visibility = np.ones(count)
    if kind == "det":
        classes, ids = column(7, -1).astype(np.int64), np.full(count, -1, dtype=np.int64)
        classes[classes <= 0] = -1
    else:
        classes = column(7, 1).astype(np.int64)
        if kind == "result":
            classes[classes == -1] = 1
        else:
            visibility = np.clip(column(8, 1.0), 0.0, 1.0)
    return MotRecords(frames, ids, bboxes, scores, classes, visibility)


def _mot_boxes(bboxes: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy 0-based -> (N, 4) MOT bb_left, bb_top, w, h 1-based."""
    boxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    return np.stack(
        [boxes[:, 0] + 1, boxes[:, 1] + 1, boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1
    )


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"


def _write_rows(path: str | os.PathLike, order: np.ndarray, columns: list[tuple[np.ndarray, int]]) -> Path:
    """Write rows ``order`` of columns given as (values, digits); digits 0 writes integers."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for row in order:
        cells = [
            str(int(values[row])) if digits == 0 else _number(float(values[row]), digits)
            for values, digits in columns
        ]
        lines.append(",".join(cells))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_gt(
    path: str | os.PathLike,
    frames: np.ndarray,
    ids: np.ndarray,
    bboxes: np.ndarray,
    classes: np.ndarray,
    visibility: np.ndarray,
    consider: np.ndarray | None = None,
) -> Path:
    """Write a gt file sorted by (frame, id): boxes (N, 4) xyxy 0-based, ``%.2f``; visibility ``%.4f``."""
    frames, ids = np.asarray(frames, dtype=np.int64), np.asarray(ids, dtype=np.int64)
    consider = (
        np.ones(len(frames), dtype=np.int64) if consider is None else np.asarray(consider).astype(np.int64)
    )
    boxes = _mot_boxes(bboxes)
    order = np.lexsort((ids, frames))
    columns = [(frames, 0), (ids, 0)] + [(boxes[:, k], 2) for k in range(4)]
    columns += [(consider, 0), (np.asarray(classes, dtype=np.int64), 0), (np.asarray(visibility, float), 4)]
    return _write_rows(path, order, columns)


def write_detections(
    path: str | os.PathLike,
    frames: np.ndarray,
    bboxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray | None = None,
) -> Path:
    """Write a det file (``frame, -1, box, score, class, -1, -1``) sorted by frame, then by falling score.

    ``classes``: MOT class ids of a multi-class detector, in column 8 (our extension, read back by
    :func:`read_mot_file`); None writes MOT's ``-1`` (class unknown)."""
    frames, scores = np.asarray(frames, dtype=np.int64), np.asarray(scores, dtype=np.float64)
    boxes = _mot_boxes(bboxes)
    order = np.lexsort((-scores, frames))
    minus_one = np.full(len(frames), -1, dtype=np.int64)
    classes = minus_one if classes is None else np.asarray(classes, dtype=np.int64)
    columns = [(frames, 0), (minus_one, 0)] + [(boxes[:, k], 2) for k in range(4)]
    columns += [(scores, 4), (classes, 0), (minus_one, 0), (minus_one, 0)]
    return _write_rows(path, order, columns)


def write_results(
    path: str | os.PathLike,
    frames: np.ndarray,
    ids: np.ndarray,
    bboxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray | None = None,
) -> Path:
    """Write tracker results sorted by (frame, id): ``frame, id, box, score, class, -1, -1``.

    ``classes`` are MOT class ids (column 8, where trackeval reads the class); None writes 1 (pedestrian).
    """
    frames, ids = np.asarray(frames, dtype=np.int64), np.asarray(ids, dtype=np.int64)
    classes = np.ones(len(frames), dtype=np.int64) if classes is None else np.asarray(classes, dtype=np.int64)
    boxes = _mot_boxes(bboxes)
    order = np.lexsort((ids, frames))
    minus_one = np.full(len(frames), -1, dtype=np.int64)
    columns = [(frames, 0), (ids, 0)] + [(boxes[:, k], 2) for k in range(4)]
    columns += [(np.asarray(scores, dtype=np.float64), 4), (classes, 0), (minus_one, 0), (minus_one, 0)]
    return _write_rows(path, order, columns)


def write_mot_file(path: str | os.PathLike, records: MotRecords, kind: str) -> Path:
    """Write :class:`MotRecords` as a gt, det or result file (the inverse of :func:`read_mot_file`)."""
    if kind == "gt":
        return write_gt(path, records.frames, records.ids, records.bboxes, records.classes, records.visibility,
                        records.scores)  # fmt: skip
    if kind == "det":
        return write_detections(path, records.frames, records.bboxes, records.scores, records.classes)
    if kind == "result":
        return write_results(
            path, records.frames, records.ids, records.bboxes, records.scores, records.classes
        )
    raise ValueError(f"write_mot_file: kind must be one of {MOT_KINDS}, got {kind!r}")


def list_sequences(split_dir: str | os.PathLike, seqmap: str | os.PathLike | None = None) -> list[Path]:
    """The sequence folders of a split, sorted by name; a sequence folder given directly is returned alone.

    A sequence folder is one with ``seqinfo.ini``. ``seqmap`` (trackeval's file: a ``name`` header, then one
    sequence per line) keeps only the named sequences, in the seqmap's order.
    """
    split_dir = Path(split_dir)
    if (split_dir / "seqinfo.ini").is_file():
        return [split_dir]
    if not split_dir.is_dir():
        raise FileNotFoundError(f"list_sequences: {split_dir} is not a folder")
    found = {p.name: p for p in sorted(split_dir.iterdir()) if (p / "seqinfo.ini").is_file()}
    if seqmap is None:
        return list(found.values())
    names = [
        line.strip() for line in Path(seqmap).read_text(encoding="utf-8").splitlines()[1:] if line.strip()
    ]
    missing = [name for name in names if name not in found]
    if missing:
        raise FileNotFoundError(f"list_sequences: {seqmap} names sequences not in {split_dir}: {missing}")
    return [found[name] for name in names]


def read_timestamps(path: str | os.PathLike) -> dict[int, float]:
    """Read ``timestamps.txt``: ``{frame: seconds}``."""
    path = Path(path)
    stamps = {}
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            frame, seconds = int(parts[0]), float(parts[1])
        except (ValueError, IndexError) as error:
            raise ValueError(
                f"{path}:{line_number}: expected 'frame seconds', got {line.strip()!r}"
            ) from error
        stamps[frame] = seconds
    return stamps


def write_timestamps(path: str | os.PathLike, stamps: dict[int, float]) -> Path:
    """Write ``timestamps.txt`` (``frame seconds`` per line, frames ascending, microsecond precision)."""
    path = Path(path)
    path.write_text("".join(f"{frame} {stamps[frame]:.6f}\n" for frame in sorted(stamps)), encoding="utf-8")
    return path


def frame_timestamps(seq_dir: str | os.PathLike, info: SequenceInfo | None = None) -> dict[int, float]:
    """``{frame: seconds}``: ``timestamps.txt`` when present, else ``(frame - 1) / frameRate`` for every frame."""
    seq_dir = Path(seq_dir)
    if (seq_dir / "timestamps.txt").is_file():
        return read_timestamps(seq_dir / "timestamps.txt")
    info = info or read_seqinfo(seq_dir)
    return {frame: (frame - 1) / info.frame_rate for frame in range(1, info.seq_length + 1)}


def frame_paths(seq_dir: str | os.PathLike, info: SequenceInfo | None = None) -> list[tuple[int, Path]]:
    """``(frame, image path)`` of the images present in ``imDir``, by frame (dropped frames are absent)."""
    seq_dir = Path(seq_dir)
    info = info or read_seqinfo(seq_dir)
    image_dir = seq_dir / info.im_dir
    if not image_dir.is_dir():
        raise FileNotFoundError(f"frame_paths: no image folder {image_dir}")
    found = [(int(p.stem), p) for p in image_dir.iterdir() if p.suffix == info.im_ext and p.stem.isdigit()]
    return sorted(found)


def _filter_rows(source: Path, target: Path, kept: set[int]) -> None:
    """Copy the text rows of ``source`` whose frame (first field) is in ``kept``, unchanged."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    rows = [line for line in lines if line.strip() and int(float(_SPLIT.split(line.strip())[0])) in kept]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(rows), encoding="utf-8")


def drop_frames(
    seq_dir: str | os.PathLike, out_dir: str | os.PathLike, fraction: float, seed: int = 0
) -> list[int]:
    """Copy a sequence with a random ``fraction`` of its frames removed; return the kept frame numbers.

    The first frame is always kept. Images, gt and det rows of dropped frames are left out; ``seqinfo.ini``
    is copied unchanged (``seqLength`` still counts every frame) and ``timestamps.txt`` lists the kept
    frames' times, so a timestamp-aware tracker sees the real gaps.

    Args:
        seq_dir: the source sequence folder.
        out_dir: the new sequence folder (created).
        fraction: the share of frames to drop, in [0, 1).
        seed: the seed of the frames drawn (same seed, same frames).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"drop_frames: fraction must be in [0, 1), got {fraction}")
    seq_dir, out_dir = Path(seq_dir), Path(out_dir)
    info = read_seqinfo(seq_dir)
    stamps = frame_timestamps(seq_dir, info)
    present = frame_paths(seq_dir, info)
    rng = np.random.default_rng(seed)
    candidates = [frame for frame, _ in present[1:]]
    dropped = set(rng.choice(candidates, size=int(round(fraction * len(present))), replace=False).tolist())
    kept = [(frame, path) for frame, path in present if frame not in dropped]
    (out_dir / info.im_dir).mkdir(parents=True, exist_ok=True)
    for _, path in kept:
        shutil.copyfile(path, out_dir / info.im_dir / path.name)
    shutil.copyfile(seq_dir / "seqinfo.ini", out_dir / "seqinfo.ini")
    kept_frames = {frame for frame, _ in kept}
    for name in ("gt/gt.txt", "det/det.txt"):
        if (seq_dir / name).is_file():
            _filter_rows(seq_dir / name, out_dir / name, kept_frames)
    write_timestamps(out_dir / "timestamps.txt", {frame: stamps[frame] for frame in sorted(kept_frames)})
    return sorted(kept_frames)
