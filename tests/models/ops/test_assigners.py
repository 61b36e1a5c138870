"""Max-IoU and ATSS assigners: hand-built cases and slow loop references."""

from __future__ import annotations

import statistics

import pytest
import torch

from visionstack.models.ops import AnchorGenerator, ATSSAssigner, MaxIoUAssigner, box_iou
from visionstack.registry import MODELS, build
from visionstack.testing import random_boxes


def reference_max_iou(priors, gts, labels, pos_thr, neg_range, min_pos_iou, match_low_quality):
    """Faster R-CNN's rules, one prior and one ground truth at a time (gt_max_assign_all=True)."""
    iou = box_iou(gts, priors).tolist()
    num_gts, num_priors = len(iou), len(iou[0])
    gt_inds = []
    for i in range(num_priors):
        column = [iou[j][i] for j in range(num_gts)]
        best = max(column)
        if best >= pos_thr:
            gt_inds.append(column.index(best) + 1)
        elif neg_range[0] <= best < neg_range[1]:
            gt_inds.append(0)
        else:
            gt_inds.append(-1)
    if match_low_quality:
        for j in range(num_gts):
            best = max(iou[j])
            if best >= min_pos_iou:
                for i in range(num_priors):
                    if iou[j][i] == best:
                        gt_inds[i] = j + 1
    labels_out = [int(labels[g - 1]) if g > 0 else -1 for g in gt_inds]
    return gt_inds, labels_out


@pytest.mark.parametrize("match_low_quality", [True, False])
@pytest.mark.parametrize("neg_iou_thr", [0.4, (0.1, 0.4)])
def test_max_iou_matches_reference(match_low_quality, neg_iou_thr):
    generator = torch.Generator().manual_seed(0)
    priors = random_boxes(200, 64, generator, min_size=4).double()
    gts = random_boxes(6, 64, generator, min_size=8).double()
    labels = torch.randint(0, 5, (6,), generator=generator)
    assigner = MaxIoUAssigner(0.5, neg_iou_thr, min_pos_iou=0.1, match_low_quality=match_low_quality)
    result = assigner.assign(priors, gts, labels)
    neg_range = (0.0, neg_iou_thr) if isinstance(neg_iou_thr, float) else neg_iou_thr
    gt_inds, labels_out = reference_max_iou(priors, gts, labels, 0.5, neg_range, 0.1, match_low_quality)
    assert result.gt_inds.tolist() == gt_inds
    assert result.labels.tolist() == labels_out
    assert {-1, 0}.issubset(set(gt_inds)) and max(gt_inds) > 0  # every outcome occurs
    pos = result.pos_mask
    matched = box_iou(gts, priors)[result.gt_inds[pos] - 1, torch.nonzero(pos).flatten()]
    torch.testing.assert_close(result.max_overlaps[pos], matched)


def test_max_iou_hand_cases():
    priors = torch.tensor(
        [[0.0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 4, 10], [50, 50, 60, 60], [70, 70, 80, 80]]
    )
    gts = torch.tensor([[20.0, 20, 30, 30], [0, 0, 6, 10]])  # exact match; best IoU 0.6 / 0.667
    labels = torch.tensor([3, 7])
    result = MaxIoUAssigner(pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3).assign(priors, gts, labels)
    # gt 0 takes its exact match; gt 1 (best IoU 2/3 < 0.7) only gets its best prior as a low-quality
    # match; the empty-overlap priors are negatives.
    assert result.gt_inds.tolist() == [-1, 1, 2, 0, 0]
    assert result.labels.tolist() == [-1, 3, 7, -1, -1]
    strict = MaxIoUAssigner(0.7, 0.3, match_low_quality=False).assign(priors, gts, labels)
    assert strict.gt_inds.tolist() == [-1, 1, -1, 0, 0]
    ignore = torch.tensor([[48.0, 48, 62, 62]])
    ignored = MaxIoUAssigner(0.7, 0.3, ignore_iof_thr=0.5).assign(priors, gts, labels, ignore)
    assert ignored.gt_inds.tolist() == [-1, 1, 2, -1, 0]
    empty = MaxIoUAssigner(0.7, 0.3).assign(priors, gts[:0], labels[:0])
    assert empty.gt_inds.tolist() == [0] * 5 and empty.labels.tolist() == [-1] * 5


