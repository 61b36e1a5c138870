"""RPNHead (visionstack/tasks/detection/models/rpn_head.py): outputs, targets and losses against a
hand-written reference, proposals against a slow greedy-NMS reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionstack.models.ops import AnchorGenerator, DeltaXYWHBBoxCoder, RandomSampler, box_iou
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.detection.models.rpn_head import RPNHead
from visionstack.tasks.detection.models.test_config import DetTestConfig

SIZE = 64
STRIDES = [4, 8, 16, 32, 64]


def _sample(boxes: list[list[float]], pad_shape: tuple[int, int] = (SIZE, SIZE)) -> DataSample:
    sample = DataSample(
        metainfo=dict(img_shape=(SIZE, SIZE), pad_shape=pad_shape, batch_input_shape=(SIZE, SIZE))
    )
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.zeros(len(boxes), dtype=torch.long),
    )
    return sample


def _feats(channels: int = 8) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(2, channels, SIZE // s, SIZE // s, generator=generator) for s in STRIDES]


def _all_anchor_head() -> RPNHead:
    """A head whose sampler keeps every assigned anchor, so the loss is deterministic."""
    torch.manual_seed(0)
    return RPNHead(
        in_channels=8, feat_channels=8, sampler=RandomSampler(10**6, 1.0, add_gt_as_proposals=False)
    )


def test_forward_shapes_follow_the_anchor_layout():
    head = _all_anchor_head()
    cls_scores, bbox_preds = head(_feats())
    for score, pred, stride in zip(cls_scores, bbox_preds, STRIDES):
        assert score.shape == (2, 3, SIZE // stride, SIZE // stride)
        assert pred.shape == (2, 12, SIZE // stride, SIZE // stride)
    with pytest.raises(ValueError, match="feature levels"):
        head(_feats()[:3])


def _reference_losses(head: RPNHead, feats, samples) -> tuple[torch.Tensor, torch.Tensor]:
    """MaxIoU labels (0.7 / 0.3, low-quality from 0.3) over all anchors, BCE + L1 summed / sampled."""
    cls_scores, bbox_preds = head(feats)
    anchors = torch.cat(
        AnchorGenerator(strides=STRIDES, ratios=[0.5, 1.0, 2.0], scales=[8]).grid_priors(
            [s.shape[-2:] for s in cls_scores]
        )
    )
    cls_sum, box_sum, count = 0.0, 0.0, 0
    coder = DeltaXYWHBBoxCoder()
    for index, sample in enumerate(samples):
        logits = torch.cat([s[index].permute(1, 2, 0).reshape(-1) for s in cls_scores])
        deltas = torch.cat([p[index].permute(1, 2, 0).reshape(-1, 4) for p in bbox_preds])
        gts = sample.gt_instances.bboxes
        label = torch.full((anchors.shape[0],), -1)
        matched = torch.zeros(anchors.shape[0], dtype=torch.long)
        if gts.shape[0]:
            iou = box_iou(anchors, gts)  # (M, G)
            best, best_gt = iou.max(dim=1)
            label[best < 0.3] = 0
            label[best >= 0.7] = 1
            matched = best_gt.clone()
            for g in range(gts.shape[0]):
                top = iou[:, g].max()
                if top >= 0.3:
                    ties = iou[:, g] == top
                    label[ties], matched[ties] = 1, g
        else:
            label[:] = 0
        used = label >= 0
        cls_sum = cls_sum + F.binary_cross_entropy_with_logits(
            logits[used], label[used].float(), reduction="sum"
        )
        positive = label == 1
        if positive.any():
            targets = coder.encode(anchors[positive], gts[matched[positive]])
            box_sum = box_sum + (deltas[positive] - targets).abs().sum()
        count += int(used.sum())
    return cls_sum / count, box_sum / count


def test_losses_match_a_hand_written_reference_and_reach_every_parameter():
    head = _all_anchor_head()
    feats = _feats()
    samples = [_sample([[8.0, 8.0, 40.0, 36.0], [30.0, 30.0, 62.0, 60.0]]), _sample([])]
    losses = head.loss(feats, samples)
    reference_cls, reference_box = _reference_losses(head, feats, samples)
    torch.testing.assert_close(losses["loss_rpn_cls"], reference_cls)
    torch.testing.assert_close(losses["loss_rpn_bbox"], reference_box)
    (losses["loss_rpn_cls"] + losses["loss_rpn_bbox"]).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())


def test_image_without_objects_has_zero_box_loss():
    head = _all_anchor_head()
    losses = head.loss(_feats(), [_sample([]), _sample([])])
    assert losses["loss_rpn_bbox"].item() == 0.0
    assert torch.isfinite(losses["loss_rpn_cls"]) and losses["loss_rpn_cls"].item() > 0


def test_anchors_outside_the_valid_region_get_no_loss():
    head = _all_anchor_head()
    cls_scores, _ = head(_feats())
    anchors, valid = head._anchors(cls_scores, [_sample([], pad_shape=(32, 64)), _sample([])])
    assert not valid[0].all() and valid[1].all()
    _, weights, _, _ = head._targets_single(anchors, valid[0], _sample([]))
    assert weights[~valid[0]].sum() == 0 and bool((weights[valid[0]] == 1).all())


def _greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep: list[int] = []
    for i in order:
        if all(box_iou(boxes[i : i + 1], boxes[j : j + 1]).item() <= threshold for j in keep):
            keep.append(i)
    return keep


def test_proposals_match_a_per_level_reference():
    torch.manual_seed(1)
    head = RPNHead(in_channels=8, feat_channels=8)
    cfg = DetTestConfig(nms_pre=20, max_per_img=25, nms_iou_thr=0.6, min_bbox_size=1.0)
    cls_scores = [torch.randn(1, 3, SIZE // s, SIZE // s) for s in STRIDES]
    bbox_preds = [0.3 * torch.randn(1, 12, SIZE // s, SIZE // s) for s in STRIDES]
    sample = DataSample(metainfo=dict(img_shape=(SIZE, SIZE)))
    proposals = head.proposals_from_outputs(cls_scores, bbox_preds, [sample], cfg)[0]
    anchors = head.anchor_generator.grid_priors([s.shape[-2:] for s in cls_scores])
    candidates = []
    for score, pred, prior in zip(cls_scores, bbox_preds, anchors):
        probability = score[0].permute(1, 2, 0).reshape(-1).sigmoid()
        deltas = pred[0].permute(1, 2, 0).reshape(-1, 4)
        top = probability.argsort(descending=True)[:20]
        boxes = head.bbox_coder.decode(prior[top], deltas[top], max_shape=(SIZE, SIZE))
        large = ((boxes[:, 2] - boxes[:, 0]) > 1.0) & ((boxes[:, 3] - boxes[:, 1]) > 1.0)
        boxes, kept_scores = boxes[large], probability[top][large]
        candidates += [(float(kept_scores[i]), boxes[i]) for i in _greedy_nms(boxes, kept_scores, 0.6)]
    candidates.sort(key=lambda item: -item[0])
    expected = torch.stack([box for _, box in candidates[:25]])
    assert len(proposals) == 25
    torch.testing.assert_close(proposals.bboxes, expected)
    torch.testing.assert_close(proposals.scores, torch.tensor([score for score, _ in candidates[:25]]))


def test_training_proposals_are_detached_and_config_errors_name_the_key():
    head = _all_anchor_head()
    _, proposals = head.loss_and_predict(_feats(), [_sample([[8.0, 8.0, 40.0, 36.0]]), _sample([])])
    assert len(proposals) == 2 and not proposals[0].bboxes.requires_grad
    assert len(proposals[0]) <= head.train_proposal_cfg.max_per_img
    with pytest.raises(KeyError, match="nms_thr"):
        RPNHead(test_proposal_cfg=dict(nms_thr=0.7))
