"""ByteTrack (Zhang et al., ECCV 2022): associate every detection box, the low-score ones too.

Per frame, after a Kalman prediction of every track ([x, y, a, h] filter, :mod:`..kalman_xyah`):

1. high-score detections (score > ``high_thr``) are matched to the tracked and lost tracks by IoU weighted
   by the detection score (``1 - IoU * score``), Hungarian with cost limit ``match_thr``;
2. low-score detections (``low_thr`` < score <= ``high_thr``, mostly occluded objects) are matched to the
   tracked tracks still unmatched, by plain IoU (cost limit ``low_match_thr``); tracks unmatched now are lost;
3. tracks started in the previous frame and not yet confirmed are matched to the high-score detections left
   (cost limit ``tentative_match_thr``); unmatched ones are dropped;
4. high-score detections left with score >= ``init_thr`` start new tracks (confirmed at once in the first
   frame, else at their next match); lost tracks older than ``track_buffer`` are dropped, and a lost track
   that overlaps a tracked one (IoU > 0.85) is removed, the younger of the two.

Reported: the confirmed tracks matched in this frame, with their Kalman-corrected boxes. Defaults are the
published MOT17 values (high 0.6, low 0.1, new tracks 0.7, match costs 0.8 / 0.5 / 0.7, a 30-frame buffer at
30 fps = 1 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ....registry import MODELS
from ..assignment import linear_assignment
from ..costs import fuse_score, iou_matrix
from .base import Detections, TrackOutput, class_gate
from .xyah_track import TrackState, XYAHTrack, XYAHTracker, predict_tracks, track_boxes, update_tracks

__all__ = ["ByteTracker"]

DUPLICATE_IOU = 0.85  # a tracked and a lost track overlapping this much are one target (1 - 0.15 distance)


@MODELS.register()
class ByteTracker(XYAHTracker):
    """ByteTrack's association (see the module docstring).

    Args:
        high_thr: detections scored above this take part in the first association.
        low_thr: detections scored above this (and not above ``high_thr``) take part in the second.
        init_thr: the least score of a detection that starts a track.
        match_thr: cost limit (1 - score-weighted IoU) of the first association.
        low_match_thr: cost limit (1 - IoU) of the second association.
        tentative_match_thr: cost limit of the association of unconfirmed tracks.
        weight_iou_with_score: fuse the detection score into the first association's IoU (ByteTrack does,
            except on MOT20).
        track_buffer: seconds a lost track is kept (converted to frames unless time-aware).
        frame_rate, time_aware, camera_motion: see :class:`BaseTracker`.
    """

    def __init__(
        self,
        high_thr: float = 0.6,
        low_thr: float = 0.1,
        init_thr: float = 0.7,
        match_thr: float = 0.8,
        low_match_thr: float = 0.5,
        tentative_match_thr: float = 0.7,
        weight_iou_with_score: bool = True,
        track_buffer: float = 1.0,
        frame_rate: float = 30.0,
        time_aware: bool = False,
        camera_motion: Mapping[str, Any] | None = None,
    ) -> None:
        self.high_thr, self.low_thr, self.init_thr = high_thr, low_thr, init_thr
        self.match_thr, self.low_match_thr = match_thr, low_match_thr
        self.tentative_match_thr = tentative_match_thr
        self.weight_iou_with_score = weight_iou_with_score
        self.track_buffer = track_buffer
        super().__init__(frame_rate, time_aware, camera_motion)

    # ---- one frame --------------------------------------------------------------------------------------
    def step(self, detections: Detections, image: np.ndarray | None) -> TrackOutput:
        now = self.time
        confirmed = [t for t in self.tracks if t.track_id > 0]
        unconfirmed = [t for t in self.tracks if t.track_id == 0]
        predict_tracks(confirmed, self.dt, freeze_height_if_lost=True)  # (ByteTrack predicts these only)
        self.compensate_camera_motion(image)
        high = detections.select(detections.scores > self.high_thr)
        low = detections.select((detections.scores > self.low_thr) & (detections.scores <= self.high_thr))

        # 1. high-score detections <-> tracked and lost tracks
        unmatched_tracks, unmatched_high = self._associate(
            confirmed, high, np.arange(len(high)), self.match_thr, self.weight_iou_with_score, now
        )
        # 2. low-score detections <-> tracks still tracked
        still_tracked = [t for t in unmatched_tracks if t.state == TrackState.TRACKED]
        left_tracks, _ = self._associate(
            still_tracked, low, np.arange(len(low)), self.low_match_thr, False, now
        )
        for track in left_tracks:
            track.state = TrackState.LOST
        # 3. unconfirmed tracks <-> high-score detections left
        left_unconfirmed, unmatched_high = self._associate(
            unconfirmed, high, unmatched_high, self.tentative_match_thr, self.weight_iou_with_score, now
        )
        for track in left_unconfirmed:
            track.state = TrackState.REMOVED
        for track in unconfirmed:
            if track.state != TrackState.REMOVED:
                track.track_id = self.new_id()
        # 4. new tracks, old lost ones dropped, duplicates removed
        self._start_tracks(high, unmatched_high, now)
        self._drop_lost(now)
        return TrackOutput.from_rows(
            [
                (t.track_id, t.box, t.score, t.label)
                for t in self.tracks
                if t.track_id > 0 and t.state == TrackState.TRACKED and t.last_time == now
            ]
        )

    def _associate(
        self,
        tracks: list[XYAHTrack],
        detections: Detections,
        candidates: np.ndarray,
        cost_limit: float,
        weight_with_score: bool,
        now: float,
    ) -> tuple[list[XYAHTrack], np.ndarray]:
        """Match ``tracks`` to the ``candidates`` (indices) of ``detections``; update the matched tracks.

        Returns the unmatched tracks and the unmatched candidate indices."""
        candidates = np.asarray(candidates, dtype=np.int64)
        if not tracks or not len(candidates):
            return list(tracks), candidates
        boxes = detections.bboxes[candidates]
        cost = 1.0 - iou_matrix(track_boxes(tracks), boxes)
        if weight_with_score:
            cost = fuse_score(cost, detections.scores[candidates])
        cost = class_gate(cost, np.array([t.label for t in tracks]), detections.labels[candidates])
        matches, unmatched_rows, unmatched_cols = linear_assignment(cost, cost_limit)
        matched = [tracks[row] for row in matches[:, 0]]
        indices = candidates[matches[:, 1]]
        update_tracks(matched, detections.bboxes[indices], detections.scores[indices], now)
        for track in matched:
            track.state = TrackState.TRACKED
        return [tracks[row] for row in unmatched_rows], candidates[unmatched_cols]

    def _start_tracks(self, detections: Detections, candidates: np.ndarray, now: float) -> None:
        for index in candidates:
            if detections.scores[index] < self.init_thr:
                continue
            track = XYAHTrack(
                self.filter, detections.bboxes[index], detections.scores[index], detections.labels[index], now
            )
            track.state = TrackState.TRACKED
            if self.frame_index == 1:  # tracks of the first frame are confirmed at once
                track.track_id = self.new_id()
            self.tracks.append(track)

    def _drop_lost(self, now: float) -> None:
        buffer = self.frames(self.track_buffer) if self.time_aware else round(self.frames(self.track_buffer))
        kept = [
            t
            for t in self.tracks
            if t.state != TrackState.REMOVED
            and not (t.state == TrackState.LOST and now - t.last_time > buffer)
        ]
        tracked = [t for t in kept if t.state == TrackState.TRACKED and t.track_id > 0]
        lost = [t for t in kept if t.state == TrackState.LOST]
        if tracked and lost:
            overlap = iou_matrix(track_boxes(tracked), track_boxes(lost))
            duplicates = set()
            for row, col in zip(*np.nonzero(overlap > DUPLICATE_IOU)):
                a, b = tracked[row], lost[col]
                # the track followed for longer stays
                longer = a.last_time - a.start_time > b.last_time - b.start_time
                duplicates.add(id(b) if longer else id(a))
            kept = [t for t in kept if id(t) not in duplicates]
        self.tracks = kept
