"""NMS, batched NMS and Soft-NMS against Python loops and OpenCV."""

from __future__ import annotations

import importlib
import math

import cv2
import numpy as np
import pytest
import torch

from visionstack.models.ops import batched_nms, box_iou, nms, soft_nms
from visionstack.testing import random_boxes

# the module (the package's ``nms`` attribute is the function)
nms_module = importlib.import_module("visionstack.models.ops.nms")


def reference_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list[int]:
    """Textbook greedy NMS: keep the best remaining box, drop those overlapping it."""
    remaining = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    keep = []
    while remaining:
        best = remaining.pop(0)
        keep.append(best)
        remaining = [i for i in remaining if box_iou(boxes[best][None], boxes[i][None]).item() <= threshold]
    return keep


def reference_soft_nms(boxes, scores, threshold, sigma, min_score, method):
    """Algorithm 1 of Bodla et al., one box at a time."""
    scores = [float(s) for s in scores]
    alive = [i for i in range(len(scores)) if scores[i] >= min_score]
    keep, kept_scores = [], []
    while alive:
        best = max(alive, key=lambda i: scores[i])
        keep.append(best)
        kept_scores.append(scores[best])
        alive.remove(best)
        for i in alive:
            iou = box_iou(boxes[best][None], boxes[i][None]).item()
            if method == "linear":
                scores[i] *= (1 - iou) if iou >= threshold else 1.0
            else:
                scores[i] *= math.exp(-(iou**2) / sigma)
        alive = [i for i in alive if scores[i] >= min_score]
    return keep, kept_scores


def random_detections(num: int, seed: int, size: int = 100):
    generator = torch.Generator().manual_seed(seed)
    boxes = random_boxes(num, size, generator, min_size=5).double()
    scores = torch.randperm(num, generator=generator).double() / num + 0.01  # distinct: no ties
    return boxes, scores


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_matches_reference_and_opencv(threshold):
    boxes, scores = random_detections(300, seed=int(threshold * 10))
    keep = nms(boxes, scores, threshold)
    assert keep.tolist() == reference_nms(boxes, scores, threshold)
    # OpenCV takes (x, y, w, h) boxes, with width x2 - x1 for floating-point rects (no +1).
    xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1).tolist()
    opencv_keep = np.asarray(cv2.dnn.NMSBoxes(xywh, scores.tolist(), 0.0, threshold)).ravel()
    assert keep.tolist() == opencv_keep.tolist()


def test_nms_chunking_does_not_change_the_result():
    boxes, scores = random_detections(700, seed=3, size=200)
    full = nms(boxes.float(), scores.float(), 0.5)
    assert torch.equal(nms(boxes.float(), scores.float(), 0.5, chunk_size=64), full)
    assert torch.equal(nms(boxes.float(), scores.float(), 0.5, chunk_size=1), full)


def test_nms_edge_cases():
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]])
    assert nms(boxes, torch.tensor([0.5, 0.5, 0.9]), 0.5).tolist() == [2, 0]  # tie: lower index wins
    with pytest.raises(ValueError, match="scores must be"):
        nms(boxes, torch.zeros(2), 0.5)


def per_class_reference(boxes, scores, classes, threshold):
    expected = []
    for c in torch.unique(classes).tolist():
        members = torch.nonzero(classes == c).flatten()
        expected += members[reference_nms(boxes[members], scores[members], threshold)].tolist()
    expected.sort(key=lambda i: (-float(scores[i]), i))
    return expected


@pytest.mark.parametrize("pair_budget", [nms_module.PAIR_BUDGET, 0])
def test_batched_nms_matches_per_class_loop(pair_budget, monkeypatch):
    """The grid of categories (default) and the per-category loop (budget 0) give the reference."""
    monkeypatch.setattr(nms_module, "PAIR_BUDGET", pair_budget)
    boxes, scores = random_detections(400, seed=5)
    classes = torch.randint(0, 4, (400,), generator=torch.Generator().manual_seed(6))
    keep = batched_nms(boxes, scores, classes, 0.5)
    expected = per_class_reference(boxes, scores, classes, 0.5)
    assert keep.tolist() == expected
    assert len(expected) > len(nms(boxes, scores, 0.5))  # classes really were kept apart


def test_batched_nms_many_uneven_categories_with_ties():
    """80 categories of very different sizes, scores quantised so that many tie."""
    generator = torch.Generator().manual_seed(11)
    boxes = random_boxes(1500, 120, generator, min_size=4).float()
    scores = torch.randint(0, 50, (1500,), generator=generator).float() / 50
    classes = (torch.rand(1500, generator=generator) ** 3 * 80).long()  # skewed towards class 0
    keep = batched_nms(boxes, scores, classes, 0.45)
    assert keep.tolist() == per_class_reference(boxes, scores, classes, 0.45)


