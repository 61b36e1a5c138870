"""multiclass_nms against a per-class loop; stable_topk against a stable sort."""

from __future__ import annotations

import pytest
import torch

from visionstack.models.ops import multiclass_nms, nms, stable_topk
from visionstack.testing import random_boxes


def reference_multiclass_nms(boxes, scores, score_thr, iou_thr, max_per_img, factors=None):
    results = []  # (score, label, box)
    for c in range(scores.shape[1]):
        class_boxes = boxes if boxes.ndim == 2 else boxes[:, c]
        valid = torch.nonzero(scores[:, c] > score_thr).flatten()
        class_scores = scores[valid, c] * (factors[valid] if factors is not None else 1)
        for i in nms(class_boxes[valid], class_scores, iou_thr).tolist():
            results.append((class_scores[i].item(), c, class_boxes[valid][i]))
    results.sort(key=lambda r: -r[0])
    results = results[:max_per_img] if max_per_img > 0 else results
    dets = torch.stack([torch.cat([box, box.new_tensor([score])]) for score, _, box in results])
    return dets, torch.tensor([label for _, label, _ in results])


@pytest.mark.parametrize("per_class_boxes", [False, True])
@pytest.mark.parametrize("with_factors", [False, True])
def test_matches_per_class_loop(per_class_boxes, with_factors):
    generator = torch.Generator().manual_seed(int(per_class_boxes) + 2 * int(with_factors))
    num, classes = 200, 4
    shape = (num, classes) if per_class_boxes else (num,)
    boxes = random_boxes(num * (classes if per_class_boxes else 1), 80, generator, min_size=4).double()
    boxes = boxes.reshape(*shape, 4)
    scores = torch.rand(num, classes, generator=generator, dtype=torch.float64)
    factors = torch.rand(num, generator=generator, dtype=torch.float64) if with_factors else None
    dets, labels = multiclass_nms(boxes, scores, 0.3, 0.5, max_per_img=50, score_factors=factors)
    expected_dets, expected_labels = reference_multiclass_nms(boxes, scores, 0.3, 0.5, 50, factors)
    torch.testing.assert_close(dets, expected_dets)
    assert torch.equal(labels, expected_labels)
    assert len(dets) == 50 and len(set(labels.tolist())) == classes


def test_empty_and_errors():
    dets, labels = multiclass_nms(torch.zeros(3, 4), torch.zeros(3, 2), 0.5, 0.5)
    assert dets.shape == (0, 5) and labels.shape == (0,)
    with pytest.raises(ValueError, match="boxes must be"):
        multiclass_nms(torch.zeros(3, 5), torch.zeros(3, 2), 0.5, 0.5)


@pytest.mark.parametrize("k", [1, 3, 7, 12])
def test_stable_topk_is_a_stable_sort_cut(k):
    generator = torch.Generator().manual_seed(k)
    values = torch.randint(0, 4, (3, 12), generator=generator).float()  # many ties, some at the cut
    top, index = stable_topk(values, k)
    expected = torch.sort(values, dim=1, descending=True, stable=True)
    assert torch.equal(index, expected.indices[:, :k]) and torch.equal(top, expected.values[:, :k])
    assert stable_topk(values, 0)[1].shape == (3, 0)
