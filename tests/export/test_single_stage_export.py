"""ONNX export of the single-stage detectors (RetinaNet, FCOS, RTMDet): ``export_forward`` computes the
detections of eager ``predict(rescale=True)``, in PyTorch and through ONNX Runtime."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

import visionstack.models.backbones.cspnext  # noqa: E402,F401  (registers CSPNeXt)
import visionstack.models.losses.focal_loss  # noqa: E402,F401  (registers FocalLoss)
import visionstack.models.losses.gfocal_loss  # noqa: E402,F401  (registers QualityFocalLoss)
import visionstack.models.losses.iou_loss  # noqa: E402,F401  (registers GIoULoss)
import visionstack.models.losses.smooth_l1_loss  # noqa: E402,F401  (registers L1Loss)
import visionstack.models.necks.cspnext_pafpn  # noqa: E402,F401  (registers CSPNeXtPAFPN)
import visionstack.models.necks.fpn  # noqa: E402,F401  (registers FPN)
from visionstack.config import Config  # noqa: E402
from visionstack.export import ExportForward, export_onnx  # noqa: E402
from visionstack.registry import MODELS, build  # noqa: E402
from visionstack.structures import DataSample  # noqa: E402
from visionstack.tasks.detection.models.single_stage import SingleStageDetector  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "detection"
# config file; the head's final convs: classifier, box regressor, the mean of the regressor's output
# (deltas for RetinaNet, distances in strides for FCOS and RTMDet), other outputs (FCOS centerness)
DETECTORS = {
    "retinanet": ("retinanet_r18_fpn_synth.py", "retina_cls", "retina_reg", 0.0, ()),
    "fcos": ("fcos_r18_fpn_synth.py", "conv_cls", "conv_reg", 2.5, ("conv_centerness",)),
    "rtmdet": ("rtmdet_tiny_synth.py", "rtm_cls", "rtm_reg", 3.0, ()),
}
# (height, width) of the resized images and their (w, h) scale factors
SIZES = [(96, 128), (128, 160), (96, 96)]
SCALE_FACTORS = [(0.8, 0.75), (1.25, 1.5), (0.5, 0.625)]
PAIRS_ABOVE_HALF = 60  # (prior, class) pairs of a 96 x 128 image scoring above 0.5 after calibration
DENSE = dict(score_thr=0.0)  # every pair is a candidate: nms_pre and max_per_img both cut
# a few dozen candidates per image: NMS suppresses some, nms_pre cuts the finest level, output has padding
SPARSE = dict(score_thr=0.5, nms_pre=40, max_per_img=50, min_bbox_size=6.0)
DYNAMIC_AXES = {
    "input": {0: "batch", 2: "height", 3: "width"},
    "img_shape": {0: "batch"},
    "scale_factor": {0: "batch"},
}


def make_batch(
    model: SingleStageDetector, count: int, seed: int, first: int = 0
) -> tuple[torch.Tensor, list[DataSample], torch.Tensor, torch.Tensor]:
    """``count`` noise images of ``SIZES[first:]`` -> preprocessed inputs, samples, img_shape, scale_factor."""
    generator = torch.Generator().manual_seed(seed)
    images, samples = [], []
    for (height, width), (factor_w, factor_h) in list(zip(SIZES, SCALE_FACTORS))[first : first + count]:
        images.append(torch.randint(0, 256, (3, height, width), generator=generator, dtype=torch.uint8))
        ori_shape = (round(height / factor_h), round(width / factor_w))
        meta = dict(img_shape=(height, width), ori_shape=ori_shape, scale_factor=(factor_w, factor_h))
        samples.append(DataSample(metainfo=meta))
    data = model.data_preprocessor({"inputs": images, "data_samples": samples})
    img_shape = torch.tensor([s.metainfo["img_shape"] for s in samples], dtype=torch.float32)
    scale_factor = torch.tensor([s.metainfo["scale_factor"] for s in samples], dtype=torch.float32)
    return data["inputs"], data["data_samples"], img_shape, scale_factor


def with_test_cfg(model: SingleStageDetector, **changes: float) -> SingleStageDetector:
    """The model with its head's test settings set to the config's, changed by ``changes``."""
    model.bbox_head.test_cfg = dataclasses.replace(model.config_test_cfg, **changes)
    return model


def head_convs(model: SingleStageDetector, name: str) -> list[nn.Conv2d]:
    """The head's conv ``name``, or its per-level convs."""
    convs = getattr(model.bbox_head, name)
    return list(convs) if isinstance(convs, nn.ModuleList) else [convs]


