"""The PointPillars anchor head: targets by hand, perfect predictions, overfit, export equivalence."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from visionstack.registry import MODELS
from visionstack.structures import InstanceData
from visionstack.tasks.det3d.boxes import limit_period
from visionstack.tasks.det3d.models.anchor3d_head import Anchor3DHead
from visionstack.tasks.det3d.ops.iou3d import bev_iou

PED, CYC, CAR = 0, 1, 2
SIZES = [[0.8, 0.6, 1.73], [1.76, 0.6, 1.73], [3.9, 1.6, 1.56]]


def _assigners():
    small = dict(type="Max3DIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.35, min_pos_iou=0.35)
    car = dict(type="Max3DIoUAssigner", pos_iou_thr=0.6, neg_iou_thr=0.45, min_pos_iou=0.45)
    return [dict(small), dict(small), car]


def make_head(x_max=8.0, y_half=4.0, channels=8, **test_cfg) -> Anchor3DHead:
    """The KITTI 3-class head on a small range: x in [0, x_max], y in [-y_half, y_half]."""
    ranges = [[0, -y_half, z, x_max, y_half, z] for z in (-0.6, -0.6, -1.78)]
    cfg = dict(
        type="Anchor3DHead",
        num_classes=3,
        in_channels=channels,
        feat_channels=channels,
        anchor_generator=dict(
            type="AlignedAnchor3DRangeGenerator",
            ranges=ranges,
            sizes=SIZES,
            rotations=[0, 1.57],
            reshape_out=False,
        ),
        train_cfg=dict(assigner=_assigners(), allowed_border=0, pos_weight=-1),
        test_cfg=dict(
            dict(use_rotate_nms=True, nms_thr=0.01, score_thr=0.1, nms_pre=100, max_num=50), **test_cfg
        ),
    )
    return MODELS.build(cfg)


def gt(boxes, labels) -> InstanceData:
    return InstanceData(
        bboxes_3d=torch.tensor(boxes, dtype=torch.float32), labels_3d=torch.tensor(labels, dtype=torch.long)
    )


def test_targets_hand_case():
    head = make_head()
    anchors = head.anchors((2, 2), "cpu")  # centres x {2, 6}, y {-2, 2}; 6 anchors per cell
    assert anchors.shape == (1, 2, 2, 3, 2, 7)
    car = [6.0, -2.0, -1.78, 3.9, 1.6, 1.56, 0.1]
    car_backwards = [2.0, 2.0, -1.78, 3.9, 1.6, 1.56, -math.pi + 0.1]
    ped = [2.0, -2.0, -0.6, 0.8, 0.6, 1.73, 0.0]
    sample = gt([car, car_backwards, ped], [CAR, CAR, PED])
    targets = head.get_targets(anchors, sample.bboxes_3d, sample.labels_3d)
    # row = cell * 6 + size * 2 + rot; cells: (h0,w0)=0 (h0,w1)=1 (h1,w0)=2 (h1,w1)=3
    car_row, backwards_row, ped_row = 1 * 6 + 4, 2 * 6 + 4, 0 * 6 + 0
    # the pedestrian's rotated anchor (row 1) is positive too: nearest BEV boxes 0.8 x 0.6 and 0.6 x 0.8,
    # IoU 0.36 / 0.6 = 0.6 >= 0.5; the cars' rotated anchors overlap 2.56 / 9.92 = 0.26 < 0.45: negative
    positive = torch.nonzero(targets["labels"] < 3).flatten().tolist()
    assert positive == [ped_row, ped_row + 1, car_row, backwards_row]
    assert targets["labels"][positive].tolist() == [PED, PED, CAR, CAR]
    assert int(targets["num_pos"]) == 4
    # the cyclist anchor at the pedestrian overlaps it (IoU 0.45) but cyclists see only cyclist ground truths
    assert targets["labels"][0 * 6 + 2].item() == 3 and targets["label_weights"][0 * 6 + 2].item() == 1.0
    assert torch.allclose(targets["bbox_targets"][car_row], torch.tensor([0, 0, 0, 0, 0, 0, 0.1]), atol=1e-6)
    assert targets["dir_targets"][car_row].item() == 0 and targets["dir_targets"][backwards_row].item() == 1
    assert targets["bbox_weights"][car_row].tolist() == [1.0] * 7
    assert targets["label_weights"].min().item() >= 0


def test_pedestrian_rotated_anchor_and_ignored_band():
    head = make_head()
    anchors = head.anchors((2, 2), "cpu")
    ped = [2.0, -2.0, -0.6, 0.8, 0.6, 1.73, 0.0]
    targets = head.get_targets(anchors, torch.tensor([ped]), torch.tensor([PED]))
    assert targets["labels"][0].item() == PED and targets["labels"][1].item() == PED
    # moved 0.25 m along x: anchor row 0 keeps 0.55 * 0.6 / (0.96 - 0.33) = 0.52 >= 0.5 (positive); the
    # rotated anchor (x in [1.7, 2.3], y in [-2.4, -1.6]) falls into the ignore band [0.35, 0.5)
    shifted = [2.25, -2.0, -0.6, 0.8, 0.6, 1.73, 0.0]
    shifted_targets = head.get_targets(anchors, torch.tensor([shifted]), torch.tensor([PED]))
    overlap = (2.3 - 1.85) * 0.6
    iou_rot = overlap / (0.96 - overlap)
    assert 0.35 <= iou_rot < 0.5
    assert shifted_targets["labels"][0].item() == PED
    assert shifted_targets["labels"][1].item() == 3 and shifted_targets["label_weights"][1].item() == 0.0


def perfect_outputs(head: Anchor3DHead, boxes, labels, featmap=(2, 2)):
    """Head outputs that predict exactly the targets: logit +12 on positives, -12 elsewhere."""
    anchors = head.anchors(featmap, "cpu")
    sample = gt(boxes, labels)
    targets = head.get_targets(anchors, sample.bboxes_3d, sample.labels_3d)
    num = targets["labels"].shape[0]
    cls = torch.full((num, 3), -12.0)
    positive = targets["labels"] < 3
    cls[positive, targets["labels"][positive]] = 12.0
    dir_logits = torch.nn.functional.one_hot(targets["dir_targets"], 2).float() * 24 - 12
    height, width = featmap

    def to_map(flat):
        return flat.reshape(height, width, -1).permute(2, 0, 1)[None].contiguous()

    return ([to_map(cls)], [to_map(targets["bbox_targets"])], [to_map(dir_logits)]), sample, targets


@pytest.mark.parametrize("yaw", [-math.pi + 0.05, -2.0, -0.6, 0.0, 0.4, 1.6, 2.5, math.pi - 0.05])
def test_perfect_predictions_decode_to_the_ground_truth(yaw):
    head = make_head()
    boxes = [[6.0, -2.0, -1.7, 4.1, 1.7, 1.5, yaw], [2.0, 2.0, -0.5, 0.7, 0.6, 1.8, -yaw / 2]]
    outs, sample, _ = perfect_outputs(head, boxes, [CAR, PED])
    (pred,) = head.predict(outs, [{}])
    assert pred.labels_3d.tolist() == [CAR, PED] or pred.labels_3d.tolist() == [PED, CAR]
    order = torch.argsort(pred.labels_3d, descending=True)
    got = pred.bboxes_3d[order]
    torch.testing.assert_close(got[:, :6], sample.bboxes_3d[:, :6], atol=1e-5, rtol=0)
    yaw_error = limit_period(got[:, 6] - sample.bboxes_3d[:, 6], 0.5, 2 * math.pi)
    assert yaw_error.abs().max().item() < 1e-5  # the direction bin restored the heading, not only yaw mod pi
    assert pred.scores_3d.min().item() > 0.99


def test_perfect_regression_and_direction_losses_are_near_zero():
    head = make_head()
    boxes = [[6.0, -2.0, -1.7, 4.1, 1.7, 1.5, 2.9], [2.0, 2.0, -0.5, 0.7, 0.6, 1.8, -1.0]]
    outs, sample, targets = perfect_outputs(head, boxes, [CAR, PED])
    losses = head.loss(outs, [sample], [{}])
    assert set(losses) == {"loss_cls", "loss_bbox", "loss_dir"}
    assert losses["loss_bbox"].item() == pytest.approx(0.0, abs=1e-10)
    assert losses["loss_dir"].item() < 1e-8
    assert losses["loss_cls"].item() < 1e-6
    # a wrong angle by 0.3 rad on one positive costs 2.0 * smooth_l1(sin 0.3) / num_pos
    reg = outs[1][0].clone()
    positive_row = torch.nonzero(targets["labels"] < 3).flatten()[0].item()
    cell, anchor = divmod(positive_row, 6)
    reg[0, anchor * 7 + 6, cell // 2, cell % 2] += 0.3
    wrong = head.loss((outs[0], [reg], outs[2]), [sample], [{}])
    num_pos = int(targets["num_pos"])
    assert wrong["loss_bbox"].item() == pytest.approx(2.0 * (math.sin(0.3) - 0.5 / 9) / num_pos, rel=1e-4)


def test_loss_without_objects_is_finite_and_reaches_every_layer():
    head = make_head()
    feats = [torch.randn(2, 8, 2, 2, requires_grad=True)]
    outs = head(feats)
    losses = head.loss(
        outs, [gt(np.zeros((0, 7)), []), gt([[6.0, -2.0, -1.7, 4.1, 1.7, 1.5, 0.3]], [CAR])], [{}, {}]
    )
    total = sum(losses.values())
    total.backward()
    assert torch.isfinite(total)
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_layer_names_and_init_match_mmdetection3d():
    head = make_head(channels=384)
    assert {name for name, _ in head.named_parameters()} == {
        "conv_cls.weight",
        "conv_cls.bias",
        "conv_reg.weight",
        "conv_reg.bias",
        "conv_dir_cls.weight",
        "conv_dir_cls.bias",
    }
    assert head.conv_cls.weight.shape == (18, 384, 1, 1) and head.conv_reg.weight.shape == (42, 384, 1, 1)
    assert head.conv_dir_cls.weight.shape == (12, 384, 1, 1)
    assert head.conv_cls.bias[0].item() == pytest.approx(-math.log(99))
    with pytest.raises(ValueError, match="in_channels \\(16\\) must equal feat_channels \\(8\\)"):
        Anchor3DHead(num_classes=3, in_channels=16, feat_channels=8)


def random_outputs(head: Anchor3DHead, featmap=(4, 4), seed=0):
    generator = torch.Generator().manual_seed(seed)
    height, width = featmap
    cls = torch.randn(1, 18, height, width, generator=generator) * 3
    reg = torch.randn(1, 42, height, width, generator=generator) * 0.3
    dirs = torch.randn(1, 12, height, width, generator=generator)
    return [cls], [reg], [dirs]


def test_predict_equals_export_predict_minus_padding_and_nms_holds():
    head = make_head(x_max=16.0, y_half=8.0, nms_pre=40, max_num=100, nms_thr=0.1)
    outs = random_outputs(head)
    boxes, scores, labels = head.export_predict(outs)
    assert boxes.shape == (1, 100, 7) and scores.shape == (1, 100) and labels.dtype == torch.int64
    (pred,) = head.predict(outs, [{}])
    real = labels[0] >= 0
    assert 0 < int(real.sum()) < 100
    torch.testing.assert_close(pred.bboxes_3d, boxes[0][real])
    torch.testing.assert_close(pred.scores_3d, scores[0][real])
    assert (scores[0][~real] == 0).all() and (boxes[0][~real] == 0).all()
    assert (pred.scores_3d > 0.1).all() and (pred.scores_3d[:-1] >= pred.scores_3d[1:]).all()
    for label in pred.labels_3d.unique():  # no two kept boxes of a class overlap beyond nms_thr
        same = pred.bboxes_3d[pred.labels_3d == label]
        iou = bev_iou(same[:, [0, 1, 3, 4, 6]], same[:, [0, 1, 3, 4, 6]])
        assert (iou - torch.eye(len(same))).max().item() <= 0.1 + 1e-6


class _Export(torch.nn.Module):
    def __init__(self, head: Anchor3DHead) -> None:
        super().__init__()
        self.head = head

    def forward(self, cls, reg, dirs):
        return self.head.export_predict(([cls], [reg], [dirs]))


def test_onnx_export_equals_eager():
    onnxruntime = pytest.importorskip("onnxruntime")
    torch.set_num_threads(1)
    head = make_head(x_max=16.0, y_half=8.0, nms_pre=16, max_num=12, nms_thr=0.1).eval()
    outs = random_outputs(head, seed=1)
    inputs = (outs[0][0], outs[1][0], outs[2][0])
    buffer = io.BytesIO()
    torch.onnx.export(
        _Export(head),
        inputs,
        buffer,
        opset_version=17,
        dynamo=False,
        input_names=["cls", "reg", "dir"],
        output_names=["boxes", "scores", "labels"],
    )
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    got = session.run(None, {name: t.numpy() for name, t in zip(["cls", "reg", "dir"], inputs)})
    expected = head.export_predict(outs)
    assert (expected[2] >= 0).sum() > 2
    np.testing.assert_array_equal(got[2], expected[2].numpy())
    np.testing.assert_allclose(got[1], expected[1].numpy(), atol=1e-6)
    np.testing.assert_allclose(got[0], expected[0].numpy(), atol=1e-4)


def _bev_raster(boxes: torch.Tensor, size=16, metres=16.0) -> torch.Tensor:
    """(2, size, size) features: occupancy of each box's BEV footprint and a front-half marker."""
    cell = metres / size
    ys, xs = torch.meshgrid(
        (torch.arange(size) + 0.5) * cell - metres / 2, (torch.arange(size) + 0.5) * cell, indexing="ij"
    )
    image = torch.zeros(2, size, size)
    for box in boxes:
        dx, dy = xs - box[0], ys - box[1]
        along = dx * torch.cos(box[6]) + dy * torch.sin(box[6])
        across = -dx * torch.sin(box[6]) + dy * torch.cos(box[6])
        inside = (along.abs() <= box[3] / 2 + cell / 2) & (across.abs() <= box[4] / 2 + cell / 2)
        image[0][inside] = 1.0
        image[1][inside & (along > 0)] = 1.0
    return image