@pytest.mark.parametrize("max_rounds", [nms_module.MAX_ROUNDS, 0])
@pytest.mark.parametrize("chunk_size", [1024, 37])
def test_nms_paths_agree_with_opencv(max_rounds, chunk_size, monkeypatch):
    """Matrix rounds and the one-box-at-a-time pass (0 rounds), in one block or many, give OpenCV's
    answer."""
    monkeypatch.setattr(nms_module, "MAX_ROUNDS", max_rounds)
    boxes, scores = random_detections(500, seed=8, size=150)
    xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1).tolist()
    opencv_keep = np.asarray(cv2.dnn.NMSBoxes(xywh, scores.tolist(), 0.0, 0.5)).ravel().tolist()
    assert nms(boxes, scores, 0.5, chunk_size=chunk_size).tolist() == opencv_keep


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_iou_above_is_box_iou_bit_for_bit(dtype):
    """NMS's in-place overlap test gives box_iou's answer on every pair, empty boxes included."""
    boxes1 = random_boxes(300, 120, torch.Generator().manual_seed(1), min_size=1).to(dtype)
    boxes2 = random_boxes(200, 120, torch.Generator().manual_seed(2), min_size=1).to(dtype)
    boxes2[:20, 2] = boxes2[:20, 0]  # zero width
    for threshold in (0.3, 0.5, 0.7):
        expected = box_iou(boxes1, boxes2) > threshold
        assert torch.equal(nms_module._iou_above(boxes1, boxes2, threshold), expected)
        batched = nms_module._iou_above(boxes1.expand(2, -1, -1), boxes2.expand(2, -1, -1), threshold)
        assert torch.equal(batched[1], expected)


def test_long_chains_fall_back_to_the_sequential_pass(monkeypatch):
    """Each box overlaps the next (IoU 7/13) but not the one after (IoU 4/16): greedy keeps every
    other box, which the matrix rounds of batched NMS's grid settle one box per round, more than
    MAX_ROUNDS allows; the one-box-at-a-time pass then finishes the grid."""
    calls = []
    sequential = nms_module._sequential
    monkeypatch.setattr(nms_module, "_sequential", lambda *args: calls.append(1) or sequential(*args))
    count = 3 * nms_module.MAX_ROUNDS
    x = torch.arange(count, dtype=torch.float64) * 3
    boxes = torch.stack([x, torch.zeros(count, dtype=torch.float64), x + 10, torch.full((count,), 10.0)], 1)
    scores = torch.linspace(1.0, 0.5, count, dtype=torch.float64)
    keep = nms(boxes, scores, 0.5)
    assert keep.tolist() == list(range(0, count, 2))
    xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1).tolist()
    assert keep.tolist() == np.asarray(cv2.dnn.NMSBoxes(xywh, scores.tolist(), 0.0, 0.5)).ravel().tolist()
    classes = (torch.arange(count) >= count // 2).long()  # two chains of 36 boxes, one per class
    calls.clear()
    keep = batched_nms(boxes, scores, classes, 0.5)
    assert len(calls) == 2  # the grid's rounds did not settle: each class finished one box at a time
    assert keep.tolist() == per_class_reference(boxes, scores, classes, 0.5)
    monkeypatch.setattr(nms_module, "MAX_ROUNDS", count)  # enough rounds: the same answer without the pass
    calls.clear()
    assert batched_nms(boxes, scores, classes, 0.5).tolist() == keep.tolist() and not calls


def test_batched_nms_with_negative_coordinates_keeps_classes_apart():
    boxes = torch.tensor([[-50.0, -50, 0, 0], [-50, -50, 0, 0], [-49, -49, 1, 1]])
    keep = batched_nms(boxes, torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0, 1, 0]), 0.5)
    assert keep.tolist() == [0, 1]


@pytest.mark.parametrize("method", ["linear", "gaussian"])
def test_soft_nms_matches_reference(method):
    boxes, scores = random_detections(80, seed=7, size=60)
    keep, new_scores = soft_nms(boxes, scores, iou_threshold=0.3, sigma=0.5, min_score=0.05, method=method)
    expected_keep, expected_scores = reference_soft_nms(boxes, scores, 0.3, 0.5, 0.05, method)
    assert keep.tolist() == expected_keep
    torch.testing.assert_close(new_scores, torch.tensor(expected_scores, dtype=torch.float64))
    assert torch.all(new_scores[1:] <= new_scores[:-1])
    assert len(expected_keep) > len(nms(boxes, scores, 0.3))  # decays instead of removing


def test_soft_nms_with_identical_box_and_linear_decay_removes_it():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10]])
    keep, scores = soft_nms(boxes, torch.tensor([0.9, 0.8]), method="linear")
    assert keep.tolist() == [0] and scores.tolist() == pytest.approx([0.9])
    with pytest.raises(ValueError, match="method"):
        soft_nms(boxes, torch.tensor([0.9, 0.8]), method="hard")
