"""Calibrated keypoint confidences: fit how likely a keypoint is right given its score, and measure it.

A top-down model's keypoint score is not a probability: heatmap heads give the heatmap's maximum (a regressed
Gaussian peak of 1 that shrinks with doubt), SimCC heads the smaller of the x/y classifiers' maxima, raw logits
with ``normalize=False`` (RTMPose's scores often exceed 1). Yet ``infer`` draws a keypoint when its score
reaches a threshold, as if it were one. Calibration (Guo et al. 2017, "On Calibration of Modern Neural
Networks") maps the score to the frequency with which such keypoints are right.

**Right.** A labelled keypoint is right when its own Object Keypoint Similarity reaches ``oks_thr`` (0.5):
``exp(-d^2 / (2 s^2 k^2))`` with ``d`` the pixel distance to the ground truth, ``s^2`` the annotation's
``area`` and ``k = 2 sigma`` the keypoint's COCO constant (:func:`keypoint_oks`, pycocotools' per-keypoint
term of ``computeOks``). OKS 0.5 is the loosest threshold of COCO keypoint AP and scales with the person and
with how precisely people annotate that keypoint, so the event means the same for a nose and a hip, a near and
a far person. Unlabelled keypoints (``v = 0``) have no answer and are left out.

**The calibrator.** ``p = sigmoid(slope * score + bias)``, i.e. ``sigmoid((score - centre) / T)`` with the
temperature ``T = 1 / slope`` and the centre ``-bias / slope`` (the score at which half the keypoints are
right): Platt scaling (Platt 1999), the two-parameter form of temperature scaling for a binary event. One
temperature is enough for softmax outputs because a softmax ignores a shift of its logits; these scores have
no such zero (SimCC logits trained with a softmax KL loss float by an arbitrary offset; a heatmap peak of 0.5
is no even bet), so the score at which ``p = 0.5`` must be fitted too, and ``sigmoid(logit(score) / T)`` is
undefined for scores outside (0, 1). ``slope >= 0`` keeps the scores' order (a monotone map: rankings, the
AP's OKS matching and the keypoints' argmax are unchanged). It is fitted by Newton's method on the negative
log-likelihood of the right/wrong labels of the validation split, with Platt's smoothed targets
``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)`` that keep it finite when every keypoint is right or wrong.

**ECE** (expected calibration error, Naeini et al. 2015): confidences in ``num_bins`` equal-width bins
``(i / B, (i + 1) / B]`` (0 in the first), ``sum_b n_b / N * |accuracy_b - mean confidence_b|``. Raw scores
are clipped to [0, 1] for it, as a drawing threshold reads them. The ECE after calibration is measured on the
data it was fitted on; :func:`cross_fitted_ece` also gives a held-out estimate (fit on half the people,
measure on the others).

``visionstack analyze calibration CONFIG CHECKPOINT --out-dir D`` (:func:`calibration_analysis`) runs the
model on the config's ``val_dataloader`` (ground-truth boxes), fits the calibration, writes
``D/calibration.json``, the reliability diagram ``D/reliability.png`` and ``D/calibrated.pth``, the weights
with the calibration in the model's buffers (``infer`` then draws keypoints by calibrated score).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "KeypointConfidences",
    "ScoreCalibration",
    "calibration_analysis",
    "collect_keypoint_confidences",
    "cross_fitted_ece",
    "expected_calibration_error",
    "fit_score_calibration",
    "keypoint_oks",
    "plot_reliability_diagram",
    "reliability_report",
]


# ---- what "right" means ----------------------------------------------------------------------------------
def keypoint_oks(keypoints: Any, gt_keypoints: Any, areas: Any, sigmas: Any) -> np.ndarray:
    """The OKS of each keypoint on its own: ``exp(-d^2 / (2 * area * (2 sigma)^2))``.

    Args:
        keypoints: (N, K, 2) predicted keypoints, pixels.
        gt_keypoints: (N, K, 2) the ground truth of the same people, pixels.
        areas: (N,) the annotations' areas (the OKS scale ``s^2``).
        sigmas: (K,) the per-keypoint COCO constants.

    Returns:
        (N, K) float64 in (0, 1].
    """
    pred, gt = np.asarray(keypoints, np.float64), np.asarray(gt_keypoints, np.float64)
    sigmas = np.asarray(sigmas, np.float64).reshape(-1)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[1:] != (len(sigmas), 2):
        raise ValueError(
            f"keypoint_oks: keypoints {pred.shape} and gt_keypoints {gt.shape} must both be (N, {len(sigmas)}, 2) "
            f"for {len(sigmas)} sigmas"
        )
    areas = np.asarray(areas, np.float64).reshape(-1, 1)
    squared = ((pred - gt) ** 2).sum(-1)
    # pycocotools' computeOks: variances (2 sigma)^2, the area plus the float spacing of 1
    return np.exp(-squared / ((2 * sigmas) ** 2 * (areas + np.spacing(1)) * 2))


# ---- the calibrator --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreCalibration:
    """``p = sigmoid(slope * score + bias)`` (see the module docstring); ``slope >= 0``."""

    slope: float
    bias: float

    @property
    def temperature(self) -> float | None:
        """``1 / slope`` (score units per unit of log-odds); None when the slope is 0 (a constant)."""
        return 1.0 / self.slope if self.slope > 0 else None

    @property
    def center(self) -> float | None:
        """The score calibrated to 0.5, ``-bias / slope``; None when the slope is 0."""
        return -self.bias / self.slope if self.slope > 0 else None

    def __call__(self, scores: Any) -> np.ndarray:
        """Calibrated confidences of raw scores (any shape), float64."""
        return _sigmoid(self.slope * np.asarray(scores, np.float64) + self.bias)

    def describe(self) -> str:
        """The map in words: ``sigmoid((score - c) / T)`` with the numbers, or the constant."""
        if self.temperature is None:
            return f"the constant {float(_sigmoid(np.float64(self.bias))):.4g}"
        return f"sigmoid((score - {self.center:.4g}) / {self.temperature:.4g})"

    def to_dict(self) -> dict[str, float | None]:
        """``slope``, ``bias``, ``temperature`` and ``center`` (JSON-ready)."""
        return {
            "slope": self.slope,
            "bias": self.bias,
            "temperature": self.temperature,
            "center": self.center,
        }


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _negative_log_likelihood(weights: np.ndarray, scores: np.ndarray, targets: np.ndarray) -> float:
    z = weights[0] * scores + weights[1]
    return float(np.sum(np.logaddexp(0.0, z) - targets * z))


def fit_score_calibration(scores: Any, correct: Any, max_iter: int = 100) -> ScoreCalibration:
    """The ``(slope >= 0, bias)`` of least negative log-likelihood of ``correct`` given ``scores``.

    Newton's method with a halving line search from the constant fit (slope 0); Platt's targets (module
    docstring). When the unconstrained optimum has a negative slope (higher scores right less often), the best
    order-keeping map is the constant ``sigmoid(logit(mean target))``: the objective is convex, so the
    constrained optimum lies on ``slope = 0``.

    Args:
        scores: (N,) raw scores.
        correct: (N,) whether each keypoint is right.
        max_iter: Newton steps at most.

    Raises:
        ValueError: on no scores, mismatched lengths or a non-finite score.
    """
    scores, correct = np.asarray(scores, np.float64).reshape(-1), np.asarray(correct, bool).reshape(-1)
    if len(scores) == 0 or len(scores) != len(correct) or not np.isfinite(scores).all():
        raise ValueError(
            f"fit_score_calibration: needs as many finite scores as labels, got {len(scores)} scores "
            f"({int(np.isfinite(scores).sum())} finite) and {len(correct)} labels"
        )
    positives = int(correct.sum())
    negatives = len(correct) - positives
    targets = np.where(correct, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    mean = float(targets.mean())
    constant = np.array([0.0, math.log(mean / (1 - mean))])
    features = np.stack([scores, np.ones_like(scores)], axis=1)
    weights, loss = constant, _negative_log_likelihood(constant, scores, targets)
    for _ in range(max_iter):
        p = _sigmoid(features @ weights)
        gradient = features.T @ (p - targets)
        hessian = (features * (p * (1 - p))[:, None]).T @ features + 1e-12 * len(scores) * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while size > 1e-10:
            candidate = weights - size * step
            candidate_loss = _negative_log_likelihood(candidate, scores, targets)
            if candidate_loss <= loss:
                break
            size /= 2
        else:
            break
        weights, improvement, loss = candidate, loss - candidate_loss, candidate_loss
        if improvement <= 1e-12 * max(1.0, loss) and np.abs(size * step).max() < 1e-9:
            break
    if weights[0] < 0:
        weights = constant
    return ScoreCalibration(float(weights[0]), float(weights[1]))


# ---- calibration error -----------------------------------------------------------------------------------
def _bin_index(confidences: np.ndarray, num_bins: int) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    # bin i holds (edges[i], edges[i + 1]]; 0 goes to bin 0
    return np.searchsorted(edges[1:-1], confidences, side="left")


def reliability_report(confidences: Any, correct: Any, num_bins: int = 15) -> dict[str, Any]:
    """Accuracy against confidence in ``num_bins`` equal-width bins, and the ECE (JSON-ready).

    Args:
        confidences: (N,) confidences; clipped to [0, 1].
        correct: (N,) whether each is right.
        num_bins: equal-width bins over [0, 1].

    Returns:
        ``{"ece", "count", "accuracy", "mean_confidence", "bins": [{"lower", "upper", "count",
        "confidence", "accuracy"}, ...]}``; an empty bin has ``confidence`` and ``accuracy`` None.
    """
    confidences = np.clip(np.asarray(confidences, np.float64).reshape(-1), 0.0, 1.0)
    correct = np.asarray(correct, bool).reshape(-1)
    if len(confidences) != len(correct) or num_bins < 1:
        raise ValueError(
            f"reliability_report: {len(confidences)} confidences, {len(correct)} labels, {num_bins} bins"
        )
    index = _bin_index(confidences, num_bins)
    counts = np.bincount(index, minlength=num_bins)
    confidence_sums = np.bincount(index, weights=confidences, minlength=num_bins)
    correct_sums = np.bincount(index, weights=correct.astype(np.float64), minlength=num_bins)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    bins = []
    for i in range(num_bins):
        filled = counts[i] > 0
        bins.append(
            {
                "lower": float(edges[i]),
                "upper": float(edges[i + 1]),
                "count": int(counts[i]),
                "confidence": float(confidence_sums[i] / counts[i]) if filled else None,
                "accuracy": float(correct_sums[i] / counts[i]) if filled else None,
            }
        )
    total = max(len(confidences), 1)
    return {
        "ece": float(np.abs(correct_sums - confidence_sums).sum() / total),
        "count": len(confidences),
        "accuracy": float(correct.mean()) if len(correct) else None,
        "mean_confidence": float(confidences.mean()) if len(confidences) else None,
        "bins": bins,
    }


def expected_calibration_error(confidences: Any, correct: Any, num_bins: int = 15) -> float:
    """``sum_b n_b / N * |accuracy_b - mean confidence_b|`` over equal-width bins (see the module docstring)."""
    return reliability_report(confidences, correct, num_bins)["ece"]


def cross_fitted_ece(
    scores: Any, correct: Any, groups: Any, num_bins: int = 15, folds: int = 2
) -> float | None:
    """The ECE of calibrations fitted without the data they are measured on.

    The keypoints are split by ``groups`` (e.g. the person index: a person's keypoints stay together) into
    ``folds`` parts (``group % folds``); each part is calibrated by a fit on the others. None when a part is
    empty.
    """
    scores, correct = np.asarray(scores, np.float64).reshape(-1), np.asarray(correct, bool).reshape(-1)
    fold = np.asarray(groups).reshape(-1) % folds
    calibrated = np.empty_like(scores)
    for part in range(folds):
        held_out = fold == part
        if held_out.all() or not held_out.any():
            return None
        calibrated[held_out] = fit_score_calibration(scores[~held_out], correct[~held_out])(scores[held_out])
    return expected_calibration_error(calibrated, correct, num_bins)


# ---- the reliability diagram -----------------------------------------------------------------------------
def plot_reliability_diagram(
    panels: Mapping[str, Mapping[str, Any]], out_path: str | Path, title: str | None = None
) -> Path:
    """Draw reliability diagrams side by side (matplotlib, Agg) and write them as a PNG.

    Each panel (title -> a :func:`reliability_report`): bars of the accuracy per confidence bin, the gap to
    the bin's mean confidence hatched in red, the diagonal of perfect calibration, the ECE and the number of
    samples in the title; below, the share of samples per bin.
    """
    from matplotlib.figure import Figure  # imported here: the module stays light without a drawing

    figure = Figure(figsize=(5.2 * len(panels), 6.4), layout="constrained")
    grid = figure.add_gridspec(2, len(panels), height_ratios=(3, 1))
    for column, (name, report) in enumerate(panels.items()):
        bins = report["bins"]
        lower = np.array([b["lower"] for b in bins])
        width = np.array([b["upper"] - b["lower"] for b in bins])
        filled = np.array([b["count"] > 0 for b in bins])
        accuracy = np.array([b["accuracy"] if b["count"] else 0.0 for b in bins])
        confidence = np.array([b["confidence"] if b["count"] else 0.0 for b in bins])
        axes = figure.add_subplot(grid[0, column])
        axes.bar(lower, accuracy, width, align="edge", color="#4878d0", edgecolor="black", label="accuracy")
        axes.bar(
            lower[filled],
            (confidence - accuracy)[filled],
            width[filled],
            bottom=accuracy[filled],
            align="edge",
            color="none",
            edgecolor="#d62728",
            hatch="//",
            label="gap to the confidence",
        )
        axes.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfectly calibrated")
        axes.set(xlim=(0, 1), ylim=(0, 1), ylabel="fraction right (OKS >= thr)")
        axes.set_title(f"{name}\nECE {report['ece']:.4f}, {report['count']} keypoints")
        axes.legend(loc="upper left", fontsize="small")
        counts = figure.add_subplot(grid[1, column], sharex=axes)
        share = np.array([b["count"] for b in bins]) / max(report["count"], 1)
        counts.bar(lower, share, width, align="edge", color="#999999", edgecolor="black")
        counts.set(xlabel="confidence", ylabel="share of keypoints")
    if title:
        figure.suptitle(title)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, dpi=100)
    return out_path


# ---- the analysis of a model -----------------------------------------------------------------------------
@dataclass
class KeypointConfidences:
    """What a model predicted for the labelled people of a split.

    Attributes:
        scores: (N, K) the raw keypoint scores.
        oks: (N, K) each keypoint's OKS (:func:`keypoint_oks`).
        labelled: (N, K) whether the keypoint is labelled (only these count).
    """

    scores: np.ndarray
    oks: np.ndarray
    labelled: np.ndarray

    def flat(self, oks_thr: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(scores, correct, person index)`` of the labelled keypoints, (M,) each."""
        person = np.broadcast_to(np.arange(len(self.scores))[:, None], self.scores.shape)
        mask = self.labelled
        return self.scores[mask], self.oks[mask] >= oks_thr, person[mask]


def _gt_field(sample: Any, name: str) -> np.ndarray:
    gt = sample.get("gt_instances")
    value = None if gt is None else gt.get(name)
    if value is None:
        raise KeyError(
            f"calibration: the val sample of {sample.metainfo.get('img_path')!r} (annotation "
            f"{sample.metainfo.get('id')!r}) has no gt_instances.{name}; the val pipeline must pack the ground "
            "truth (PackPoseInputs after a test-mode CocoKeypointsDataset)"
        )
    return np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, np.float64)


