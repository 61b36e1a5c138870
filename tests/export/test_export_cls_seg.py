"""Export of classifiers and segmentors to ONNX: logits within 1e-4 of PyTorch on inputs of another
batch and size than the export sample, the NumPy preprocessing equal to the PyTorch pipeline plus data
preprocessor, and the runtime's predictions and JSON equal to ``Inferencer``'s."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from visionstack.config import Config
from visionstack.deploy import OnnxInferencer, resize_bilinear
from visionstack.export.exporter import ExportError, export_model
from visionstack.inference import Inferencer
from visionstack.registry import FUNCTIONS

CLS_CONFIG = """
from visionstack.testing import TinyConvBackbone
model = dict(
    type="ImageClassifier",
    data_preprocessor=dict(type="DataPreprocessor", mean=[120.0, 110.0, 100.0], std=[60.0, 50.0, 40.0], bgr_to_rgb=True),
    backbone=dict(type=TinyConvBackbone, out_indices=(3,)),
    neck=dict(type="GlobalAveragePooling"),
    head=dict(type="LinearClsHead", num_classes=5, in_channels=32),
)
test_pipeline = [dict(type="LoadImage"), dict(type="ResizeEdge", scale=40, edge="short"),
                 dict(type="CenterCrop", crop_size=(36, 32)), dict(type="PackInputs")]
test_dataloader = dict(batch_size=2, dataset=dict(type="ImageList", data_root="{root}", pipeline=test_pipeline,
                       metainfo=dict(classes=["a", "b", "c", "d", "e"])))
"""

SEG_CONFIG = """
from visionstack.testing import TinyConvBackbone
model = dict(
    type="EncoderDecoder",
    data_preprocessor=dict(type="SegDataPreProcessor", mean=[128.0] * 3, std=[64.0] * 3, bgr_to_rgb=True,
                           size=(64, 48), size_divisor=16),
    backbone=dict(type=TinyConvBackbone, out_indices=(1, 2, 3)),
    decode_head=dict(type="{head}", in_channels=32, channels=8, num_classes=4, in_index=-1{head_args}),
    test_cfg=dict({test_cfg}),
)
test_pipeline = [dict(type="LoadImage"), dict(type="Resize", scale=(80, 60), keep_ratio=True), dict(type="PackSegInputs")]
test_dataloader = dict(batch_size=1, dataset=dict(type="BaseDataset", ann_file="{root}/ann.json", pipeline=test_pipeline,
                       metainfo=dict(classes=["w", "x", "y", "z"], palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])))
