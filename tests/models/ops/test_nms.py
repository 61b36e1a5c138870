"""NMS, batched NMS and Soft-NMS against Python loops and OpenCV."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from visionstack.models.ops import batched_nms, box_iou, nms, soft_nms
from visionstack.testing import random_boxes


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


@pytest.mark.parametrize("per_class_loop_above", [10_000, 0])
def test_batched_nms_matches_per_class_loop(per_class_loop_above):
    boxes, scores = random_detections(400, seed=5)
    classes = torch.randint(0, 4, (400,), generator=torch.Generator().manual_seed(6))
    keep = batched_nms(boxes, scores, classes, 0.5, per_class_loop_above=per_class_loop_above)
    expected = []
    for c in range(4):
        members = torch.nonzero(classes == c).flatten()
        expected += members[reference_nms(boxes[members], scores[members], 0.5)].tolist()
    expected.sort(key=lambda i: -float(scores[i]))
    assert keep.tolist() == expected
    assert len(expected) > len(nms(boxes, scores, 0.5))  # classes really were kept apart


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