@torch.no_grad()
def collect_keypoint_confidences(model: Any, loader: Any, sigmas: Sequence[float]) -> KeypointConfidences:
    """Run a top-down model over a loader of packed people with ground truth; the raw scores and OKS.

    The model predicts as it is set (its flip test included); a score calibration it holds is switched off
    for the run and restored after it.
    """
    scores, oks, labelled = [], [], []
    previous = model.score_calibration.tolist() if bool(model.score_calibrated) else None
    model.set_score_calibration(None)
    try:
        for batch in loader:
            for sample in model.test_step(batch):
                pred = sample.pred_instances
                keypoints = pred.keypoints.detach().cpu().numpy().reshape(1, -1, 2)
                gt = _gt_field(sample, "keypoints").reshape(1, -1, 2)
                visible = _gt_field(sample, "keypoints_visible").reshape(1, -1)
                areas = _gt_field(sample, "areas").reshape(1)
                scores.append(pred.keypoint_scores.detach().cpu().numpy().reshape(1, -1).astype(np.float64))
                oks.append(keypoint_oks(keypoints, gt, areas, sigmas))
                labelled.append(visible > 0)
    finally:
        model.set_score_calibration(previous)
    if not scores:
        raise ValueError("calibration: the val loader gave no samples")
    return KeypointConfidences(np.concatenate(scores), np.concatenate(oks), np.concatenate(labelled))


