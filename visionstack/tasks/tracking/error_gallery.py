"""An error gallery: every id switch and fragmentation of a tracker, as a strip of thumbnails.

:func:`find_track_errors` replays CLEAR's matching (trackeval's ``clear.py``, Bernardin & Stiefelhagen 2008)
frame by frame and records its events instead of counting them: per frame a Hungarian matching of gt and
predicted boxes at IoU >= 0.5 that keeps the previous frame's gt -> prediction pairs while they still
overlap enough; an **id switch** when a gt object's matched prediction id differs from the id it was last
matched to (any number of frames before), a **fragmentation** when a gt track is matched again after being
unmatched. Before that, MOT17's preprocessing is applied as trackeval does: predictions matched to a
distractor gt box (person on vehicle, static person, distractor, reflection) are removed, and gt boxes
marked ``consider = 0`` are not scored. The counts therefore equal trackeval's ``IDSW`` and ``Frag``.

:func:`write_error_gallery` renders each event as ``<seq>_<kind>_gt<id>_f<frame>.png``: the gt object's
surroundings over the frames around the event (and the frame it was last matched in), each thumbnail
labelled with its frame number and the predicted id matched to the object; the gt box in green, the matched
prediction in orange, other predictions in grey, the event frame framed in red. ``events.json`` and
``index.html`` list them.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from .mot_format import MotRecords, read_mot_file

__all__ = ["TrackErrorEvent", "find_track_errors", "write_error_gallery"]

_EPS = np.finfo(float).eps
_DISTRACTOR_IDS = (2, 7, 8, 12)  # MOT17's, as trackeval's MotChallenge2DBox preprocessing
GT_COLOR, PRED_COLOR, OTHER_COLOR, EVENT_COLOR = (60, 200, 60), (0, 140, 255), (150, 150, 150), (40, 40, 230)
PAD, LABEL_HEIGHT, HEADER_HEIGHT = 4, 16, 20
STRIP_EXTRA_HEIGHT = HEADER_HEIGHT + LABEL_HEIGHT + 2 * PAD  # a strip is thumb_height + this tall


@dataclass
class TrackErrorEvent:
    """One id switch (``kind="idsw"``) or fragmentation (``"frag"``) of the gt object ``gt_id``.

    Attributes:
        frame: the MOT frame of the event (the object is matched again / to a new id there).
        pred_id: the predicted id matched at ``frame``.
        previous_pred_id: the id it was last matched to, in ``previous_frame``.
        image: the PNG's file name (set by :func:`write_error_gallery`).
    """

    seq: str
    kind: str
    gt_id: int
    class_id: int
    frame: int
    pred_id: int
    previous_pred_id: int
    previous_frame: int
    image: str = ""


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of (N, 4) and (M, 4) xyxy boxes, trackeval's rules (empty boxes and unions give 0)."""
    low, high = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=2)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], 1), np.prod(b[:, 2:] - b[:, :2], 1)
    union = area_a[:, None] + area_b[None, :] - inter
    inter[(area_a <= _EPS)[:, None] | (area_b <= _EPS)[None, :] | (union <= _EPS)] = 0
    return inter / np.where(union <= _EPS, 1.0, union)


