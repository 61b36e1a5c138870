"""Calibrated keypoint confidences: per-keypoint OKS, ECE, the fitted calibration, the model's buffers and
``visionstack analyze calibration`` end to end."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from visionstack.cli import main
from visionstack.config import Config
from visionstack.inference import Inferencer
from visionstack.models.backbones.cspnext import CSPNeXt
from visionstack.registry import MODELS, ConfigError, build
from visionstack.tasks.adapter import PredictionContext, get_adapter
from visionstack.tasks.pose.calibration import (
    ScoreCalibration,
    cross_fitted_ece,
    expected_calibration_error,
    fit_score_calibration,
    keypoint_oks,
    plot_reliability_diagram,
    reliability_report,
)
from visionstack.tasks.pose.codecs import SimCCLabel
from visionstack.tasks.pose.metainfo import COCO_KEYPOINTS
from visionstack.tasks.pose.metrics import oks_iou
from visionstack.tasks.pose.models import RTMCCHead, TopdownPoseEstimator
from visionstack.tasks.pose.synthetic import synth_pose

REPO = Path(__file__).resolve().parents[3]
CONFIG = str(REPO / "configs/pose/rtmpose-t_synth-128x96.py")
FLIP = (0, 2, 1)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z, np.float64)))


# ---- what "right" means -------------------------------------------------------------------------------------
def test_keypoint_oks_is_cocoevals_oks_of_each_keypoint_alone():
    rng = np.random.default_rng(0)
    sigmas = np.asarray(COCO_KEYPOINTS["sigmas"])
    gt = rng.uniform(0, 200, (3, 17, 2))
    pred = gt + rng.normal(0, 6, gt.shape)
    areas = rng.uniform(2000, 9000, 3)
    ours = keypoint_oks(pred, gt, areas, sigmas)
    for person in range(3):
        for k in range(17):
            alone = np.eye(17)[k][None]  # only keypoint k labelled: the OKS is that keypoint's term
            reference = oks_iou(
                pred[person : person + 1],
                gt[person : person + 1],
                areas[person : person + 1],
                sigmas,
                gt_visible=alone,
            )
            assert ours[person, k] == pytest.approx(reference[0, 0], rel=1e-12)
    # by hand: d^2 = 2 * area * (2 sigma)^2 * ln 2 gives exactly one half
    d = math.sqrt(2 * 1000.0 * (2 * 0.1) ** 2 * math.log(2))
    assert keypoint_oks([[[d, 0.0]]], [[[0.0, 0.0]]], [1000.0], [0.1])[0, 0] == pytest.approx(0.5, rel=1e-9)
    with pytest.raises(ValueError, match="must both be"):
        keypoint_oks(pred[:, :5], gt, areas, sigmas)


# ---- ECE ----------------------------------------------------------------------------------------------------
def slow_ece(confidences, correct, num_bins):
    """Float64 loop: bins (lo, hi] with 0 in the first; |accuracy - confidence| weighted by the bin share."""
    confidences = [min(max(float(c), 0.0), 1.0) for c in confidences]
    edges = np.linspace(0, 1, num_bins + 1)
    total, rows = 0.0, []
    for i in range(num_bins):
        members = [
            j for j, c in enumerate(confidences) if (edges[i] < c <= edges[i + 1]) or (i == 0 and c == 0.0)
        ]
        rows.append(len(members))
        if members:
            accuracy = sum(bool(correct[j]) for j in members) / len(members)
            confidence = sum(confidences[j] for j in members) / len(members)
            total += len(members) / len(confidences) * abs(accuracy - confidence)
    return total, rows


def test_ece_equals_a_slow_loop_including_bin_edges_and_out_of_range_scores():
    rng = np.random.default_rng(1)
    edges = np.linspace(0, 1, 16)
    confidences = np.concatenate([rng.uniform(-0.2, 1.3, 500), edges, edges, [0.0, 1.0, 2.5, -1.0]])
    correct = rng.random(len(confidences)) < 0.6
    report = reliability_report(confidences, correct, 15)
    reference, counts = slow_ece(confidences, correct, 15)
    assert report["ece"] == pytest.approx(reference, rel=1e-12, abs=1e-15)
    assert [b["count"] for b in report["bins"]] == counts and report["count"] == len(confidences)
    assert expected_calibration_error(confidences, correct, 7) == pytest.approx(
        slow_ece(confidences, correct, 7)[0]
    )


def test_perfectly_calibrated_data_has_an_ece_near_zero():
    rng = np.random.default_rng(2)
    confidences = rng.random(200_000)
    correct = rng.random(len(confidences)) < confidences
    assert expected_calibration_error(confidences, correct) < 0.006


def test_known_miscalibrations_give_their_ece():
    # hand-made: ten keypoints at 0.9 of which 6 are right (gap 0.3), ten at 0.2 of which 2 are right (gap 0)
    confidences = [0.9] * 10 + [0.2] * 10
    correct = [True] * 6 + [False] * 4 + [True] * 2 + [False] * 8
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.15, abs=1e-12)
    report = reliability_report(confidences, correct)
    filled = [b for b in report["bins"] if b["count"]]
    pairs = [value for b in filled for value in (b["confidence"], b["accuracy"])]
    assert pairs == pytest.approx([0.2, 0.2, 0.9, 0.6])
    # accuracy c^2 at confidence c: the gap c - c^2 keeps its sign, so the ECE tends to E[c - c^2] = 1/6
    rng = np.random.default_rng(3)
    c = rng.random(200_000)
    assert expected_calibration_error(c, rng.random(len(c)) < c**2) == pytest.approx(1 / 6, abs=0.006)


# ---- the fit ------------------------------------------------------------------------------------------------
def synthetic_scores(n, temperature, center, seed):
    """Scores of a known calibration: probabilities drawn, then distorted into raw scores by the inverse map
    ``score = center + temperature * logit(p)``; right with probability p."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    scores = center + temperature * np.log(p / (1 - p))
    return scores, rng.random(n) < p


