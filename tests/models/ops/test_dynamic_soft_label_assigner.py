"""RTMDet's dynamic soft-label assigner: a slow loop reference and hand-built cases."""

from __future__ import annotations

import math

import torch

from visionstack.models.ops import DynamicSoftLabelAssigner, MlvlPointGenerator, box_iou
from visionstack.registry import MODELS, build
from visionstack.testing import random_boxes


def reference_assign(logits, pred_boxes, priors, gts, labels, radius=3.0, topk=13, iou_weight=3.0):
    """The published recipe, one (prior, ground truth) pair at a time."""
    num_priors, num_gts = len(priors), len(gts)
    candidates = [
        i
        for i in range(num_priors)
        if any(
            min(priors[i][0] - g[0], priors[i][1] - g[1], g[2] - priors[i][0], g[3] - priors[i][1]) > 0
            for g in gts.tolist()
        )
    ]
    iou = box_iou(pred_boxes, gts).tolist()
    cost = {}
    for i in candidates:
        x, y, stride = priors[i][0].item(), priors[i][1].item(), priors[i][2].item()
        for j, (x1, y1, x2, y2) in enumerate(gts.tolist()):
            distance = math.hypot(x - (x1 + x2) / 2, y - (y1 + y2) / 2) / stride
            cls = 0.0
            for c, logit in enumerate(logits[i].tolist()):
                target = iou[i][j] if c == labels[j] else 0.0
                p = 1 / (1 + math.exp(-logit))
                bce = -(target * math.log(p) + (1 - target) * math.log(1 - p))
                cls += bce * abs(target - p) ** 2
            cost[i, j] = cls - math.log(iou[i][j] + 1e-7) * iou_weight + 10 ** (distance - radius)
    chosen = {i: [] for i in candidates}
    for j in range(num_gts):
        column = sorted((iou[i][j] for i in candidates), reverse=True)[:topk]
        k = max(1, int(sum(column)))
        for i in sorted(candidates, key=lambda i: cost[i, j])[:k]:
            chosen[i].append(j)
    gt_inds = [0] * num_priors
    for i, gts_of_i in chosen.items():
        if gts_of_i:
            best = gts_of_i[0] if len(gts_of_i) == 1 else min(range(num_gts), key=lambda j: cost[i, j])
            gt_inds[i] = best + 1
    return gt_inds


def test_matches_loop_reference():
    generator = torch.Generator().manual_seed(0)
    priors = torch.cat(
        MlvlPointGenerator([8, 16], offset=0.0).grid_priors([(8, 8), (4, 4)], with_stride=True)
    )
    priors = priors.double()
    gts = random_boxes(3, 64, generator, min_size=16).double()
    labels = torch.tensor([0, 2, 1])
    # Predictions are jittered copies of the ground truths: IoUs are high enough for dynamic ks near 9,
    # and the overlapping boxes make several candidates chosen by two ground truths (seed checked).
    owner = torch.randint(0, 3, (len(priors),), generator=generator)
    pred_boxes = gts[owner] + 4 * torch.randn(len(priors), 4, generator=generator, dtype=torch.float64)
    logits = torch.randn(len(priors), 3, generator=generator, dtype=torch.float64)
    result = DynamicSoftLabelAssigner().assign(logits, pred_boxes, priors, gts, labels)
    expected = reference_assign(logits, pred_boxes, priors, gts, labels)
    assert result.gt_inds.tolist() == expected
    assert result.pos_mask.sum() >= 20 and result.neg_mask.any()
    pos = result.pos_mask
    assert torch.equal(result.labels[pos], labels[result.gt_inds[pos] - 1])
    torch.testing.assert_close(
        result.max_overlaps[pos], box_iou(pred_boxes, gts)[pos, result.gt_inds[pos] - 1]
    )


def test_perfect_predictions_inside_a_box_are_all_positive():
    priors = MlvlPointGenerator([8], offset=0.0).grid_priors([(8, 8)], with_stride=True)[0]
    gt = torch.tensor([[16.0, 16, 48, 48]])
    pred_boxes = gt.expand(64, 4).clone()
    logits = torch.full((64, 2), -4.0)
    logits[:, 1] = 4.0
    result = DynamicSoftLabelAssigner().assign(logits, pred_boxes, priors, gt, torch.tensor([1]))
    inside = (priors[:, 0] > 16) & (priors[:, 0] < 48) & (priors[:, 1] > 16) & (priors[:, 1] < 48)
    # 9 strictly-inside points, each with IoU 1: dynamic k = int(9 * 1.0) = 9 takes all of them
    assert inside.sum() == 9
    assert torch.equal(result.pos_mask, inside)
    assert torch.equal(result.gt_inds[~inside], torch.zeros(55, dtype=torch.long))
    assert result.labels[inside].tolist() == [1] * 9


def test_no_gts_or_no_candidates():
    priors = MlvlPointGenerator([8], offset=0.0).grid_priors([(2, 2)], with_stride=True)[0]
    assigner = build(dict(type="DynamicSoftLabelAssigner", topk=5), MODELS)
    empty = assigner.assign(
        torch.zeros(4, 2), torch.zeros(4, 4), priors, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)
    )
    assert empty.gt_inds.tolist() == [0, 0, 0, 0]
    far = assigner.assign(
        torch.zeros(4, 2),
        torch.zeros(4, 4),
        priors,
        torch.tensor([[100.0, 100, 120, 120]]),
        torch.tensor([0]),
    )
    assert far.gt_inds.tolist() == [0, 0, 0, 0] and far.labels.tolist() == [-1] * 4
