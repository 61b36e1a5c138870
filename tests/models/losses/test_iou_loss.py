"""IoULoss / GIoULoss against a float64 loop reference and the box ops, weights and reductions."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.models.losses.iou_loss import GIoULoss, IoULoss, reduce_weighted_loss
from visionstack.models.ops import aligned_box_iou


def _giou_loop(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1 - GIoU per aligned pair, scalar Python arithmetic (Rezatofighi et al. 2019, algorithm 1)."""
    out = []
    for (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) in zip(a.tolist(), b.tolist()):
        inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
        union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
        enclose = (max(ax2, bx2) - min(ax1, bx1)) * (max(ay2, by2) - min(ay1, by1))
        out.append(1.0 - (inter / union - (enclose - union) / enclose))
    return torch.tensor(out, dtype=torch.float64)


def _random_boxes(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 50
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 30 + 1
    return torch.cat([xy, xy + wh], dim=1)


def test_giou_loss_matches_loop_reference_and_box_ops():
    pred, target = _random_boxes(20, 0), _random_boxes(20, 1)
    loss = GIoULoss(reduction="none")(pred, target)
    torch.testing.assert_close(loss, _giou_loop(pred, target))
    torch.testing.assert_close(loss, 1 - aligned_box_iou(pred, target, kind="giou"))
    assert (loss >= 0).all() and (loss <= 2).all()


def test_giou_has_gradient_for_disjoint_boxes_where_iou_has_none():
    target = torch.tensor([[20.0, 20.0, 30.0, 30.0]])
    pred = torch.tensor([[0.0, 0.0, 10.0, 10.0]], requires_grad=True)
    GIoULoss()(pred, target).backward()
    assert pred.grad.abs().sum() > 0
    pred_iou = pred.detach().clone().requires_grad_(True)
    IoULoss(mode="linear")(pred_iou, target).backward()
    assert pred_iou.grad.abs().sum() == 0
    identical = torch.tensor([[1.0, 2.0, 5.0, 9.0]])
    assert GIoULoss()(identical, identical).item() == pytest.approx(0.0, abs=1e-6)


def test_iou_loss_modes():
    pred = torch.tensor([[0.0, 0.0, 10.0, 10.0]], dtype=torch.float64)
    target = torch.tensor([[5.0, 5.0, 15.0, 15.0]], dtype=torch.float64)
    iou = 25.0 / 175.0
    assert IoULoss(mode="log")(pred, target).item() == pytest.approx(-math.log(iou))
    assert IoULoss(mode="linear")(pred, target).item() == pytest.approx(1 - iou)
    assert IoULoss(mode="square")(pred, target).item() == pytest.approx(1 - iou**2)
    disjoint = torch.tensor([[50.0, 50.0, 60.0, 60.0]], dtype=torch.float64)
    assert math.isfinite(IoULoss(mode="log")(pred, disjoint).item())


def test_weights_avg_factor_and_loss_weight():
    pred, target = _random_boxes(6, 2), _random_boxes(6, 3)
    per_box = _giou_loop(pred, target)
    weight = torch.tensor([1.0, 0.0, 2.0, 0.5, 1.0, 1.0], dtype=torch.float64)
    loss = GIoULoss(loss_weight=2.0)(pred, target, weight=weight, avg_factor=4.0)
    torch.testing.assert_close(loss, 2.0 * (per_box * weight).sum() / 4.0)
    # MMDetection-style per-coordinate weights are averaged per box
    loss4 = GIoULoss()(pred, target, weight=weight[:, None].expand(6, 4), reduction_override="sum")
    torch.testing.assert_close(loss4, (per_box * weight).sum())
    torch.testing.assert_close(GIoULoss()(pred, target), per_box.mean())


def test_empty_input_gives_zero_with_avg_factor():
    empty = torch.zeros(0, 4, requires_grad=True)
    loss = GIoULoss()(empty, torch.zeros(0, 4), avg_factor=0.0)
    assert loss.item() == 0.0
    loss.backward()


def test_reduce_weighted_loss_and_errors():
    loss = torch.tensor([1.0, 2.0, 3.0])
    assert reduce_weighted_loss(loss, torch.tensor([1.0, 0.0, 1.0]), "sum").item() == 4.0
    with pytest.raises(ValueError, match="avg_factor"):
        reduce_weighted_loss(loss, None, "sum", avg_factor=2.0)
    with pytest.raises(ValueError, match="reduction"):
        GIoULoss(reduction="max")
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        GIoULoss()(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="weight"):
        GIoULoss()(torch.zeros(3, 4), torch.zeros(3, 4), weight=torch.ones(2))
    with pytest.raises(ValueError, match="mode"):
        IoULoss(mode="cube")