@torch.no_grad()
def build_detector(name: str) -> SingleStageDetector:
    """The config's detector with weights that give well-separated scores and plausible boxes.

    The published initialisation gives every (prior, class) pair nearly the same score (about 0.01)
    and RTMDet's head nearly constant features, so rankings would hinge on rounding. Kaiming-normal
    convs give varied features; then, measured on a 96 x 128 image, the classifier is scaled to logits
    of standard deviation 2 with its bias shifted so that about ``PAIRS_ABOVE_HALF`` pairs score above
    0.5, and the other prediction convs to outputs of standard deviation 0.3 (1 for the centerness)
    around the regressor's mean.
    """
    file, classifier, regressor, reg_mean, others = DETECTORS[name]
    torch.manual_seed(0)
    model = build(Config.fromfile(CONFIGS / file)["model"], MODELS).eval()
    model.config_test_cfg = model.bbox_head.test_cfg
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    targets = {classifier: (2.0, None), regressor: (0.3, reg_mean), **{other: (1.0, 0.0) for other in others}}
    outputs: dict[str, list[torch.Tensor]] = {key: [] for key in targets}
    hooks = [
        conv.register_forward_hook(lambda _module, _args, out, key=key: outputs[key].append(out.flatten()))
        for key in targets
        for conv in head_convs(model, key)
    ]
    model.forward_tensor(make_batch(model, 1, seed=100)[0])
    for hook in hooks:
        hook.remove()
    for key, (std, mean) in targets.items():
        values = torch.cat(outputs[key])
        scale = std / values.std()
        if mean is None:  # the classifier: shift the PAIRS_ABOVE_HALF-th largest logit to 0
            mean = -float(values.topk(PAIRS_ABOVE_HALF).values[-1] * scale)
        for conv in head_convs(model, key):
            conv.weight.mul_(scale)
            nn.init.constant_(conv.bias, mean)
    return model


def pairs_above(model: SingleStageDetector, inputs: torch.Tensor, score_thr: float) -> list[int]:
    """Per image, the (prior, class) pairs whose class score exceeds ``score_thr``."""
    cls_scores = model.forward_tensor(inputs)[0]
    return [
        int(sum((level[i].sigmoid() > score_thr).sum() for level in cls_scores)) for i in range(len(inputs))
    ]


def assert_same_detections(
    dets: torch.Tensor, labels: torch.Tensor, results: list[DataSample], box_tol: float, score_tol: float
) -> list[int]:
    """``(dets, labels)`` rows equal eager ``pred_instances`` in order, then padding; returns the counts."""
    assert dets.dtype == torch.float32 and labels.dtype == torch.int64
    assert dets.shape[:2] == labels.shape and dets.shape[0] == len(results) and dets.shape[2] == 5
    counts = []
    for image, result in enumerate(results):
        pred = result.pred_instances
        count = len(pred.scores)
        assert int((labels[image] >= 0).sum()) == count, f"image {image}: detection count"
        assert torch.equal(labels[image, :count], pred.labels), f"image {image}: labels"
        torch.testing.assert_close(dets[image, :count, :4], pred.bboxes, rtol=0, atol=box_tol)
        torch.testing.assert_close(dets[image, :count, 4], pred.scores, rtol=0, atol=score_tol)
        assert (dets[image, count:, 4] == -1).all() and (labels[image, count:] == -1).all()
        assert (dets[image, count:, :4] == 0).all()
        counts.append(count)
    return counts


@pytest.fixture(scope="module", params=sorted(DETECTORS))
def detector(request) -> SingleStageDetector:
    return build_detector(request.param)


