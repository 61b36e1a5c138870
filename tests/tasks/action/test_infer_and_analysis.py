"""``infer`` over a video in windows (PyTorch and the ONNX runtime agree window by window) and
``analyze temporal`` (an order-blind TSN gives the same answers on normal, shuffled and reversed clips)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from visionstack.cli import main
from visionstack.config import Config
from visionstack.registry import MODELS, build
from visionstack.tasks.action.analysis import MODES, perturbed_pipeline, temporal_analysis
from visionstack.tasks.action.synthetic import draw_scene, render_clip, write_synthetic_action
from visionstack.utils.video_io import VideoReader, write_video

REPO = Path(__file__).resolve().parents[3]
TSM = REPO / "configs/action/tsm_r18-w16_1x1x8_synth-action.py"
TSN = REPO / "configs/action/tsn_r18-w16_1x1x8_synth-action.py"


def _checkpoint(config: Path, path: Path, seed: int = 0) -> Path:
    """Weights of a freshly built model (BN statistics warmed on noise so eval mode is not degenerate)."""
    torch.manual_seed(seed)
    model = build(Config.fromfile(str(config)).model, MODELS)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model.backbone(torch.randn(16, 3, 64, 64))
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)
    return path


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """5.5 s at 16 fps: a move_right clip, then a rotate_anticlockwise one, then 24 frames of the first again."""
    rng = np.random.default_rng(3)
    first = render_clip(draw_scene(rng, "move"), "move_right").frames
    second = render_clip(draw_scene(rng, "rotate"), "rotate_anticlockwise").frames
    frames = np.concatenate([first, second, first[:-8]])
    return write_video(
        tmp_path_factory.mktemp("video") / "long.mp4", frames, fps=16, codec="libx264", quality=2
    )


def test_infer_reports_windows_and_writes_a_labelled_video(long_video, tmp_path, capsys):
    checkpoint = _checkpoint(TSM, tmp_path / "tsm.pth")
    out = tmp_path / "infer"
    args = ["infer", str(TSM), str(checkpoint), str(long_video), "--out-dir", str(out)]
    assert main([*args, "--window", "2", "--stride", "1", "--topk", "10"]) == 0
    assert "0.0-2.0s" in capsys.readouterr().out
    (record,) = json.loads((out / "predictions.json").read_text())
    windows = record["timeline"]
    assert [(w["start"], round(w["end"], 4)) for w in windows] == [
        (0.0, 2.0),
        (1.0, 3.0),
        (2.0, 4.0),
        (3.0, 5.0),
        (3.5, 5.5),
    ]
    assert all(len(w["topk"]) == 10 for w in windows)
    # the video's scores are the mean of its windows' (every class is listed with --topk 10)
    for item in record["topk"]:
        per_window = [next(i["score"] for i in w["topk"] if i["label"] == item["label"]) for w in windows]
        assert item["score"] == pytest.approx(np.mean(per_window), abs=1e-6)
    with VideoReader(out / "long_pred.mp4") as reader, VideoReader(long_video) as source:
        assert len(reader) == len(source) == 88 and min(reader.info.width, reader.info.height) >= 320
    assert (out / "long_timeline.png").stat().st_size > 0 and (out / "long_pred.png").stat().st_size > 0

    # the exported model over the same windows: the same clips, the same scores
    export_dir = tmp_path / "onnx"
    assert main(["export", str(TSM), str(checkpoint), "--dynamic", "--out-dir", str(export_dir)]) == 0
    ort = tmp_path / "ort"
    args = ["infer", "--backend", "onnxruntime", str(export_dir), str(long_video), "--topk", "10"]
    assert main([*args, "--out-dir", str(ort)]) == 0
    (runtime_record,) = json.loads((ort / "predictions.json").read_text())
    assert len(runtime_record["timeline"]) == len(windows)
    for ours, theirs in zip(windows, runtime_record["timeline"]):
        assert [i["label"] for i in ours["topk"]] == [i["label"] for i in theirs["topk"]]
        np.testing.assert_allclose(
            [i["score"] for i in ours["topk"]], [i["score"] for i in theirs["topk"]], atol=1e-4
        )


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    write_synthetic_action(root, num_train=0, num_val=20, kinds=("video",))
    return root


def _analysis_cfg(config: Path, data_root: Path) -> Config:
    cfg = Config.fromfile(str(config))
    for key in ("val_dataloader", "test_dataloader"):
        cfg[key]["dataset"]["data_root"] = str(data_root) + "/"
        cfg[key]["num_workers"] = 0
        cfg[key]["persistent_workers"] = False
    return cfg


def test_an_order_blind_model_answers_the_same_on_shuffled_and_reversed_clips(small_set, tmp_path):
    checkpoint = _checkpoint(TSN, tmp_path / "tsn.pth", seed=1)
    summary = temporal_analysis(_analysis_cfg(TSN, small_set), checkpoint, tmp_path / "tsn")
    report = json.loads((tmp_path / "tsn" / "temporal.json").read_text())
    predictions = {mode: np.array(report["predictions"][mode]) for mode in MODES}
    scores = {mode: np.array(report["scores"][mode]) for mode in MODES}
    # TSN averages its segments' scores: the order of the frames cannot change them
    np.testing.assert_allclose(scores["shuffle"], scores["none"], atol=1e-5)
    np.testing.assert_allclose(scores["reverse"], scores["none"], atol=1e-5)
    assert np.abs(scores["freeze"] - scores["none"]).max() > 1e-4  # one frame repeated is another input
    labels = np.array(report["labels"])
    for mode in MODES:
        assert summary[mode] == pytest.approx(float((predictions[mode] == labels).mean()))
    for row in report["classes"]:
        assert set(MODES) <= set(row) and "reverse_as_partner" in row
    assert (tmp_path / "tsn" / "temporal.png").stat().st_size > 0


def test_an_order_aware_model_answers_differently_on_reversed_clips(small_set, tmp_path):
    checkpoint = _checkpoint(TSM, tmp_path / "tsm.pth", seed=2)
    temporal_analysis(_analysis_cfg(TSM, small_set), checkpoint, tmp_path / "tsm")
    report = json.loads((tmp_path / "tsm" / "temporal.json").read_text())
    scores = {mode: np.array(report["scores"][mode]) for mode in MODES}
    # the temporal shift mixes neighbouring segments, so reversing or shuffling a clip changes the scores
    assert np.abs(scores["reverse"] - scores["none"]).max() > 1e-4
    assert np.abs(scores["shuffle"] - scores["none"]).max() > 1e-4


def test_the_perturbation_goes_right_after_the_sampler():
    pipeline = [{"type": "PyAVInit"}, {"type": "SampleFrames", "clip_len": 1}, {"type": "PyAVDecode"}]
    steps = perturbed_pipeline(pipeline, "reverse")
    assert [step["type"] for step in steps] == ["PyAVInit", "SampleFrames", "TemporalPerturb", "PyAVDecode"]
    with pytest.raises(ValueError, match="no frame sampler"):
        perturbed_pipeline([{"type": "PyAVDecode"}], "reverse")
