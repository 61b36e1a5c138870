"""The OCR models on both backends: a shipped DBNet and CRNN config (random weights, saved once), exported to
ONNX; the PyTorch and ONNX Runtime backends of the end-to-end pipeline find the same regions and read the same
texts, with a regular expression constraining the reading on both; ``visionstack ocr`` writes its records and
drawings and ``visionstack eval ocr`` scores them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import regex
import torch

from visionstack.cli import main
from visionstack.config import Config
from visionstack.inference import load_predictor
from visionstack.registry import MODELS, build
from visionstack.tasks.ocr.crops import crop_polygon
from visionstack.tasks.ocr.end_to_end import ModelBackend
from visionstack.tasks.ocr.synthetic import write_synthetic_ocr

REPO = Path(__file__).resolve().parents[3]
DET = str(REPO / "configs/ocr/dbnet_r18-w32_fpnc_synth-ocr.py")
REC = str(REPO / "configs/ocr/crnn_mini-vgg-w32_synth-ocr.py")
PATTERN = r"[A-Z]\d{2}"

# two exports and two backends over the random models' many regions: about 45 s alone on 2 cores
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Random weights of the two configs (seeded), their checkpoints and exports, and two test images."""
    root = tmp_path_factory.mktemp("ocr_backends")
    write_synthetic_ocr(root / "data", num_train=1, num_val=2, num_recog_train=1, num_recog_test=1)
    torch.manual_seed(0)
    paths = {}
    for name, config in (("det", DET), ("rec", REC)):
        model = build(Config.fromfile(config).model, MODELS)
        checkpoint = root / f"{name}.pth"
        torch.save({"state_dict": model.state_dict()}, checkpoint)
        export_dir = root / f"{name}_onnx"
        overrides = ["--set", f"data_root={root / 'data'}/"]
        assert (
            main(["export", config, str(checkpoint), "--dynamic", "--out-dir", str(export_dir), *overrides])
            == 0
        )
        paths[name] = (checkpoint, export_dir)
    images = sorted(str(p) for p in (root / "data" / "ch4_test_images").glob("*.jpg"))
    return root, paths, images


def test_detector_backends_agree(models):
    _, paths, images = models
    torch_results = ModelBackend(load_predictor(DET, paths["det"][0])).predict_paths(images)
    onnx_results = ModelBackend(load_predictor(paths["det"][1])).predict_paths(images)
    for eager, runtime in zip(torch_results, onnx_results):
        eager, runtime = eager["pred_instances"], runtime["pred_instances"]
        assert len(eager["polygons"]) == len(runtime["polygons"]) > 0
        for a, b in zip(eager["polygons"], runtime["polygons"]):
            np.testing.assert_allclose(a, b, atol=1e-2)
        np.testing.assert_allclose(eager["scores"], runtime["scores"], atol=1e-4)


def test_recognizer_backends_agree_with_and_without_a_pattern(models):
    from visionstack.deploy.preprocess import read_bgr_image

    _, paths, images = models
    detected = ModelBackend(load_predictor(DET, paths["det"][0])).predict_paths(images[:1])[0][
        "pred_instances"
    ]["polygons"]
    image = read_bgr_image(images[0])
    crops = [crop_polygon(image, polygon) for polygon in detected[:6]]
    for options in ({}, {"pattern": PATTERN}):
        eager = ModelBackend(load_predictor(REC, paths["rec"][0]), options).predict_arrays(crops)
        runtime = ModelBackend(load_predictor(paths["rec"][1], **options), options).predict_arrays(crops)
        eager_texts = [result["pred_text"]["item"] for result in eager]
        assert eager_texts == [result["pred_text"]["item"] for result in runtime]
        for a, b in zip(eager, runtime):
            np.testing.assert_allclose(
                a["pred_text"]["char_scores"], b["pred_text"]["char_scores"], atol=1e-4
            )
        if options:  # every reading matches the pattern (a random model reads nothing without it)
            assert all(regex.fullmatch(PATTERN, text) for text in eager_texts)


def test_ocr_command_writes_records_and_eval_scores_them(models, tmp_path):
    root, paths, images = models
    out = tmp_path / "ocr"
    args = ["ocr", *images, "--det-config", DET, "--det-checkpoint", str(paths["det"][0])]
    args += [
        "--rec-config",
        str(paths["rec"][1]),
        "--pattern",
        PATTERN,
        "--out-dir",
        str(out),
    ]  # mixed backends
    assert main(args) == 0
    records = json.loads((out / "predictions.json").read_text())
    assert [record["img_path"] for record in records] == images
    texts = [instance["text"] for record in records for instance in record["instances"]]
    assert texts and all(regex.fullmatch(PATTERN, text) for text in texts)
    assert sorted(p.name for p in out.glob("*_ocr.png")) == sorted(f"{Path(p).stem}_ocr.png" for p in images)
    metrics_file = tmp_path / "metrics.json"
    gt = str(root / "data" / "Challenge4_Test_Task1_GT")
    assert (
        main(["eval", "ocr", "--gt", gt, "--pred", str(out / "predictions.json"), "--out", str(metrics_file)])
        == 0
    )
    metrics = json.loads(metrics_file.read_text())
    assert (
        metrics["icdar/e2e_hmean"] == 0.0 and 0.0 <= metrics["icdar/hmean"] <= 1.0
    )  # random weights read no word
