"""Box conversions and overlaps against a float64 Python loop."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.models.ops import (
    aligned_box_iou,
    box_area,
    box_cxcywh_to_xyxy,
    box_iou,
    box_xywh_to_xyxy,
    box_xyxy_to_cxcywh,
    box_xyxy_to_xywh,
    clip_boxes,
    scale_boxes,
)
from visionstack.testing import random_boxes


def reference_overlap(a: list[float], b: list[float], kind: str) -> float:
    """One pair, written from the papers' definitions."""
    area_a = max(a[2] - a[0], 0) * max(a[3] - a[1], 0)
    area_b = max(b[2] - b[0], 0) * max(b[3] - b[1], 0)
    iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    inter = iw * ih
    if kind == "iof":
        return inter / max(area_a, 1e-6)
    union = area_a + area_b - inter
    iou = inter / max(union, 1e-6)
    if kind == "iou":
        return iou
    cw = max(a[2], b[2]) - min(a[0], b[0])
    ch = max(a[3], b[3]) - min(a[1], b[1])
    if kind == "giou":
        return iou - (cw * ch - union) / (cw * ch)
    rho2 = ((a[0] + a[2]) / 2 - (b[0] + b[2]) / 2) ** 2 + ((a[1] + a[3]) / 2 - (b[1] + b[3]) / 2) ** 2
    diou = iou - rho2 / (cw**2 + ch**2)
    if kind == "diou":
        return diou
    v = (
        4
        / math.pi**2
        * (math.atan((b[2] - b[0]) / (b[3] - b[1])) - math.atan((a[2] - a[0]) / (a[3] - a[1]))) ** 2
    )
    alpha = v / (1 - iou + v) if v > 0 else 0.0
    return diou - alpha * v


@pytest.mark.parametrize("kind", ["iou", "giou", "diou", "ciou", "iof"])
def test_box_iou_matches_loop_reference(kind):
    generator = torch.Generator().manual_seed(0)
    a = random_boxes(13, 40, generator).double()
    b = torch.cat([random_boxes(10, 40, generator).double(), a[:3]])  # some exact matches
    expected = torch.tensor(
        [[reference_overlap(x.tolist(), y.tolist(), kind) for y in b] for x in a], dtype=torch.float64
    )
    torch.testing.assert_close(box_iou(a, b, kind=kind), expected)
    torch.testing.assert_close(aligned_box_iou(a, b[:13], kind=kind), expected.diagonal())
    if kind != "iof":
        torch.testing.assert_close(box_iou(a, a, kind=kind).diagonal(), torch.ones(13, dtype=torch.float64))


def test_known_values_and_empty_boxes():
    a = torch.tensor([[0.0, 0, 2, 2]])
    b = torch.tensor([[1.0, 1, 3, 3], [4, 4, 6, 6], [5, 5, 5, 5]])
    torch.testing.assert_close(box_iou(a, b)[0], torch.tensor([1 / 7, 0.0, 0.0]))
    # disjoint 2x2 boxes whose enclosing box is 6x6: GIoU = 0 - (36 - 8) / 36
    torch.testing.assert_close(box_iou(a, b, kind="giou")[0, 1], torch.tensor(-28 / 36))
    assert torch.isfinite(box_iou(b, b, kind="ciou")).all()  # the empty box gives no NaN
    assert box_iou(torch.zeros(0, 4), b).shape == (0, 3)


@pytest.mark.parametrize("kind", ["iou", "giou", "diou", "ciou"])
def test_box_iou_gradients(kind):
    generator = torch.Generator().manual_seed(1)
    a = random_boxes(4, 20, generator, min_size=2).double().requires_grad_()
    b = random_boxes(3, 20, generator, min_size=2).double()
    b = torch.cat([b, a.detach()[:1] + 0.5]).requires_grad_()
    if kind == "ciou":  # alpha is a constant in backprop, so only check that gradients are finite
        box_iou(a, b, kind=kind).sum().backward()
        assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    else:
        assert torch.autograd.gradcheck(lambda x, y: box_iou(x, y, kind=kind), (a, b))


def test_conversions_round_trip_and_area():
    boxes = random_boxes(20, 50, torch.Generator().manual_seed(2)).double()
    cxcywh = box_xyxy_to_cxcywh(boxes)
    xywh = box_xyxy_to_xywh(boxes)
    torch.testing.assert_close(box_cxcywh_to_xyxy(cxcywh), boxes)
    torch.testing.assert_close(box_xywh_to_xyxy(xywh), boxes)
    torch.testing.assert_close(box_area(boxes), cxcywh[:, 2] * cxcywh[:, 3])
    torch.testing.assert_close(xywh[:, 2:], cxcywh[:, 2:])
    torch.testing.assert_close(cxcywh[:, :2], (boxes[:, :2] + boxes[:, 2:]) / 2)
    assert box_area(torch.tensor([[3.0, 3, 1, 5]])).item() == 0.0


def test_clip_and_scale():
    boxes = torch.tensor([[-5.0, 2, 30, 50], [1, -1, 2, 3]])
    torch.testing.assert_close(clip_boxes(boxes, (40, 20)), torch.tensor([[0.0, 2, 20, 40], [1, 0, 2, 3]]))
    torch.testing.assert_close(
        scale_boxes(boxes, (2.0, 0.5)), torch.tensor([[-10.0, 1, 60, 25], [2, -0.5, 4, 1.5]])
    )
    torch.testing.assert_close(scale_boxes(boxes, 3), boxes * 3)
    with pytest.raises(ValueError, match="scale_w, scale_h"):
        scale_boxes(boxes, (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="kind must be one of"):
        box_iou(boxes, boxes, kind="dice")
