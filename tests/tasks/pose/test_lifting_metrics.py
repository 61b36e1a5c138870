"""3D pose errors against slow references: Procrustes (Horn's quaternion method), scale-only alignment (a 1-D
minimiser), velocity errors (a loop); the metric's keys, grouping and velocities across samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from scipy.spatial.transform import Rotation

from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.pose.lifting.metrics import (
    MPJPEMetric,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    procrustes_align,
    scale_align,
)


def _horn_similarity(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """One pose aligned by Horn's closed form (1987): the rotation from the top eigenvector of the 4x4
    quaternion matrix, then the least-squares scale and translation; float64 loops."""
    y = pred - pred.mean(axis=0)
    x = target - target.mean(axis=0)
    s = np.zeros((3, 3))
    for a, b in zip(y, x):
        s += np.outer(a, b)
    (sxx, sxy, sxz), (syx, syy, syz), (szx, szy, szz) = s
    n = np.array(
        [
            [sxx + syy + szz, syz - szy, szx - sxz, sxy - syx],
            [syz - szy, sxx - syy - szz, sxy + syx, szx + sxz],
            [szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy],
            [sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz],
        ]
    )
    values, vectors = np.linalg.eigh(n)
    w, qx, qy, qz = vectors[:, np.argmax(values)]
    rotation = Rotation.from_quat([qx, qy, qz, w]).as_matrix()
    rotated = np.array([rotation @ a for a in y])
    scale = sum(float(r @ b) for r, b in zip(rotated, x)) / sum(float(a @ a) for a in y)
    return scale * rotated + target.mean(axis=0)


def test_procrustes_matches_horns_quaternion_method():
    rng = np.random.default_rng(0)
    target = rng.normal(scale=300, size=(20, 17, 3))
    pred = target + rng.normal(scale=60, size=target.shape)
    aligned = procrustes_align(pred, target)
    reference = np.stack([_horn_similarity(p, t) for p, t in zip(pred, target)])
    np.testing.assert_allclose(aligned, reference, atol=1e-8)
    slow = np.mean([np.linalg.norm(r - t, axis=-1).mean() for r, t in zip(reference, target)])
    assert p_mpjpe(pred, target) == pytest.approx(slow, rel=1e-12)


def test_a_rotated_scaled_translated_pose_aligns_to_zero_error_in_mm():
    rng = np.random.default_rng(1)
    target = rng.normal(scale=300, size=(5, 17, 3))
    rotation = Rotation.random(5, random_state=2).as_matrix()
    pred = 0.7 * np.einsum("nij,nkj->nki", rotation, target) + np.array([120.0, -40.0, 900.0])
    assert mpjpe(pred, target) > 100
    assert p_mpjpe(pred, target) < 1e-9
    # scipy.spatial.procrustes would also give 0 here, but it rescales both poses to unit norm: its disparity
    # is not in millimetres. Ours leaves the target alone, so a noisy prediction's error keeps its units.
    noisy = pred + rng.normal(scale=10, size=pred.shape)
    assert 3 < p_mpjpe(noisy, target) < 20


def test_procrustes_never_reflects():
    rng = np.random.default_rng(3)
    target = rng.normal(scale=300, size=(4, 17, 3))
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    aligned = procrustes_align(mirrored, target)
    rotation_part = np.stack(
        [np.linalg.lstsq(m - m.mean(0), a - a.mean(0), rcond=None)[0] for m, a in zip(mirrored, aligned)]
    )
    assert np.all(np.linalg.det(rotation_part) > 0)
    assert p_mpjpe(mirrored, target) > 10


def test_a_pose_collapsed_to_a_point_gets_scale_zero():
    target = np.random.default_rng(4).normal(size=(1, 17, 3))
    aligned = procrustes_align(np.zeros((1, 17, 3)), target)
    np.testing.assert_allclose(aligned, np.broadcast_to(target.mean(axis=1, keepdims=True), target.shape))


def test_scale_alignment_minimises_the_squared_error():
    rng = np.random.default_rng(5)
    target = rng.normal(scale=300, size=(6, 17, 3))
    pred = 1.3 * target + rng.normal(scale=30, size=target.shape)
    aligned = scale_align(pred, target)
    for p, t, a in zip(pred, target, aligned):
        best = minimize_scalar(
            lambda s, p=p, t=t: float(((s * p - t) ** 2).sum()), bracket=(0.1, 3.0), tol=1e-12
        ).x
        np.testing.assert_allclose(a, best * p, rtol=1e-6)
    assert n_mpjpe(2.0 * target, target) < 1e-9
    assert n_mpjpe(pred, target) == pytest.approx(mpjpe(aligned, target))


def test_mpjve_against_a_loop_and_ignores_a_constant_offset():
    rng = np.random.default_rng(6)
    target = np.cumsum(rng.normal(scale=5, size=(30, 17, 3)), axis=0)
    pred = target + rng.normal(scale=3, size=target.shape)
    slow = np.mean(
        [
            np.linalg.norm((pred[t + 1, j] - pred[t, j]) - (target[t + 1, j] - target[t, j]))
            for t in range(29)
            for j in range(17)
        ]
    )
    assert mpjve(pred, target) == pytest.approx(slow, rel=1e-12)
    assert mpjve(target + 50.0, target) == pytest.approx(0.0, abs=1e-12)
    assert mpjpe(target + np.array([30.0, 40.0, 0.0]), target) == pytest.approx(50.0)


def _sample(pred, gt, path, offset, action):
    sample = DataSample(metainfo={"img_path": path, "frame_offset": offset, "action": action})
    sample.pred_instances = InstanceData(keypoints=torch.as_tensor(pred, dtype=torch.float32))
    sample.gt_instances = InstanceData(keypoints=torch.as_tensor(gt, dtype=torch.float32))
    return sample


def test_metric_keys_values_and_velocities_across_window_samples():
    rng = np.random.default_rng(7)
    gt = np.cumsum(rng.normal(scale=5, size=(2, 12, 17, 3)), axis=1).astype(np.float32)
    gt -= gt[:, :, :1]
    pred = (gt + rng.normal(scale=20, size=gt.shape)).astype(np.float32)
    pred[..., 0, :] = 0
    whole = MPJPEMetric()
    whole.process(None, [_sample(pred[i], gt[i], f"seq{i}", 0, ("walking", "waving")[i]) for i in range(2)])
    windows = MPJPEMetric()
    order = [(i, t) for t in (5, 0, 11, 3, 1, 2, 4, 6, 7, 8, 9, 10) for i in range(2)]  # shuffled frames
    windows.process(
        None,
        [
            _sample(pred[i, t : t + 1], gt[i, t : t + 1], f"seq{i}", t, ("walking", "waving")[i])
            for i, t in order
        ],
    )
    first, second = whole.evaluate(2), windows.evaluate(len(order))
    assert set(first) == {
        "pose3d/MPJPE",
        "pose3d/P-MPJPE",
        "pose3d/N-MPJPE",
        "pose3d/MPJVE",
        "pose3d/MPJPE_walking",
        "pose3d/MPJPE_waving",
        "pose3d/MPJPE_action_mean",
        "pose3d/P-MPJPE_walking",
        "pose3d/P-MPJPE_waving",
        "pose3d/P-MPJPE_action_mean",
    }
    for key, value in first.items():
        assert second[key] == pytest.approx(value, rel=1e-9), key
    flat_pred, flat_gt = pred.astype(np.float64), gt.astype(np.float64)
    assert first["pose3d/MPJPE"] == pytest.approx(mpjpe(flat_pred, flat_gt), rel=1e-12)
    assert first["pose3d/MPJVE"] == pytest.approx(
        np.mean([mpjve(flat_pred[0], flat_gt[0]), mpjve(flat_pred[1], flat_gt[1])]), rel=1e-12
    )
    assert first["pose3d/MPJPE_waving"] == pytest.approx(mpjpe(flat_pred[1], flat_gt[1]), rel=1e-12)


def test_metric_errors_name_the_missing_field_and_bad_modes():
    metric = MPJPEMetric()
    sample = DataSample(metainfo={"img_path": "a.npz"})
    sample.gt_instances = InstanceData(keypoints=torch.zeros(1, 17, 3))
    with pytest.raises(KeyError, match="pred_instances"):
        metric.process(None, [sample])
    with pytest.raises(ValueError, match="unknown modes"):
        MPJPEMetric(modes=("pck",))
