"""3D anchor layout (hand cases and a loop reference) and the max-IoU assigner on LiDAR boxes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from visionstack.registry import MODELS
from visionstack.tasks.det3d.models.anchors3d import (
    AlignedAnchor3DRangeGenerator,
    Anchor3DRangeGenerator,
    BboxOverlapsNearest3D,
    MaxIoUAssigner3D,
)

KITTI_RANGES = [
    [0, -39.68, -0.6, 69.12, 39.68, -0.6],
    [0, -39.68, -0.6, 69.12, 39.68, -0.6],
    [0, -39.68, -1.78, 69.12, 39.68, -1.78],
]
KITTI_SIZES = [[0.8, 0.6, 1.73], [1.76, 0.6, 1.73], [3.9, 1.6, 1.56]]


def test_aligned_anchors_hand_case():
    gen = AlignedAnchor3DRangeGenerator(
        ranges=[[0, -2, -1.78, 4, 2, -1.78]], sizes=[[3.9, 1.6, 1.56]], rotations=[0, 1.57], reshape_out=False
    )
    (anchors,) = gen.grid_anchors([(2, 2)])
    assert anchors.shape == (1, 2, 2, 1, 2, 7)
    # cells of 2 m: centres x in {1, 3}, y in {-1, 1}; [d, h, w, size, rot]
    assert anchors[0, 0, 1, 0, 1].tolist() == pytest.approx([3, -1, -1.78, 3.9, 1.6, 1.56, 1.57], abs=1e-6)
    assert anchors[0, 1, 0, 0, 0].tolist() == pytest.approx([1, 1, -1.78, 3.9, 1.6, 1.56, 0.0], abs=1e-6)
    corner = AlignedAnchor3DRangeGenerator(ranges=[[0, -2, -1.78, 4, 2, -1.78]], align_corner=True)
    assert corner.grid_anchors([(2, 2)])[0][:, 0].unique().tolist() == pytest.approx([0.0, 2.0])


def test_unaligned_anchors_include_both_ends():
    gen = Anchor3DRangeGenerator(ranges=[[0, -2, -1, 4, 2, -1]], sizes=[[1, 1, 1]], rotations=[0.0])
    (anchors,) = gen.grid_anchors([(3, 2)])
    assert anchors.shape == (6, 7)
    assert anchors[:, 0].unique().tolist() == pytest.approx([0.0, 4.0])
    assert anchors[:, 1].unique().tolist() == pytest.approx([-2.0, 0.0, 2.0])


def test_kitti_layout_matches_a_loop_reference():
    gen = AlignedAnchor3DRangeGenerator(
        ranges=KITTI_RANGES, sizes=KITTI_SIZES, rotations=[0, 1.57], reshape_out=True
    )
    height, width = 4, 5
    (flat,) = gen.grid_anchors([(height, width)])
    assert gen.num_base_anchors == 6 and flat.shape == (height * width * 6, 7)
    expected = []
    for h in range(height):
        for w in range(width):
            for (x0, y0, z0, x1, y1, _), size in zip(KITTI_RANGES, KITTI_SIZES):
                for rot in (0, 1.57):
                    x = x0 + (w + 0.5) * (x1 - x0) / width
                    y = y0 + (h + 0.5) * (y1 - y0) / height
                    expected.append([x, y, z0, *size, rot])
    np.testing.assert_allclose(flat.numpy(), np.array(expected), atol=1e-4)


def test_custom_values_and_errors():
    gen = Anchor3DRangeGenerator(ranges=[[0, 0, 0, 1, 1, 0]], custom_values=(0, 0))
    assert gen.grid_anchors([(2, 2)])[0].shape == (2 * 2 * 2, 9)
    with pytest.raises(ValueError, match="2 ranges for 3 sizes"):
        Anchor3DRangeGenerator(ranges=KITTI_RANGES[:2], sizes=KITTI_SIZES)
    with pytest.raises(ValueError, match="2 feature maps for 1 scales"):
        gen.grid_anchors([(2, 2), (1, 1)])


def test_registered_under_mmdetection3d_names():
    assigner = MODELS.build(
        dict(type="Max3DIoUAssigner", pos_iou_thr=0.6, neg_iou_thr=0.45, min_pos_iou=0.45)
    )
    assert isinstance(assigner, MaxIoUAssigner3D)
    assert isinstance(MODELS.build(dict(type="BboxOverlapsNearest3D")), BboxOverlapsNearest3D)


def _nearest_iou_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Slow reference: axis-aligned BEV boxes of the nearest pose, then IoU."""

    def xyxy(box):
        yaw = box[6] - math.floor(box[6] / math.pi + 0.5) * math.pi
        dx, dy = (box[4], box[3]) if abs(yaw) > math.pi / 4 else (box[3], box[4])
        return box[0] - dx / 2, box[1] - dy / 2, box[0] + dx / 2, box[1] + dy / 2

    out = np.zeros((len(a), len(b)))
    for i, box_a in enumerate(a):
        for j, box_b in enumerate(b):
            ax0, ay0, ax1, ay1 = xyxy(box_a)
            bx0, by0, bx1, by1 = xyxy(box_b)
            inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
            out[i, j] = inter / ((ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter)
    return out


def _assign_reference(overlaps: np.ndarray, pos: float, neg: float, min_pos: float) -> np.ndarray:
    """MMDetection's MaxIoUAssigner rules, one anchor and one ground truth at a time."""
    num_gts, num_anchors = overlaps.shape
    gt_inds = -np.ones(num_anchors, dtype=np.int64)
    for j in range(num_anchors):
        best = overlaps[:, j].max()
        if 0 <= best < neg:
            gt_inds[j] = 0
        if best >= pos:
            gt_inds[j] = int(overlaps[:, j].argmax()) + 1
    for i in range(num_gts):
        best = overlaps[i].max()
        if best >= min_pos:
            for j in range(num_anchors):
                if overlaps[i, j] == best:
                    gt_inds[j] = i + 1
    return gt_inds


def test_assigner_hand_case():
    gen = AlignedAnchor3DRangeGenerator(
        ranges=[[0, -4, -1.78, 8, 4, -1.78]], rotations=[0, 1.57], reshape_out=True
    )
    (anchors,) = gen.grid_anchors([(2, 2)])  # centres x {2, 6}, y {-2, 2}
    gt = torch.tensor([[6.0, -2.0, -1.78, 3.9, 1.6, 1.56, 0.1]])
    result = MaxIoUAssigner3D(0.6, 0.45, 0.45).assign(anchors, gt, torch.tensor([2]))
    # anchor (h=0, w=1, rot=0) is row 2 and matches exactly; its rotated twin overlaps 1.6 * 1.6 / (2 * 6.24 - 2.56)
    assert result.gt_inds.tolist() == [0, 0, 1, 0, 0, 0, 0, 0]
    assert result.labels.tolist() == [-1, -1, 2, -1, -1, -1, -1, -1]
    assert result.max_overlaps[2].item() == pytest.approx(1.0)
    assert result.max_overlaps[3].item() == pytest.approx(1.6 * 1.6 / (2 * 3.9 * 1.6 - 1.6 * 1.6), abs=1e-5)


def test_assigner_matches_the_loop_reference():
    rng = np.random.default_rng(0)
    gen = AlignedAnchor3DRangeGenerator(
        ranges=[[0, -8, -1.78, 16, 8, -1.78]], rotations=[0, 1.57], reshape_out=True
    )
    (anchors,) = gen.grid_anchors([(8, 8)])
    positives = 0
    for trial in range(5):
        count = int(rng.integers(1, 6))
        centres = rng.uniform([0, -8], [16, 8], size=(count, 2))
        sizes = rng.uniform([3, 1.4, 1.4], [4.5, 1.9, 1.7], size=(count, 3))
        yaws = rng.uniform(-math.pi, math.pi, size=(count, 1))
        gt = np.concatenate([centres, np.full((count, 1), -1.7), sizes, yaws], axis=1)
        gt_t = torch.tensor(gt, dtype=torch.float32)
        result = MaxIoUAssigner3D(0.6, 0.45, 0.45).assign(anchors, gt_t, torch.zeros(count, dtype=torch.long))
        overlaps = BboxOverlapsNearest3D()(gt_t, anchors)
        reference_iou = _nearest_iou_np(gt_t.double().numpy(), anchors.double().numpy())
        np.testing.assert_allclose(overlaps.numpy(), reference_iou, atol=1e-5)
        expected = _assign_reference(overlaps.numpy(), 0.6, 0.45, 0.45)
        assert result.gt_inds.tolist() == expected.tolist(), f"trial {trial}"
        positives += int((result.gt_inds > 0).sum())
    assert positives > 0


def test_assigner_without_ground_truth_is_all_negative():
    anchors = AlignedAnchor3DRangeGenerator(ranges=[[0, -4, -1.78, 8, 4, -1.78]]).grid_anchors([(2, 2)])[0]
    result = MaxIoUAssigner3D(0.6, 0.45, 0.45).assign(
        anchors, torch.zeros(0, 7), torch.zeros(0, dtype=torch.long)
    )
    assert result.gt_inds.tolist() == [0] * 8
    with pytest.raises(ValueError, match="unknown iou_calculator"):
        MaxIoUAssigner3D(0.6, 0.45, iou_calculator="giou")
