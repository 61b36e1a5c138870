"""KalmanFilterXYSR against filterpy set up as SORT does, a hand-worked example, and the dt semantics."""

from __future__ import annotations

import numpy as np
import pytest
from filterpy.kalman import KalmanFilter

from visionstack.tasks.tracking.kalman_xysr import KalmanFilterXYSR


def _sort_reference(z: np.ndarray) -> KalmanFilter:
    """filterpy configured line by line as SORT's KalmanBoxTracker."""
    ref = KalmanFilter(dim_x=7, dim_z=4)
    ref.F = np.eye(7)
    ref.F[0, 4] = ref.F[1, 5] = ref.F[2, 6] = 1.0
    ref.H = np.eye(4, 7)
    ref.R[2:, 2:] *= 10.0
    ref.P[4:, 4:] *= 1000.0
    ref.P *= 10.0
    ref.Q[-1, -1] *= 0.01
    ref.Q[4:, 4:] *= 0.01
    ref.x[:4, 0] = z
    return ref


def test_equals_filterpy_over_a_random_sequence():
    rng = np.random.default_rng(0)
    kf = KalmanFilterXYSR()
    truth = np.array([300.0, 200.0, 4000.0, 0.4])
    state, cov = kf.initiate(truth)
    ref = _sort_reference(truth)
    np.testing.assert_array_equal(cov, ref.P)
    for step in range(60):
        if ref.x[2, 0] + ref.x[6, 0] <= 0:  # SORT's guard
            ref.x[6, 0] = 0.0
        ref.predict()
        state, cov = kf.predict(state, cov)
        truth = truth + [3.0, -1.0, 20.0, 0.0]
        if step % 7 != 3:
            z = truth + rng.normal(0, [2, 2, 50, 0.01])
            ref.update(z)
            state, cov = kf.update(state, cov, z)
        np.testing.assert_allclose(state, ref.x[:, 0], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(cov, ref.P, rtol=1e-9, atol=1e-9)


def test_hand_worked_two_steps():
    kf = KalmanFilterXYSR()
    state, cov = kf.initiate([10.0, 20.0, 100.0, 0.5])
    # P0 = diag(10, 10, 10, 10, 10000, 10000, 10000); predict with Q = diag(1, 1, 1, 1, .01, .01, 1e-4):
    #   P_xx = 10 + 10000 + 1 = 10011, P_x,vx = 10000, P_vxvx = 10000.01.
    state, cov = kf.predict(state, cov)
    assert cov[0, 0] == pytest.approx(10011) and cov[0, 4] == pytest.approx(10000)
    assert cov[4, 4] == pytest.approx(10000.01) and cov[6, 6] == pytest.approx(10000.0001)
    # update with x = 12: R_xx = 1, S = 10012, K_x = 10011/10012, K_vx = 10000/10012, innovation 2
    #   -> x = 10 + 2 * 10011/10012, vx = 20000/10012, P_xx = P_xx * R / S = 10011/10012.
    state, cov = kf.update(state, cov, [12.0, 20.0, 100.0, 0.5])
    np.testing.assert_allclose(state, [10 + 20022 / 10012, 20, 100, 0.5, 20000 / 10012, 0, 0], rtol=1e-12)
    assert cov[0, 0] == pytest.approx(10011 / 10012, rel=1e-12)


def test_scale_velocity_guard():
    kf = KalmanFilterXYSR()
    state = np.array([0.0, 0.0, 10.0, 1.0, 0.0, 0.0, -6.0])
    cov = np.eye(7)
    assert kf.predict(state, cov, dt=1.0)[0][2] == pytest.approx(4.0)  # 10 - 6 > 0: no guard
    guarded, _ = kf.predict(state, cov, dt=2.0)  # 10 - 12 <= 0: vs is zeroed first
    assert guarded[2] == 10.0 and guarded[6] == 0.0
    assert state[6] == -6.0  # the input is not modified


def test_dt_two_equals_two_steps_in_the_mean_not_in_the_covariance():
    kf = KalmanFilterXYSR()
    state, cov = kf.initiate([50.0, 60.0, 2000.0, 0.5])
    for z in ([53.0, 61.0, 2050.0, 0.5], [56.0, 62.5, 2100.0, 0.5]):
        state, cov = kf.update(*kf.predict(state, cov), z)
    state_2, cov_2 = kf.predict(state, cov, dt=2.0)
    state_11, cov_11 = kf.predict(*kf.predict(state, cov))
    np.testing.assert_allclose(state_2, state_11, rtol=1e-12)
    # dt = 2 adds 2 Q; two unit steps add F Q F^T + Q, so they differ by exactly F Q F^T - Q.
    step, q = kf.motion_mat(1.0), kf.process_noise
    np.testing.assert_allclose(cov_11 - cov_2, step @ q @ step.T - q, atol=1e-9)
    assert not np.allclose(cov_2, cov_11)
    with pytest.raises(ValueError, match="dt must be >= 0"):
        kf.predict(state, cov, dt=-0.5)
