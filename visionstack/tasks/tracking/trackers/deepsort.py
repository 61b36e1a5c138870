"""DeepSORT (Wojke et al., ICIP 2017): SORT with appearance, a matching cascade and Mahalanobis gating.

Each track keeps the appearance embeddings of its last ``budget`` matches (from a re-identification network,
:mod:`..reid`). Per frame, after the [x, y, a, h] Kalman prediction:

1. matching cascade: confirmed tracks, the most recently seen first (one round per frames-since-match), are
   matched to detections by the smallest cosine distance between a detection's embedding and the track's
   gallery, pairs beyond ``max_cosine_distance`` or outside the Kalman filter's 95 % chi-square gate rejected;
2. IoU matching (cost ``1 - IoU`` up to ``max_iou_distance``) of the unconfirmed tracks and of the tracks
   unmatched for one frame, against the detections left;
3. unmatched detections start tentative tracks, confirmed after ``n_init`` consecutive matches; a tentative
   track missed once is dropped, a confirmed one after ``max_age``.

Reported: confirmed tracks matched in this frame or predicted over one missed frame (as ``deep_sort_app``),
with their Kalman boxes. Defaults are the published ones (cosine 0.2, IoU distance 0.7, ``n_init`` 3,
``max_age`` 30 frames at 30 fps, a 100-embedding budget).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ....registry import MODELS
from ..box_formats import xyxy_to_xyah
from ..costs import gate_cost_matrix, iou_matrix
from .base import Detections, TrackOutput, class_gate
from .xyah_track import TrackState, XYAHTrack, XYAHTracker, predict_tracks

__all__ = ["DeepSortTracker"]


@MODELS.register()
class DeepSortTracker(XYAHTracker):
    """DeepSORT (see the module docstring); detections must carry ``embeddings``.

    Args:
        max_cosine_distance: largest appearance distance of a cascade match.
        max_iou_distance: largest ``1 - IoU`` of an IoU match.
        n_init: consecutive matches that confirm a track.
        max_age: seconds a confirmed track is kept unmatched.
        budget: embeddings kept per track.
        score_thr: detections scored under this are ignored (``deep_sort_app``'s ``min_confidence``).
        frame_rate, time_aware, camera_motion: see :class:`BaseTracker`.
    """

    def __init__(
        self,
        max_cosine_distance: float = 0.2,
        max_iou_distance: float = 0.7,
        n_init: int = 3,
        max_age: float = 1.0,
        budget: int = 100,
        score_thr: float = 0.3,
        frame_rate: float = 30.0,
        time_aware: bool = False,
        camera_motion: Mapping[str, Any] | None = None,
    ) -> None:
        self.max_cosine_distance, self.max_iou_distance = max_cosine_distance, max_iou_distance
        self.n_init, self.max_age, self.budget, self.score_thr = n_init, max_age, budget, score_thr
        super().__init__(frame_rate, time_aware, camera_motion)

    def step(self, detections: Detections, image: np.ndarray | None) -> TrackOutput:
        if len(detections) and detections.embeddings is None:
            raise ValueError("DeepSortTracker needs detections with embeddings (a re-identification model)")
        detections = detections.select(detections.scores >= self.score_thr)
        now, previous = self.time, self.time - self.dt
        predict_tracks(self.tracks, self.dt)
        self.compensate_camera_motion(image)
        candidates = np.arange(len(detections))
        confirmed = [t for t in self.tracks if t.state == TrackState.TRACKED]
        # 1. matching cascade by frames since the last match
        by_age: dict[float, list[XYAHTrack]] = {}
        for track in confirmed:
            by_age.setdefault(previous - track.last_time, []).append(track)
        for age in sorted(by_age):
            candidates = self._match(by_age[age], detections, candidates, appearance=True)
        # 2. IoU matching of the unconfirmed tracks and of those that missed one frame only
        recent = [
            t
            for t in self.tracks
            if t.last_time < now and (t.state == TrackState.TENTATIVE or t.last_time >= previous)
        ]
        candidates = self._match(recent, detections, candidates, appearance=False)
        # 3. confirm, drop, start
        self._confirm_and_drop(now)
        for index in candidates:
            track = XYAHTrack(
                self.filter,
                detections.bboxes[index],
                detections.scores[index],
                detections.labels[index],
                now,
                detections.embeddings[index],
            )
            track.track_id = self.new_id()
            self.tracks.append(track)
        one_frame = self.dt if self.time_aware else 1.0
        return TrackOutput.from_rows(
            [
                (t.track_id, t.box, t.score, t.label)
                for t in self.tracks
                if t.state == TrackState.TRACKED and now - t.last_time <= one_frame + 1e-9
            ]
        )

    def _match(
        self, tracks: list[XYAHTrack], detections: Detections, candidates: np.ndarray, appearance: bool
    ) -> np.ndarray:
        """Match ``tracks`` to ``candidates`` (detection indices) by gated appearance or by IoU, update the
        matched tracks, and return the candidates left."""
        if not tracks or not len(candidates):
            return candidates
        if appearance:
            cost = self._appearance_cost(tracks, detections, candidates)
            limit = self.max_cosine_distance
        else:
            cost = 1.0 - iou_matrix(np.stack([t.box for t in tracks]), detections.bboxes[candidates])
            limit = self.max_iou_distance
        cost = class_gate(cost, np.array([t.label for t in tracks]), detections.labels[candidates])
        # DeepSORT's min-cost matching: costs over the limit clipped just above it, pairs over it rejected
        rows, cols = linear_sum_assignment(np.minimum(cost, limit + 1e-5))
        matched = cost[rows, cols] <= limit
        for row, col in zip(rows[matched], cols[matched]):
            index = candidates[col]
            track = tracks[row]
            track.update(
                detections.bboxes[index], detections.scores[index], self.time, detections.embeddings[index]
            )
            track.features = track.features[-self.budget :]
        return np.setdiff1d(candidates, candidates[cols[matched]])

    def _appearance_cost(self, tracks: list[XYAHTrack], detections: Detections, candidates: np.ndarray):
        """Smallest cosine distance to each track's gallery, infinite outside the chi-square gate."""
        features = _unit(detections.embeddings[candidates])
        cost = np.stack(
            [(1.0 - _unit(np.stack(track.features)) @ features.T).min(axis=0) for track in tracks]
        )
        means = np.stack([track.mean for track in tracks])
        covariances = np.stack([track.covariance for track in tracks])
        measurements = xyxy_to_xyah(detections.bboxes[candidates])
        return gate_cost_matrix(self.filter, cost, means, covariances, measurements)

    def _confirm_and_drop(self, now: float) -> None:
        max_age = self.frames(self.max_age) if self.time_aware else max(1, round(self.frames(self.max_age)))
        kept = []
        for track in self.tracks:
            matched = track.last_time == now
            if track.state == TrackState.TENTATIVE:
                if not matched:
                    continue  # a tentative track missed once is dropped
                if track.hits >= self.n_init:
                    track.state = TrackState.TRACKED
            elif now - track.last_time > max_age:
                continue
            kept.append(track)
        self.tracks = kept


def _unit(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row, the embedding of a box outside the frame, stays zero)."""
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
