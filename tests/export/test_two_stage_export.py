"""Faster / Mask R-CNN export: ``export_forward`` (eager and through ONNX Runtime) gives the
detections of eager ``predict(rescale=True)``, and the NumPy mask paster the eager masks."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import visionstack.models.losses.smooth_l1_loss  # noqa: F401  (registers L1Loss)
import visionstack.models.necks.fpn  # noqa: F401  (registers FPN)
from visionstack.config import Config
from visionstack.registry import MODELS, build
from visionstack.structures import DataSample
from visionstack.tasks.detection.models.mask_head import paste_masks_in_image
from visionstack.tasks.detection.models.roi_head import _float_rois
from visionstack.tasks.detection.models.two_stage import TwoStageDetector

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "detection"
MASKS_FILE = ROOT / "visionstack" / "tasks" / "detection" / "mask_paste.py"
CONFIG_FILES = {"faster": "faster_rcnn_r18_fpn_synth.py", "mask": "mask_rcnn_r18_fpn_synth.py"}
# a random-init R-CNN scores all classes alike (~0.2-0.8): at 0.4 an image keeps dozens of detections,
# fewer than max_per_img (100), and NMS removes some of the candidates
SCORE_THR = 0.4
INPUT_NAMES = ["input", "img_shape", "scale_factor"]
DYNAMIC_AXES = {
    "input": {0: "batch", 2: "height", 3: "width"},
    "img_shape": {0: "batch"},
    "scale_factor": {0: "batch"},
}
# (img_shape, ori_shape) per image; each batch is padded to a multiple of 32
EXPORT_BATCH = [((96, 128), (120, 160)), ((80, 112), (60, 84))]
BATCHES = {
    "batch1": [((96, 128), (192, 256))],
    "batch2": EXPORT_BATCH,
}
ONNX_BATCHES = {  # other batch sizes and image sizes than the export sample
    "batch1_64x160": [((64, 160), (128, 320))],
    "batch3_mixed": [((96, 160), (192, 320)), ((70, 150), (35, 75)), ((96, 100), (96, 100))],
}


def load_masks_module():
    """``visionstack/tasks/detection/mask_paste.py`` loaded on its own (it must not need torch or visionstack)."""
    spec = importlib.util.spec_from_file_location("deploy_masks_under_test", MASKS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


paste_masks = load_masks_module().paste_masks


def build_rcnn(kind: str) -> TwoStageDetector:
    torch.manual_seed(0)
    model = build(Config.fromfile(CONFIGS / CONFIG_FILES[kind])["model"], MODELS).eval()
    model.roi_head.test_cfg = replace(model.roi_head.test_cfg, score_thr=SCORE_THR)
    return model


@pytest.fixture(scope="module", params=sorted(CONFIG_FILES))
def rcnn(request) -> TwoStageDetector:
    return build_rcnn(request.param)


def make_batch(model: TwoStageDetector, shapes, seed: int = 0) -> tuple[torch.Tensor, list[DataSample]]:
    """Preprocessed random images of the given (img_shape, ori_shape) pairs and their samples."""
    generator = torch.Generator().manual_seed(seed)
    images, samples = [], []
    for (height, width), (ori_h, ori_w) in shapes:
        images.append(torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator))
        metainfo = dict(
            img_shape=(height, width), ori_shape=(ori_h, ori_w), scale_factor=(width / ori_w, height / ori_h)
        )
        samples.append(DataSample(metainfo=metainfo))
    data = model.data_preprocessor({"inputs": images, "data_samples": samples})
    return data["inputs"], data["data_samples"]


def export_inputs(samples: list[DataSample]) -> tuple[torch.Tensor, torch.Tensor]:
    img_shape = torch.tensor([sample.metainfo["img_shape"] for sample in samples], dtype=torch.float32)
    scale_factor = torch.tensor([sample.metainfo["scale_factor"] for sample in samples], dtype=torch.float32)
    return img_shape, scale_factor


def candidate_count(model: TwoStageDetector, inputs: torch.Tensor, samples: list[DataSample]) -> list[int]:
    """Per image, the (proposal, class) pairs above the score threshold, i.e. what enters the final NMS."""
    feats = model.extract_feat(inputs)
    proposals = model.rpn_head.predict(feats, samples)
    rois = _float_rois([proposal.bboxes for proposal in proposals], feats)
    cls_score, _ = model.roi_head.bbox_head(model.roi_head.bbox_roi_extractor(feats, rois))
    scores = torch.softmax(cls_score, dim=1)[:, :-1]
    return [int((part > SCORE_THR).sum()) for part in scores.split([len(p) for p in proposals])]


def assert_same_detections(
    predictions: list[DataSample], dets, labels, masks, score_atol: float, box_atol: float = 1e-3
) -> dict[str, float]:
    """Exported outputs (torch or NumPy) against eager ``pred_instances``; returns the worst differences."""
    dets, labels = np.asarray(dets), np.asarray(labels)
    worst = {"box": 0.0, "score": 0.0, "mask_pixels": 0}
    max_per_img = dets.shape[1]
    assert dets.dtype == np.float32 and labels.dtype == np.int64 and labels.shape == dets.shape[:2]
    for index, sample in enumerate(predictions):
        expected = sample.pred_instances
        count = len(expected)
        assert 20 <= count <= max_per_img, f"image {index}: {count} detections, the test needs dozens"
        np.testing.assert_array_equal(
            labels[index, :count], expected.labels.numpy(), err_msg=f"image {index}"
        )
        assert (labels[index, count:] == -1).all() and (dets[index, count:, 4] == -1).all()
        box_error = np.abs(dets[index, :count, :4] - expected.bboxes.numpy()).max()
        score_error = np.abs(dets[index, :count, 4] - expected.scores.numpy()).max()
        assert box_error <= box_atol and score_error <= score_atol, (index, box_error, score_error)
        assert (np.diff(dets[index, :count, 4]) <= 0).all()
        worst["box"], worst["score"] = max(worst["box"], box_error), max(worst["score"], score_error)
        if masks is not None:
            probabilities = np.asarray(masks)[index, :count]
            assert (
                probabilities.shape[1:] == (28, 28) and 0 <= probabilities.min() and probabilities.max() <= 1
            )
            pasted = paste_masks(probabilities, dets[index, :count, :4], sample.metainfo["ori_shape"])
            reference = expected.masks.numpy()
            # the exported mask head runs on all B * K rows (padding included), so its convolutions may
            # round differently in the last bit and a pixel whose probability sits at the threshold flip
            differing = int((pasted != reference).sum())
            assert reference.sum() > 1000 and differing <= 5, (index, differing, int(reference.sum()))
            worst["mask_pixels"] = max(worst["mask_pixels"], differing)
    return worst


@pytest.mark.parametrize("batch", sorted(BATCHES))
def test_eager_export_forward_matches_predict(rcnn, batch):
    inputs, samples = make_batch(rcnn, BATCHES[batch])
    img_shape, scale_factor = export_inputs(samples)
    with torch.no_grad():
        outputs = rcnn.export_forward(inputs, img_shape, scale_factor)
        predictions = rcnn.predict(inputs, samples, rescale=True)
        candidates = candidate_count(rcnn, inputs, samples)
    assert len(outputs) == len(rcnn.export_output_names) == (3 if rcnn.with_mask else 2)
    assert rcnn.export_output_names[:2] == ("dets", "labels")
    assert outputs[0].shape == (len(samples), rcnn.roi_head.test_cfg.max_per_img, 5)
    # NMS has work to do: it removes some of the candidates above the threshold
    assert all(len(p.pred_instances) < count for p, count in zip(predictions, candidates)), candidates
    masks = outputs[2].numpy() if rcnn.with_mask else None
    worst = assert_same_detections(
        predictions, outputs[0].numpy(), outputs[1].numpy(), masks, score_atol=1e-5
    )
    assert worst["box"] <= 1e-4, worst  # the same float32 operations (masks: a pixel may flip, see above)


def test_padding_proposals_never_become_detections(rcnn):
    """With fewer RPN proposals than the fixed P, the padded rows (score -1) yield no detection."""
    inputs, samples = make_batch(rcnn, BATCHES["batch1"], seed=3)
    img_shape, scale_factor = export_inputs(samples)
    rpn_cfg = rcnn.rpn_head.test_proposal_cfg
    rcnn.rpn_head.test_proposal_cfg = replace(rpn_cfg, nms_iou_thr=0.3)  # NMS leaves far fewer than 300
    try:
        with torch.no_grad():
            feats = rcnn.extract_feat(inputs)
            _, proposal_scores = rcnn.rpn_head.export_proposals(*rcnn.rpn_head(feats), img_shape)
            outputs = rcnn.export_forward(inputs, img_shape, scale_factor)
            predictions = rcnn.predict(inputs, samples, rescale=True)
    finally:
        rcnn.rpn_head.test_proposal_cfg = rpn_cfg
    padding = int((proposal_scores < 0).sum())
    assert padding > 50, padding
    masks = outputs[2].numpy() if rcnn.with_mask else None
    assert_same_detections(predictions, outputs[0].numpy(), outputs[1].numpy(), masks, score_atol=1e-5)


def test_mask_paster_equals_eager_paste_and_needs_no_torch():
    generator = torch.Generator().manual_seed(0)
    height, width = 97, 143
    corner = torch.rand(60, 2, generator=generator) * torch.tensor([width + 20.0, height + 20.0]) - 10
    size = torch.rand(60, 2, generator=generator) ** 2 * 120 + 0.3  # sub-pixel to larger than the image
    boxes = torch.cat([corner, corner + size], dim=1)
    blobs = torch.sigmoid(4 * torch.randn(60, 1, 7, 7, generator=generator))
    masks = torch.nn.functional.interpolate(blobs, size=(28, 28), mode="bilinear")[:, 0]
    for threshold in (0.5, 0.3):
        expected = paste_masks_in_image(masks, boxes, (height, width), threshold).numpy()
        pasted = paste_masks(masks.numpy(), boxes.numpy(), (height, width), threshold)
        assert pasted.dtype == bool and pasted.shape == expected.shape
        assert expected.sum() > 10000 and (pasted != expected).sum() == 0
    assert paste_masks(np.zeros((0, 28, 28)), np.zeros((0, 4)), (5, 6)).shape == (0, 5, 6)
    check = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('m', {str(MASKS_FILE)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "assert 'torch' not in sys.modules, 'mask_paste.py imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", check], check=True, timeout=60)


# ---- ONNX ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(rcnn, tmp_path_factory) -> tuple[TwoStageDetector, Path, float]:
    """The model exported once per module with a dynamic batch, height and width (batch 2, 96x128)."""
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from visionstack.export import ExportForward, export_onnx

    inputs, samples = make_batch(rcnn, EXPORT_BATCH)
    started = time.perf_counter()
    path = export_onnx(
        ExportForward(rcnn),
        (inputs, *export_inputs(samples)),
        tmp_path_factory.mktemp("two_stage") / "model.onnx",
        INPUT_NAMES,
        list(rcnn.export_output_names),
        DYNAMIC_AXES,
    )
    return rcnn, path, time.perf_counter() - started


@pytest.mark.parametrize("batch", sorted(ONNX_BATCHES))
def test_onnxruntime_matches_eager_predict(exported, batch):
    import onnxruntime as ort

    model, path, _ = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [node.name for node in session.get_inputs()] == INPUT_NAMES
    assert tuple(node.name for node in session.get_outputs()) == model.export_output_names
    inputs, samples = make_batch(model, ONNX_BATCHES[batch], seed=1)
    img_shape, scale_factor = export_inputs(samples)
    outputs = session.run(
        None, {"input": inputs.numpy(), "img_shape": img_shape.numpy(), "scale_factor": scale_factor.numpy()}
    )
    with torch.no_grad():
        predictions = model.predict(inputs, samples, rescale=True)
    assert outputs[0].shape == (len(samples), model.roi_head.test_cfg.max_per_img, 5)
    assert_same_detections(
        predictions, outputs[0], outputs[1], outputs[2] if model.with_mask else None, score_atol=1e-4
    )