@pytest.mark.parametrize("settings", [DENSE, SPARSE], ids=["dense", "sparse"])
@pytest.mark.parametrize("batch_size", [1, 2])
@torch.no_grad()
def test_export_forward_matches_eager_predict(detector, settings, batch_size):
    model = with_test_cfg(detector, **settings)
    inputs, samples, img_shape, scale_factor = make_batch(model, batch_size, seed=batch_size)
    results = model.predict(inputs, samples, rescale=True)
    dets, labels = model.export_forward(inputs, img_shape, scale_factor)
    max_per_img = model.bbox_head.test_cfg.max_per_img
    assert dets.shape == (batch_size, max_per_img, 5)
    counts = assert_same_detections(dets, labels, results, box_tol=1e-3, score_tol=1e-5)
    if settings is DENSE:  # far more candidates than outputs: every row is a detection
        assert counts == [max_per_img] * batch_size
    else:  # NMS or the size filter removed candidates, and padding rows follow the detections
        above = pairs_above(model, inputs, settings["score_thr"])
        assert all(5 <= count < min(n, max_per_img) for count, n in zip(counts, above)), (counts, above)


@torch.no_grad()
def test_min_bbox_size_drops_small_boxes_as_eager_does(detector):
    model = with_test_cfg(detector, **{**SPARSE, "min_bbox_size": -1.0})
    inputs, samples, img_shape, scale_factor = make_batch(model, 2, seed=2)
    unfiltered = model.export_forward(inputs, img_shape, scale_factor)[0]
    found = unfiltered[..., 4] > -1
    shortest = (unfiltered[..., 2:4] - unfiltered[..., :2]).min(-1).values[found]
    min_size = float(shortest.median())  # about half of the detections are too small
    model = with_test_cfg(model, **{**SPARSE, "min_bbox_size": min_size})
    dets, labels = model.export_forward(inputs, img_shape, scale_factor)
    assert_same_detections(
        dets, labels, model.predict(inputs, samples, rescale=True), box_tol=1e-3, score_tol=1e-5
    )
    kept = dets[..., 4] > -1
    assert ((dets[..., 2:4] - dets[..., :2])[kept] > min_size).all()
    assert 0 < int(kept.sum()) < int(found.sum())


@pytest.fixture(scope="module")
def exported(detector, tmp_path_factory) -> tuple[SingleStageDetector, ort.InferenceSession]:
    """The detector (SPARSE settings) exported from a batch of one 96 x 128 image, and its ORT session.

    SPARSE rather than DENSE: among thousands of candidates some scores differ by less than ONNX
    Runtime's rounding (about 1e-6), which may swap two equal-scored rows; a few dozen candidates with
    well-separated scores make the comparison exact.
    """
    model = with_test_cfg(detector, **SPARSE)
    inputs, _, img_shape, scale_factor = make_batch(model, 1, seed=0)
    path = export_onnx(
        ExportForward(model),
        (inputs, img_shape, scale_factor),
        tmp_path_factory.mktemp("onnx") / "model.onnx",
        ["input", "img_shape", "scale_factor"],
        list(model.export_output_names),
        DYNAMIC_AXES,
    )
    return model, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@torch.no_grad()
def test_onnx_runtime_matches_eager_predict_on_another_batch_and_size(exported):
    model, session = exported
    model = with_test_cfg(model, **SPARSE)  # the settings baked into the graph
    assert [output.name for output in session.get_outputs()] == ["dets", "labels"]
    # two images (128 x 160 and 96 x 96: one padded), not the exported batch of one 96 x 128 image
    inputs, samples, img_shape, scale_factor = make_batch(model, 2, seed=3, first=1)
    results = model.predict(inputs, samples, rescale=True)
    feeds = {"input": inputs.numpy(), "img_shape": img_shape.numpy(), "scale_factor": scale_factor.numpy()}
    dets, labels = (torch.from_numpy(array) for array in session.run(None, feeds))
    assert dets.shape == (2, model.bbox_head.test_cfg.max_per_img, 5)
    counts = assert_same_detections(dets, labels, results, box_tol=1e-3, score_tol=1e-4)
    assert min(counts) >= 5, counts
