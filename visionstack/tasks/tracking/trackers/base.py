"""What every tracker shares: detections in, tracks out, time, classes and camera motion.

A tracker is NumPy only (the torch-free deploy runtime runs it too) and stateful over one sequence:
:meth:`BaseTracker.update` takes one frame's detections and returns the tracks it reports for that frame;
:meth:`BaseTracker.reset` starts a new sequence.

Time. Every published tracker counts frames: its Kalman filter steps once per frame and a lost track is
kept for ``N`` frames. Frames are not always evenly spaced (variable frame rate video, dropped or skipped
frames), so here every tracker can be *timestamp-aware* (``time_aware=True``): the prediction step uses the
real time since the previous frame, ``dt`` in units of the nominal frame interval ``1 / frame_rate``, and
buffers are durations in seconds. With ``time_aware=False`` a tracker behaves as published: each processed
frame is one step and durations are converted to frames at the nominal rate (``round(seconds * frame_rate)``).

Classes. Association is per class: a detection is never associated with a track of another class (the cost
of such pairs is infinite), so a track never switches class; tracks of all classes share one id counter.

Camera motion. With ``camera_motion=dict(method="ecc" | "sparse_flow", downscale=2)`` the tracker estimates
the image-to-image motion of the camera between consecutive frames (:mod:`..camera_motion`, as BoT-SORT's
global motion compensation) and moves its tracks' predicted states with it before associating.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BaseTracker", "Detections", "TrackOutput", "class_gate"]


@dataclass
class Detections:
    """One frame's detections.

    Attributes:
        bboxes: (N, 4) xyxy, 0-based absolute pixels.
        scores: (N,) confidences in [0, 1].
        labels: (N,) 0-based class indices.
        embeddings: (N, D) appearance features (re-identification), or None.
    """

    bboxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    embeddings: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.bboxes = np.asarray(self.bboxes, dtype=np.float64).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if not len(self.bboxes) == len(self.scores) == len(self.labels):
            raise ValueError(
                f"Detections: {len(self.bboxes)} boxes, {len(self.scores)} scores and {len(self.labels)} labels"
            )
        if self.embeddings is not None:
            self.embeddings = np.asarray(self.embeddings, dtype=np.float64)
            if self.embeddings.ndim != 2 or len(self.embeddings) != len(self.bboxes):
                raise ValueError(
                    f"Detections: embeddings must be (N, D) for {len(self.bboxes)} boxes, got {self.embeddings.shape}"
                )

    def __len__(self) -> int:
        return len(self.bboxes)

    def select(self, keep: np.ndarray) -> Detections:
        """The detections at ``keep`` (a boolean mask or indices)."""
        embeddings = None if self.embeddings is None else self.embeddings[keep]
        return Detections(self.bboxes[keep], self.scores[keep], self.labels[keep], embeddings)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))


@dataclass
class TrackOutput:
    """The tracks a tracker reports for one frame: ``ids`` (N,) (from 1), ``bboxes`` (N, 4) xyxy, ``scores``
    (N,), ``labels`` (N,)."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bboxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def from_rows(cls, rows: list[tuple[int, np.ndarray, float, int]]) -> TrackOutput:
        """From ``(id, box, score, label)`` rows, sorted by id."""
        rows = sorted(rows, key=lambda row: row[0])
        if not rows:
            return cls()
        return cls(
            np.array([row[0] for row in rows], np.int64),
            np.array([row[1] for row in rows], np.float64).reshape(-1, 4),
            np.array([row[2] for row in rows], np.float64),
            np.array([row[3] for row in rows], np.int64),
        )

    def __len__(self) -> int:
        return len(self.ids)


def class_gate(cost: np.ndarray, track_labels: np.ndarray, det_labels: np.ndarray, value: float = np.inf):
    """``cost`` (T, D) with pairs of different classes set to ``value`` (a copy)."""
    cost = np.array(cost, dtype=np.float64, copy=True)
    if cost.size:
        cost[np.asarray(track_labels)[:, None] != np.asarray(det_labels)[None, :]] = value
    return cost


