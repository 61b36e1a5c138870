"""Re-identification crops cut from MOT-layout sequences (what MMTracking's ``mot2reid`` tool does).

Input: ``split_dir/<SEQ>/{img1/%06d<imExt>, gt/gt.txt, seqinfo.ini}``; gt.txt columns are frame, id,
bb_left, bb_top, w, h, consider, class, visibility, with 1-based boxes (``x1 = bb_left - 1``).

Output below ``out_dir``::

    imgs/<SEQ>_<id:06d>/<frame:06d>.jpg     one crop per kept box, resized to ``size`` (w, h)
    meta/<split>.txt                        lines "<SEQ>_<id:06d>/<frame:06d>.jpg <identity>"

where ``<split>`` is the name of ``split_dir`` and ``<identity>`` numbers the (sequence, id) pairs
0, 1, 2 ... in sorted order, so that the same id in two sequences is two identities. The list is what
:class:`~visionstack.tasks.tracking.reid.datasets.ReIDDataset` reads.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["ReIDCropSummary", "crop_box", "read_gt_rows", "select_crop_rows", "write_reid_crops"]

# gt.txt column indices
_FRAME, _ID, _LEFT, _TOP, _WIDTH, _HEIGHT, _CONSIDER, _CLASS, _VISIBILITY = range(9)


@dataclass(frozen=True)
class ReIDCropSummary:
    """What :func:`write_reid_crops` wrote: the list file, and how many identities and crops it lists."""

    list_file: Path
    num_identities: int
    num_crops: int


def read_gt_rows(gt_file: str | os.PathLike) -> np.ndarray:
    """The rows of a MOT ``gt.txt`` as a float64 (N, 9) array (missing trailing columns: consider 1,
    class 1, visibility 1, as in MOT15-style files)."""
    rows = np.loadtxt(gt_file, delimiter=",", ndmin=2, dtype=np.float64)
    if rows.size == 0:
        return np.zeros((0, 9))
    if rows.shape[1] < 6:
        raise ValueError(f"{gt_file}: expected at least 6 comma-separated columns, got {rows.shape[1]}")
    full = np.ones((rows.shape[0], 9))
    full[:, : min(9, rows.shape[1])] = rows[:, :9]
    return full


def select_crop_rows(
    rows: np.ndarray,
    min_visibility: float,
    max_per_identity: int | None,
    min_per_identity: int,
    classes: Sequence[int] | None,
    min_size: float,
    rng: np.random.Generator,
) -> dict[int, np.ndarray]:
    """Pick the gt rows to crop, per id: considered, visible enough, of a wanted class, large enough;
    at most ``max_per_identity`` drawn at random (kept in frame order); ids left with fewer than
    ``min_per_identity`` rows are dropped.

    Returns:
        ``{id: (M, 9) rows}`` in increasing id order.
    """
    keep = (rows[:, _CONSIDER] > 0) & (rows[:, _VISIBILITY] >= min_visibility)
    keep &= (rows[:, _WIDTH] >= min_size) & (rows[:, _HEIGHT] >= min_size)
    if classes is not None:
        keep &= np.isin(rows[:, _CLASS].astype(np.int64), np.asarray(classes, dtype=np.int64))
    rows = rows[keep]
    selected = {}
    for track_id in np.unique(rows[:, _ID].astype(np.int64)):
        own = rows[rows[:, _ID].astype(np.int64) == track_id]
        own = own[np.argsort(own[:, _FRAME], kind="stable")]
        if max_per_identity is not None and len(own) > max_per_identity:
            own = own[np.sort(rng.choice(len(own), max_per_identity, replace=False))]
        if len(own) >= min_per_identity:
            selected[int(track_id)] = own
    return selected


def _image_extension(seq_dir: Path) -> str:
    info = seq_dir / "seqinfo.ini"
    if info.is_file():
        parser = configparser.ConfigParser()
        parser.read(info)
        return parser.get("Sequence", "imExt", fallback=".jpg")
    return ".jpg"


def crop_box(image: np.ndarray, box: Sequence[float], size: tuple[int, int] | None) -> np.ndarray | None:
    """The pixels of one box, resized: what the re-id net was trained on and what a tracker feeds it.

    Args:
        image: (H, W, C) uint8 frame (BGR as OpenCV reads it).
        box: (4,) xyxy, 0-based absolute pixels; clipped to the image, widened to whole pixels.
        size: output (w, h); None keeps the clipped box size. Shrinking uses area averaging,
            enlarging bilinear interpolation.

    Returns:
        (h, w, C) uint8, or None when less than 2 x 2 pixels of the box lie inside the image.
    """
    height, width = image.shape[:2]
    left, top = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    right, bottom = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    if right - left < 2 or bottom - top < 2:
        return None
    patch = image[top:bottom, left:right]
    if size is None:
        return patch
    shrinking = size[0] < patch.shape[1] and size[1] < patch.shape[0]
    return cv2.resize(patch, tuple(size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _gt_box(row: np.ndarray) -> tuple[float, float, float, float]:
    """xyxy 0-based of a gt row (MOT's bb_left/bb_top are 1-based)."""
    x1, y1 = row[_LEFT] - 1.0, row[_TOP] - 1.0
    return x1, y1, x1 + row[_WIDTH], y1 + row[_HEIGHT]


def write_reid_crops(
    split_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    min_visibility: float = 0.5,
    max_per_identity: int | None = 50,
    size: tuple[int, int] | None = (32, 64),
    seed: int = 0,
    classes: Sequence[int] | None = None,
    min_per_identity: int = 2,
    min_size: float = 4.0,
) -> ReIDCropSummary:
    """Cut the ground-truth boxes of every sequence in ``split_dir`` into re-id crops (layout: module doc).

    Args:
        split_dir: a folder of MOT sequences (``<SEQ>/gt/gt.txt`` and ``<SEQ>/img1``).
        out_dir: where ``imgs/`` and ``meta/<split>.txt`` go (created; other splits' files are kept).
        min_visibility: boxes less visible than this (gt column 9) are skipped, as are ``consider == 0``.
        max_per_identity: at most this many crops per (sequence, id), drawn at random; None keeps all.
        size: output (w, h) of every crop; None keeps the box size.
        seed: seed of the draw, so the output is the same on every run.
        classes: MOT class ids (gt column 8) to keep; None keeps all.
        min_per_identity: identities with fewer crops are left out (a lone crop has no positive pair).
        min_size: boxes narrower or lower than this (pixels) are skipped.

    Returns:
        the list file and its counts.
    """
    split_dir, out_dir = Path(split_dir), Path(out_dir)
    sequences = sorted(path.parent.parent for path in split_dir.glob("*/gt/gt.txt"))
    if not sequences:
        raise FileNotFoundError(f"write_reid_crops: no <SEQ>/gt/gt.txt below {split_dir}")
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    identity = 0
    for seq_dir in sequences:
        selected = select_crop_rows(
            read_gt_rows(seq_dir / "gt" / "gt.txt"),
            min_visibility,
            max_per_identity,
            min_per_identity,
            classes,
            min_size,
            rng,
        )
        written = _write_sequence(seq_dir, selected, out_dir / "imgs", size)
        for track_id in selected:
            if len(written[track_id]) < min_per_identity:
                continue
            lines.extend(f"{path} {identity}" for path in written[track_id])
            identity += 1
    list_file = out_dir / "meta" / f"{split_dir.name}.txt"
    list_file.parent.mkdir(parents=True, exist_ok=True)
    list_file.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return ReIDCropSummary(list_file=list_file, num_identities=identity, num_crops=len(lines))


def _write_sequence(
    seq_dir: Path, selected: dict[int, np.ndarray], imgs_dir: Path, size: tuple[int, int] | None
) -> dict[int, list[str]]:
    """Write the selected crops of one sequence, reading each frame once.

    Returns:
        per id, the crop paths relative to ``imgs_dir`` in frame order.
    """
    extension = _image_extension(seq_dir)
    by_frame: dict[int, list[tuple[int, np.ndarray]]] = {}
    for track_id, rows in selected.items():
        (imgs_dir / f"{seq_dir.name}_{track_id:06d}").mkdir(parents=True, exist_ok=True)
        for row in rows:
            by_frame.setdefault(int(row[_FRAME]), []).append((track_id, row))
    written: dict[int, list[str]] = {track_id: [] for track_id in selected}
    for frame in sorted(by_frame):
        image_path = seq_dir / "img1" / f"{frame:06d}{extension}"
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"write_reid_crops: cannot read frame {frame} of {seq_dir}: {image_path}")
        for track_id, row in by_frame[frame]:
            patch = crop_box(image, _gt_box(row), size)
            if patch is None:
                continue
            relative = f"{seq_dir.name}_{track_id:06d}/{frame:06d}.jpg"
            cv2.imwrite(str(imgs_dir / relative), patch, [cv2.IMWRITE_JPEG_QUALITY, 95])
            written[track_id].append(relative)
    return written
