"""Random and pseudo samplers; prepending ground truths to an assignment."""

from __future__ import annotations

import pytest
import torch

from visionstack.models.ops import AssignResult, PseudoSampler, RandomSampler
from visionstack.registry import MODELS, build


def make_assignment(
    num_pos: int, num_neg: int, num_ignored: int
) -> tuple[AssignResult, torch.Tensor, torch.Tensor]:
    gt_boxes = torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]])
    gt_inds = torch.cat(
        [
            torch.arange(num_pos) % 2 + 1,
            torch.zeros(num_neg, dtype=torch.long),
            -torch.ones(num_ignored, dtype=torch.long),
        ]
    )
    gt_inds = gt_inds[torch.randperm(len(gt_inds), generator=torch.Generator().manual_seed(0))]
    labels = torch.where(gt_inds > 0, (gt_inds - 1) * 5, torch.full_like(gt_inds, -1))
    assign = AssignResult(2, gt_inds, torch.rand(len(gt_inds)), labels)
    priors = torch.rand(len(gt_inds), 4) * 10
    return assign, priors, gt_boxes


def test_pseudo_sampler_takes_everything():
    assign, priors, gt_boxes = make_assignment(7, 20, 3)
    result = PseudoSampler().sample(assign, priors, gt_boxes)
    assert torch.equal(result.pos_inds, torch.nonzero(assign.gt_inds > 0).flatten())
    assert torch.equal(result.neg_inds, torch.nonzero(assign.gt_inds == 0).flatten())
    assert torch.equal(result.pos_gt_boxes, gt_boxes[assign.gt_inds[result.pos_inds] - 1])
    assert torch.equal(result.pos_priors, priors[result.pos_inds])
    assert not result.pos_is_gt.any()


def test_random_sampler_counts_and_ground_truths():
    assign, priors, gt_boxes = make_assignment(40, 100, 10)
    gt_labels = torch.tensor([0, 5])
    torch.manual_seed(0)
    result = RandomSampler(num=32, pos_fraction=0.25).sample(assign, priors, gt_boxes, gt_labels)
    assert len(result.pos_inds) == 8 and len(result.neg_inds) == 24
    full = assign.with_gts_prepended(gt_labels)
    assert torch.all(full.gt_inds[result.pos_inds] > 0) and torch.all(full.gt_inds[result.neg_inds] == 0)
    assert len(set(result.pos_inds.tolist()) | set(result.neg_inds.tolist())) == 32  # no repeats
    assert torch.equal(result.priors[:2], gt_boxes)
    assert torch.equal(result.pos_is_gt, result.pos_inds < 2)
    assert torch.equal(result.pos_gt_labels, gt_labels[result.pos_assigned_gt_inds])
    torch.manual_seed(0)
    again = RandomSampler(num=32, pos_fraction=0.25).sample(assign, priors, gt_boxes, gt_labels)
    assert torch.equal(again.pos_inds, result.pos_inds) and torch.equal(again.neg_inds, result.neg_inds)


def test_random_sampler_fills_with_negatives_and_respects_the_bound():
    assign, priors, gt_boxes = make_assignment(3, 100, 0)
    gt_labels = torch.tensor([0, 5])
    sampler = RandomSampler(num=20, pos_fraction=0.5, add_gt_as_proposals=False)
    result = sampler.sample(assign, priors, gt_boxes, gt_labels)
    assert len(result.pos_inds) == 3 and len(result.neg_inds) == 17
    bounded = RandomSampler(num=20, pos_fraction=0.5, neg_pos_ub=2, add_gt_as_proposals=False)
    assert len(bounded.sample(assign, priors, gt_boxes, gt_labels).neg_inds) == 6
    none_pos, priors0, _ = make_assignment(0, 10, 0)
    assert len(bounded.sample(none_pos, priors0, gt_boxes[:0], gt_labels[:0]).neg_inds) == 2  # max(1, 0) * 2


def test_prepended_assignment_and_config():
    assign, _, _ = make_assignment(2, 2, 1)
    full = assign.with_gts_prepended(torch.tensor([4, 9]))
    assert full.gt_inds[:2].tolist() == [1, 2] and full.labels[:2].tolist() == [4, 9]
    assert full.max_overlaps[:2].tolist() == [1.0, 1.0] and full.num_priors == assign.num_priors + 2
    assert build(dict(type="RandomSampler", num=512, pos_fraction=0.25), MODELS).num == 512
    with pytest.raises(ValueError, match="pos_fraction"):
        RandomSampler(num=8, pos_fraction=1.5)
