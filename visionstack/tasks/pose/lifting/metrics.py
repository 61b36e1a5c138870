"""3D pose errors (millimetres): MPJPE, P-MPJPE, N-MPJPE and MPJVE, and the metric that reports them.

The error functions are NumPy (float64) and take poses ``(N, J, 3)``:

- **MPJPE**: the mean Euclidean distance between predicted and true joints (protocol #1 of Human3.6M when
  both are root-relative).
- **P-MPJPE**: MPJPE after a similarity (Procrustes) alignment of each predicted pose to its ground truth:
  the rotation, translation *and scale* minimising the squared error, fitted per pose by SVD (Umeyama 1991;
  protocol #2). Unlike ``scipy.spatial.procrustes``, which rescales both poses to unit norm, only the
  prediction is moved, so the error stays in millimetres.
- **N-MPJPE**: MPJPE after scaling each predicted pose by the factor minimising the squared error (no rotation
  or translation; Rhodin et al. 2018, as VideoPose3D computes it).
- **MPJVE**: the mean Euclidean distance between the predicted and the true joint velocities, the first
  differences of consecutive frames of a sequence (mm per frame; VideoPose3D's velocity error).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ....evaluation.metric import BaseMetric, sample_fields
from ....registry import METRICS

__all__ = ["MPJPEMetric", "mpjpe", "mpjve", "n_mpjpe", "p_mpjpe", "procrustes_align", "scale_align"]

MODES = ("mpjpe", "p-mpjpe", "n-mpjpe", "mpjve")
KEY_NAMES = {"mpjpe": "MPJPE", "p-mpjpe": "P-MPJPE", "n-mpjpe": "N-MPJPE", "mpjve": "MPJVE"}


def _poses(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if pred.shape != target.shape or pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"pose errors need equal (..., J, 3) shapes, got {pred.shape} and {target.shape}")
    return pred, target


def joint_errors(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(..., J) Euclidean distances between corresponding joints."""
    pred, target = _poses(pred, target)
    return np.linalg.norm(pred - target, axis=-1)


def mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean per-joint position error of poses (..., J, 3)."""
    return float(joint_errors(pred, target).mean())


def procrustes_align(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Each pose of ``pred`` (N, J, 3) moved by the similarity transform ``s R p + t`` (rotation, no
    reflection) that best fits it to the same pose of ``target`` in the least-squares sense.

    With centred joints ``x = target - mean``, ``y = pred - mean`` and the SVD ``sum_j x_j y_j^T = U S V^T``,
    ``R = U D V^T`` with ``D = diag(1, 1, det(U V^T))``, ``s = trace(S D) / sum_j |y_j|^2`` and
    ``t = mean(target) - s R mean(pred)`` (Umeyama 1991). A pose with all joints at one point gets ``s = 0``.
    """
    pred, target = _poses(pred, target)
    pred_mean, target_mean = pred.mean(axis=-2, keepdims=True), target.mean(axis=-2, keepdims=True)
    y, x = pred - pred_mean, target - target_mean
    covariance = np.einsum("...ji,...jk->...ik", x, y)  # sum_j x_j y_j^T, (N, 3, 3)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(u @ vt))
    sign[sign == 0] = 1.0
    correction = np.ones_like(singular)
    correction[..., -1] = sign
    rotation = (u * correction[..., None, :]) @ vt  # U D V^T
    spread = (y**2).sum(axis=(-2, -1))
    trace = (singular * correction).sum(axis=-1)
    scale = np.divide(trace, spread, out=np.zeros_like(trace), where=spread > 0)
    return scale[..., None, None] * y @ np.swapaxes(rotation, -1, -2) + target_mean


