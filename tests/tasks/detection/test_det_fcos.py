"""FCOS (SingleStageDetector + FPN + FCOSHead): config build, targets against a slow loop, losses,
predict in original coordinates, and a tiny overfit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

import visionstack.models.losses.focal_loss  # noqa: F401  (registers FocalLoss)
import visionstack.models.necks.fpn  # noqa: F401  (registers FPN)
from visionstack.config import Config
from visionstack.models.backbones import ResNet
from visionstack.models.necks.fpn import FPN
from visionstack.models.ops import box_iou
from visionstack.registry import MODELS, build
from visionstack.tasks.detection.models.fcos_head import FCOSHead, centerness_target
from visionstack.tasks.detection.models.single_stage import SingleStageDetector
from visionstack.testing.detection import box_sample, fit_steps, predict_batch
from visionstack.testing.detection import painted_boxes as painted
from visionstack.testing.tiny_backbone import TinyConvBackbone

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "detection"
RANGES = ((-1, 32), (32, 64), (64, 1e8))

sample = box_sample


def tiny_fcos(num_classes: int = 3, seed: int = 0, **head_args) -> SingleStageDetector:
    torch.manual_seed(seed)
    return SingleStageDetector(
        backbone=TinyConvBackbone(),
        neck=FPN([24, 32, 48], 32, num_outs=3),
        bbox_head=FCOSHead(
            num_classes,
            32,
            stacked_convs=1,
            feat_channels=32,
            strides=[8, 16, 32],
            regress_ranges=RANGES,
            **head_args,
        ),
        data_preprocessor=dict(mean=[128.0] * 3, std=[64.0] * 3),
    )


def slow_targets(head: FCOSHead, featmap_sizes, gt_boxes, gt_labels):
    """FCOS section 3.2 point by point: among the boxes containing the point (or its center region)
    whose largest distance fits the level's range, take the smallest."""
    labels, targets = [], []
    for level, (height, width) in enumerate(featmap_sizes):
        stride, (low, high) = head.strides[level], head.regress_ranges[level]
        for y in range(height):
            for x in range(width):
                px, py = (x + 0.5) * stride, (y + 0.5) * stride
                best, best_area = None, math.inf
                for g, (x1, y1, x2, y2) in enumerate(gt_boxes.tolist()):
                    ltrb = (px - x1, py - y1, x2 - px, y2 - py)
                    if head.center_sampling:
                        cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, stride * head.center_sample_radius
                        region = (max(cx - r, x1), max(cy - r, y1), min(cx + r, x2), min(cy + r, y2))
                        inside = min(px - region[0], py - region[1], region[2] - px, region[3] - py) > 0
                    else:
                        inside = min(ltrb) > 0
                    area = (x2 - x1) * (y2 - y1)
                    if inside and low <= max(ltrb) <= high and area < best_area:
                        best, best_area = (g, ltrb), area
                if best is None:
                    labels.append(head.num_classes)
                    targets.append((0.0, 0.0, 0.0, 0.0))
                else:
                    labels.append(int(gt_labels[best[0]]))
                    scale = stride if head.norm_on_bbox else 1.0
                    targets.append(tuple(d / scale for d in best[1]))
    return torch.tensor(labels), torch.tensor(targets)


@pytest.mark.parametrize("center_sampling,norm_on_bbox", [(False, False), (True, True)])
def test_targets_match_the_point_by_point_rule(center_sampling, norm_on_bbox):
    head = tiny_fcos(center_sampling=center_sampling, norm_on_bbox=norm_on_bbox).bbox_head
    sizes = [(8, 8), (4, 4), (2, 2)]
    level_points = head.prior_generator.grid_priors(sizes)
    points = torch.cat(level_points)
    ranges = torch.cat(
        [points.new_tensor(r).expand(len(p), 2) for r, p in zip(head.regress_ranges, level_points)]
    )
    strides = torch.cat([points.new_full((len(p),), s) for s, p in zip(head.strides, level_points)])
    gt = sample([[4, 6, 60, 58], [10, 12, 30, 28], [36, 30, 52, 62]], [1, 0, 2])
    labels, targets = head._image_targets(points, ranges, strides, gt)
    expected_labels, expected_targets = slow_targets(
        head, sizes, gt.gt_instances.bboxes, gt.gt_instances.labels
    )
    assert torch.equal(labels, expected_labels)
    foreground = labels < head.num_classes
    assert foreground.sum() > 3 and set(labels[foreground].tolist()) == {0, 1, 2}
    torch.testing.assert_close(targets[foreground], expected_targets[foreground])


