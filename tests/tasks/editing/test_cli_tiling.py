"""``infer --tile`` through the command line, on both backends: the tiled output equals the whole-image output."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from visionstack.cli import main
from visionstack.config import Config
from visionstack.registry import MODELS

REPO = Path(__file__).resolve().parents[3]
CONFIG = str(REPO / "configs" / "editing" / "edsr_x2c32b8_synth.py")


def _outputs(folder: Path) -> dict[str, np.ndarray]:
    return {
        path.name: cv2.imread(str(path), cv2.IMREAD_UNCHANGED) for path in sorted(folder.glob("*_output.png"))
    }


def _assert_same(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> None:
    assert first.keys() == second.keys() and first
    for name in first:
        diff = np.abs(first[name].astype(np.int16) - second[name].astype(np.int16))
        # equal up to float rounding: a value on a rounding tie may land one level apart, very rarely
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, name


def test_tiled_inference_equals_whole_image_inference_on_both_backends(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG)["model"])
    with torch.no_grad():  # a trained-looking net: every residual block contributes
        for parameter in model.generator.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    checkpoint = tmp_path / "edsr.pth"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    image = tmp_path / "inputs" / "photo.png"
    image.parent.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(image), cv2.GaussianBlur(rng.integers(0, 256, (45, 61, 3), dtype=np.uint8), (5, 5), 1.5))

    common = [CONFIG, str(checkpoint), str(image), "--set", "data_root=unused/"]
    assert main(["infer", *common, "--out-dir", str(tmp_path / "whole")]) == 0
    assert main(["infer", *common, "--tile", "16", "--out-dir", str(tmp_path / "tiled")]) == 0
    whole = _outputs(tmp_path / "whole")
    assert whole["photo_output.png"].shape == (90, 122, 3)  # x2
    _assert_same(whole, _outputs(tmp_path / "tiled"))
    drawing = cv2.imread(str(tmp_path / "tiled" / "photo_pred.png"))
    assert drawing.shape[1] > 2 * 122  # input (enlarged) and output side by side

    export = tmp_path / "onnx"
    assert (
        main(
            [
                "export",
                CONFIG,
                str(checkpoint),
                "--dynamic",
                "--out-dir",
                str(export),
                "--set",
                "data_root=unused/",
            ]
        )
        == 0
    )
    runtime = ["infer", "--backend", "onnxruntime", str(export), str(image)]
    assert main([*runtime, "--out-dir", str(tmp_path / "ort_whole")]) == 0
    assert main([*runtime, "--tile", "20", "--out-dir", str(tmp_path / "ort_tiled")]) == 0
    _assert_same(whole, _outputs(tmp_path / "ort_whole"))
    _assert_same(whole, _outputs(tmp_path / "ort_tiled"))