def _matched_pairs(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = linear_sum_assignment(-score)
    keep = score[rows, cols] > _EPS
    return rows[keep], cols[keep]


def find_track_errors(
    gt: MotRecords,
    pred: MotRecords,
    class_id: int = 1,
    iou_threshold: float = 0.5,
    seq: str = "",
    distractor_ids: Sequence[int] = _DISTRACTOR_IDS,
) -> tuple[list[TrackErrorEvent], dict[tuple[int, int], int]]:
    """The id switches and fragmentations of class ``class_id``, as trackeval's CLEAR counts them.

    Args:
        gt: every gt row of the sequence (all classes: distractors take part in the preprocessing).
        pred: the result rows (classes read as MOT ids, -1 as 1); those of ``class_id`` are scored.
        class_id: the MOT class id scored.
        iou_threshold: the least IoU of a match (CLEAR's 0.5).
        seq: the sequence name put in the events.
        distractor_ids: gt classes whose matched predictions are removed first.

    Returns:
        The events in frame order, and ``{(frame, gt_id): pred_id}`` of every CLEAR match.
    """
    distractors = [d for d in distractor_ids if d != class_id]
    pred = pred.select(pred.classes == class_id)
    frames = np.union1d(gt.frames, pred.frames).astype(int)
    last_id: dict[int, tuple[int, int]] = {}  # gt id -> (pred id, frame) of its last match
    previous_frame_ids: dict[int, int] = {}  # gt id -> pred id, matches of the last frame scored
    events, matches = [], {}
    for frame in frames:
        frame_gt, frame_pred = gt.at_frame(frame), pred.at_frame(frame)
        if len(frame_gt) and len(frame_pred):  # MOT17 preprocessing: drop matches of distractors
            score = box_iou(frame_gt.bboxes, frame_pred.bboxes)
            score[score < 0.5 - _EPS] = 0
            rows, cols = _matched_pairs(score)
            frame_pred = frame_pred.select(np.setdiff1d(np.arange(len(frame_pred)), cols[np.isin(frame_gt.classes[rows], distractors)]))  # fmt: skip
        frame_gt = frame_gt.select(frame_gt.consider & (frame_gt.classes == class_id))
        if not len(frame_gt) or not len(frame_pred):
            continue  # as clear.py: a frame without gt or predictions leaves the previous matches alone
        similarity = box_iou(frame_gt.bboxes, frame_pred.bboxes)
        kept = np.array(
            [[previous_frame_ids.get(g, None) == p for p in frame_pred.ids] for g in frame_gt.ids]
        )
        score = 1000 * kept + similarity
        score[similarity < iou_threshold - _EPS] = 0
        rows, cols = _matched_pairs(score)
        current = {}
        for g, p in zip(frame_gt.ids[rows].tolist(), frame_pred.ids[cols].tolist()):
            current[g], matches[(int(frame), g)] = p, p
            if g in last_id:
                before, before_frame = last_id[g]
                common = dict(seq=seq, gt_id=g, class_id=class_id, frame=int(frame), pred_id=p)
                if before != p:
                    events.append(TrackErrorEvent(kind="idsw", previous_pred_id=before, previous_frame=before_frame, **common))  # fmt: skip
                if g not in previous_frame_ids:
                    events.append(TrackErrorEvent(kind="frag", previous_pred_id=before, previous_frame=before_frame, **common))  # fmt: skip
            last_id[g] = (p, int(frame))
        previous_frame_ids = current
    return events, matches


# ---- rendering ------------------------------------------------------------------------------------------
def _frame_images(source: str | Path | Sequence | Mapping | None) -> dict[int, Path]:
    """``{frame: image path}`` from a folder (``000001.jpg`` is frame 1), a list (item i is frame i + 1) or
    a mapping."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return {int(k): Path(v) for k, v in source.items()}
    if isinstance(source, (str, Path)):
        folder = Path(source)
        if not folder.is_dir():
            raise FileNotFoundError(f"write_error_gallery: no image folder {folder}")
        return {int(p.stem): p for p in folder.iterdir() if p.stem.isdigit() and p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp")}  # fmt: skip
    return {i + 1: Path(p) for i, p in enumerate(source)}


def _strip_frames(event: TrackErrorEvent, context: int, last_frame: int) -> list[int]:
    frames = set(range(max(1, event.frame - context), min(last_frame, event.frame + context) + 1))
    return sorted(frames | {event.previous_frame})


def _window(boxes: list[np.ndarray]) -> np.ndarray:
    """The crop (x1, y1, x2, y2): the boxes' union widened by half the largest box side on every side."""
    stacked = np.stack(boxes)
    union = np.concatenate([stacked[:, :2].min(0), stacked[:, 2:].max(0)])
    margin = 0.5 * max(1.0, float(np.max(stacked[:, 2:] - stacked[:, :2])))
    return union + np.array([-margin, -margin, margin, margin])


def _crop(image: np.ndarray | None, window: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``window`` of ``image`` (grey outside it, or everywhere without an image) resized to ``size`` (w, h)."""
    x1, y1, x2, y2 = np.round(window).astype(int)
    canvas = np.full((max(1, y2 - y1), max(1, x2 - x1), 3), 114, np.uint8)
    if image is not None:
        h, w = image.shape[:2]
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if sx2 > sx1 and sy2 > sy1:
            canvas[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
    return cv2.resize(canvas, size, interpolation=cv2.INTER_AREA)


def _draw_box(
    tile: np.ndarray, box: np.ndarray, window: np.ndarray, scale: float, color, thickness: int
) -> None:
    x1, y1, x2, y2 = ((box - np.tile(window[:2], 2)) * scale).round().astype(int)
    cv2.rectangle(tile, (int(x1), int(y1)), (int(x2), int(y2)), color, thickness, cv2.LINE_AA)


def _text(image: np.ndarray, text: str, origin: tuple[int, int], color=(255, 255, 255)) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)


def _render(event, gt, pred, matches, images, context, thumb_height, last_frame) -> np.ndarray:
    frames = _strip_frames(event, context, last_frame)
    own = gt.select(gt.ids == event.gt_id)
    boxes = {int(f): b for f, b in zip(own.frames, own.bboxes)}
    window = _window([boxes[f] for f in frames if f in boxes] or list(own.bboxes))
    scale = thumb_height / (window[3] - window[1])
    thumb_width = int(np.clip(round((window[2] - window[0]) * scale), 24, 4 * thumb_height))
    tiles = []
    for frame in frames:
        image = cv2.imread(str(images[frame])) if frame in images else None
        tile = _crop(image, window, (thumb_width, thumb_height))
        matched = matches.get((frame, event.gt_id))
        others = pred.at_frame(frame)
        for pid, box in zip(others.ids.tolist(), others.bboxes):
            if pid != matched:
                _draw_box(tile, box, window, scale, OTHER_COLOR, 1)
        if frame in boxes:
            _draw_box(tile, boxes[frame], window, scale, GT_COLOR, 2)
        if matched is not None:
            _draw_box(tile, others.bboxes[others.ids == matched][0], window, scale, PRED_COLOR, 1)
        label = f"f{frame} " + (
            f"id {matched}" if matched is not None else "miss" if frame in boxes else "no gt"
        )
        band = np.full((LABEL_HEIGHT, thumb_width, 3), 40, np.uint8)
        _text(band, label, (3, LABEL_HEIGHT - 4), (255, 255, 255) if matched is not None else (120, 120, 255))
        tile = np.vstack([band, tile])
        if frame == event.frame:
            cv2.rectangle(tile, (0, 0), (thumb_width - 1, tile.shape[0] - 1), EVENT_COLOR, 2)
        tiles.append(tile)
    height = LABEL_HEIGHT + thumb_height
    row = [np.full((height, PAD, 3), 255, np.uint8)]
    for tile in tiles:
        row += [tile, np.full((height, PAD, 3), 255, np.uint8)]
    row = np.hstack(row)
    header = np.full((HEADER_HEIGHT, row.shape[1], 3), 255, np.uint8)
    _text(header, _describe(event), (PAD, HEADER_HEIGHT - 6), (0, 0, 0))
    pad = np.full((PAD, row.shape[1], 3), 255, np.uint8)
    return np.vstack([header, pad, row, pad])


def _describe(event: TrackErrorEvent) -> str:
    what = "id switch" if event.kind == "idsw" else "fragmentation"
    return (
        f"{event.seq} {what}: gt {event.gt_id} id {event.previous_pred_id} (f{event.previous_frame}) -> "
        f"id {event.pred_id} (f{event.frame})"
    )


def write_error_gallery(
    gt_file: str | Path,
    pred_file: str | Path,
    image_dir_or_frame_paths: str | Path | Sequence | Mapping | None,
    out_dir: str | Path,
    iou_threshold: float = 0.5,
    context_frames: int = 2,
    thumb_height: int = 96,
    class_ids: Sequence[int] | None = None,
    seq_name: str | None = None,
) -> list[TrackErrorEvent]:
    """Render every id switch and fragmentation of one sequence (see the module docstring).

    Args:
        gt_file: the sequence's ``gt/gt.txt``.
        pred_file: its result file (``frame, id, bb_left, bb_top, w, h, score, class, ...``).
        image_dir_or_frame_paths: the ``img1`` folder, a list of frame images (item i = frame i + 1), a
            ``{frame: path}`` mapping, or None (grey thumbnails, boxes only).
        out_dir: where the PNGs, ``events.json`` and ``index.html`` go (created).
        iou_threshold: CLEAR's match threshold.
        context_frames: frames shown before and after the event.
        thumb_height: thumbnail height in pixels (a strip is ``thumb_height + STRIP_EXTRA_HEIGHT`` tall).
        class_ids: the MOT classes scored, each on its own; None: every class of the gt file except
            MOT17's distractors and ignored classes.
        seq_name: names the files; None: the sequence folder of ``gt_file`` (``<SEQ>/gt/gt.txt``).

    Returns:
        The events of every class, by frame, with ``image`` set.
    """
    gt_file, out_dir = Path(gt_file), Path(out_dir)
    seq = seq_name or (gt_file.parent.parent.name if gt_file.parent.name == "gt" else gt_file.stem)
    gt, pred = read_mot_file(gt_file, "gt"), read_mot_file(pred_file, "result")
    if class_ids is None:
        scored = gt.select(gt.consider)
        class_ids = sorted(set(scored.classes.tolist()) - set(_DISTRACTOR_IDS)) or [1]
    images = _frame_images(image_dir_or_frame_paths)
    last_frame = int(max([*gt.frames.tolist(), *pred.frames.tolist(), *images, 1]))
    out_dir.mkdir(parents=True, exist_ok=True)
    events = []
    for class_id in class_ids:
        found, matches = find_track_errors(gt, pred, int(class_id), iou_threshold, seq, _DISTRACTOR_IDS)
        class_pred = pred.select(pred.classes == class_id)
        for event in found:
            event.image = f"{seq}_{event.kind}_gt{event.gt_id}_f{event.frame}.png"
            strip = _render(event, gt, class_pred, matches, images, context_frames, thumb_height, last_frame)
            cv2.imwrite(str(out_dir / event.image), strip)
        events += found
    events.sort(key=lambda e: (e.frame, e.gt_id, e.kind))
    _write_index(out_dir, events)
    return events


def _write_index(out_dir: Path, events: list[TrackErrorEvent]) -> None:
    (out_dir / "events.json").write_text(json.dumps([asdict(e) for e in events], indent=1))
    rows = "\n".join(
        f"<h4>{html.escape(_describe(e))}</h4><img src='{html.escape(e.image)}'>" for e in events
    )
    count = {kind: sum(e.kind == kind for e in events) for kind in ("idsw", "frag")}
    (out_dir / "index.html").write_text(
        f"<html><body><h3>{count['idsw']} id switches, {count['frag']} fragmentations</h3>\n{rows}\n</body></html>\n"
    )
