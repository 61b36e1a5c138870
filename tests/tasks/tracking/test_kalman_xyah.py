"""KalmanFilterXYAH against filterpy with the same matrices, a hand-worked example, and the dt semantics."""

from __future__ import annotations

import numpy as np
import pytest
from filterpy.kalman import KalmanFilter

from visionstack.tasks.tracking.kalman_xyah import KalmanFilterXYAH

WP, WV = 1.0 / 20, 1.0 / 160


def _q(height: float) -> np.ndarray:
    """The published process noise, written out independently of the module."""
    return np.diag(
        np.square([WP * height, WP * height, 1e-2, WP * height, WV * height, WV * height, 1e-5, WV * height])
    )


def _r(height: float) -> np.ndarray:
    return np.diag(np.square([WP * height, WP * height, 1e-1, WP * height]))


def test_equals_filterpy_over_a_random_sequence():
    rng = np.random.default_rng(0)
    kf = KalmanFilterXYAH()
    truth = np.array([300.0, 200.0, 0.4, 120.0])
    mean, cov = kf.initiate(truth)
    ref = KalmanFilter(dim_x=8, dim_z=4)
    ref.F = kf.motion_mat(1.0)
    ref.H = np.eye(4, 8)
    ref.x, ref.P = mean.copy(), cov.copy()
    for step in range(60):
        ref.Q = _q(ref.x[3])
        ref.predict()
        mean, cov = kf.predict(mean, cov)
        truth = truth + [3.0, -1.0, 0.001, 0.5]
        if step % 7 != 3:  # some frames without a detection
            z = truth + rng.normal(0, [2, 2, 0.01, 2])
            ref.R = _r(ref.x[3])
            ref.update(z)
            mean, cov = kf.update(mean, cov, z)
        np.testing.assert_allclose(mean, ref.x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(cov, ref.P, rtol=1e-9, atol=1e-9)


def test_hand_worked_two_steps():
    kf = KalmanFilterXYAH()
    mean, cov = kf.initiate([10.0, 20.0, 0.5, 100.0])
    # initiate, h = 100: var x = (2 * 100 / 20)^2 = 100, var vx = (10 * 100 / 160)^2 = 39.0625 = 625/16.
    assert cov[0, 0] == pytest.approx(100.0) and cov[4, 4] == pytest.approx(625 / 16)
    assert cov[2, 2] == pytest.approx(1e-4) and cov[6, 6] == pytest.approx(1e-10)
    # predict: Q_xx = (100/20)^2 = 25, Q_vxvx = (100/160)^2 = 0.390625.
    #   P_xx = 100 + 39.0625 + 25 = 164.0625 = 2625/16, P_x,vx = 625/16, P_vxvx = 39.453125.
    mean, cov = kf.predict(mean, cov)
    np.testing.assert_allclose(mean, [10, 20, 0.5, 100, 0, 0, 0, 0])
    assert cov[0, 0] == pytest.approx(2625 / 16) and cov[0, 4] == pytest.approx(625 / 16)
    assert cov[4, 4] == pytest.approx(39.453125)
    # update with x = 12 (y, a, h as predicted): R_xx = 25, S = 2625/16 + 25 = 3025/16,
    #   K_x = 2625/3025 = 105/121, K_vx = 625/3025 = 25/121, innovation 2
    #   -> x = 10 + 210/121, vx = 50/121, P_xx = 2625/16 * (1 - 105/121) = 2625/121.
    mean, cov = kf.update(mean, cov, [12.0, 20.0, 0.5, 100.0])
    np.testing.assert_allclose(mean, [10 + 210 / 121, 20, 0.5, 100, 50 / 121, 0, 0, 0], rtol=1e-12)
    assert cov[0, 0] == pytest.approx(2625 / 121, rel=1e-12)
    # a further prediction moves x by the velocity: 10 + 260/121.
    assert kf.predict(mean, cov)[0][0] == pytest.approx(10 + 260 / 121, rel=1e-12)


def _moving_state(kf: KalmanFilterXYAH) -> tuple[np.ndarray, np.ndarray]:
    mean, cov = kf.initiate([50.0, 60.0, 0.5, 80.0])
    for z in ([53.0, 61.0, 0.5, 81.0], [56.0, 62.5, 0.51, 82.0]):
        mean, cov = kf.update(*kf.predict(mean, cov), z)
    return mean, cov


def test_dt_two_equals_two_steps_in_the_mean_not_in_the_covariance():
    kf = KalmanFilterXYAH()
    mean, cov = _moving_state(kf)
    mean_2, cov_2 = kf.predict(mean, cov, dt=2.0)
    mean_11, cov_11 = kf.predict(*kf.predict(mean, cov), dt=1.0)
    np.testing.assert_allclose(mean_2, mean_11, rtol=1e-12)
    # One step of dt: F(dt) P F(dt)^T + dt Q(h before the step).
    motion = kf.motion_mat(2.0)
    np.testing.assert_allclose(cov_2, motion @ cov @ motion.T + 2 * _q(mean[3]), rtol=1e-12)
    # Two unit steps add F Q F^T + Q(h after one step) instead, which has extra position-velocity terms.
    step = kf.motion_mat(1.0)
    expected_11 = motion @ cov @ motion.T + step @ _q(mean[3]) @ step.T + _q(mean[3] + mean[7])
    np.testing.assert_allclose(cov_11, expected_11, rtol=1e-12)
    assert not np.allclose(cov_2, cov_11)


def test_fractional_and_zero_dt():
    kf = KalmanFilterXYAH()
    mean, cov = _moving_state(kf)
    mean_half, cov_half = kf.predict(mean, cov, dt=0.5)
    np.testing.assert_allclose(mean_half[:4], mean[:4] + 0.5 * mean[4:])
    mean_0, cov_0 = kf.predict(mean, cov, dt=0.0)
    np.testing.assert_array_equal(mean_0, mean)
    np.testing.assert_allclose(cov_0, cov)
    with pytest.raises(ValueError, match="dt must be >= 0"):
        kf.predict(mean, cov, dt=-1.0)


def test_multi_predict_matches_predict_with_per_track_dt():
    kf = KalmanFilterXYAH()
    mean, cov = _moving_state(kf)
    means = np.stack([mean, mean * [1.1, 0.9, 1, 1.2, 1, 1, 1, 1], mean + 1])
    covs = np.stack([cov, 2 * cov, cov])
    dts = np.array([1.0, 2.0, 0.25])
    new_means, new_covs = kf.multi_predict(means, covs, dts)
    for i in range(3):
        expected_mean, expected_cov = kf.predict(means[i], covs[i], dts[i])
        np.testing.assert_allclose(new_means[i], expected_mean, rtol=1e-12)
        np.testing.assert_allclose(new_covs[i], expected_cov, rtol=1e-12)
    assert kf.multi_predict(np.zeros((0, 8)), np.zeros((0, 8, 8)))[0].shape == (0, 8)


def test_gating_distance_against_the_explicit_inverse():
    kf = KalmanFilterXYAH()
    mean, cov = _moving_state(kf)
    measurements = mean[:4] + np.random.default_rng(1).normal(0, [5, 5, 0.05, 5], (6, 4))
    projected_mean, projected_cov = kf.project(mean, cov)
    difference = measurements - projected_mean
    expected = np.einsum("mi,ij,mj->m", difference, np.linalg.inv(projected_cov), difference)
    np.testing.assert_allclose(kf.gating_distance(mean, cov, measurements), expected, rtol=1e-10)
    position = difference[:, :2]
    expected_pos = np.einsum("mi,ij,mj->m", position, np.linalg.inv(projected_cov[:2, :2]), position)
    np.testing.assert_allclose(kf.gating_distance(mean, cov, measurements, only_position=True), expected_pos)
    np.testing.assert_allclose(
        kf.gating_distance(mean, cov, measurements, metric="gaussian"), np.sum(difference**2, axis=1)
    )
    with pytest.raises(ValueError, match="'maha' or 'gaussian'"):
        kf.gating_distance(mean, cov, measurements, metric="cosine")
