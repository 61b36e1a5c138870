"""The Kalman filter of SORT and OC-SORT on (centre x, centre y, area, aspect) boxes.

State (7,): ``[x, y, s, r, vx, vy, vs]`` — box centre, scale (area w * h), ratio w / h (held
constant, no velocity) and the velocities of centre and area; measurement (4,): ``[x, y, s, r]``
(see :func:`.box_formats.xyxy_to_xysr`). The matrices are SORT's (Bewley et al., "Simple Online and
Realtime Tracking", 2016): unit noise everywhere, then measurement noise x10 on s and r, initial
covariance x1000 on the (unobserved) velocities and x10 overall, process noise x0.01 on the
velocities and x0.0001 on the area velocity.

**Elapsed time** works as in :mod:`.kalman_xyah`: ``dt`` is in nominal frame intervals, the
transition moves by ``dt * velocity`` and the process noise covariance is ``dt * Q``; ``dt = 1``
is exactly SORT. One ``dt = 2`` step has the same mean as two ``dt = 1`` steps (unless SORT's
area guard below fires differently), not the same covariance.

The API is functional: tracks keep ``(x, P)``; OC-SORT's re-update from a virtual trajectory is
a sequence of :meth:`KalmanFilterXYSR.predict` / :meth:`KalmanFilterXYSR.update` calls on a saved
state.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KalmanFilterXYSR"]


class KalmanFilterXYSR:
    """Constant-velocity Kalman filter on ``[x, y, s, r]`` with SORT's fixed noise matrices."""

    dim_x = 7
    dim_z = 4

    def __init__(self):
        self.update_mat = np.eye(self.dim_z, self.dim_x)
        self.measurement_noise = np.eye(self.dim_z)
        self.measurement_noise[2:, 2:] *= 10.0
        self.initial_covariance = np.eye(self.dim_x)
        self.initial_covariance[4:, 4:] *= 1000.0  # high uncertainty for the unobserved velocities
        self.initial_covariance *= 10.0
        self.process_noise = np.eye(self.dim_x)
        self.process_noise[-1, -1] *= 0.01
        self.process_noise[4:, 4:] *= 0.01

    def motion_mat(self, dt: float = 1.0) -> np.ndarray:
        """The (7, 7) transition over ``dt`` frame intervals: x, y, s += dt * (vx, vy, vs)."""
        motion = np.eye(self.dim_x)
        motion[0, 4] = motion[1, 5] = motion[2, 6] = dt
        return motion

    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A new track from a (4,) ``[x, y, s, r]`` measurement: state (7,) with zero velocities, and
        SORT's initial covariance (7, 7)."""
        state = np.zeros(self.dim_x)
        state[:4] = np.asarray(measurement, dtype=np.float64)
        return state, self.initial_covariance.copy()

    def predict(
        self, state: np.ndarray, covariance: np.ndarray, dt: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predict ``dt`` frame intervals ahead.

        As SORT, the area velocity is zeroed first when it would make the area non-positive
        (``s + vs * dt <= 0``).

        Args:
            state: (7,).
            covariance: (7, 7).
            dt: elapsed time in frame intervals, >= 0.

        Returns:
            predicted state (7,) and covariance (7, 7); the inputs are not modified.
        """
        if dt < 0:
            raise ValueError(f"dt must be >= 0, got {dt}")
        state = np.array(state, dtype=np.float64)
        if state[2] + dt * state[6] <= 0:
            state[6] = 0.0
        motion = self.motion_mat(dt)
        return motion @ state, motion @ covariance @ motion.T + dt * self.process_noise

    def project(self, state: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The state distribution in measurement space: mean (4,), covariance (4, 4) with noise R."""
        projected = self.update_mat @ covariance @ self.update_mat.T + self.measurement_noise
        return self.update_mat @ state, projected

    def update(
        self, state: np.ndarray, covariance: np.ndarray, measurement: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct the state with a (4,) ``[x, y, s, r]`` measurement.

        The covariance is updated in Joseph form, ``(I - K H) P (I - K H)^T + K R K^T``, as filterpy
        (SORT's implementation) does; it stays symmetric positive definite.

        Returns:
            corrected state (7,) and covariance (7, 7).
        """
        projected_mean, projected_cov = self.project(state, covariance)
        cross = covariance @ self.update_mat.T
        gain = np.linalg.solve(projected_cov, cross.T).T  # K = P H^T S^-1 (S is symmetric)
        new_state = state + gain @ (np.asarray(measurement, dtype=np.float64) - projected_mean)
        i_kh = np.eye(self.dim_x) - gain @ self.update_mat
        new_covariance = i_kh @ covariance @ i_kh.T + gain @ self.measurement_noise @ gain.T
        return new_state, new_covariance
