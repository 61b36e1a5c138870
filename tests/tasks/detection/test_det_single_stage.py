"""SingleStageDetector frame, DetDataPreprocessor, and the dense-head helpers (candidate selection,
rescale + NMS, test config)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import visionstack.models.necks.fpn  # noqa: F401  (registers FPN)
from visionstack.models.ops import AnchorGenerator, multiclass_nms
from visionstack.registry import MODELS, build
from visionstack.structures import BitmapMasks, DataSample, InstanceData, PolygonMasks
from visionstack.tasks.detection.models.data_preprocessor import DetDataPreprocessor
from visionstack.tasks.detection.models.dense_inference import (
    bbox_post_process,
    filter_scores_and_topk,
    rescale_boxes,
)
from visionstack.tasks.detection.models.retina_head import RetinaHead
from visionstack.tasks.detection.models.single_stage import (
    SingleStageDetector,
)
from visionstack.tasks.detection.models.test_config import DetTestConfig


def det_sample(height: int, width: int, masks=None) -> DataSample:
    fields = dict(bboxes=torch.tensor([[1.0, 2.0, 9.0, 12.0]]), labels=torch.tensor([1]))
    if masks is not None:
        fields["masks"] = masks
    return DataSample(metainfo=dict(img_shape=(height, width)), gt_instances=InstanceData(**fields))


# ---- DetDataPreprocessor ------------------------------------------------------------------------
def test_preprocessor_pads_to_multiples_of_32_and_records_the_batch_shape():
    images = [
        torch.randint(0, 256, (3, 40, 50), dtype=torch.uint8),
        torch.randint(0, 256, (3, 70, 20), dtype=torch.uint8),
    ]
    pre = DetDataPreprocessor(mean=[10.0, 20.0, 30.0], std=[2.0, 4.0, 8.0], bgr_to_rgb=True)
    out = pre({"inputs": images, "data_samples": [det_sample(40, 50), det_sample(70, 20)]})
    assert out["inputs"].shape == (2, 3, 96, 64)
    expected = (images[0].float().flip(0) - torch.tensor([10.0, 20.0, 30.0])[:, None, None]) / torch.tensor(
        [2.0, 4.0, 8.0]
    )[:, None, None]
    torch.testing.assert_close(out["inputs"][0, :, :40, :50], expected)
    assert (out["inputs"][0, :, 40:, :] == 0).all() and (out["inputs"][1, :, :, 20:] == 0).all()
    for sample in out["data_samples"]:
        assert sample.batch_input_shape == (96, 64) and sample.pad_shape == (96, 64)
    torch.testing.assert_close(
        out["data_samples"][0].gt_instances.bboxes, torch.tensor([[1.0, 2.0, 9.0, 12.0]])
    )


def test_preprocessor_pads_bitmap_masks_and_rasterises_polygons():
    bitmap = BitmapMasks(np.ones((1, 40, 50), dtype=np.uint8), 40, 50)
    polygon = PolygonMasks([[np.array([2.0, 2.0, 15.0, 2.0, 15.0, 30.0, 2.0, 30.0])]], 70, 20)
    pre = DetDataPreprocessor(pad_mask=True)
    images = [torch.zeros(3, 40, 50, dtype=torch.uint8), torch.zeros(3, 70, 20, dtype=torch.uint8)]
    out = pre({"inputs": images, "data_samples": [det_sample(40, 50, bitmap), det_sample(70, 20, polygon)]})
    first, second = (s.gt_instances.masks for s in out["data_samples"])
    assert isinstance(first, BitmapMasks) and isinstance(second, BitmapMasks)
    assert (first.height, first.width) == (96, 64) == (second.height, second.width)
    assert (
        first.masks[0, :40, :50].all() and not first.masks[0, 40:].any() and not first.masks[0, :, 50:].any()
    )
    assert second.masks[0, 10, 8] == 1 and not second.masks[0, 40:].any()


def test_preprocessor_batch_augments_run_only_while_training():
    calls = []

    def augment(inputs, data_samples):
        calls.append(inputs.shape)
        return inputs * 0, data_samples

    pre = DetDataPreprocessor(batch_augments=[augment])
    data = {"inputs": [torch.ones(3, 32, 32, dtype=torch.uint8)], "data_samples": [det_sample(32, 32)]}
    assert pre(data, training=False)["inputs"].sum() > 0 and not calls
    assert pre(data, training=True)["inputs"].sum() == 0 and calls == [(1, 3, 32, 32)]
    with pytest.raises(ValueError, match="gt_instances"):
        pre({"inputs": data["inputs"], "data_samples": None}, training=True)


# ---- SingleStageDetector ------------------------------------------------------------------------
class TwoLevelBackbone(nn.Module):
    """Stride-8 and stride-16 maps from two strided convs."""

    def __init__(self) -> None:
        super().__init__()
        self.to8 = nn.Conv2d(3, 8, 8, stride=8)
        self.to16 = nn.Conv2d(8, 16, 2, stride=2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c3 = self.to8(x)
        return c3, self.to16(c3)


def detector_cfg() -> dict:
    return dict(
        type="SingleStageDetector",
        backbone=TwoLevelBackbone(),
        neck=dict(type="FPN", in_channels=[8, 16], out_channels=8, num_outs=2),
        bbox_head=RetinaHead(
            2,
            8,
            stacked_convs=1,
            feat_channels=8,
            anchor_generator=AnchorGenerator(strides=[8, 16], ratios=[1.0], scales=[4.0]),
            test_cfg=dict(score_thr=0.0, nms=dict(iou_threshold=0.6), max_per_img=7),
        ),
        data_preprocessor=dict(pad_size_divisor=16),
    )


def test_builds_from_config_and_answers_the_three_modes():
    model = build(detector_cfg(), MODELS)
    assert (
        isinstance(model.data_preprocessor, DetDataPreprocessor)
        and model.data_preprocessor.pad_size_divisor == 16
    )
    assert model.with_neck and model.bbox_head.test_cfg == DetTestConfig(
        score_thr=0.0, nms_iou_thr=0.6, max_per_img=7
    )
    inputs = torch.randn(2, 3, 32, 48)
    cls_scores, bbox_preds = model(inputs, mode="tensor")
    assert [tuple(c.shape) for c in cls_scores] == [(2, 2, 4, 6), (2, 2, 2, 3)]
    assert [tuple(b.shape) for b in bbox_preds] == [(2, 4, 4, 6), (2, 4, 2, 3)]
    model.eval()
    with torch.no_grad():
        predictions = model(inputs, mode="predict")  # no data samples: made from the batch shape
    assert len(predictions) == 2
    for sample in predictions:
        assert 0 < len(sample.pred_instances) <= 7 and sample.ori_shape == (32, 48)
        boxes = sample.pred_instances.bboxes
        assert (boxes[:, 0::2] <= 48).all() and (boxes[:, 1::2] <= 32).all() and (boxes >= 0).all()
    losses = model(inputs, [det_sample(32, 48), det_sample(32, 48)], mode="loss")
    assert set(losses) == {"loss_cls", "loss_bbox"}


def test_train_step_updates_the_parameters():
    model = build(detector_cfg(), MODELS)

    class Wrapper:
        def __init__(self, optimizer):
            self.optimizer = optimizer

        def optim_context(self, _model):
            return torch.enable_grad()

        def update_params(self, loss):
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad()

    before = model.bbox_head.retina_cls.weight.detach().clone()
    data = {
        "inputs": [torch.randint(0, 256, (3, 30, 40), dtype=torch.uint8)],
        "data_samples": [det_sample(30, 40)],
    }
    log_vars = model.train_step(data, Wrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
    assert set(log_vars) == {"loss", "loss_cls", "loss_bbox"}
    assert not torch.equal(before, model.bbox_head.retina_cls.weight)


def test_constructor_and_loss_errors():
    with pytest.raises(TypeError, match="backbone"):
        SingleStageDetector(backbone=dict(type="ResNet"), bbox_head=nn.Identity())
    model = build(detector_cfg(), MODELS)
    with pytest.raises(ValueError, match="gt_instances"):
        model(torch.randn(1, 3, 32, 32), [DataSample(metainfo=dict(img_shape=(32, 32)))], mode="loss")


# ---- dense-head helpers -------------------------------------------------------------------------
def test_filter_scores_and_topk_against_brute_force():
    torch.manual_seed(0)
    scores = torch.rand(30, 4)
    kept_scores, labels, priors = filter_scores_and_topk(scores, 0.5, 10)
    pairs = sorted(
        ((scores[i, c].item(), i, c) for i in range(30) for c in range(4) if scores[i, c] > 0.5), reverse=True
    )
    assert kept_scores.tolist() == pytest.approx([p[0] for p in pairs[:10]])
    assert list(zip(priors.tolist(), labels.tolist())) == [(p[1], p[2]) for p in pairs[:10]]
    assert len(filter_scores_and_topk(scores, 0.5, 0)[0]) == len(pairs)


def test_bbox_post_process_rescales_then_matches_multiclass_nms():
    torch.manual_seed(1)
    xy = torch.rand(40, 2) * 80
    boxes = torch.cat([xy, xy + 10 + torch.rand(40, 2) * 30], dim=1)
    scores, labels = torch.rand(40), torch.randint(0, 3, (40,))
    sample = DataSample(metainfo=dict(scale_factor=(2.0, 0.5)))
    cfg = DetTestConfig(nms_iou_thr=0.5, max_per_img=12)
    result = bbox_post_process(boxes, scores, labels, sample, cfg)
    original = boxes / torch.tensor([2.0, 0.5, 2.0, 0.5])
    dense = torch.zeros(40, 3)
    dense[torch.arange(40), labels] = scores
    dets, expected_labels = multiclass_nms(original, dense, 0.0, 0.5, max_per_img=12)
    torch.testing.assert_close(result.bboxes, dets[:, :4])
    torch.testing.assert_close(result.scores, dets[:, 4])
    assert torch.equal(result.labels, expected_labels)
    assert len(bbox_post_process(boxes[:0], scores[:0], labels[:0], sample, cfg)) == 0
    tiny = bbox_post_process(boxes, scores, labels, sample, DetTestConfig(min_bbox_size=1e4))
    assert len(tiny) == 0


def test_rescale_and_test_config_parsing():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    torch.testing.assert_close(rescale_boxes(boxes, 2.0), boxes / 2)
    torch.testing.assert_close(rescale_boxes(boxes, None), boxes)
    assert DetTestConfig.from_value(None, "X") == DetTestConfig()
    assert DetTestConfig.from_value(dict(nms=dict(iou_threshold=0.7)), "X").nms_iou_thr == 0.7
    with pytest.raises(ValueError, match="unknown test_cfg keys"):
        DetTestConfig.from_value(dict(nms_thr=0.5), "RetinaHead")


def test_test_config_names_renamed_and_unused_keys():
    with pytest.raises(KeyError, match="'iou_threshold' is now 'nms_iou_thr'"):
        DetTestConfig.from_value(dict(iou_threshold=0.6), "RTMDetSepBNHead")
    with pytest.raises(ValueError, match="RPNHead does not use 'score_thr'"):
        DetTestConfig.from_value(dict(score_thr=0.1), "RPNHead", "test_proposal_cfg", unused=("score_thr",))
    with pytest.raises(ValueError, match="Did you mean: 'nms_pre'"):
        DetTestConfig.from_value(dict(nms_per=5), "RetinaHead")
    config = DetTestConfig.from_value(dict(max_per_img=7), "X", defaults=dict(nms_pre=3, max_per_img=9))
    assert (config.nms_pre, config.max_per_img, config.score_thr) == (3, 7, DetTestConfig().score_thr)
