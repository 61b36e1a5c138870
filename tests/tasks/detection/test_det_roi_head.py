"""SingleRoIExtractor, Shared2FCBBoxHead and StandardRoIHead
(visionstack/tasks/detection/models/roi_head.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionstack.models.ops import RandomSampler, nms, roi_align
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.detection.models.roi_head import (
    Shared2FCBBoxHead,
    SingleRoIExtractor,
    StandardRoIHead,
    boxes_to_rois,
)


def test_level_mapping_follows_the_fpn_scale_rule():
    extractor = SingleRoIExtractor(output_size=7, out_channels=4)
    sides = torch.tensor([20.0, 111.0, 112.0, 223.0, 224.0, 448.0, 2000.0])
    rois = torch.stack([torch.zeros(7), torch.zeros(7), torch.zeros(7), sides, sides], dim=1)
    assert extractor.map_roi_levels(rois).tolist() == [0, 0, 1, 1, 2, 3, 3]


def test_extractor_pools_each_roi_on_its_level():
    generator = torch.Generator().manual_seed(0)
    feats = [torch.randn(2, 4, 256 // s, 256 // s, generator=generator) for s in (4, 8, 16, 32)]
    extractor = SingleRoIExtractor(output_size=7, out_channels=4)
    rois = torch.tensor(
        [[0, 10, 10, 50, 60], [1, 0, 0, 150, 150], [0, 5, 5, 250, 250], [1, 30, 40, 90, 100.0]]
    )
    pooled = extractor(feats, rois)
    levels = extractor.map_roi_levels(rois)
    for index in range(rois.shape[0]):
        level = int(levels[index])
        expected = roi_align(feats[level], rois[index : index + 1], 7, 1 / (4 * 2**level), 0, True)
        torch.testing.assert_close(pooled[index : index + 1], expected)


def test_bbox_head_loss_matches_reference_and_normalises_by_all_sampled_rois():
    torch.manual_seed(0)
    head = Shared2FCBBoxHead(num_classes=3, in_channels=2, roi_feat_size=2, fc_out_channels=16)
    cls_score, bbox_pred = head(torch.randn(4, 2, 2, 2))
    assert cls_score.shape == (4, 4) and bbox_pred.shape == (4, 12)
    rois = torch.tensor([[0, 0, 0, 10, 10], [0, 5, 5, 20, 25], [0, 1, 1, 4, 4], [0, 2, 3, 8, 9.0]])
    labels = torch.tensor([2, 0, 3, 3])  # two positives, two background (label 3)
    targets = torch.tensor([[1, 1, 11, 12], [4, 6, 19, 26], [0, 0, 0, 0], [0, 0, 0, 0.0]])
    losses = head.loss(cls_score, bbox_pred, rois, labels, targets)
    torch.testing.assert_close(losses["loss_cls"], F.cross_entropy(cls_score, labels))
    deltas = bbox_pred.reshape(4, 3, 4)
    encoded = head.bbox_coder.encode(rois[:2, 1:], targets[:2])
    reference = (deltas[[0, 1], [2, 0]] - encoded).abs().sum() / 4
    torch.testing.assert_close(losses["loss_bbox"], reference)
    assert 0 <= losses["acc"].item() <= 100


def _tiny_head(**kwargs) -> StandardRoIHead:
    torch.manual_seed(0)
    return StandardRoIHead(
        bbox_roi_extractor=SingleRoIExtractor(output_size=7, out_channels=8),
        bbox_head=Shared2FCBBoxHead(num_classes=3, in_channels=8, fc_out_channels=32),
        **kwargs,
    )


def _feats() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(2, 8, 64 // s, 64 // s, generator=generator) for s in (4, 8, 16, 32, 64)]


def _sample(boxes, labels, scale=(1.0, 1.0)) -> DataSample:
    sample = DataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), scale_factor=scale))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long),
    )
    return sample


def test_loss_trains_from_ground_truth_proposals_alone():
    head = _tiny_head()
    empty = InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0))
    samples = [_sample([[4, 4, 30, 30]], [1]), _sample([], [])]
    proposals = [empty, InstanceData(bboxes=torch.tensor([[0.0, 0.0, 20.0, 20.0]]), scores=torch.ones(1))]
    losses = head.loss(_feats(), proposals, samples)
    assert set(losses) == {"loss_cls", "loss_bbox", "acc"}
    assert all(torch.isfinite(value) for value in losses.values())
    # the added ground truth is a perfect positive: its regression target is zero
    (losses["loss_cls"] + losses["loss_bbox"]).backward()
    assert all(p.grad is not None for p in head.parameters())


def test_sampler_caps_the_rois_and_the_positive_fraction():
    head = _tiny_head(sampler=RandomSampler(8, 0.25, add_gt_as_proposals=True))
    boxes = torch.tensor(
        [[4 + i, 4 + i, 30 + i, 30 + i] for i in range(10)] + [[40, 40, 60, 60]] * 10, dtype=torch.float32
    )
    samples = [_sample([[4, 4, 30, 30]], [1]), _sample([[40, 40, 60, 60]], [2])]
    sampled = [head._sample(InstanceData(bboxes=boxes, scores=torch.ones(20)), s) for s in samples]
    for result in sampled:
        assert result.pos_inds.numel() == 2 and result.pos_inds.numel() + result.neg_inds.numel() <= 8


def _reference_detections(cls_score, bbox_pred, rois, head, score_thr, iou, max_per_img):
    scores = torch.softmax(cls_score, dim=1)
    found = []
    for c in range(head.bbox_head.num_classes):
        boxes = head.bbox_head.bbox_coder.decode(
            rois[:, 1:], bbox_pred[:, 4 * c : 4 * c + 4], max_shape=(64, 64)
        )
        keep = scores[:, c] > score_thr
        class_boxes, class_scores = boxes[keep], scores[keep, c]
        for index in nms(class_boxes, class_scores, iou).tolist():
            found.append((float(class_scores[index]), c, class_boxes[index]))
    found.sort(key=lambda item: -item[0])
    return found[:max_per_img]


def test_predict_matches_a_per_class_reference_and_rescales():
    head = _tiny_head(test_cfg=dict(score_thr=0.2, nms_iou_thr=0.5, max_per_img=5))
    with torch.no_grad():
        for parameter in head.bbox_head.parameters():
            parameter.normal_(std=0.3)
    generator = torch.Generator().manual_seed(3)
    xy = torch.rand(30, 2, generator=generator) * 40
    proposal_boxes = torch.cat([xy, xy + 8 + torch.rand(30, 2, generator=generator) * 16], dim=1)
    proposals = [InstanceData(bboxes=proposal_boxes, scores=torch.ones(30))] * 2
    feats = _feats()
    samples = [_sample([], [], scale=(1.0, 1.0)), _sample([], [], scale=(2.0, 0.5))]
    results = head.predict(feats, proposals, samples, rescale=True)
    rois = boxes_to_rois([proposal_boxes])
    with torch.no_grad():
        cls_score, bbox_pred = head.bbox_head(head.bbox_roi_extractor([f[:1] for f in feats], rois))
    expected = _reference_detections(cls_score, bbox_pred, rois, head, 0.2, 0.5, 5)
    assert len(results[0]) == len(expected) > 0
    torch.testing.assert_close(results[0].scores, torch.tensor([score for score, _, _ in expected]))
    assert results[0].labels.tolist() == [label for _, label, _ in expected]
    torch.testing.assert_close(results[0].bboxes, torch.stack([box for _, _, box in expected]))
    # the second image has other features, so compare it with itself unscaled
    unscaled = head.predict(feats, proposals, samples, rescale=False)[1]
    torch.testing.assert_close(results[1].bboxes, unscaled.bboxes / torch.tensor([2.0, 0.5, 2.0, 0.5]))


def test_predict_without_proposals_returns_empty_results():
    head = _tiny_head()
    empty = [InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0))] * 2
    results = head.predict(_feats(), empty, [_sample([], []), _sample([], [])])
    assert [len(r) for r in results] == [0, 0] and results[0].bboxes.shape == (0, 4)


def test_unknown_test_setting_is_named():
    with pytest.raises(KeyError, match="iou_threshold"):
        _tiny_head(test_cfg=dict(iou_threshold=0.5))
