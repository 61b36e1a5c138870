"""Association costs: IoU against a float64 loop, χ² table against SciPy, gating and fusion by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from visionstack.tasks.tracking.costs import (
    CHI2INV95,
    embedding_distance,
    fuse_motion,
    fuse_score,
    gate_cost_matrix,
    iou_cost,
    iou_matrix,
)
from visionstack.tasks.tracking.kalman_xyah import KalmanFilterXYAH


def _iou_loop(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((len(a), len(b)))
    for i, (ax1, ay1, ax2, ay2) in enumerate(a):
        for j, (bx1, by1, bx2, by2) in enumerate(b):
            iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
            ih = max(0.0, min(ay2, by2) - max(ay1, by1))
            union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - iw * ih
            out[i, j] = iw * ih / union if union > 0 else 0.0
    return out


def _random_boxes(rng, n):
    top_left = rng.uniform(0, 100, (n, 2))
    return np.concatenate([top_left, top_left + rng.uniform(1, 60, (n, 2))], axis=1)


def test_iou_against_a_loop():
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 17), _random_boxes(rng, 11)
    b[0] = a[0]  # identical pair
    b[1] = [500, 500, 510, 510]  # disjoint from all
    expected = _iou_loop(a, b)
    assert expected[0, 0] == 1.0 and np.all(expected[:, 1] == 0)
    np.testing.assert_allclose(iou_matrix(a, b), expected, rtol=1e-12)
    np.testing.assert_allclose(iou_cost(a, b), 1 - expected, rtol=1e-12)
    # plain areas: two 10 x 10 boxes overlapping by half have IoU 50 / 150
    assert iou_matrix([[0, 0, 10, 10]], [[5, 0, 15, 10]])[0, 0] == pytest.approx(1 / 3)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 11)
    assert iou_matrix([[1, 1, 1, 1]], [[1, 1, 1, 1]])[0, 0] == 0.0  # degenerate: no NaN


def test_fuse_score():
    cost = np.array([[0.2, 0.9], [1.0, 0.5]])
    np.testing.assert_allclose(
        fuse_score(cost, [0.5, 1.0]), [[1 - 0.8 * 0.5, 1 - 0.1], [1.0, 0.5]], rtol=1e-12
    )


def test_chi2_table_against_scipy():
    for dof, value in CHI2INV95.items():
        assert value == pytest.approx(chi2.ppf(0.95, dof), abs=6e-4)


def _tracks_and_detections():
    kf = KalmanFilterXYAH()
    means, covs = zip(*[kf.initiate(z) for z in ([100.0, 100.0, 0.5, 80.0], [300.0, 120.0, 0.4, 100.0])])
    means, covs = kf.multi_predict(np.stack(means), np.stack(covs))
    detections = np.array(
        [
            [101.0, 99.0, 0.5, 81.0],
            [160.0, 100.0, 0.5, 80.0],
            [302.0, 121.0, 0.4, 99.0],
            [300.0, 120.0, 0.9, 100.0],
        ]
    )
    return kf, means, covs, detections


@pytest.mark.parametrize("only_position", [False, True])
def test_gate_cost_matrix(only_position):
    kf, means, covs, detections = _tracks_and_detections()
    cost = np.full((2, 4), 0.3)
    gated = gate_cost_matrix(kf, cost, means, covs, detections, only_position=only_position, gated_cost=1e5)
    threshold = chi2.ppf(0.95, 2 if only_position else 4)
    for row in range(2):
        distance = kf.gating_distance(means[row], covs[row], detections, only_position)
        np.testing.assert_array_equal(gated[row] == 1e5, distance > threshold)
    # near detections pass, a 60 px jump is gated; the aspect jump only with the full measurement
    assert gated[0, 0] == 0.3 and gated[1, 2] == 0.3 and gated[0, 1] == 1e5
    assert (gated[1, 3] == 1e5) != only_position
    assert np.all(cost == 0.3)  # the input is left alone


def test_fuse_motion():
    kf, means, covs, detections = _tracks_and_detections()
    cost = np.random.default_rng(0).uniform(0, 1, (2, 4))
    fused = fuse_motion(kf, cost, means, covs, detections, lambda_=0.9)
    for row in range(2):
        distance = kf.gating_distance(means[row], covs[row], detections)
        expected = np.where(distance > CHI2INV95[4], np.inf, 0.9 * cost[row] + 0.1 * distance)
        np.testing.assert_allclose(fused[row], expected, rtol=1e-12)
    assert fuse_motion(kf, np.zeros((2, 0)), means, covs, np.zeros((0, 4))).shape == (2, 0)


def test_embedding_distance():
    rng = np.random.default_rng(0)
    tracks, dets = rng.normal(size=(3, 8)), rng.normal(size=(5, 8))
    unit_tracks = tracks / np.linalg.norm(tracks, axis=1, keepdims=True)
    unit_dets = dets / np.linalg.norm(dets, axis=1, keepdims=True)
    np.testing.assert_allclose(embedding_distance(tracks, dets), 1 - unit_tracks @ unit_dets.T, rtol=1e-12)
    assert embedding_distance(tracks, tracks)[0, 0] >= 0.0
    np.testing.assert_allclose(
        embedding_distance(tracks, dets, metric="euclidean"),
        np.linalg.norm(tracks[:, None] - dets[None], axis=2),
        rtol=1e-12,
    )
    assert embedding_distance(np.zeros((0, 8)), dets).shape == (0, 5)
