"""RetinaNet (SingleStageDetector + FPN + RetinaHead): config build, losses, targets, predict, overfit."""

from __future__ import annotations

from pathlib import Path

import torch

import visionstack.models.losses.focal_loss  # noqa: F401  (registers FocalLoss)
import visionstack.models.losses.smooth_l1_loss  # noqa: F401  (registers L1Loss)
import visionstack.models.necks.fpn  # noqa: F401  (registers FPN)
from visionstack.config import Config
from visionstack.models.backbones import ResNet
from visionstack.models.necks.fpn import FPN
from visionstack.models.ops import AnchorGenerator, box_iou
from visionstack.registry import MODELS, build
from visionstack.tasks.detection.models.retina_head import RetinaHead
from visionstack.tasks.detection.models.single_stage import SingleStageDetector
from visionstack.testing.detection import box_sample, fit_steps, predict_batch
from visionstack.testing.detection import painted_boxes as painted
from visionstack.testing.tiny_backbone import TinyConvBackbone

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "detection"

sample = box_sample


def tiny_retinanet(num_classes: int = 3, seed: int = 0) -> SingleStageDetector:
    """The narrow backbone, a 3-level 32-channel FPN (strides 8-32), one conv per tower."""
    torch.manual_seed(seed)
    return SingleStageDetector(
        backbone=TinyConvBackbone(),
        neck=FPN([24, 32, 48], 32, num_outs=3),
        bbox_head=RetinaHead(
            num_classes,
            32,
            stacked_convs=1,
            feat_channels=32,
            anchor_generator=AnchorGenerator(
                strides=[8, 16, 32], ratios=[0.5, 1.0, 2.0], octave_base_scale=4, scales_per_octave=3
            ),
        ),
        data_preprocessor=dict(mean=[128.0] * 3, std=[64.0] * 3),
    )


def batch() -> dict:
    images = [painted([[8, 10, 40, 42], [44, 40, 60, 62]], [(250, 30, 30), (30, 30, 250)]), painted([], [])]
    samples = [sample([[8, 10, 40, 42], [44, 40, 60, 62]], [0, 2]), sample([], [])]
    return {"inputs": images, "data_samples": samples}


def test_synth_and_coco_configs_build():
    for name, levels in (("retinanet_r18_fpn_synth.py", 4), ("retinanet_r50_fpn_1x_coco.py", 5)):
        cfg = Config.fromfile(CONFIGS / name)
        model = build(cfg["model"], MODELS)
        assert isinstance(model, SingleStageDetector) and isinstance(model.bbox_head, RetinaHead)
        assert model.bbox_head.num_anchors == 9 and model.bbox_head.prior_generator.num_levels == levels
        assert model.neck.num_outs == levels
    assert model.bbox_head.num_classes == 80 and model.bbox_head.test_cfg.nms_pre == 1000


def test_loss_is_finite_with_gradients_everywhere_including_an_empty_image():
    model = tiny_retinanet()
    model.backbone = ResNet(depth=18, out_indices=(1, 2, 3))  # the real backbone once
    model.neck = FPN([128, 256, 512], 32, num_outs=3)
    data = model.data_preprocessor(batch(), training=True)
    losses = model(**data, mode="loss")
    assert set(losses) == {"loss_cls", "loss_bbox"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    total, log_vars = model.parse_losses(losses)
    total.backward()
    missing = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not p.grad.abs().sum())
    ]
    assert not missing, missing
    assert log_vars["loss"] == total.item()


def test_only_empty_images_still_train_the_classifier():
    model = tiny_retinanet()
    data = model.data_preprocessor(
        {"inputs": [painted([], [])], "data_samples": [sample([], [])]}, training=True
    )
    losses = model(**data, mode="loss")
    assert losses["loss_bbox"].item() == 0.0 and torch.isfinite(losses["loss_cls"])
    sum(losses.values()).backward()
    assert model.bbox_head.retina_cls.weight.grad.abs().sum() > 0


def test_targets_decode_back_to_the_assigned_ground_truth():
    head = tiny_retinanet().bbox_head
    anchors = torch.cat(head.prior_generator.grid_priors([(8, 8), (4, 4), (2, 2)]))
    gt = sample([[8, 10, 40, 42], [44, 40, 60, 62]], [0, 2])
    labels, label_weights, bbox_targets, bbox_weights = head._image_targets(anchors, gt)
    positive = bbox_weights[:, 0] > 0
    ious = box_iou(anchors, gt.gt_instances.bboxes)
    best = ious.max(dim=1)
    # positives: IoU >= 0.5, or the best anchor of a ground truth; background: IoU < 0.4
    assert torch.equal(positive | (best.values >= 0.5), positive)
    assert positive[ious.argmax(dim=0)].all()
    assert (label_weights[~positive & (best.values >= 0.4) & (best.values < 0.5)] == 0).all()
    assert (labels[label_weights.bool() & ~positive] == head.num_classes).all()
    decoded = head.bbox_coder.decode(anchors[positive], bbox_targets[positive])
    matched = gt.gt_instances.bboxes[ious[positive].argmax(dim=1)]
    torch.testing.assert_close(decoded, matched, atol=1e-4, rtol=1e-4)
    assert set(labels[positive].tolist()) == {0, 2}