def test_centerness_target_formula():
    distances = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0]])
    expected = torch.tensor([math.sqrt(1 / 3 * 2 / 4), 1.0])
    torch.testing.assert_close(centerness_target(distances), expected)
    assert centerness_target(torch.zeros(0, 4)).shape == (0,)


def test_configs_build():
    for name in ("fcos_r18_fpn_synth.py", "fcos_r50_fpn_1x_coco.py"):
        cfg = Config.fromfile(CONFIGS / name)
        model = build(cfg["model"], MODELS)
        assert isinstance(model.bbox_head, FCOSHead)
        assert len(model.bbox_head.strides) == model.neck.num_outs == len(model.bbox_head.regress_ranges)
    assert isinstance(model.bbox_head.cls_convs[1], nn.GroupNorm)
    assert model.neck.add_extra_convs == "on_output" and model.neck.relu_before_extra_convs


@pytest.mark.parametrize("norm_on_bbox", [False, True])
def test_loss_is_finite_with_gradients_everywhere(norm_on_bbox):
    model = tiny_fcos(norm_on_bbox=norm_on_bbox, center_sampling=norm_on_bbox, centerness_on_reg=norm_on_bbox)
    if norm_on_bbox:  # ReLU'd distances start near 0: lift them so that every level's scale gets a gradient
        nn.init.constant_(model.bbox_head.conv_reg.bias, 1.0)
    else:
        model.backbone = ResNet(depth=18, out_indices=(1, 2, 3))  # the real backbone once
        model.neck = FPN([128, 256, 512], 32, num_outs=3)
    boxes = [[8, 10, 40, 42], [44, 40, 60, 62], [4, 4, 100, 100]]  # the large box reaches every level
    images = [
        painted(boxes, [(250, 30, 30), (30, 30, 250), (30, 250, 30)], size=128),
        painted([], [], size=128),
    ]
    samples = [sample(boxes, [0, 2, 1], size=128), sample([], [], size=128)]
    data = model.data_preprocessor({"inputs": images, "data_samples": samples}, training=True)
    losses = model(**data, mode="loss")
    assert set(losses) == {"loss_cls", "loss_bbox", "loss_centerness"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    model.parse_losses(losses)[0].backward()
    missing = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not p.grad.abs().sum())
    ]
    assert not missing, missing


def test_images_without_objects_give_zero_box_losses_with_a_graph():
    model = tiny_fcos()
    data = model.data_preprocessor(
        {"inputs": [painted([], [])], "data_samples": [sample([], [])]}, training=True
    )
    losses = model(**data, mode="loss")
    assert losses["loss_bbox"].item() == 0.0 and losses["loss_centerness"].item() == 0.0
    sum(losses.values()).backward()
    assert model.bbox_head.conv_cls.weight.grad.abs().sum() > 0


def test_predict_returns_boxes_in_original_coordinates():
    model = tiny_fcos(norm_on_bbox=True).eval()
    model.bbox_head.test_cfg.score_thr = 0.005  # untrained: every score starts near the 0.01 prior
    image = painted([[8, 10, 40, 42]], [(250, 30, 30)])
    results = []
    for scale in (1.0, 0.5):
        data = model.data_preprocessor({"inputs": [image], "data_samples": [sample([], [], scale=scale)]})
        with torch.no_grad():
            (out,) = model(**data, mode="predict")
        results.append(out.pred_instances)
    assert 0 < len(results[0]) <= 100
    torch.testing.assert_close(results[1].bboxes * 0.5, results[0].bboxes)
    assert (results[0].bboxes[:, 2:] <= 64).all() and (results[0].bboxes >= 0).all()
    cls_scores, bbox_preds, centernesses = model(data["inputs"], mode="tensor")
    assert [tuple(t.shape) for t in centernesses] == [(1, 1, 8, 8), (1, 1, 4, 4), (1, 1, 2, 2)]
    assert all((b >= 0).all() for b in bbox_preds)


def test_overfits_two_images():
    model = tiny_fcos(num_classes=3, seed=1)
    images = [painted([[8, 10, 40, 42]], [(250, 30, 30)]), painted([[24, 16, 56, 56]], [(30, 30, 250)])]
    samples = [sample([[8, 10, 40, 42]], [0]), sample([[24, 16, 56, 56]], [2])]
    history = fit_steps(model, images, samples, lr=1e-3, steps=60)
    assert history[-1] < 0.5 * history[0], history
    outputs = predict_batch(model, images, samples)
    for out, gt in zip(outputs, samples):
        top = out.pred_instances[0]
        assert box_iou(top.bboxes, gt.gt_instances.bboxes).item() > 0.5
        assert top.labels.item() == gt.gt_instances.labels.item()