def test_the_fit_recovers_a_known_temperature_and_centre():
    scores, correct = synthetic_scores(40_000, temperature=0.15, center=0.6, seed=4)
    fitted = fit_score_calibration(scores, correct)
    assert fitted.temperature == pytest.approx(0.15, rel=0.04)
    assert fitted.center == pytest.approx(0.6, abs=0.01)
    # it is the minimum of the same objective (Platt's targets) that SciPy finds
    positives = correct.sum()
    targets = np.where(correct, (positives + 1) / (positives + 2), 1 / (len(correct) - positives + 2))

    def nll(w):
        z = w[0] * scores + w[1]
        return np.sum(np.logaddexp(0, z) - targets * z)

    reference = minimize(nll, [1.0, 0.0], method="BFGS", options=dict(gtol=1e-8)).x
    np.testing.assert_allclose([fitted.slope, fitted.bias], reference, rtol=1e-4)
    # calibrated, the same scores are: the ECE drops from the raw scores' to that of perfectly calibrated data
    assert expected_calibration_error(scores, correct) > 0.1
    assert expected_calibration_error(fitted(scores), correct) < 0.015
    assert cross_fitted_ece(scores, correct, np.arange(len(scores)) // 17) < 0.02


def test_the_fit_keeps_the_order_and_stays_finite_on_degenerate_data():
    scores = np.linspace(0, 1, 200)
    # higher scores right less often: the best order-keeping map is the constant base rate
    flipped = fit_score_calibration(scores, scores < 0.3)
    assert flipped.slope == 0 and flipped.temperature is None and flipped.center is None
    assert flipped(0.7) == pytest.approx((60 + 1) / (60 + 2) * 60 / 200 + 1 / (140 + 2) * 140 / 200)
    # every keypoint wrong: Platt's targets keep the bias finite, the probability 1 / (N + 2)
    wrong = fit_score_calibration(scores, np.zeros(200, bool))
    assert np.isfinite(wrong.bias) and wrong(scores).max() < 0.05
    with pytest.raises(ValueError, match="finite scores"):
        fit_score_calibration([0.1, np.nan], [True, False])
    assert ScoreCalibration(2.0, -1.0).to_dict() == {
        "slope": 2.0,
        "bias": -1.0,
        "temperature": 0.5,
        "center": 0.5,
    }
    assert cross_fitted_ece(scores, scores > 0.5, np.zeros(200, int)) is None  # one part would be empty


def test_reliability_diagram_is_written(tmp_path):
    scores, correct = synthetic_scores(2000, 0.2, 0.4, seed=5)
    fitted = fit_score_calibration(scores, correct)
    panels = {
        "raw": reliability_report(scores, correct),
        "calibrated": reliability_report(fitted(scores), correct),
    }
    path = plot_reliability_diagram(panels, tmp_path / "sub" / "reliability.png", "synthetic")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- the calibration in the model ---------------------------------------------------------------------------
def tiny_model(**test_cfg) -> TopdownPoseEstimator:
    torch.manual_seed(0)
    codec = SimCCLabel(input_size=(32, 32), sigma=2.0, simcc_split_ratio=2.0, normalize=False)
    head = RTMCCHead(128, 3, (32, 32), (1, 1), gau_cfg=dict(hidden_dims=16, s=8), decoder=codec)
    backbone = CSPNeXt(deepen_factor=0.167, widen_factor=0.125, out_indices=(4,))
    return TopdownPoseEstimator(backbone, head, test_cfg=dict(flip_indices=FLIP, **test_cfg)).eval()


def test_the_calibration_changes_predicted_scores_as_the_formula_says_and_survives_a_checkpoint(tmp_path):
    inputs = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    model = tiny_model()
    with torch.no_grad():
        raw = torch.cat([s.pred_instances.keypoint_scores for s in model.predict(inputs)])
        raw_export = model.export_forward(inputs)[1]
        model.set_score_calibration((3.0, -0.5))
        calibrated = torch.cat([s.pred_instances.keypoint_scores for s in model.predict(inputs)])
        points, calibrated_export = model.export_forward(inputs)
    expected = sigmoid(3.0 * raw.double().numpy() - 0.5)
    np.testing.assert_allclose(calibrated.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(
        calibrated_export.numpy(), sigmoid(3.0 * raw_export.double().numpy() - 0.5), rtol=1e-6
    )
    assert not np.allclose(raw.numpy(), calibrated.numpy())

    # the buffers go into the checkpoint; an uncalibrated model that loads it predicts calibrated scores
    path = tmp_path / "calibrated.pth"
    torch.save({"state_dict": model.state_dict()}, path)
    from visionstack.engine.checkpoint import load_checkpoint

    fresh = tiny_model()
    load_checkpoint(fresh, path)
    assert bool(fresh.score_calibrated) and fresh.score_calibration.tolist() == [3.0, -0.5]
    with torch.no_grad():
        torch.testing.assert_close(fresh.export_forward(inputs)[1], calibrated_export)

    # a checkpoint from before calibration (no buffers) loads strictly and keeps the raw scores
    old = {k: v for k, v in tiny_model().state_dict().items() if not k.startswith("score_calibrat")}
    torch.save({"state_dict": old}, tmp_path / "old.pth")
    load_checkpoint(fresh, tmp_path / "old.pth")
    assert not bool(fresh.score_calibrated)
    with torch.no_grad():
        torch.testing.assert_close(fresh.export_forward(inputs)[1], raw_export)

    # test_cfg sets one, and wins over the checkpoint's
    configured = tiny_model(score_calibration=[1.0, 2.0])
    load_checkpoint(configured, path)
    assert bool(configured.score_calibrated) and configured.score_calibration.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="test_cfg.score_calibration must be"):
        tiny_model(score_calibration=(-1.0, 0.0))


def test_the_calibration_traces_without_python_branches():
    model = tiny_model(score_calibration=(2.0, 1.0), flip_test=False).requires_grad_(False)
    inputs = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always", torch.jit.TracerWarning)
        traced = torch.jit.trace(lambda x: model.export_forward(x)[1], inputs)
    # no tensor of the estimator turned into a Python value (the head's shape check may warn)
    assert not [w for w in caught if w.filename.endswith("topdown.py")]
    other = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(traced(other), model.export_forward(other)[1])


@pytest.mark.slow
def test_onnx_graph_carries_the_calibration(tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from visionstack.export import ExportForward, export_onnx

    model = tiny_model(score_calibration=(2.0, 1.0))
    inputs = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        eager = model.export_forward(inputs)[1].numpy()
    path = export_onnx(
        ExportForward(model), [inputs], tmp_path / "pose.onnx", ["input"], list(model.export_output_names)
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    scores = session.run(None, {"input": inputs.numpy()})[1]
    np.testing.assert_allclose(scores, eager, atol=1e-6)
    assert (scores > 0).all() and (scores < 1).all()


# ---- visionstack analyze calibration ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Two synthetic val images, the RTMPose-t synth config pointed at them and a randomly initialised
    checkpoint."""
    root = tmp_path_factory.mktemp("calibration")
    synth_pose(root / "data", num_train=2, num_val=2)
    overrides = [
        f"data_root={root / 'data'}/",
        "val_dataloader.num_workers=0",
        "test_dataloader.num_workers=0",
    ]
    cfg = Config.fromfile(CONFIG, overrides)
    torch.manual_seed(0)
    checkpoint = root / "random.pth"
    torch.save({"state_dict": build(cfg["model"], MODELS).state_dict(), "meta": {"epoch": 3}}, checkpoint)
    return root, overrides, cfg, checkpoint


def test_analyze_calibration_end_to_end(tiny_run):
    root, overrides, cfg, checkpoint = tiny_run
    out = root / "analysis"
    assert (
        main(["analyze", "calibration", CONFIG, str(checkpoint), "--out-dir", str(out), "--set", *overrides])
        == 0
    )
    report = json.loads((out / "calibration.json").read_text())
    assert report["keypoints"] == report["before"]["count"] == report["after"]["count"] > 0
    assert report["num_bins"] == len(report["before"]["bins"]) == 15 and report["oks_thr"] == 0.5
    assert report["ece_before"] == pytest.approx(report["before"]["ece"])
    assert (out / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    slope, bias = report["calibration"]["slope"], report["calibration"]["bias"]

    # the calibrated checkpoint predicts sigmoid(slope * raw + bias), in Python and through `infer`
    image = sorted((root / "data" / "val").glob("*.png"))[0]
    raw = Inferencer(cfg, checkpoint)([image])[0].pred_instances.keypoint_scores.numpy()
    calibrated = Inferencer(cfg, out / "calibrated.pth")([image])[0].pred_instances.keypoint_scores.numpy()
    np.testing.assert_allclose(calibrated, sigmoid(slope * raw.astype(np.float64) + bias), rtol=1e-5)
    stored = torch.load(out / "calibrated.pth", weights_only=True)
    assert stored["meta"]["epoch"] == 3 and stored["meta"]["score_calibration"]["slope"] == slope
    infer_dir = root / "infer"
    args = ["infer", CONFIG, str(out / "calibrated.pth"), str(image), "--out-dir", str(infer_dir)]
    assert main([*args, "--set", *overrides]) == 0
    record = json.loads((infer_dir / "predictions.json").read_text())[0]
    np.testing.assert_allclose(record["people"][0]["keypoint_scores"], calibrated[0], atol=1e-4)


def test_infer_draws_keypoints_by_their_calibrated_score(tiny_run):
    root, overrides, cfg, checkpoint = tiny_run
    model = build(cfg["model"], MODELS)
    model.load_state_dict(torch.load(checkpoint, weights_only=True)["state_dict"])
    model.set_score_calibration((0.0, 3.0))  # every keypoint right with probability sigmoid(3) = 0.95
    confident = root / "confident.pth"
    torch.save({"state_dict": model.state_dict()}, confident)
    image = str(sorted((root / "data" / "val").glob("*.png"))[0])
    drawn, counts = [], []
    for name, weights in (("raw", checkpoint), ("calibrated", confident)):
        out = root / f"draw_{name}"
        args = ["infer", CONFIG, str(weights), image, "--out-dir", str(out), "--score-thr", "0.5"]
        assert main([*args, "--set", *overrides]) == 0
        scores = json.loads((out / "predictions.json").read_text())[0]["people"][0]["keypoint_scores"]
        counts.append(sum(score >= 0.5 for score in scores))
        drawn.append(cv2.imread(str(next(out.glob("*_pred.png")))))
    assert counts == [0, 17]  # the untrained model's raw scores are near 0
    assert not np.array_equal(*drawn)
    context = PredictionContext(score_thr=0.5)
    adapter = get_adapter("pose")
    record = {"people": [{"keypoint_scores": [0.96] * 17}]}
    assert adapter.table_row(record, context) == ["1", "17"]


def test_analyses_come_from_the_task_adapters():
    adapter = get_adapter("pose")
    assert adapter.analysis("calibration").__name__ == "calibration_analysis"
    with pytest.raises(ConfigError, match="its analyses: calibration"):
        adapter.analysis("confusion")
    with pytest.raises(SystemExit):
        main(["analyze", "no-such-analysis", CONFIG, "x.pth"])
