"""The Kalman filter of DeepSORT and ByteTrack on (centre x, centre y, aspect, height) boxes.

State (8,): ``[x, y, a, h, vx, vy, va, vh]`` — box centre, aspect ratio w / h, height and their
velocities; measurement (4,): ``[x, y, a, h]`` (see :func:`.box_formats.xyxy_to_xyah`). Motion is
constant velocity; the noise standard deviations are proportional to the current height (Wojke et
al., "Simple Online and Realtime Tracking with a Deep Association Metric", 2017), except for the
aspect ratio, whose noise is constant.

**Elapsed time.** Every prediction takes ``dt``, the time since the previous prediction in units of
the nominal frame interval (1 = one frame at the sequence's frame rate; a dropped frame makes it 2,
a variable-rate video gives fractions). The transition moves the position by ``dt * velocity``,
and the process-noise *covariance* is ``dt * Q`` (noise accumulating linearly in time, as for a
random walk sampled at irregular instants). With ``dt = 1`` the filter is exactly the published
one. One ``dt = 2`` prediction gives the same mean as two ``dt = 1`` predictions, but not the same
covariance: two steps also carry the first step's velocity noise into the position
(``F Q F^T`` instead of ``Q``); ``tests/tasks/tracking/test_kalman_xyah.py`` checks both facts.

The API is functional, as in the published code: the filter holds only its constants, tracks keep
their own ``(mean, covariance)``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.linalg

__all__ = ["KalmanFilterXYAH"]


class KalmanFilterXYAH:
    """Constant-velocity Kalman filter on ``[x, y, a, h]`` with height-proportional noise.

    Args:
        std_weight_position: position noise standard deviation per pixel of height (1/20 published).
        std_weight_velocity: velocity noise standard deviation per pixel of height (1/160 published).
    """

    ndim = 4

    def __init__(self, std_weight_position: float = 1.0 / 20, std_weight_velocity: float = 1.0 / 160):
        self.std_weight_position = std_weight_position
        self.std_weight_velocity = std_weight_velocity
        self.update_mat = np.eye(self.ndim, 2 * self.ndim)

    def motion_mat(self, dt: float = 1.0) -> np.ndarray:
        """The (8, 8) transition over ``dt`` frame intervals: position += dt * velocity."""
        motion = np.eye(2 * self.ndim)
        motion[: self.ndim, self.ndim :] = dt * np.eye(self.ndim)
        return motion

    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A new track from one unassociated measurement.

        Args:
            measurement: (4,) ``[x, y, a, h]``.

        Returns:
            mean (8,) with zero velocities, and covariance (8, 8) diagonal: 2 * std_pos * h for the
            position and height, 10 * std_vel * h for their velocities, 1e-2 / 1e-5 for the aspect
            and its velocity.
        """
        measurement = np.asarray(measurement, dtype=np.float64)
        mean = np.concatenate([measurement, np.zeros(self.ndim)])
        height = measurement[3]
        std = [
            2 * self.std_weight_position * height,
            2 * self.std_weight_position * height,
            1e-2,
            2 * self.std_weight_position * height,
            10 * self.std_weight_velocity * height,
            10 * self.std_weight_velocity * height,
            1e-5,
            10 * self.std_weight_velocity * height,
        ]
        return mean, np.diag(np.square(std))

    def process_noise(self, height: np.ndarray | float) -> np.ndarray:
        """Diagonal of the one-frame process-noise covariance Q, (8,) or (N, 8) for (N,) heights."""
        height = np.asarray(height, dtype=np.float64)[..., None]
        position = self.std_weight_position * height * np.array([1.0, 1.0, 0.0, 1.0]) + [0, 0, 1e-2, 0]
        velocity = self.std_weight_velocity * height * np.array([1.0, 1.0, 0.0, 1.0]) + [0, 0, 1e-5, 0]
        return np.square(np.concatenate([position, velocity], axis=-1))

    def predict(
        self, mean: np.ndarray, covariance: np.ndarray, dt: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predict the state ``dt`` frame intervals ahead (see the module docstring for ``dt``).

        Args:
            mean: (8,) state.
            covariance: (8, 8).
            dt: elapsed time in frame intervals, >= 0.

        Returns:
            predicted mean (8,) and covariance (8, 8).
        """
        means, covariances = self.multi_predict(np.asarray(mean)[None], np.asarray(covariance)[None], dt)
        return means[0], covariances[0]

    def multi_predict(
        self, mean: np.ndarray, covariance: np.ndarray, dt: float | np.ndarray = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict` for N tracks at once.

        Args:
            mean: (N, 8).
            covariance: (N, 8, 8).
            dt: one elapsed time for all tracks, or (N,) one per track.

        Returns:
            predicted means (N, 8) and covariances (N, 8, 8).
        """
        mean = np.asarray(mean, dtype=np.float64)
        covariance = np.asarray(covariance, dtype=np.float64)
        dt = np.broadcast_to(np.asarray(dt, dtype=np.float64), (len(mean),))
        if np.any(dt < 0):
            raise ValueError(f"dt must be >= 0, got {dt.min()}")
        # The noise uses the height before the step, as the published filter does.
        noise = dt[:, None] * self.process_noise(mean[:, 3])
        motion = np.repeat(np.eye(2 * self.ndim)[None], len(dt), axis=0)
        positions = np.arange(self.ndim)
        motion[:, positions, positions + self.ndim] = dt[:, None]
        new_mean = np.einsum("nij,nj->ni", motion, mean)
        new_covariance = motion @ covariance @ motion.transpose(0, 2, 1)
        new_covariance[:, np.arange(8), np.arange(8)] += noise
        return new_mean, new_covariance

    def project(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The state distribution in measurement space.

        Args:
            mean: (8,).
            covariance: (8, 8).

        Returns:
            mean (4,) and covariance (4, 4) including the measurement noise: std_pos * h for x, y, h
            and 1e-1 for the aspect.
        """
        height = mean[3]
        std = [self.std_weight_position * height, self.std_weight_position * height, 1e-1]
        std.append(self.std_weight_position * height)
        projected_mean = self.update_mat @ mean
        projected_cov = self.update_mat @ covariance @ self.update_mat.T + np.diag(np.square(std))
        return projected_mean, projected_cov

    def update(
        self, mean: np.ndarray, covariance: np.ndarray, measurement: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct the state with a measurement.

        Args:
            mean: (8,) predicted state.
            covariance: (8, 8).
            measurement: (4,) ``[x, y, a, h]``.

        Returns:
            corrected mean (8,) and covariance (8, 8).
        """
        projected_mean, projected_cov = self.project(mean, covariance)
        factor = scipy.linalg.cho_factor(projected_cov, lower=True, check_finite=False)
        # K = P H^T S^-1, solved through the Cholesky factor of S instead of an explicit inverse.
        gain = scipy.linalg.cho_solve(factor, (covariance @ self.update_mat.T).T, check_finite=False).T
        innovation = np.asarray(measurement, dtype=np.float64) - projected_mean
        new_mean = mean + gain @ innovation
        new_covariance = covariance - gain @ projected_cov @ gain.T
        return new_mean, new_covariance

    def multi_update(
        self, mean: np.ndarray, covariance: np.ndarray, measurement: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`update` for N tracks at once (mean (N, 8), covariance (N, 8, 8), measurement (N, 4)).

        The same algebra batched: ``H`` selects the first four state entries, so ``S = P[:4, :4] + R`` and
        ``P H^T = P[:, :4]``; ``K = P H^T S^-1`` by a batched solve (S is symmetric)."""
        mean = np.asarray(mean, dtype=np.float64)
        covariance = np.asarray(covariance, dtype=np.float64)
        height = mean[:, 3]
        std = np.stack([self.std_weight_position * height, self.std_weight_position * height,
                        np.full_like(height, 1e-1), self.std_weight_position * height], axis=1)  # fmt: skip
        projected_cov = covariance[:, :4, :4] + np.einsum("ni,ij->nij", np.square(std), np.eye(4))
        cross = covariance[:, :, :4]  # P H^T, (N, 8, 4)
        gain = np.linalg.solve(projected_cov, cross.transpose(0, 2, 1)).transpose(0, 2, 1)
        innovation = np.asarray(measurement, dtype=np.float64) - mean[:, :4]
        new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        new_covariance = covariance - gain @ projected_cov @ gain.transpose(0, 2, 1)
        return new_mean, new_covariance

    def gating_distance(
        self,
        mean: np.ndarray,
        covariance: np.ndarray,
        measurements: np.ndarray,
        only_position: bool = False,
        metric: Literal["maha", "gaussian"] = "maha",
    ) -> np.ndarray:
        """Squared distances between the projected state and M measurements.

        Compare ``"maha"`` distances with :data:`.costs.CHI2INV95` (4 degrees of freedom, or 2 with
        ``only_position``).

        Args:
            mean: (8,).
            covariance: (8, 8).
            measurements: (M, 4) ``[x, y, a, h]``.
            only_position: use only the centre (x, y).
            metric: ``"maha"`` squared Mahalanobis distance, ``"gaussian"`` squared Euclidean one.

        Returns:
            (M,) squared distances.
        """
        projected_mean, projected_cov = self.project(mean, covariance)
        measurements = np.asarray(measurements, dtype=np.float64).reshape(-1, 4)
        if only_position:
            projected_mean, projected_cov = projected_mean[:2], projected_cov[:2, :2]
            measurements = measurements[:, :2]
        difference = measurements - projected_mean
        if metric == "gaussian":
            return np.sum(difference * difference, axis=1)
        if metric != "maha":
            raise ValueError(f"metric must be 'maha' or 'gaussian', got {metric!r}")
        cholesky = np.linalg.cholesky(projected_cov)
        whitened = scipy.linalg.solve_triangular(cholesky, difference.T, lower=True, check_finite=False)
        return np.sum(whitened * whitened, axis=0)
