"""Tracks drawn on frames: a box and an ``id class`` tag per track in the track's own colour, and a trail of
its recent box centres (bottom-centre for pedestrians would be MOT's habit; the centre reads better for
mixed classes)."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from .metainfo import identity_color

__all__ = ["TrailHistory", "draw_tracks"]


class TrailHistory:
    """The last ``length`` centres of every track id, fed frame by frame."""

    def __init__(self, length: int = 30) -> None:
        self.length = length
        self.centres: dict[int, deque] = defaultdict(lambda: deque(maxlen=self.length))

    def add(self, ids: np.ndarray, bboxes: np.ndarray) -> dict[int, list[tuple[int, int]]]:
        """Record this frame's tracks; returns the trails of the tracks present in it."""
        for track_id, box in zip(np.asarray(ids).tolist(), np.asarray(bboxes).reshape(-1, 4)):
            centre = (int(round((box[0] + box[2]) / 2)), int(round((box[1] + box[3]) / 2)))
            self.centres[track_id].append(centre)
        return {track_id: list(self.centres[track_id]) for track_id in np.asarray(ids).tolist()}


def draw_tracks(
    image: np.ndarray,
    tracks: Mapping[str, np.ndarray],
    class_names: Sequence[str] | None = None,
    trails: Mapping[int, list[tuple[int, int]]] | None = None,
) -> np.ndarray:
    """A copy of the BGR ``image`` with ``tracks`` (``bboxes`` (N, 4) xyxy, ``instances_id`` (N,), ``labels``
    (N,)) drawn, and ``trails`` (id -> centres, oldest first) as fading polylines."""
    canvas = image.copy()
    bboxes = np.asarray(tracks.get("bboxes", np.zeros((0, 4)))).reshape(-1, 4)
    ids = np.asarray(tracks.get("instances_id", np.zeros(0))).astype(int)
    labels = np.asarray(tracks.get("labels", np.zeros(len(ids)))).astype(int)
    scale = max(0.35, min(canvas.shape[:2]) / 600)
    for track_id, points in (trails or {}).items():
        color = identity_color(track_id)
        for start, end in zip(points[:-1], points[1:]):
            cv2.line(canvas, start, end, color, max(1, int(2 * scale)), cv2.LINE_AA)
    for box, track_id, label in zip(bboxes, ids, labels):
        color = identity_color(int(track_id))
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, max(1, int(2 * scale)))
        name = class_names[label] if class_names is not None and 0 <= label < len(class_names) else str(label)
        tag = f"{track_id} {name}"
        (width, height), _ = cv2.getTextSize(tag, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, 1)
        top = max(y1 - height - 4, 0)
        cv2.rectangle(canvas, (x1, top), (x1 + width + 4, top + height + 4), color, -1)
        cv2.putText(canvas, tag, (x1 + 2, top + height + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale,
                    (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
    return canvas
