"""SORT (Bewley et al., ICIP 2016): a Kalman filter per target and Hungarian matching on IoU.

Per frame every track is predicted with the [x, y, s, r] filter (:mod:`..kalman_xysr`), detections are
matched to the predicted boxes by maximum total IoU (pairs under ``iou_thr`` rejected), matched tracks are
corrected, unmatched detections start tracks, and a track unmatched for longer than ``max_age`` is dropped.
A track is reported in the frames it is matched once it has ``min_hits`` consecutive matches (in the first
``min_hits`` frames of a sequence, at once), with its Kalman-corrected box. Defaults are the published ones
(``max_age`` 1 frame at 30 fps, ``min_hits`` 3, IoU 0.3); ``score_thr`` (0: every detection, as published)
drops weak detections first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ....registry import MODELS
from ..costs import iou_matrix
from .base import BaseTracker, Detections, TrackOutput, class_gate
from .xysr_track import XYSRTrack

__all__ = ["SortTracker", "match_by_iou"]


def match_by_iou(
    iou: np.ndarray, iou_thr: float, score: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SORT's association: ``(matches (K, 2) [row, col], unmatched rows, unmatched cols)`` of the assignment of
    maximum total ``score`` (default: the IoU; OC-SORT adds its momentum term), without the pairs whose IoU is
    under ``iou_thr``. When every row and column has at most one pair over the threshold, those pairs are taken
    directly (the shortcut SORT and OC-SORT take)."""
    rows, cols = iou.shape
    if rows == 0 or cols == 0:
        return np.zeros((0, 2), np.int64), np.arange(rows), np.arange(cols)
    above = iou > iou_thr
    if above.sum(1).max() <= 1 and above.sum(0).max() <= 1:
        pairs = np.stack(np.nonzero(above), axis=1)
    else:
        pairs = np.stack(linear_sum_assignment(-(iou if score is None else score)), axis=1)
    pairs = pairs[iou[pairs[:, 0], pairs[:, 1]] >= iou_thr] if len(pairs) else pairs.reshape(0, 2)
    unmatched_rows = np.setdiff1d(np.arange(rows), pairs[:, 0])
    unmatched_cols = np.setdiff1d(np.arange(cols), pairs[:, 1])
    return pairs.astype(np.int64), unmatched_rows, unmatched_cols


def same_class_iou(tracks: list[XYSRTrack], boxes: np.ndarray, labels: np.ndarray, use_observation=False):
    """(T, D) IoU of the tracks' boxes (their predicted states, or their last observations) and ``boxes``,
    0 between different classes."""
    if not tracks or not len(boxes):
        return np.zeros((len(tracks), len(boxes)))
    track_boxes = np.stack([t.last_observation if use_observation else t.box for t in tracks])
    return class_gate(iou_matrix(track_boxes, boxes), np.array([t.label for t in tracks]), labels, value=0.0)


@MODELS.register()
class SortTracker(BaseTracker):
    """SORT (see the module docstring).

    Args:
        iou_thr: least IoU of a match.
        max_age: seconds a track is kept unmatched (at least one frame; the published 1 frame at 30 fps).
        min_hits: consecutive matches before a track is reported.
        score_thr: detections scored at or under this are ignored.
        frame_rate, time_aware, camera_motion: see :class:`BaseTracker`.
    """

    def __init__(
        self,
        iou_thr: float = 0.3,
        max_age: float = 1 / 30,
        min_hits: int = 3,
        score_thr: float = 0.0,
        frame_rate: float = 30.0,
        time_aware: bool = False,
        camera_motion: Mapping[str, Any] | None = None,
    ) -> None:
        self.iou_thr, self.max_age, self.min_hits, self.score_thr = iou_thr, max_age, min_hits, score_thr
        super().__init__(frame_rate, time_aware, camera_motion)

    def reset(self) -> None:
        super().reset()
        self.tracks: list[XYSRTrack] = []

    def apply_camera_motion(self, warp: np.ndarray) -> None:
        for track in self.tracks:
            track.warp(warp)

    def max_age_steps(self) -> float:
        """``max_age`` on the clock: nominal frame intervals (time-aware) or whole frames (at least 1)."""
        frames = self.frames(self.max_age)
        return frames if self.time_aware else max(1, round(frames))

    def step(self, detections: Detections, image: np.ndarray | None) -> TrackOutput:
        detections = detections.select(detections.scores > self.score_thr)
        for track in self.tracks:
            track.predict(self.dt)
        self.tracks = [t for t in self.tracks if np.all(np.isfinite(t.x))]
        self.compensate_camera_motion(image)
        iou = same_class_iou(self.tracks, detections.bboxes, detections.labels)
        matches, _, unmatched_dets = match_by_iou(iou, self.iou_thr)
        for row, col in matches:
            self.tracks[row].update(detections.bboxes[col], detections.scores[col], self.time)
        for col in unmatched_dets:
            track = XYSRTrack(
                detections.bboxes[col], detections.scores[col], detections.labels[col], self.time
            )
            track.track_id = self.new_id()
            self.tracks.append(track)
        return self._report()

    def _report(self, use_observation: bool = False) -> TrackOutput:
        """The tracks matched in this frame with ``min_hits`` consecutive matches (any in the first ``min_hits``
        frames), with their Kalman box or (OC-SORT) their matched detection's; then drop the tracks unmatched
        for longer than ``max_age``."""
        rows = []
        for track in self.tracks:
            early = self.frame_index <= self.min_hits
            if track.last_time == self.time and (track.hit_streak >= self.min_hits or early):
                box = track.last_observation if use_observation else track.box
                rows.append((track.track_id, box, track.score, track.label))
        limit = self.max_age_steps()
        self.tracks = [t for t in self.tracks if self.time - t.last_time <= limit]
        return TrackOutput.from_rows(rows)