def test_predict_returns_boxes_in_original_coordinates():
    model = tiny_retinanet().eval()
    model.bbox_head.test_cfg.score_thr = 0.005  # untrained: every score starts near the 0.01 prior
    image = painted([[8, 10, 40, 42]], [(250, 30, 30)])
    results = []
    for scale in (1.0, 2.0):
        data = model.data_preprocessor({"inputs": [image], "data_samples": [sample([], [], scale=scale)]})
        with torch.no_grad():
            (out,) = model(**data, mode="predict")
        results.append(out.pred_instances)
    assert len(results[0]) > 0 and len(results[0]) <= 100
    torch.testing.assert_close(results[1].bboxes * 2.0, results[0].bboxes)
    torch.testing.assert_close(results[1].scores, results[0].scores)
    assert results[0].labels.dtype == torch.long and (results[0].scores > 0.005).all()
    assert (results[0].scores[:-1] >= results[0].scores[1:]).all()
    raw = model(data["inputs"], mode="tensor")
    assert [tuple(t.shape) for t in raw[0]] == [(1, 27, 8, 8), (1, 27, 4, 4), (1, 27, 2, 2)]


def test_overfits_two_images():
    model = tiny_retinanet(num_classes=3, seed=1)
    images = [painted([[8, 10, 40, 42]], [(250, 30, 30)]), painted([[24, 16, 56, 56]], [(30, 30, 250)])]
    samples = [sample([[8, 10, 40, 42]], [0]), sample([[24, 16, 56, 56]], [2])]
    history = fit_steps(model, images, samples, lr=1e-3, steps=40)
    assert history[-1] < 0.3 * history[0], history
    outputs = predict_batch(model, images, samples)
    for out, gt in zip(outputs, samples):
        top = out.pred_instances[0]
        assert box_iou(top.bboxes, gt.gt_instances.bboxes).item() > 0.5
        assert top.labels.item() == gt.gt_instances.labels.item()


def test_eager_threshold_shortcut_gives_the_fixed_shape_path_detections(monkeypatch):
    """Eager predict ranks only the pairs above score_thr; the fixed-shape (export) path ranks all
    and marks the rest. Same detections, whether many, few or no pairs pass."""
    from visionstack.tasks.detection.models import dense_inference

    model = tiny_retinanet(num_classes=3).eval()
    select_top_pairs = dense_inference.select_top_pairs

    def rank_all(scores, nms_pre, score_thr=None):
        return select_top_pairs(scores, nms_pre)

    with torch.no_grad():
        channels = model.bbox_head.retina_cls.bias.numel()
        for bias in (3.0, -2.0, -9.0):  # every pair passes, some pass (biases spread), none passes
            spread = torch.linspace(-2.0, 1.6, channels) if bias == -2.0 else torch.zeros(channels)
            model.bbox_head.retina_cls.bias.copy_(bias + spread)
            for score_thr in (0.05, 0.3):
                model.bbox_head.test_cfg.score_thr = score_thr
                data = batch()
                shortcut = [
                    s.pred_instances for s in predict_batch(model, data["inputs"], data["data_samples"])
                ]
                with monkeypatch.context() as patch:
                    patch.setattr(dense_inference, "select_top_pairs", rank_all)
                    data = batch()
                    fixed = [
                        s.pred_instances for s in predict_batch(model, data["inputs"], data["data_samples"])
                    ]
                for short, full in zip(shortcut, fixed):
                    for key in ("bboxes", "scores", "labels"):
                        assert torch.equal(getattr(short, key), getattr(full, key)), (bias, score_thr, key)
                found = sum(len(result.scores) for result in shortcut)
                assert (found > 0) == (bias > -5), (bias, score_thr, found)


def test_select_top_pairs_ranks_only_the_passing_pairs_eagerly():
    from visionstack.tasks.detection.models.dense_inference import select_top_pairs

    scores = torch.rand(1, 500, 4, generator=torch.Generator().manual_seed(0))
    top, prior, label = select_top_pairs(scores, 30, score_thr=0.9)
    full_top, full_prior, full_label = select_top_pairs(scores, 30)
    passing = full_top > 0.9
    assert top.shape[1] == 30 and passing.all()  # more than 30 of 2000 pass 0.9
    top, prior, label = select_top_pairs(scores, 1000, score_thr=0.99)
    full_top, full_prior, full_label = select_top_pairs(scores, 1000)
    passing = full_top > 0.99
    assert torch.equal(top, full_top[passing][None]) and torch.equal(prior, full_prior[passing][None])
    assert torch.equal(label, full_label[passing][None])
    top, prior, label = select_top_pairs(scores, 1000, score_thr=2.0)  # none passes: one pair, to be marked
    assert top.shape == prior.shape == label.shape == (1, 1) and top[0, 0] <= 2.0