def calibration_analysis(
    cfg: Mapping[str, Any],
    checkpoint: str | Path,
    out_dir: str | Path,
    device: str = "cpu",
    oks_thr: float = 0.5,
    num_bins: int = 15,
) -> dict[str, Any]:
    """``visionstack analyze calibration``: fit keypoint-score calibration on the val split; report ECE.

    Writes ``out_dir/calibration.json`` (the calibration, ECE before/after with their bins, the cross-fitted
    ECE), ``out_dir/reliability.png`` (before and after) and ``out_dir/calibrated.pth`` (the checkpoint's
    weights, meta and config, no training state, with the calibration in the model; a config whose
    ``model.test_cfg.score_calibration`` is set overrides it when loading).

    Returns:
        A summary: the temperature and centre, ECE before/after, the number of keypoints, the files.
    """
    model, stored = _load_calibratable_model(cfg, checkpoint, device)
    loader, sigmas = _val_loader_and_sigmas(cfg)
    scores, correct, person = collect_keypoint_confidences(model, loader, sigmas).flat(oks_thr)
    if len(scores) == 0:
        raise ValueError("analyze calibration: the val split has no labelled keypoint")
    calibration = fit_score_calibration(scores, correct)
    before = reliability_report(scores, correct, num_bins)
    after = reliability_report(calibration(scores), correct, num_bins)
    report = {
        "checkpoint": str(checkpoint),
        "oks_thr": oks_thr,
        "num_bins": num_bins,
        "keypoints": len(scores),
        "people": int(len(np.unique(person))),
        "calibration": calibration.to_dict(),
        "ece_before": before["ece"],
        "ece_after": after["ece"],
        "ece_after_cross_fitted": cross_fitted_ece(scores, correct, person, num_bins),
        "before": before,
        "after": after,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "calibration.json").write_text(json.dumps(report, indent=2))
    title = f"keypoint scores, right = OKS >= {oks_thr:g}; calibrated = {calibration.describe()}"
    plot_reliability_diagram(
        {"raw scores (clipped to [0, 1])": before, "calibrated": after}, out_dir / "reliability.png", title
    )
    _save_calibrated_checkpoint(model, stored, calibration, oks_thr, out_dir / "calibrated.pth")
    return {
        "temperature": calibration.temperature,
        "center": calibration.center,
        **{key: report[key] for key in ("ece_before", "ece_after", "ece_after_cross_fitted", "keypoints")},
        "report": str(out_dir / "calibration.json"),
        "diagram": str(out_dir / "reliability.png"),
        "checkpoint": str(out_dir / "calibrated.pth"),
    }


