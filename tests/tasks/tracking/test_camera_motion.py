"""Camera motion: both estimators recover a known Euclidean warp; state warping by hand."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visionstack.tasks.tracking.camera_motion import (
    estimate_camera_motion,
    warp_boxes,
    warp_xyah_state,
    warp_xysr_state,
)


def _texture_pair(angle_deg: float, shift: tuple[float, float]):
    """A smooth random texture and the same scene moved by a rotation + shift, both cropped so that no
    border enters; returns (previous, current, the true previous -> current warp of the crops)."""
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.normal(size=(400, 520)).astype(np.float32), (0, 0), 3)
    big = cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    full = cv2.getRotationMatrix2D((260, 200), angle_deg, 1.0)
    full[:, 2] += shift
    moved = cv2.warpAffine(big, full, (520, 400), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    offset = np.array([60.0, 40.0])
    previous, current = big[40:360, 60:460], moved[40:360, 60:460]
    # crop pixel p is full pixel p + offset: p -> A (p + o) + t - o
    linear, translation = full[:, :2], full[:, 2]
    return previous, current, np.column_stack([linear, linear @ offset + translation - offset])


def _max_point_error(warp: np.ndarray, truth: np.ndarray) -> float:
    grid = np.stack(np.meshgrid(np.linspace(0, 399, 5), np.linspace(0, 319, 5)), axis=-1).reshape(-1, 2)
    return float(np.abs(grid @ (warp[:, :2] - truth[:, :2]).T + warp[:, 2] - truth[:, 2]).max())


@pytest.mark.parametrize("method", ["ecc", "sparse_flow"])
@pytest.mark.parametrize("downscale", [1, 2])
@pytest.mark.parametrize("angle_deg, shift", [(1.0, (4.3, -2.7)), (-2.0, (8.0, 5.0))])
def test_recovers_a_known_euclidean_warp(method, downscale, angle_deg, shift):
    previous, current, truth = _texture_pair(angle_deg, shift)
    warp = estimate_camera_motion(previous, current, method=method, downscale=downscale)
    assert warp.shape == (2, 3) and warp.dtype == np.float64
    # measured: ECC within 0.02 px, sparse flow within 0.25 px over the image
    assert _max_point_error(warp, truth) < (0.1 if method == "ecc" else 0.5)


def test_failure_and_errors():
    flat = np.full((64, 80), 128, np.uint8)
    for method in ("ecc", "sparse_flow"):
        np.testing.assert_array_equal(estimate_camera_motion(flat, flat, method=method), np.eye(2, 3))
    with pytest.raises(ValueError, match="'ecc' or 'sparse_flow'"):
        estimate_camera_motion(flat, flat, method="orb")
    with pytest.raises(ValueError, match="differ in size"):
        estimate_camera_motion(flat, flat[:32])


# A rotation by 90 degrees with scale 2 and shift (10, 20): p -> [[0, -2], [2, 0]] p + (10, 20).
WARP = np.array([[0.0, -2.0, 10.0], [2.0, 0.0, 20.0]])


def test_warp_xyah_state_by_hand():
    mean = np.array([3.0, 4.0, 0.5, 10.0, 1.0, -1.0, 0.01, 0.5])
    cov = np.diag([1.0, 4.0, 1e-4, 9.0, 0.25, 0.5, 1e-6, 0.1])
    new_mean, new_cov = warp_xyah_state(mean, cov, WARP)
    # centre (3, 4) -> (-8 + 10, 6 + 20); velocity (1, -1) -> (2, 2); h, vh x2; a, va unchanged
    np.testing.assert_allclose(new_mean, [2.0, 26.0, 0.5, 20.0, 2.0, 2.0, 0.01, 1.0])
    # var x' = 4 var y = 16, var y' = 4 var x = 4; var h x4; var vx' = 4 * 0.5, var vy' = 4 * 0.25
    np.testing.assert_allclose(np.diag(new_cov), [16.0, 4.0, 1e-4, 36.0, 2.0, 1.0, 1e-6, 0.4])
    assert np.count_nonzero(new_cov - np.diag(np.diag(new_cov))) == 0
    batch_mean, batch_cov = warp_xyah_state(np.stack([mean, mean]), np.stack([cov, cov]), WARP)
    np.testing.assert_allclose(batch_mean[1], new_mean)
    np.testing.assert_allclose(batch_cov[1], new_cov)


def test_warp_xysr_state_by_hand():
    state = np.array([3.0, 4.0, 50.0, 0.5, 1.0, -1.0, 5.0])
    cov = np.eye(7)
    cov[0, 4] = cov[4, 0] = 0.5
    new_state, new_cov = warp_xysr_state(state, cov, WARP)
    # areas and their velocity scale by det A = 4
    np.testing.assert_allclose(new_state, [2.0, 26.0, 200.0, 0.5, 2.0, 2.0, 20.0])
    np.testing.assert_allclose(np.diag(new_cov), [4, 4, 16, 1, 4, 4, 16])
    # cov(x, vx) = 0.5 moves to cov(y', vy') = 2 * 2 * 0.5
    assert new_cov[1, 5] == pytest.approx(2.0) and new_cov[0, 4] == 0.0


def test_warp_boxes():
    boxes = np.array([[0.0, 0.0, 4.0, 2.0], [2.0, 2.0, 4.0, 6.0]])
    # centre (2, 1) -> (8, 24), size x2 -> (8, 4); centre (3, 4) -> (2, 26), size (4, 8)
    expected = np.array([[4.0, 22.0, 12.0, 26.0], [0.0, 22.0, 4.0, 30.0]])
    np.testing.assert_allclose(warp_boxes(boxes, WARP), expected)
    np.testing.assert_allclose(warp_boxes(boxes[1], WARP), expected[1])
    np.testing.assert_allclose(warp_boxes(boxes, np.eye(2, 3)), boxes)