class BaseTracker(ABC):
    """Base class of the trackers: frame clock, id counter, camera-motion compensation.

    Args:
        frame_rate: the nominal frames per second of the sequences (MOT's ``frameRate``); durations given in
            seconds are converted with it, and ``dt`` is measured in units of ``1 / frame_rate``.
        time_aware: predict with the real time between frames and keep lost tracks for a duration (see the
            module docstring); False counts processed frames, as the published trackers do.
        camera_motion: None, or ``dict(method="ecc" | "sparse_flow", downscale=2)``; needs the frame image
            in :meth:`update`.
    """

    def __init__(
        self,
        frame_rate: float = 30.0,
        time_aware: bool = False,
        camera_motion: Mapping[str, Any] | None = None,
    ) -> None:
        self.frame_rate = float(frame_rate)
        self.time_aware = bool(time_aware)
        self.camera_motion = dict(camera_motion) if camera_motion else None
        self.reset()

    # ---- sequence state ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every track and start the clock and the ids again (a new sequence)."""
        self.frame_index = 0  # frames processed in this sequence
        self.time = 0.0  # the tracker's clock, in nominal frame intervals
        self.dt = 1.0
        self.next_id = 1
        self._previous_gray: np.ndarray | None = None

    def new_id(self) -> int:
        track_id = self.next_id
        self.next_id += 1
        return track_id

    def advance_clock(self, frame_id: int | None, timestamp: float | None) -> None:
        """Step the clock to this frame: ``dt`` = time since the previous frame in nominal intervals (1 per
        processed frame unless time-aware with a timestamp or a frame number)."""
        if self.time_aware and (timestamp is not None or frame_id is not None):
            now = timestamp * self.frame_rate if timestamp is not None else float(frame_id - 1)
            self.dt = max(now - self.time, 1e-6) if self.frame_index > 0 else 1.0
            self.time = now
        else:
            self.dt = 1.0
            self.time = float(self.frame_index)
        self.frame_index += 1

    def frames(self, seconds: float) -> float:
        """A duration in seconds in nominal frame intervals (the unit of the clock)."""
        return seconds * self.frame_rate

    # ---- camera motion --------------------------------------------------------------------------------
    def compensate_camera_motion(self, image: np.ndarray | None) -> None:
        """Estimate the camera motion since the previous frame and move the tracks with it."""
        if self.camera_motion is None:
            return
        if image is None:
            raise ValueError(
                f"{type(self).__name__}: camera_motion is set, so update() needs the frame image"
            )
        import cv2

        from ..camera_motion import estimate_camera_motion

        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        if self._previous_gray is not None and self._previous_gray.shape == gray.shape:
            warp = estimate_camera_motion(self._previous_gray, gray, **self.camera_motion)
            self.apply_camera_motion(warp)
        self._previous_gray = gray

    @abstractmethod
    def apply_camera_motion(self, warp: np.ndarray) -> None:
        """Move every track's state by the (2, 3) affine ``warp`` (previous -> current frame pixels)."""

    # ---- the per-frame step ---------------------------------------------------------------------------
    def update(
        self,
        detections: Detections,
        frame_id: int | None = None,
        timestamp: float | None = None,
        image: np.ndarray | None = None,
    ) -> TrackOutput:
        """Process one frame: ``detections``; ``frame_id`` (MOT frame number) and ``timestamp`` (seconds)
        drive the clock when time-aware; ``image`` (H, W, 3) BGR for camera-motion compensation."""
        self.advance_clock(frame_id, timestamp)
        return self.step(detections, image)

    @abstractmethod
    def step(self, detections: Detections, image: np.ndarray | None) -> TrackOutput:
        """The tracker's own per-frame work (the clock has been advanced; camera motion not yet applied)."""