def _load_calibratable_model(
    cfg: Mapping[str, Any], checkpoint: str | Path, device: str
) -> tuple[Any, dict[str, Any]]:
    """The config's model with the checkpoint's weights, in eval mode on ``device``, and the checkpoint as read
    (once); a model without a score calibration is a config error."""
    from ...engine.checkpoint import load_state_dict, read_checkpoint
    from ...registry import MODELS, ConfigError, build
    from ...utils.checkpoint_io import extract_state_dict

    model = build(cfg["model"], MODELS)
    if not callable(getattr(model, "set_score_calibration", None)):
        raise ConfigError(f"analyze calibration: {type(model).__name__} holds no keypoint-score calibration")
    stored = read_checkpoint(checkpoint)
    load_state_dict(model, extract_state_dict(stored), strict=True, source=str(checkpoint))
    return model.to(device).eval(), stored


def _val_loader_and_sigmas(cfg: Mapping[str, Any]) -> tuple[Any, Any]:
    """The val loader (unshuffled) and its dataset's OKS sigmas."""
    from ...engine.data_loading import build_dataloader
    from ...registry import ConfigError

    if cfg.get("val_dataloader") is None:
        raise ConfigError("analyze calibration: the config has no val_dataloader")
    loader = build_dataloader(cfg["val_dataloader"], seed=0, shuffle=False, path="val_dataloader")
    sigmas = (getattr(loader.dataset, "metainfo", None) or {}).get("sigmas")
    if sigmas is None:
        raise ConfigError("analyze calibration: the val dataset's metainfo has no OKS 'sigmas'")
    return loader, sigmas


def _save_calibrated_checkpoint(
    model: Any, stored: Mapping[str, Any], calibration: Any, oks_thr: float, path: Path
) -> None:
    """The checkpoint's weights, meta and config (no training state) with ``calibration`` in the model and its
    meta."""
    from ...engine.checkpoint import save_checkpoint, weights_only_safe, weights_to_cpu

    model.set_score_calibration((calibration.slope, calibration.bias))
    meta = stored.get("meta", {}) if isinstance(stored.get("state_dict"), Mapping) else {}
    calibrated = {key: stored[key] for key in ("config",) if key in stored}
    calibrated["meta"] = dict(meta, score_calibration=dict(calibration.to_dict(), oks_thr=oks_thr))
    calibrated["state_dict"] = weights_to_cpu(model.state_dict())
    save_checkpoint(weights_only_safe(calibrated), path)
