"""A track whose motion is the [x, y, s, r] Kalman filter of SORT and OC-SORT, with OC-SORT's observation
history and its observation-centric re-update."""

from __future__ import annotations

import numpy as np

from ..box_formats import xysr_to_xyxy, xyxy_to_xysr
from ..camera_motion import warp_boxes, warp_xysr_state
from ..kalman_xysr import KalmanFilterXYSR

__all__ = ["XYSRTrack", "motion_direction"]

SHARED_FILTER = KalmanFilterXYSR()


def motion_direction(from_box: np.ndarray, to_box: np.ndarray) -> np.ndarray:
    """Unit vector (dy, dx) from the centre of ``from_box`` to the centre of ``to_box`` (xyxy), as OC-SORT's
    momentum term uses it (zero-length: divided by 1e-6)."""
    delta = (np.asarray(to_box[:4]).reshape(2, 2).mean(0) - np.asarray(from_box[:4]).reshape(2, 2).mean(0))[
        ::-1
    ]
    return delta / (np.sqrt((delta**2).sum()) + 1e-6)


class XYSRTrack:
    """One target of SORT / OC-SORT.

    Attributes:
        x, P: the filter's state (7,) and covariance (7, 7).
        age: predictions made (frames processed since the track started); ``observations`` are keyed by it.
        time_since_update: predictions since the last match; ``hit_streak``: consecutive matches.
        last_observation: (4,) xyxy of the last matched detection.
        velocity: OC-SORT's observed motion direction (dy, dx), or None before the second observation.
    """

    def __init__(
        self, box: np.ndarray, score: float, label: int, time: float, filter_: KalmanFilterXYSR | None = None
    ) -> None:
        self.filter = filter_ or SHARED_FILTER
        box = np.asarray(box, np.float64)
        self.x, self.P = self.filter.initiate(xyxy_to_xysr(box))
        self.score, self.label = float(score), int(label)
        self.track_id = 0
        self.start_time = self.last_time = float(time)
        self.age = self.time_since_update = self.hits = self.hit_streak = 0
        self.last_observation = box
        self.observations: dict[int, np.ndarray] = {0: box}
        self.velocity: np.ndarray | None = None
        self._anchor = (self.x.copy(), self.P.copy())  # the state right after the last observation
        self._steps_since_anchor: list[float] = []  # the dt of each prediction since then

    @property
    def box(self) -> np.ndarray:
        """The state's box, (4,) xyxy."""
        return xysr_to_xyxy(self.x[:4])

    def predict(self, dt: float) -> None:
        self.x, self.P = self.filter.predict(self.x, self.P, dt)
        self._steps_since_anchor.append(dt)
        self.age += 1
        if self.time_since_update > 0:
            self.hit_streak = 0
        self.time_since_update += 1

    def update(self, box: np.ndarray, score: float, time: float) -> None:
        """SORT's correction with a matched detection."""
        box = np.asarray(box, np.float64)
        self.x, self.P = self.filter.update(self.x, self.P, xyxy_to_xysr(box))
        self._observed(box, score, time)

    def observe(self, box: np.ndarray, score: float, time: float, delta_t: int) -> None:
        """OC-SORT's correction: the motion direction over ``delta_t`` frames, and after a gap the
        observation-centric re-update (ORU): the state is rolled back to the last observation and re-filtered
        along a virtual trajectory interpolated linearly (in centre, width and height, by elapsed time) from
        that observation to this one, so the error accumulated while unobserved is undone."""
        box = np.asarray(box, np.float64)
        self.velocity = motion_direction(self.previous_observation(delta_t), box)
        if len(self._steps_since_anchor) > 1:
            self._reupdate(box)
        else:
            self.x, self.P = self.filter.update(self.x, self.P, xyxy_to_xysr(box))
        self._observed(box, score, time)

    def previous_observation(self, delta_t: int) -> np.ndarray:
        """The observation ``delta_t`` frames ago (else the nearest one after it, else the last)."""
        for back in range(delta_t, 0, -1):
            if self.age - back in self.observations:
                return self.observations[self.age - back]
        return self.last_observation

    def _reupdate(self, box: np.ndarray) -> None:
        start, end = _centre_size(self.last_observation), _centre_size(box)
        steps = np.asarray(self._steps_since_anchor)
        fractions = np.cumsum(steps) / steps.sum()
        self.x, self.P = (value.copy() for value in self._anchor)
        for dt, fraction in zip(steps, fractions):
            cx, cy, w, h = start + fraction * (end - start)
            virtual = np.array([cx, cy, w * h, w / h])
            self.x, self.P = self.filter.predict(self.x, self.P, dt)
            self.x, self.P = self.filter.update(self.x, self.P, virtual)

    def _observed(self, box: np.ndarray, score: float, time: float) -> None:
        self.last_observation = box
        self.observations[self.age] = box
        self.score = float(score)
        self.last_time = float(time)
        self.time_since_update = 0
        self.hits += 1
        self.hit_streak += 1
        self._anchor = (self.x.copy(), self.P.copy())
        self._steps_since_anchor = []

    def warp(self, warp: np.ndarray) -> None:
        """Move the state, the rollback state and the observations by the camera motion ``warp`` (2, 3)."""
        self.x, self.P = warp_xysr_state(self.x, self.P, warp)
        self._anchor = warp_xysr_state(*self._anchor, warp)
        self.last_observation = warp_boxes(self.last_observation[None], warp)[0]
        self.observations = {age: warp_boxes(b[None], warp)[0] for age, b in self.observations.items()}


def _centre_size(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = box[:4]
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1])
