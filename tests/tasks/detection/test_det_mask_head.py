"""FCNMaskHead, mask targets and mask pasting (visionstack/tasks/detection/models/mask_head.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from visionstack.structures import BitmapMasks, PolygonMasks
from visionstack.tasks.detection.models.mask_head import FCNMaskHead, mask_targets, paste_masks_in_image


def _bilinear_zero_padded(mask: np.ndarray, u: float, v: float) -> float:
    """Value of ``mask`` at (column u, row v), pixel centers at integers, zero outside."""
    rows, cols = mask.shape
    x0, y0 = math.floor(u), math.floor(v)
    total = 0.0
    for yy, wy in ((y0, 1 - (v - y0)), (y0 + 1, v - y0)):
        for xx, wx in ((x0, 1 - (u - x0)), (x0 + 1, u - x0)):
            if 0 <= yy < rows and 0 <= xx < cols:
                total += wy * wx * mask[yy, xx]
    return total


def _paste_reference(masks: np.ndarray, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Slow float64 loop: every image pixel center mapped into the mask of each box."""
    out = np.zeros((len(masks), height, width))
    for k, (mask, (x1, y1, x2, y2)) in enumerate(zip(masks, boxes)):
        side_y, side_x = mask.shape
        for y in range(height):
            v = (y + 0.5 - y1) / (y2 - y1) * side_y - 0.5
            for x in range(width):
                u = (x + 0.5 - x1) / (x2 - x1) * side_x - 0.5
                out[k, y, x] = _bilinear_zero_padded(mask, u, v)
    return out


def test_paste_masks_matches_slow_reference_including_boxes_past_the_border():
    generator = torch.Generator().manual_seed(0)
    masks = torch.rand(4, 7, 7, generator=generator, dtype=torch.float64)
    boxes = torch.tensor(
        [[3.2, 4.7, 20.1, 15.3], [-5.0, 10.0, 12.5, 40.0], [20.0, 2.0, 45.0, 9.0], [0.0, 0.0, 3.0, 2.0]],
        dtype=torch.float64,
    )
    height, width = 30, 40
    pasted = paste_masks_in_image(masks, boxes, (height, width), threshold=None)
    reference = _paste_reference(masks.numpy(), boxes.numpy(), height, width)
    np.testing.assert_allclose(pasted.numpy(), reference, atol=1e-9)
    binary = paste_masks_in_image(masks, boxes, (height, width), threshold=0.5)
    assert binary.dtype == torch.bool
    np.testing.assert_array_equal(binary.numpy(), reference >= 0.5)


def test_paste_of_a_full_mask_fills_its_box():
    box = torch.tensor([[8.0, 4.0, 24.0, 20.0]])
    pasted = paste_masks_in_image(torch.ones(1, 28, 28), box, (32, 32), threshold=0.5)[0]
    expected = torch.zeros(32, 32, dtype=torch.bool)
    expected[4:20, 8:24] = True
    assert torch.equal(pasted, expected)


def test_mask_targets_crop_the_ground_truth_to_each_roi():
    bitmap = np.zeros((1, 40, 60), dtype=np.uint8)
    bitmap[0, 10:30, 10:30] = 1
    boxes = torch.tensor([[10.0, 10.0, 30.0, 30.0], [10.0, 10.0, 50.0, 30.0]])
    targets = mask_targets(boxes, torch.tensor([0, 0]), BitmapMasks(bitmap, 40, 60), mask_size=28)
    assert targets.shape == (2, 28, 28)
    assert bool((targets[0] == 1).all())
    # the second RoI is twice as wide as the object: its left half is foreground
    assert bool((targets[1][:, :14] == 1).all()) and bool((targets[1][:, 14:] == 0).all())
    square = np.array([10, 10, 30, 10, 30, 30, 10, 30], dtype=np.float64)
    from_polygons = mask_targets(boxes, torch.tensor([0, 0]), PolygonMasks([[square]], 40, 60), mask_size=28)
    assert torch.equal(from_polygons, targets)


def test_mask_targets_reject_unknown_mask_types():
    with pytest.raises(TypeError, match="with_mask=True"):
        mask_targets(torch.tensor([[0.0, 0.0, 4.0, 4.0]]), torch.tensor([0]), [np.zeros((4, 4))])


def test_head_shapes_and_loss_uses_only_the_ground_truth_class_channel():
    torch.manual_seed(0)
    head = FCNMaskHead(num_classes=3, in_channels=8, conv_out_channels=8, roi_feat_size=7)
    logits = head(torch.randn(5, 8, 7, 7))
    assert logits.shape == (5, 3, 14, 14)
    labels = torch.tensor([0, 2, 1, 2, 0])
    targets = (torch.rand(5, 14, 14) > 0.5).float()
    loss = head.loss(logits, targets, labels)["loss_mask"]
    chosen = logits[torch.arange(5), labels]
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(chosen, targets))
    other = logits.detach().clone()
    other[torch.arange(5), (labels + 1) % 3] += 10.0  # a channel of another class changes nothing
    torch.testing.assert_close(head.loss(other, targets, labels)["loss_mask"], loss.detach())
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())


def test_loss_without_positives_is_zero_with_a_graph():
    head = FCNMaskHead(num_classes=2, in_channels=4, conv_out_channels=4, num_convs=1, roi_feat_size=7)
    loss = head.loss(head(torch.randn(0, 4, 7, 7)), torch.zeros(0, 14, 14), torch.zeros(0, dtype=torch.long))
    assert loss["loss_mask"].item() == 0.0 and loss["loss_mask"].requires_grad


def test_predict_masks_pastes_the_detected_class():
    head = FCNMaskHead(num_classes=2, in_channels=4, conv_out_channels=4, num_convs=1, roi_feat_size=7)
    logits = torch.full((1, 2, 14, 14), -10.0)
    logits[0, 1] = 10.0  # class 1 predicts the whole box, class 0 nothing
    box = torch.tensor([[2.0, 2.0, 10.0, 6.0]])
    for label, expected_area in ((1, 32), (0, 0)):
        masks = head.predict_masks(logits, box, torch.tensor([label]), (12, 16))
        assert masks.shape == (1, 12, 16) and int(masks.sum()) == expected_area
