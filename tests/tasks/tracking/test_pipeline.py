"""The tracking pipeline end to end: the engine's test loop, ``visionstack track``, ``eval --gallery``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from visionstack.cli import main
from visionstack.config import Config
from visionstack.tasks.tracking.evaluation import evaluate_mot
from visionstack.tasks.tracking.mot_format import read_mot_file
from visionstack.tasks.tracking.sequences import build_tracker, track_sequence, track_split
from visionstack.tasks.tracking.synthetic import synth_tracking
from visionstack.tasks.tracking.video import VideoReader, write_video

REPO = Path(__file__).resolve().parents[3]
PUBLIC = str(REPO / "configs" / "tracking" / "bytetrack_public_synth.py")
CLASSES = ("pedestrian", "car", "bicycle")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("mot")
    synth_tracking(root, num_train=0, num_val=2, seq_length=30)
    return root


def tracker_and_interpolation(config: str):
    cfg = Config.fromfile(config)
    return dict(cfg["model"]["tracker"]), dict(cfg["test_evaluator"]["interpolate"])


def test_engine_test_loop_equals_the_numpy_runner(data, tmp_path):
    """`visionstack test` with public detections (MOTModel + PublicDetector through the Runner) writes the
    same result files and the same metrics as the NumPy runner and trackeval."""
    results, metrics_file = tmp_path / "results", tmp_path / "metrics.json"
    args = ["test", PUBLIC, "--work-dir", str(tmp_path / "work"), "--out", str(metrics_file)]
    assert main([*args, "--out-format", str(results), "--set", f"data_root={data}/"]) == 0
    tested = json.loads(metrics_file.read_text())

    tracker_cfg, interpolate = tracker_and_interpolation(PUBLIC)
    direct = tmp_path / "direct"
    track_split(build_tracker(tracker_cfg), data / "val", direct, interpolate=interpolate)
    for name in ("SYNTH-CLEAN-01", "SYNTH-OCCLUSION-02"):
        ours, theirs = (read_mot_file(folder / f"{name}.txt", "result") for folder in (results, direct))
        np.testing.assert_array_equal(ours.frames, theirs.frames)
        np.testing.assert_array_equal(ours.ids, theirs.ids)
        np.testing.assert_allclose(ours.bboxes, theirs.bboxes, atol=0.02)  # the engine's boxes are float32
    expected = evaluate_mot(data / "val", results, classes=CLASSES)
    assert tested["tracking/HOTA"] == pytest.approx(expected["HOTA"], abs=1e-12)
    assert tested["tracking/pedestrian/IDF1"] == pytest.approx(expected["pedestrian/IDF1"], abs=1e-12)
    assert tested["tracking/IDF1"] == pytest.approx(
        evaluate_mot(data / "val", direct, classes=CLASSES)["IDF1"], abs=1e-3
    )
    assert 0.3 < tested["tracking/MOTA"] <= 1.0


def test_eval_scores_saved_files_and_draws_the_error_gallery(data, tmp_path):
    tracker_cfg, interpolate = tracker_and_interpolation(PUBLIC)
    pred = tmp_path / "pred"
    track_split(build_tracker(tracker_cfg), data / "val", pred, interpolate=interpolate)
    out, gallery = tmp_path / "metrics.json", tmp_path / "gallery"
    args = ["eval", "tracking", "--gt", str(data / "val"), "--pred", str(pred), "--gallery", str(gallery)]
    assert main([*args, "--config", PUBLIC, "--out", str(out), "--set", f"data_root={data}/"]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["tracking/HOTA"] == pytest.approx(
        evaluate_mot(data / "val", pred, classes=CLASSES)["HOTA"]
    )
    # one picture per id switch and fragmentation (CLEAR's counts over the classes)
    per_class = sum(metrics[f"tracking/{c}/IDSW"] + metrics[f"tracking/{c}/Frag"] for c in CLASSES)
    assert metrics["tracking/gallery_events"] == per_class == len(list(gallery.glob("*.png")))


def test_eval_rejects_another_tasks_option(data, tmp_path, capsys):
    args = ["eval", "detection", "--gt", "x.json", "--pred", "y.json", "--gallery", str(tmp_path)]
    assert main(args) == 2
    assert "--gallery is an option of another task" in capsys.readouterr().err


def test_track_command_on_a_sequence_writes_the_runner_rows_and_a_video(data, tmp_path):
    seq = data / "val" / "SYNTH-CLEAN-01"
    assert main(["track", PUBLIC, str(seq), "--out-dir", str(tmp_path)]) == 0
    written = read_mot_file(tmp_path / "SYNTH-CLEAN-01.txt", "result")
    tracker_cfg, _ = tracker_and_interpolation(PUBLIC)
    direct = track_sequence(build_tracker(tracker_cfg), seq)
    np.testing.assert_array_equal(written.ids, direct.ids)
    np.testing.assert_allclose(written.bboxes, direct.bboxes, atol=0.02)
    with VideoReader(tmp_path / "SYNTH-CLEAN-01.mp4") as video:
        assert len(video) == 30 and video[0].shape == (224, 384, 3)


def test_track_command_decodes_a_video(data, tmp_path):
    """A video goes through the detector config (untrained weights: only the plumbing is checked)."""
    import cv2

    frames = [
        cv2.imread(str(p)) for p in sorted((data / "val" / "SYNTH-CLEAN-01" / "img1").glob("*.jpg"))[:6]
    ]
    video = write_video(tmp_path / "clip.mp4", frames, fps=10)
    config = str(REPO / "configs" / "tracking" / "bytetrack_rtmdet-tiny_synth.py")
    assert main(["track", config, str(video), "--out-dir", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "clip.txt").is_file()
    assert len(sorted((tmp_path / "out" / "frames" / "clip" / "img1").glob("*.jpg"))) == 6
    with VideoReader(tmp_path / "out" / "clip.mp4") as drawn:
        assert len(drawn) == 6


def test_track_command_explains_bad_input(tmp_path, capsys):
    (tmp_path / "not_a_sequence").mkdir()
    assert main(["track", PUBLIC, str(tmp_path / "not_a_sequence")]) == 2
    assert "without seqinfo.ini" in capsys.readouterr().err
