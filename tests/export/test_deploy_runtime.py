"""The deploy runtime without PyTorch, and its preprocessing against every shipped config's test
pipeline + data preprocessor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from visionstack.config import Config
from visionstack.deploy import Preprocessor
from visionstack.export.exporter import export_model, preprocess_spec
from visionstack.inference import Inferencer, inference_pipeline_cfg
from visionstack.registry import FUNCTIONS, MODELS, TRANSFORMS, build
from visionstack.tasks.adapter import TaskAdapter, adapter_for_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(
    str(p.relative_to(REPO)) for p in (REPO / "configs").glob("*/*.py") if "_base_" not in p.parts
)

TINY = """
from visionstack.testing import TinyConvBackbone
model = dict(
    type="ImageClassifier",
    data_preprocessor=dict(type="DataPreprocessor", mean=[120.0] * 3, std=[60.0] * 3, bgr_to_rgb=True),
    backbone=dict(type=TinyConvBackbone, out_indices=(3,)),
    neck=dict(type="GlobalAveragePooling"),
    head=dict(type="LinearClsHead", num_classes=3, in_channels=32),
)
test_dataloader = dict(dataset=dict(type="ImageList", data_root=".", metainfo=dict(classes=["x", "y", "z"]),
                       pipeline=[dict(type="LoadImage"), dict(type="Resize", scale=(40, 30)), dict(type="PackInputs")]))
"""

HIDE_TORCH = r"""
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch.") or name.startswith("torchvision"):
            raise ImportError(f"{name} is hidden in this test")
sys.meta_path.insert(0, Block())
import visionstack.deploy
from visionstack.deploy import OnnxInferencer
runtime = OnnxInferencer(sys.argv[1])
records = runtime.to_records(runtime(sys.argv[2:]), topk=3)
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
print(json.dumps(records))
"""


def test_runtime_imports_and_runs_without_torch(tmp_path):
    cfg_path = tmp_path / "tiny.py"
    cfg_path.write_text(TINY)
    cfg = Config.fromfile(str(cfg_path))
    torch.manual_seed(0)
    result = export_model(cfg, None, tmp_path / "export", dynamic=True)
    images = []
    for index, size in enumerate([(30, 40), (55, 21)]):
        path = tmp_path / f"i{index}.png"
        cv2.imwrite(str(path), np.random.default_rng(index).integers(0, 255, (*size, 3), dtype=np.uint8))
        images.append(str(path))
    done = subprocess.run(
        [sys.executable, "-c", HIDE_TORCH, str(result.model_dir), *images],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    records = json.loads(done.stdout.strip().splitlines()[-1])
    inferencer = Inferencer(cfg, None)
    inferencer.model.load_state_dict(result.model.state_dict())
    expected = inferencer.to_records(inferencer(images), topk=3)
    assert [r["pred_label"] for r in records] == [r["pred_label"] for r in expected]
    for ours, theirs in zip(records, expected):
        assert ours["topk"][0]["score"] == pytest.approx(theirs["topk"][0]["score"], abs=1e-6)


def test_torch_is_really_hidden_in_the_subprocess():
    code = HIDE_TORCH.split("import visionstack.deploy")[0] + "import torch\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "hidden in this test" in done.stderr


@pytest.mark.parametrize("config", CONFIGS)
def test_preprocessing_equals_pytorch_pipeline_and_preprocessor(config, tmp_path):
    """The runtime's preprocessing of an image file equals the test pipeline's on what ``infer`` feeds it (the
    adapter's first item: the image, or a top-down pose model's whole-image person)."""
    cfg = Config.fromfile(str(REPO / config))
    if cfg["model"]["type"] == "ReID":
        pytest.skip("the re-identification net (a part of DeepSORT) is trained and tested, not exported")
    adapter = adapter_for_config(cfg)
    if adapter.input_suffixes:
        pytest.skip(f"{adapter.name} models take {adapter.input_suffixes} files, not images")
    model_cfg = cfg["model"]
    if model_cfg.get("detector", {}).get("type") == "PublicDetector":
        pytest.skip("a tracker on public detections has no network to export")
    # a tracking model (MOTModel) preprocesses as its detector
    pre = build(model_cfg.get("data_preprocessor") or model_cfg["detector"]["data_preprocessor"], MODELS)
    pipeline = [build(t, TRANSFORMS) for t in inference_pipeline_cfg(cfg)]
    if type(adapter).runtime_preprocessor is not TaskAdapter.runtime_preprocessor:  # the task preprocesses
        spec = adapter.export_inputs(build(cfg["model"], MODELS), cfg, dynamic=True)["preprocess"]
        runtime = adapter.runtime_preprocessor(spec)
    else:
        try:
            runtime = Preprocessor(preprocess_spec(cfg, pre))
        except ValueError as error:  # a published pipeline the runtime cannot replay: export says which step
            assert "deploy-runtime equivalent" in str(error) or "colour images" in str(error), error
            pytest.skip(f"not exportable as configured: {error}")
    rng = np.random.default_rng(0)
    collate = FUNCTIONS.get("pseudo_collate")
    for height, width in [(37, 53), (61, 29)]:
        img = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        path = tmp_path / f"{height}x{width}.png"
        cv2.imwrite(str(path), img)
        # an inpainting model's mask, where infer finds it (other tasks ignore the file)
        cv2.imwrite(
            str(tmp_path / f"{height}x{width}_mask.png"),
            (rng.random((height, width)) > 0.7).astype(np.uint8) * 255,
        )
        results = dict(adapter.infer_items(path, 0, {})[0])
        for transform in pipeline:
            results = transform(results)
        expected = pre(collate([results]))["inputs"]
        prepared, meta = runtime.image(runtime.read(path))
        batch = runtime.batch([prepared])
        np.testing.assert_array_equal(batch, expected.numpy())
        sample = results["data_samples"]
        assert tuple(meta["img_shape"]) == tuple(sample.metainfo["img_shape"])
        np.testing.assert_allclose(meta["scale_factor"], sample.metainfo.get("scale_factor", (1.0, 1.0)))