def test_overfit_two_synthetic_frames():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    head = make_head(x_max=16.0, y_half=8.0, channels=32, score_thr=0.05)
    frames = [
        gt([[5.0, -3.0, -1.7, 3.9, 1.6, 1.5, 0.2], [11.0, 3.0, -0.6, 0.8, 0.6, 1.7, 1.0]], [CAR, PED]),
        gt([[9.0, 1.0, -1.7, 4.2, 1.7, 1.6, -2.8], [5.0, 5.0, -0.6, 1.8, 0.6, 1.7, 1.5]], [CAR, CYC]),
    ]
    images = torch.stack([_bev_raster(f.bboxes_3d) for f in frames])  # (2, 2, 16, 16)
    trunk = torch.nn.Sequential(
        torch.nn.Conv2d(2, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1, stride=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1),
        torch.nn.ReLU(),
    )
    optimizer = torch.optim.Adam([*trunk.parameters(), *head.parameters()], lr=3e-3)
    history = []
    for _ in range(100):
        losses = head.loss(head([trunk(images)]), frames, [{}, {}])
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(total.item())
    assert history[-1] < 0.25 * history[0], history[::25]
    head.eval()
    with torch.no_grad():
        predictions = head.predict(head([trunk(images)]), [{}, {}])
    for frame, pred in zip(frames, predictions):
        iou = bev_iou(frame.bboxes_3d[:, [0, 1, 3, 4, 6]], pred.bboxes_3d[:, [0, 1, 3, 4, 6]])
        best_iou, best = iou.max(dim=1)
        assert (best_iou > 0.5).all(), (iou, pred.scores_3d)
        assert pred.labels_3d[best].tolist() == frame.labels_3d.tolist()
        heading_error = limit_period(pred.bboxes_3d[best, 6] - frame.bboxes_3d[:, 6], 0.5, 2 * math.pi)
        assert (
            heading_error.abs().max().item() < 0.5
        )  # the direction bins learned the heading, not only the axis