def reference_atss(priors, num_level_priors, gts, topk):
    """Algorithm 1 of Zhang et al., ground truth by ground truth."""
    iou = box_iou(gts, priors).tolist()
    centers = ((priors[:, :2] + priors[:, 2:]) / 2).tolist()
    best = [(-1.0, 0)] * len(priors)  # (IoU, gt index + 1) of the best positive match
    for j, (x1, y1, x2, y2) in enumerate(gts.tolist()):
        gx, gy = (x1 + x2) / 2, (y1 + y2) / 2
        candidates, start = [], 0
        for count in num_level_priors:
            level = range(start, start + count)
            by_distance = sorted(level, key=lambda i: (centers[i][0] - gx) ** 2 + (centers[i][1] - gy) ** 2)
            candidates += by_distance[:topk]
            start += count
        values = [iou[j][i] for i in candidates]
        threshold = statistics.mean(values) + statistics.stdev(values)
        for i in candidates:
            cx, cy = centers[i]
            inside = min(cx - x1, cy - y1, x2 - cx, y2 - cy) > 0.01
            if iou[j][i] >= threshold and inside and iou[j][i] > best[i][0]:
                best[i] = (iou[j][i], j + 1)
    return [gt for _, gt in best]


def test_atss_matches_reference():
    # ATSS's own setting: one square anchor of 8 strides per position, levels of strides 8 and 16.
    anchors = AnchorGenerator(strides=[8, 16], ratios=[1.0], octave_base_scale=8, scales_per_octave=1)
    levels = anchors.grid_priors([(16, 16), (8, 8)], dtype=torch.float64)
    priors = torch.cat(levels)
    generator = torch.Generator().manual_seed(3)
    gts = random_boxes(5, 128, generator, min_size=20).double()
    labels = torch.arange(5)
    result = ATSSAssigner(topk=9).assign(priors, [len(level) for level in levels], gts, labels)
    expected = reference_atss(priors, [len(level) for level in levels], gts, topk=9)
    assert result.gt_inds.tolist() == expected
    assert 0 in expected and len(set(expected)) >= 4  # negatives and several matched objects
    assert result.labels.tolist() == [g - 1 for g in expected]  # label k-1 for gt k, -1 otherwise


def test_atss_exact_anchor_and_ignore():
    anchors = AnchorGenerator(strides=[8], ratios=[1.0], scales=[4], center_offset=0.5)
    priors = anchors.grid_priors([(8, 8)])[0]  # 32-pixel boxes centered on the cells
    gt = priors[27:28].clone()
    result = ATSSAssigner(topk=9).assign(priors, [64], gt, torch.tensor([2]))
    assert result.gt_inds[27] == 1 and result.labels[27] == 2
    assert result.max_overlaps[27] == pytest.approx(1.0)
    ignored = ATSSAssigner(topk=9, ignore_iof_thr=0.5).assign(
        priors, [64], gt, torch.tensor([2]), priors[27:28]
    )
    assert ignored.gt_inds[27] == -1 and ignored.pos_mask.sum() < result.pos_mask.sum()
    with pytest.raises(ValueError, match="num_level_priors"):
        ATSSAssigner().assign(priors, [10], gt, torch.tensor([2]))


def test_assigners_build_from_config():
    assigner = build(dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=(0.0, 0.5)), MODELS)
    assert assigner.neg_iou_range == (0.0, 0.5)
    assert build(dict(type="ATSSAssigner", topk=9), MODELS).topk == 9
