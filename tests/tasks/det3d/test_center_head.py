"""Tests of CenterPoint's centre head: targets, losses, decoding + NMS, ONNX export."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from visionstack.registry import MODELS
from visionstack.structures import InstanceData
from visionstack.tasks.det3d.models.center_head import CenterHead, CenterPointBBoxCoder, SeparateHead
from visionstack.tasks.det3d.ops.nms import rotated_nms_loop

PC_RANGE = [0.0, -12.8, -3.0, 25.6, 12.8, 1.0]
VOXEL = [0.2, 0.2, 4.0]
CLASSES = ["Pedestrian", "Cyclist", "Car"]


def make_head(tasks=None, out_size_factor=2, nms_type="rotate", max_num=30, in_channels=8, **test_options):
    tasks = tasks or [dict(num_class=3, class_names=CLASSES)]
    grid = [
        int(round((PC_RANGE[3] - PC_RANGE[0]) / VOXEL[0])),
        int(round((PC_RANGE[4] - PC_RANGE[1]) / VOXEL[1])),
        1,
    ]
    test_cfg = dict(
        nms_type=nms_type,
        nms_thr=0.2,
        pre_max_size=40,
        post_max_size=20,
        score_threshold=0.1,
        min_radius=[0.5] * len(tasks),
        post_center_limit_range=[-5, -20, -10, 30, 20, 10],
        max_num=max_num,
    )
    test_cfg.update(test_options)
    return CenterHead(
        in_channels=in_channels,
        tasks=tasks,
        bbox_coder=CenterPointBBoxCoder(
            pc_range=PC_RANGE[:2],
            out_size_factor=out_size_factor,
            voxel_size=VOXEL[:2],
            post_center_range=[-5, -20, -10, 30, 20, 10],
            max_num=40,
            score_threshold=0.1,
        ),
        separate_head=dict(type="SeparateHead", init_bias=-2.19, final_kernel=3),
        train_cfg=dict(
            grid_size=grid,
            voxel_size=VOXEL,
            point_cloud_range=PC_RANGE,
            out_size_factor=out_size_factor,
            dense_reg=1,
            gaussian_overlap=0.1,
            max_objs=10,
            min_radius=2,
            code_weights=[1.0] * 8,
        ),
        test_cfg=test_cfg,
    )


def sample_gt():
    boxes = torch.tensor(
        [
            [10.3, 2.1, -1.7, 3.9, 1.6, 1.5, 0.3],  # car
            [5.1, -4.3, -1.6, 0.8, 0.6, 1.7, -2.0],  # pedestrian
            [18.7, 6.5, -1.5, 1.8, 0.6, 1.7, 2.5],  # cyclist
            [40.0, 0.0, -1.5, 3.9, 1.6, 1.5, 0.0],  # car off the map: no target
            [12.0, -8.0, -1.5, 3.9, 1.6, 1.5, 0.0],  # a Van (label -1): ignored
        ]
    )
    return InstanceData(bboxes_3d=boxes, labels_3d=torch.tensor([2, 0, 1, 2, -1]))


def perfect_outs(head, gt_list, peak_logit=8.0):
    """Head outputs equal to the targets: heatmap logits +peak at the peaks, -peak elsewhere."""
    heatmaps, anno_boxes, inds, masks = head.get_targets(gt_list)
    outs = []
    for heatmap, anno_box, ind, mask in zip(heatmaps, anno_boxes, inds, masks):
        batch, _, height, width = heatmap.shape
        maps = torch.zeros(batch, 8, height * width)
        for b in range(batch):
            for k in torch.nonzero(mask[b]).flatten():
                maps[b, :, ind[b, k]] = anno_box[b, k]
        maps = maps.view(batch, 8, height, width)
        logits = torch.where(heatmap == 1, torch.tensor(peak_logit), torch.tensor(-peak_logit))
        outs.append(
            dict(reg=maps[:, 0:2], height=maps[:, 2:3], dim=maps[:, 3:6], rot=maps[:, 6:8], heatmap=logits)
        )
    return outs


def test_layers_and_state_dict_names():
    head = make_head()
    keys = set(head.state_dict())
    for key in (
        "shared_conv.conv.weight",
        "shared_conv.bn.running_mean",
        "task_heads.0.reg.0.conv.weight",
        "task_heads.0.reg.0.bn.weight",
        "task_heads.0.reg.1.weight",
        "task_heads.0.reg.1.bias",
        "task_heads.0.heatmap.1.bias",
        "task_heads.0.rot.1.weight",
    ):
        assert key in keys, key
    assert "shared_conv.conv.bias" not in keys  # conv + BN: no bias, as MMCV's ConvModule
    torch.testing.assert_close(head.task_heads[0].heatmap[1].bias, torch.full((3,), -2.19))
    outs = head([torch.randn(2, 8, 64, 64)])
    assert [tuple(outs[0][k].shape) for k in ("reg", "height", "dim", "rot", "heatmap")] == [
        (2, 2, 64, 64),
        (2, 1, 64, 64),
        (2, 3, 64, 64),
        (2, 2, 64, 64),
        (2, 3, 64, 64),
    ]
    assert head.task_heads[0].reg[1].kernel_size == (3, 3)


def test_builds_from_registry_config_with_partial_separate_head():
    head = MODELS.build(
        dict(
            type="CenterHead",
            in_channels=8,
            tasks=[dict(num_class=1, class_names=["Car"])],
            bbox_coder=dict(
                type="CenterPointBBoxCoder", pc_range=[0, -10], out_size_factor=1, voxel_size=[0.2, 0.2]
            ),
            separate_head=dict(
                type="SeparateHead", _partial_=True, init_bias=-2.19, final_kernel=3, head_conv=16
            ),
            loss_bbox=dict(type="L1Loss", reduction="mean", loss_weight=0.25),
        )
    )
    assert isinstance(head.task_heads[0], SeparateHead) and head.task_heads[0].reg[0].conv.out_channels == 16
    assert head.loss_bbox.loss_weight == 0.25
    with pytest.raises(ValueError, match="common_heads"):
        CenterHead(8, [dict(class_names=["Car"])], common_heads=dict(reg=(2, 2)), bbox_coder=head.bbox_coder)


def test_targets_hand_case():
    head = make_head(out_size_factor=2)  # 0.4 m cells, feature map 64 x 64
    heatmaps, anno_boxes, inds, masks = head.get_targets([sample_gt()])
    heatmap, anno_box, ind, mask = heatmaps[0][0], anno_boxes[0][0], inds[0][0], masks[0][0]
    assert heatmap.shape == (3, 64, 64) and anno_box.shape == (10, 8)
    # the car: x = 10.3 / 0.4 = 25.75 -> cell 25, y = (2.1 + 12.8) / 0.4 = 37.25 -> cell 37
    assert heatmap[2, 37, 25] == 1 and ind[0] == 37 * 64 + 25 and mask[0] == 1
    expected = [
        0.75,
        0.25,
        -1.7 + 0.75,
        math.log(3.9),
        math.log(1.6),
        math.log(1.5),
        math.sin(0.3),
        math.cos(0.3),
    ]
    torch.testing.assert_close(anno_box[0], torch.tensor(expected), atol=1e-5, rtol=0)
    # radius max(2, int(gaussian_radius((4, 9.75), 0.1)) = 2): the Gaussian reaches 2 cells and not 3
    assert (
        heatmap[2, 37, 27] > 0
        and heatmap[2, 37, 28] == 0
        and heatmap[2, 39, 25] > 0
        and heatmap[2, 40, 25] == 0
    )
    # pedestrian (class 0) and cyclist (class 1) in their channels; the off-map car and the Van give nothing
    assert heatmap[0, int((-4.3 + 12.8) / 0.4), int(5.1 / 0.4)] == 1
    assert heatmap[1, int((6.5 + 12.8) / 0.4), int(18.7 / 0.4)] == 1
    assert heatmap.eq(1).sum() == 3 and mask.tolist() == [1, 1, 1] + [0] * 7


def test_targets_split_by_task_with_label_offsets():
    head = make_head(
        tasks=[
            dict(num_class=2, class_names=["Pedestrian", "Cyclist"]),
            dict(num_class=1, class_names=["Car"]),
        ]
    )
    heatmaps, anno_boxes, inds, masks = head.get_targets([sample_gt()])
    assert heatmaps[0].shape == (1, 2, 64, 64) and heatmaps[1].shape == (1, 1, 64, 64)
    assert heatmaps[1][0, 0, 37, 25] == 1 and masks[1][0].sum() == 1  # the in-range car is task 1, class 0
    assert masks[0][0].sum() == 2


def test_losses_of_perfect_predictions():
    head = make_head()
    gts = [
        sample_gt(),
        InstanceData(bboxes_3d=torch.zeros(0, 7), labels_3d=torch.zeros(0, dtype=torch.int64)),
    ]
    outs = perfect_outs(head, gts)
    losses = head.loss(outs, gts, [{}, {}])
    assert set(losses) == {"task0.loss_heatmap", "task0.loss_bbox"}
    assert losses["task0.loss_bbox"].item() == pytest.approx(0.0, abs=1e-6)
    # the heatmap loss is small for a near-perfect heatmap and large for an uninformed one
    worse = [dict(o, heatmap=torch.zeros_like(o["heatmap"])) for o in outs]
    assert losses["task0.loss_heatmap"] < 0.1 * head.loss(worse, gts, [{}, {}])["task0.loss_heatmap"]
    # a regression error of 1 on the offset of one of the 3 objects: 0.25 * 1 / (3 + 1e-4)
    shifted = [dict(o, reg=o["reg"].clone()) for o in outs]
    shifted[0]["reg"][0, 0, 37, 25] += 1.0
    assert head.loss(shifted, gts, [{}, {}])["task0.loss_bbox"].item() == pytest.approx(0.25 / 3, rel=1e-3)


def test_loss_names_a_grid_mismatch():
    head = make_head()
    outs = head([torch.randn(1, 8, 32, 32)])
    with pytest.raises(ValueError, match="grid_size // out_size_factor"):
        head.loss(outs, [sample_gt()], [{}])


@pytest.mark.parametrize("nms_type", ["rotate", "circle"])
@pytest.mark.parametrize("out_size_factor", [1, 2])
def test_decoding_the_targets_gives_the_boxes_back(nms_type, out_size_factor):
    head = make_head(out_size_factor=out_size_factor, nms_type=nms_type)
    gt = sample_gt()
    outs = perfect_outs(head, [gt, gt])
    results = head.predict(outs, [{}, {}])
    for result in results:
        assert len(result) == 3
        order = torch.argsort(result.labels_3d)
        torch.testing.assert_close(result.bboxes_3d[order], gt.bboxes_3d[[1, 2, 0]], atol=1e-4, rtol=0)
        assert result.labels_3d[order].tolist() == [0, 1, 2]
        assert result.bboxes_3d.dtype == torch.float32 and result.labels_3d.dtype == torch.int64


def test_predict_equals_export_predict_minus_padding():
    torch.manual_seed(0)
    head = make_head(max_num=30).eval()
    outs = head([torch.randn(2, 8, 64, 64)])
    boxes, scores, labels = head.export_predict(outs)
    assert boxes.shape == (2, 30, 7) and scores.shape == (2, 30) and labels.dtype == torch.int64
    results = head.predict(outs, [{}, {}])
    for b, result in enumerate(results):
        real = labels[b] >= 0
        assert 0 < len(result) < 30
        torch.testing.assert_close(result.bboxes_3d, boxes[b][real])
        torch.testing.assert_close(result.scores_3d, scores[b][real])
        assert (scores[b][~real] == 0).all() and (boxes[b][~real] == 0).all()
        assert (result.scores_3d[:-1] >= result.scores_3d[1:]).all() and (result.scores_3d > 0.1).all()


def test_rotate_nms_equals_the_loop_reference():
    """Two duplicates of each object (a neighbour cell with a lower score): NMS keeps the better one, and the
    kept set equals the plain greedy loop on the decoded boxes."""
    head = make_head(max_pool_nms=False)
    gt = sample_gt()
    outs = perfect_outs(head, [gt])
    heatmap = outs[0]["heatmap"]
    for c, y, x in torch.nonzero(heatmap[0] > 0).tolist():
        heatmap[0, c, y, x + 1] = 4.0  # neighbour peak, lower score, box shifted by 0 m (same box)
        outs[0]["reg"][0, :, y, x + 1] = outs[0]["reg"][0, :, y, x] - torch.tensor([1.0, 0.0])
        outs[0]["reg"][0, 1, y, x + 1] += 0.3  # 0.12 m to the side: the IoU stays far above 0.2
        for name in ("height", "dim", "rot"):
            outs[0][name][0, :, y, x + 1] = outs[0][name][0, :, y, x]
    sigmoid_heat = heatmap.sigmoid()
    dims = outs[0]["dim"].exp()
    boxes, scores, labels, valid = head.bbox_coder.decode(
        sigmoid_heat, outs[0]["rot"][:, :1], outs[0]["rot"][:, 1:], outs[0]["height"], dims, outs[0]["reg"]
    )
    bev = torch.cat([boxes[0, :, :2], boxes[0, :, 3:5], boxes[0, :, 6:]], 1)
    expected = rotated_nms_loop(bev, scores[0], 0.2, valid=valid[0])
    result = head.predict(outs, [{}])[0]
    assert len(result) == int(expected.sum()) == 3
    torch.testing.assert_close(result.scores_3d.sort().values, scores[0][expected].sort().values)


def test_max_pool_nms_keeps_only_local_peaks():
    head = make_head(nms_type="circle", min_radius=[0.0], max_pool_nms=True)
    outs = perfect_outs(head, [sample_gt()])
    outs[0]["heatmap"][0, 2, 37, 26] = 4.0  # a lower neighbour of the car's peak: removed by the 3x3 max-pool
    assert len(head.predict(outs)[0]) == 3
    head.test_cfg["max_pool_nms"] = False  # circle NMS with radius 0 keeps both
    assert len(head.predict(outs)[0]) == 4


def test_short_overfit_lowers_the_loss():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    head = make_head(out_size_factor=4)  # 32 x 32 maps
    features = torch.randn(2, 8, 32, 32)
    gts = [
        sample_gt(),
        InstanceData(
            bboxes_3d=sample_gt().bboxes_3d[:2] + torch.tensor([2.0, 1, 0, 0, 0, 0, 0]),
            labels_3d=torch.tensor([2, 0]),
        ),
    ]
    optimizer = torch.optim.Adam(head.parameters(), lr=5e-3)
    history = []
    for _ in range(60):
        losses = head.loss(head([features]), gts, [{}, {}])
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        history.append({name: value.item() for name, value in losses.items()})
    # the Kaiming-initialised heatmap starts with large logits (loss ~1e3); both terms must fall
    first, last = history[0], history[-1]
    assert last["task0.loss_heatmap"] < 0.05 * first["task0.loss_heatmap"], history[::10]
    assert last["task0.loss_bbox"] < 0.5 * first["task0.loss_bbox"], history[::10]
    assert all(math.isfinite(v) for step in history for v in step.values())


class _Export(torch.nn.Module):
    def __init__(self, head: CenterHead) -> None:
        super().__init__()
        self.head = head

    def forward(self, feature: torch.Tensor):
        return self.head.export_predict(self.head([feature]))


@pytest.mark.parametrize("nms_type", ["rotate", "circle"])
def test_onnx_export_equals_eager(nms_type):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    head = make_head(
        nms_type=nms_type, out_size_factor=4, max_num=20, pre_max_size=24, post_max_size=16
    ).eval()
    head.bbox_coder.max_num = 24
    feature = torch.randn(1, 8, 32, 32)
    model = _Export(head).eval()
    with torch.no_grad():
        expected = model(feature)
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        (feature,),
        buffer,
        opset_version=17,
        dynamo=False,
        input_names=["feature"],
        output_names=["boxes", "scores", "labels"],
    )
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    boxes, scores, labels = session.run(None, {"feature": feature.numpy()})
    assert (expected[2] >= 0).sum() > 3
    np.testing.assert_array_equal(labels, expected[2].numpy())
    np.testing.assert_allclose(scores, expected[1].numpy(), atol=1e-5)
    np.testing.assert_allclose(boxes, expected[0].numpy(), atol=1e-4)