"""


def _images(folder, sizes):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for index, (height, width) in enumerate(sizes):
        img = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (5, 5), 0)
        path = folder / f"img{index}.png"
        cv2.imwrite(str(path), img)
        paths.append(str(path))
    return paths


def _config(tmp_path, text, **fields):
    path = tmp_path / "cfg.py"
    path.write_text(
        text.replace("{root}", str(tmp_path)).format(**fields)
        if fields
        else text.replace("{root}", str(tmp_path))
    )
    return Config.fromfile(str(path))


def _torch_inputs(inferencer, path):
    data = inferencer.model.data_preprocessor(
        FUNCTIONS.get("pseudo_collate")([inferencer.pipeline({"img_path": path, "sample_idx": 0})])
    )
    return data["inputs"], data["data_samples"]


@pytest.fixture(scope="module")
def classifier_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("cls")
    paths = _images(root, [(50, 70), (64, 40), (45, 45)])
    cfg = _config(root, CLS_CONFIG)
    torch.manual_seed(0)
    result = export_model(cfg, None, root / "export", dynamic=True)
    inferencer = Inferencer(cfg, None)
    inferencer.model.load_state_dict(result.model.state_dict())
    return cfg, result, inferencer, paths


def test_classifier_logits_and_records_match_pytorch(classifier_export):
    cfg, result, inferencer, paths = classifier_export
    deploy = json.loads((result.model_dir / "deploy.json").read_text())
    assert deploy["task"] == "classification" and deploy["classes"] == ["a", "b", "c", "d", "e"]
    assert deploy["preprocess"]["bgr_to_rgb"] is True and deploy["onnx"]["dynamic"] is True
    runtime = OnnxInferencer(result.model_dir)
    # preprocessing: bit-identical to the PyTorch pipeline + data preprocessor
    batch_torch = torch.cat([_torch_inputs(inferencer, p)[0] for p in paths])
    prepared = [runtime.preprocessor.image(cv2.imread(p))[0] for p in paths]
    batch_np = runtime.preprocessor.batch(prepared)
    assert batch_np.shape == (3, 3, 32, 36)
    np.testing.assert_array_equal(batch_np, batch_torch.numpy())
    # a batch of 3 (the export sample had 2) and another size than the sample
    logits = runtime.run(batch_np, [])["logits"]
    reference = inferencer.model.export_forward(batch_torch).detach().numpy()
    assert np.abs(logits - reference).max() <= 1e-4
    odd = torch.randn(1, 3, 50, 44)
    assert (
        np.abs(
            runtime.run(odd.numpy(), [])["logits"] - inferencer.model.export_forward(odd).detach().numpy()
        ).max()
        <= 1e-4
    )
    # end to end: same scores and the same JSON as `visionstack infer`
    results = runtime(paths)
    samples = inferencer(paths)
    for result_, sample in zip(results, samples):
        np.testing.assert_allclose(result_["pred_label"]["score"], sample.pred_label.score.numpy(), atol=1e-6)
    ours, theirs = runtime.to_records(results, topk=3), inferencer.to_records(samples, topk=3)
    assert [r["pred_label"] for r in ours] == [r["pred_label"] for r in theirs]
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys() and a["img_path"] == b["img_path"]
        assert [t["label"] for t in a["topk"]] == [t["label"] for t in b["topk"]]


def test_static_export_fixes_batch_and_size(tmp_path, classifier_export):
    cfg, _, _, paths = classifier_export
    result = export_model(cfg, None, tmp_path / "static")
    assert result.deploy["onnx"]["input_shape"] == [1, 3, 32, 36]
    runtime = OnnxInferencer(result.model_dir, batch_size=4)
    assert runtime.batch_size == 1
    shapes = [tuple(d.shape) for d in runtime.session.get_inputs()]
    assert shapes == [(1, 3, 32, 36)]
    assert len(runtime(paths)) == 3


@pytest.mark.parametrize(
    "head, head_args, test_cfg",
    [
        ("FCNHead", ", num_convs=1", ""),
        ("PSPHead", ", pool_scales=(1, 2, 3, 6)", ""),
        ("FCNHead", ", num_convs=1", "mode='slide', crop_size=(48, 32), stride=(32, 24)"),
    ],
    ids=["fcn-whole", "psp-adaptive-pool", "fcn-slide"],
)
def test_segmentor_logits_and_maps_match_pytorch(tmp_path, head, head_args, test_cfg):
    paths = _images(tmp_path / "img", [(60, 80), (70, 52), (40, 40)])
    (tmp_path / "ann.json").write_text(
        json.dumps({"metainfo": {}, "data_list": [{"img_path": p} for p in paths]})
    )
    cfg = _config(tmp_path, SEG_CONFIG, head=head, head_args=head_args, test_cfg=test_cfg)
    torch.manual_seed(0)
    result = export_model(cfg, None, tmp_path / "export", dynamic=True)
    inferencer = Inferencer(cfg, None)
    inferencer.model.load_state_dict(result.model.state_dict())
    runtime = OnnxInferencer(result.model_dir, keep_seg_logits=True)
    assert runtime.postprocess_cfg["mode"] == ("slide" if test_cfg else "whole")
    for path in paths:
        inputs, _ = _torch_inputs(inferencer, path)
        prepared, meta = runtime.preprocessor.image(cv2.imread(path))
        batch = runtime.preprocessor.batch([prepared])
        np.testing.assert_array_equal(batch, inputs.numpy())  # padded to >= (64, 48), multiple of 16
        if not test_cfg:
            logits = runtime.run(batch, [meta])["seg_logits"]
            reference = inferencer.model.export_forward(inputs).detach().numpy()
            assert logits.shape == reference.shape
            assert np.abs(logits - reference).max() <= 1e-4
    results = runtime(paths)
    inferencer.keep_logits = True
    inferencer.batch_size = 1  # a batch is padded to its largest image; the runtime runs images alone
    samples = inferencer(paths)
    for result_, sample in zip(results, samples):
        logits = result_["seg_logits"]["data"]
        assert logits.shape == tuple(sample.seg_logits.data.shape)
        assert np.abs(logits - sample.seg_logits.data.numpy()).max() <= 1e-4
        np.testing.assert_array_equal(result_["pred_sem_seg"]["data"], sample.pred_sem_seg.data.numpy())
    assert runtime.to_records(results) == inferencer.to_records(samples)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(37, 53), (9, 6), (20, 20)])
def test_resize_bilinear_equals_interpolate(size, align_corners):
    maps = torch.randn(3, 20, 20)
    expected = F.interpolate(maps[None], size=size, mode="bilinear", align_corners=align_corners)[0]
    got = resize_bilinear(maps.numpy(), size, align_corners)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)


def test_unsupported_test_transform_is_named(tmp_path):
    text = CLS_CONFIG.replace(
        'dict(type="CenterCrop", crop_size=(36, 32))', 'dict(type="RandomFlip", prob=0.5)'
    )
    cfg = _config(tmp_path, text)
    with pytest.raises(ExportError, match=r"transform #2 \(RandomFlip\)"):
        export_model(cfg, None, tmp_path / "export", dynamic=True)
