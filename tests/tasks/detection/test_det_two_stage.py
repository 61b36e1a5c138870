"""Faster / Mask R-CNN (TwoStageDetector + FPN + RPNHead + StandardRoIHead [+ FCNMaskHead]):
config build, losses and gradients, predict in original coordinates, overfit."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch

import visionstack.models.losses.smooth_l1_loss  # noqa: F401  (registers L1Loss)
import visionstack.models.necks.fpn  # noqa: F401  (registers FPN)
from visionstack.config import Config
from visionstack.models.necks.fpn import FPN
from visionstack.models.ops import RandomSampler, box_iou
from visionstack.registry import MODELS, build
from visionstack.structures import DataSample
from visionstack.tasks.detection.models.mask_head import FCNMaskHead
from visionstack.tasks.detection.models.roi_head import Shared2FCBBoxHead, SingleRoIExtractor, StandardRoIHead
from visionstack.tasks.detection.models.rpn_head import RPNHead
from visionstack.tasks.detection.models.two_stage import FasterRCNN, MaskRCNN, TwoStageDetector
from visionstack.testing.detection import box_sample, fit_steps, predict_batch
from visionstack.testing.detection import painted_boxes as painted
from visionstack.testing.tiny_backbone import TinyConvBackbone

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "detection"

sample = partial(box_sample, with_masks=True)


def tiny_rcnn(num_classes: int = 3, with_mask: bool = False, seed: int = 0) -> TwoStageDetector:
    """The narrow backbone, a 5-level 32-channel FPN, fewer proposals and sampled RoIs."""
    torch.manual_seed(seed)
    mask_parts = {}
    if with_mask:
        mask_parts = dict(
            mask_roi_extractor=SingleRoIExtractor(14, 32),
            mask_head=FCNMaskHead(num_classes, 32, 32, num_convs=2),
        )
    roi_head = StandardRoIHead(
        bbox_roi_extractor=SingleRoIExtractor(7, 32),
        bbox_head=Shared2FCBBoxHead(num_classes, 32, fc_out_channels=128),
        sampler=RandomSampler(128, 0.25, add_gt_as_proposals=True),
        **mask_parts,
    )
    detector = MaskRCNN if with_mask else FasterRCNN
    return detector(
        backbone=TinyConvBackbone((1, 2, 3, 4)),
        neck=FPN([16, 24, 32, 48], 32, num_outs=5),
        rpn_head=RPNHead(
            32,
            32,
            train_proposal_cfg=dict(nms_pre=300, max_per_img=100),
            test_proposal_cfg=dict(nms_pre=300, max_per_img=100),
        ),
        roi_head=roi_head,
        data_preprocessor=dict(mean=[128.0] * 3, std=[64.0] * 3),
    )


def batch() -> dict:
    images = [painted([[8, 10, 40, 42], [44, 40, 60, 62]], [(250, 30, 30), (30, 30, 250)]), painted([], [])]
    samples = [sample([[8, 10, 40, 42], [44, 40, 60, 62]], [0, 2]), sample([], [])]
    return {"inputs": images, "data_samples": samples}


def test_synth_and_coco_configs_build():
    for name, detector, classes in (
        ("faster_rcnn_r18_fpn_synth.py", FasterRCNN, 5),
        ("mask_rcnn_r18_fpn_synth.py", MaskRCNN, 5),
        ("faster_rcnn_r50_fpn_1x_coco.py", FasterRCNN, 80),
        ("mask_rcnn_r50_fpn_1x_coco.py", MaskRCNN, 80),
    ):
        cfg = Config.fromfile(CONFIGS / name)
        model = build(cfg["model"], MODELS)
        assert type(model) is detector and model.roi_head.bbox_head.num_classes == classes
        assert model.rpn_head.num_anchors == 3 and model.rpn_head.anchor_generator.num_levels == 5
        assert model.with_mask == (detector is MaskRCNN)
        assert model.roi_head.bbox_head.bbox_coder.target_stds == (0.1, 0.1, 0.2, 0.2)
    assert model.rpn_head.train_proposal_cfg.nms_pre == 2000 and model.roi_head.sampler.num == 512
    assert model.roi_head.mask_head.num_classes == 80 and model.roi_head.mask_head.mask_size == 28


@pytest.mark.parametrize("with_mask", [False, True])
def test_loss_is_finite_with_gradients_everywhere_including_an_empty_image(with_mask):
    model = tiny_rcnn(with_mask=with_mask)
    data = model.data_preprocessor(batch(), training=True)
    losses = model(**data, mode="loss")
    expected = {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "acc"} | (
        {"loss_mask"} if with_mask else set()
    )
    assert set(losses) == expected
    assert all(torch.isfinite(value) for value in losses.values())
    total, log_vars = model.parse_losses(losses)
    total.backward()
    missing = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not p.grad.abs().sum())
    ]
    assert not missing, missing


def test_predict_returns_boxes_and_masks_in_original_coordinates():
    model = tiny_rcnn(with_mask=True).eval()
    model.roi_head.test_cfg = type(model.roi_head.test_cfg)(score_thr=0.0)
    image = painted([[8, 10, 40, 42]], [(250, 30, 30)])
    results = []
    for scale in (1.0, 2.0):
        data = model.data_preprocessor({"inputs": [image], "data_samples": [sample([], [], scale=scale)]})
        with torch.no_grad():
            (out,) = model(**data, mode="predict")
        results.append(out.pred_instances)
    assert 0 < len(results[0]) <= 100
    torch.testing.assert_close(results[1].bboxes * 2.0, results[0].bboxes)
    torch.testing.assert_close(results[1].scores, results[0].scores)
    assert results[0].masks.shape == (len(results[0]), 64, 64) and results[1].masks.shape[1:] == (32, 32)
    assert results[0].masks.dtype == torch.bool and results[0].labels.dtype == torch.long
    raw = model(data["inputs"], mode="tensor")
    assert [tuple(t.shape) for t in raw[0]] == [
        (1, 3, 16, 16),
        (1, 3, 8, 8),
        (1, 3, 4, 4),
        (1, 3, 2, 2),
        (1, 3, 1, 1),
    ]
    assert raw[2].shape[1] == 4 and raw[3].shape[1] == 12 and raw[4].shape[1:] == (3, 28, 28)


def test_mask_rcnn_needs_a_mask_head_and_loss_needs_ground_truth():
    faster = tiny_rcnn()
    with pytest.raises(ValueError, match="mask_head"):
        MaskRCNN(faster.backbone, faster.rpn_head, faster.roi_head, neck=faster.neck)
    with pytest.raises(ValueError, match="gt_instances"):
        faster(torch.zeros(1, 3, 64, 64), [DataSample(metainfo=dict(img_shape=(64, 64)))], mode="loss")


def test_overfits_two_images():
    model = tiny_rcnn(num_classes=3, with_mask=True, seed=1)
    images = [painted([[8, 10, 40, 42]], [(250, 30, 30)]), painted([[24, 16, 56, 56]], [(30, 30, 250)])]
    samples = [sample([[8, 10, 40, 42]], [0]), sample([[24, 16, 56, 56]], [2])]
    history = fit_steps(model, images, samples, lr=2e-3, steps=40)
    assert history[-1] < 0.3 * history[0], history
    outputs = predict_batch(model, images, samples)
    for out, gt in zip(outputs, samples):
        top = out.pred_instances[0]
        assert box_iou(top.bboxes, gt.gt_instances.bboxes).item() > 0.5
        assert top.labels.item() == gt.gt_instances.labels.item()
        gt_mask = gt.gt_instances.masks.to_tensor()[0]
        overlap = (top.masks[0] & gt_mask).sum() / (top.masks[0] | gt_mask).sum()
        assert overlap > 0.5


def test_bfloat16_autocast_keeps_box_arithmetic_in_float32():
    model = tiny_rcnn(with_mask=True)
    data = model.data_preprocessor(batch(), training=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = model(**data, mode="loss")
    assert all(torch.isfinite(value) and value.dtype == torch.float32 for value in losses.values())
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        feats = model.extract_feat(data["inputs"])
        proposals = model.rpn_head.predict(feats, data["data_samples"])
    assert proposals[0].bboxes.dtype == torch.float32
    # float32 coordinates: a proposal can sit at a non-multiple of bfloat16's spacing near 64 px (0.25)
    assert bool(((proposals[0].bboxes * 4) % 1 != 0).any())
