"""A track whose motion is the [x, y, a, h] Kalman filter of DeepSORT and ByteTrack."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..box_formats import xyah_to_xyxy, xyxy_to_xyah
from ..camera_motion import warp_xyah_state
from ..kalman_xyah import KalmanFilterXYAH
from .base import BaseTracker

__all__ = ["TrackState", "XYAHTrack", "XYAHTracker", "predict_tracks", "track_boxes", "update_tracks"]


class TrackState(enum.IntEnum):
    """Tentative: started, not yet confirmed; tracked: matched lately; lost: unmatched, kept for a while."""

    TENTATIVE = 0
    TRACKED = 1
    LOST = 2
    REMOVED = 3


class XYAHTrack:
    """One target: its Kalman state (mean (8,), covariance (8, 8)), class, last score and bookkeeping.

    Times (``start_time``, ``last_time``) are on the tracker's clock (nominal frame intervals).
    """

    def __init__(
        self,
        filter_: KalmanFilterXYAH,
        box: np.ndarray,
        score: float,
        label: int,
        time: float,
        embedding: np.ndarray | None = None,
    ) -> None:
        self.filter = filter_
        self.mean, self.covariance = filter_.initiate(xyxy_to_xyah(np.asarray(box, np.float64)))
        self.score = float(score)
        self.label = int(label)
        self.track_id = 0  # given when the track is confirmed (ByteTrack) or created (DeepSORT)
        self.state = TrackState.TENTATIVE
        self.start_time = self.last_time = float(time)
        self.hits = 1
        self.features: list[np.ndarray] = [] if embedding is None else [np.asarray(embedding)]

    @property
    def box(self) -> np.ndarray:
        """The state's box, (4,) xyxy."""
        x, y, aspect, height = self.mean[:4]
        half_w, half_h = aspect * height / 2, height / 2
        return np.array([x - half_w, y - half_h, x + half_w, y + half_h])

    def predict(self, dt: float) -> None:
        self.mean, self.covariance = self.filter.predict(self.mean, self.covariance, dt)

    def update(self, box: np.ndarray, score: float, time: float, embedding: np.ndarray | None = None) -> None:
        """Correct the state with a matched detection."""
        self.mean, self.covariance = self.filter.update(self.mean, self.covariance, xyxy_to_xyah(box))
        self.score = float(score)
        self.last_time = float(time)
        self.hits += 1
        if embedding is not None:
            self.features.append(np.asarray(embedding))


def predict_tracks(tracks: list[XYAHTrack], dt: float, freeze_height_if_lost: bool = False) -> None:
    """Predict every track one step of ``dt`` at once (``KalmanFilterXYAH.multi_predict``).

    ``freeze_height_if_lost``: ByteTrack zeroes the height velocity of tracks that are not currently tracked,
    so a lost box does not grow or shrink without evidence.
    """
    if not tracks:
        return
    means = np.stack([track.mean for track in tracks]).copy()
    covariances = np.stack([track.covariance for track in tracks])
    if freeze_height_if_lost:
        for row, track in enumerate(tracks):
            if track.state != TrackState.TRACKED:
                means[row, 7] = 0.0
    means, covariances = tracks[0].filter.multi_predict(means, covariances, dt)
    for track, mean, covariance in zip(tracks, means, covariances):
        track.mean, track.covariance = mean, covariance


def track_boxes(tracks: list[XYAHTrack]) -> np.ndarray:
    """(N, 4) xyxy boxes of the tracks' states."""
    if not tracks:
        return np.zeros((0, 4))
    return xyah_to_xyxy(np.stack([track.mean[:4] for track in tracks]))


def update_tracks(tracks: list[XYAHTrack], boxes: np.ndarray, scores: np.ndarray, time: float) -> None:
    """Correct every track with its matched box (N, 4) xyxy at once (``KalmanFilterXYAH.multi_update``)."""
    if not tracks:
        return
    means, covariances = tracks[0].filter.multi_update(
        np.stack([t.mean for t in tracks]), np.stack([t.covariance for t in tracks]), xyxy_to_xyah(boxes)
    )
    for track, mean, covariance, score in zip(tracks, means, covariances, scores):
        track.mean, track.covariance = mean, covariance
        track.score = float(score)
        track.last_time = float(time)
        track.hits += 1


class XYAHTracker(BaseTracker):
    """Base of the trackers whose tracks are :class:`XYAHTrack` (ByteTrack, DeepSORT): one shared filter,
    the track list, and camera motion applied to every track's state."""

    def __init__(self, frame_rate: float, time_aware: bool, camera_motion: Mapping[str, Any] | None) -> None:
        self.filter = KalmanFilterXYAH()
        super().__init__(frame_rate, time_aware, camera_motion)

    def reset(self) -> None:
        super().reset()
        self.tracks: list[XYAHTrack] = []

    def apply_camera_motion(self, warp: np.ndarray) -> None:
        for track in self.tracks:
            track.mean, track.covariance = warp_xyah_state(track.mean, track.covariance, warp)