def scale_align(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Each pose of ``pred`` (N, J, 3) times the scale ``<pred, target> / <pred, pred>`` that best fits it to
    ``target`` (0 for an all-zero pose)."""
    pred, target = _poses(pred, target)
    numerator = (pred * target).sum(axis=(-2, -1))
    denominator = (pred * pred).sum(axis=(-2, -1))
    scale = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
    return scale[..., None, None] * pred


def p_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after the per-pose similarity alignment of :func:`procrustes_align`."""
    return mpjpe(procrustes_align(pred, target), target)


def n_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after the per-pose scale alignment of :func:`scale_align`."""
    return mpjpe(scale_align(pred, target), target)


def velocity_errors(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(T - 1, J) distances between predicted and true joint velocities of one sequence (T, J, 3), mm/frame."""
    pred, target = _poses(pred, target)
    return np.linalg.norm(np.diff(pred, axis=0) - np.diff(target, axis=0), axis=-1)


def mpjve(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean per-joint velocity error of one sequence (T, J, 3) of consecutive frames, mm per frame."""
    return float(velocity_errors(pred, target).mean())


@METRICS.register()
class MPJPEMetric(BaseMetric):
    """MPJPE, P-MPJPE, N-MPJPE and MPJVE (mm) of root-relative 3D poses (see the module docstring).

    ``process`` reads each sample's ``pred_instances.keypoints`` and ``gt_instances.keypoints`` (F, J, 3) and
    the metainfo ``img_path`` (the sequence), ``frame_offset`` (its first frame in the sequence) and
    ``action``. Both poses are made relative to ``root_index`` first. Velocities are taken between consecutive
    frames of one sequence, across samples too (samples of a sequence are ordered by ``frame_offset``).

    Args:
        modes: which errors to report, of ``mpjpe``, ``p-mpjpe``, ``n-mpjpe``, ``mpjve``.
        per_action: also report ``MPJPE_<action>`` and ``P-MPJPE_<action>`` per action, and their means over
            the actions, ``MPJPE_action_mean`` (Human3.6M's protocol averages the actions).
        root_index: the root joint.
        collect_device, prefix: see :class:`~visionstack.evaluation.BaseMetric`.

    Keys: ``pose3d/MPJPE``, ``pose3d/P-MPJPE``, ``pose3d/N-MPJPE``, ``pose3d/MPJVE`` (averages over every frame
    and joint), and the per-action ones.
    """

    default_prefix = "pose3d"

    def __init__(
        self,
        modes: Sequence[str] = MODES,
        per_action: bool = True,
        root_index: int = 0,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        unknown = [mode for mode in modes if mode not in MODES]
        if unknown or not modes:
            raise ValueError(f"MPJPEMetric: unknown modes {unknown}; choose from {MODES}")
        self.modes = tuple(modes)
        self.per_action = bool(per_action)
        self.root_index = int(root_index)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            pred, gt = sample_fields(
                sample,
                ("pred_instances", "gt_instances"),
                "MPJPEMetric",
                index,
                "predicted and true 3D keypoints",
            )
            meta = sample.metainfo
            self.results.append(
                {
                    "pred": _numpy(pred.keypoints),
                    "gt": _numpy(gt.keypoints),
                    "sequence": str(meta.get("img_path", f"sample {len(self.results)}")),
                    "frame_offset": int(meta.get("frame_offset", 0)),
                    "action": str(meta.get("action", "")),
                }
            )

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        root = self.root_index
        pred = [np.asarray(r["pred"], np.float64) for r in results]
        gt = [np.asarray(r["gt"], np.float64) for r in results]
        for index, (p, g) in enumerate(zip(pred, gt)):
            if p.shape != g.shape:
                raise ValueError(
                    f"MPJPEMetric: {results[index]['sequence']} frame {results[index]['frame_offset']}: prediction "
                    f"{p.shape} and ground truth {g.shape} differ"
                )
        pred = [p - p[:, root : root + 1] for p in pred]
        gt = [g - g[:, root : root + 1] for g in gt]
        poses, truths = np.concatenate(pred), np.concatenate(gt)
        actions = np.concatenate([[r["action"]] * len(p) for r, p in zip(results, pred)])
        per_frame = {
            "mpjpe": joint_errors(poses, truths).mean(axis=-1),
            "p-mpjpe": joint_errors(procrustes_align(poses, truths), truths).mean(axis=-1),
            "n-mpjpe": joint_errors(scale_align(poses, truths), truths).mean(axis=-1),
        }
        metrics: dict[str, float] = {}
        for mode in self.modes:
            if mode == "mpjve":
                velocities = _sequence_velocity_errors(results, pred, gt)
                if velocities.size:
                    metrics["MPJVE"] = float(velocities.mean())
            else:
                metrics[KEY_NAMES[mode]] = float(per_frame[mode].mean())
        if self.per_action and all(action != "" for action in actions):
            for mode in ("mpjpe", "p-mpjpe"):
                if mode not in self.modes:
                    continue
                values = {
                    action: float(per_frame[mode][actions == action].mean())
                    for action in sorted(set(actions))
                }
                metrics.update({f"{KEY_NAMES[mode]}_{action}": value for action, value in values.items()})
                metrics[f"{KEY_NAMES[mode]}_action_mean"] = float(np.mean(list(values.values())))
        return metrics


def _sequence_velocity_errors(
    results: list[dict], pred: list[np.ndarray], gt: list[np.ndarray]
) -> np.ndarray:
    """Velocity errors (flattened) within each run of consecutive frames of each sequence."""
    by_sequence: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(results):
        by_sequence[record["sequence"]].append(index)
    errors = []
    for sequence in sorted(by_sequence):
        runs: list[list[int]] = []
        expected = None
        for index in sorted(by_sequence[sequence], key=lambda i: results[i]["frame_offset"]):
            offset = results[index]["frame_offset"]
            if offset != expected:  # a gap (or an overlap) starts a new run
                runs.append([])
            runs[-1].append(index)
            expected = offset + len(pred[index])
        for run in runs:
            if sum(len(pred[i]) for i in run) > 1:
                run_pred = np.concatenate([pred[i] for i in run])
                errors.append(velocity_errors(run_pred, np.concatenate([gt[i] for i in run])).ravel())
    return np.concatenate(errors) if errors else np.zeros(0)


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().float().numpy()
    return np.asarray(value, dtype=np.float32)
