"""The detector frame: data preprocessor, VoxelNet/CenterPoint with a stand-in head and with the real
anchor and centre heads, ``export_forward`` == ``predict``, ONNX (dynamic M) == ``export_forward``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from visionstack.registry import MODELS
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.det3d.models.anchor3d_head import Anchor3DHead  # noqa: F401  (registers)
from visionstack.tasks.det3d.models.anchors3d import AlignedAnchor3DRangeGenerator  # noqa: F401
from visionstack.tasks.det3d.models.center_head import CenterHead  # noqa: F401
from visionstack.tasks.det3d.models.data_preprocessor import Det3DDataPreprocessor
from visionstack.tasks.det3d.models.middle_encoders import PointPillarsScatter  # noqa: F401
from visionstack.tasks.det3d.models.second import SECOND, SECONDFPN  # noqa: F401
from visionstack.tasks.det3d.models.voxel_encoders import PillarFeatureNet  # noqa: F401
from visionstack.tasks.det3d.models.voxelnet import CenterPoint, VoxelNet
from visionstack.tasks.det3d.ops.voxelize import hard_voxelize

VOXEL = [0.5, 0.5, 4.0]
RANGE = [0.0, -4.0, -3.0, 8.0, 4.0, 1.0]  # 16 x 16 pillars
CAR = [4.0, 0.0, -1.78, 3.9, 1.6, 1.56, 0.0]
PED = [2.0, 2.0, -1.73, 0.8, 0.6, 1.73, 0.5]


class TinyHead(nn.Module):
    """A stand-in with the det3d head interface: one 1x1 conv -> a score and 7 box values per cell;
    ``export_predict`` keeps the top-K cells, scores <= 0.3 become padding rows."""

    def __init__(self, in_channels: int, max_num: int = 6) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 8, 1)
        self.max_num = max_num
        self.train_cfg, self.test_cfg = {}, {"max_num": max_num}

    def forward(self, feats):
        return [self.conv(feats[0])]

    def loss(self, outs, gts, metas):
        target = sum(float(gt.bboxes_3d.sum()) for gt in gts)
        return {"loss_tiny": (outs[0] - target * 1e-3).square().mean()}

    def export_predict(self, outs):
        flat = outs[0].flatten(2)
        scores, index = flat[:, 0].sigmoid().topk(self.max_num, dim=1)
        boxes = flat[:, 1:].gather(2, index.unsqueeze(1).expand(-1, 7, -1)).transpose(1, 2)
        valid = scores > 0.3
        labels = torch.where(valid, torch.zeros_like(index), torch.full_like(index, -1))
        return boxes * valid.unsqueeze(-1), scores * valid, labels

    def predict(self, outs, metas):
        boxes, scores, labels = self.export_predict(outs)
        return [
            InstanceData(bboxes_3d=b[lab >= 0], scores_3d=s[lab >= 0], labels_3d=lab[lab >= 0])
            for b, s, lab in zip(boxes, scores, labels)
        ]


def _cloud(seed: int, n: int = 600) -> torch.Tensor:
    """Random points over (and a little outside) the range, plus dense points in the two boxes."""
    rng = np.random.default_rng(seed)
    background = np.c_[rng.uniform(-1, 9, n), rng.uniform(-5, 5, n), rng.uniform(-3, 1, n), rng.random(n)]
    objects = []
    for box in (CAR, PED):
        local = rng.uniform(-0.5, 0.5, (80, 3)) * box[3:6]
        c, s = np.cos(box[6]), np.sin(box[6])
        xy = local[:, :2] @ np.array([[c, s], [-s, c]]) + box[:2]
        objects.append(np.c_[xy, local[:, 2] + box[2] + box[5] / 2, rng.random(80)])
    return torch.tensor(np.concatenate([background, *objects]), dtype=torch.float32)


def _batch(seeds=(0, 1)):
    samples = [
        DataSample(
            gt_instances_3d=InstanceData(bboxes_3d=torch.tensor([CAR, PED]), labels_3d=torch.tensor([2, 0])),
            metainfo=dict(sample_idx=seed, box_type_3d="LiDAR"),
        )
        for seed in seeds
    ]
    return {"inputs": {"points": [_cloud(seed) for seed in seeds]}, "data_samples": samples}


def _preprocessor(max_voxels=(200, 300)):
    return dict(
        type="Det3DDataPreprocessor",
        voxel=True,
        voxel_layer=dict(max_num_points=8, voxel_size=VOXEL, point_cloud_range=RANGE, max_voxels=max_voxels),
    )


def _frame(prefix: str = "") -> dict:
    return {
        prefix + "voxel_encoder": dict(
            type="PillarFeatureNet",
            in_channels=4,
            feat_channels=[16],
            voxel_size=VOXEL,
            point_cloud_range=RANGE,
        ),
        prefix + "middle_encoder": dict(type="PointPillarsScatter", in_channels=16, output_shape=[16, 16]),
        prefix + "backbone": dict(
            type="SECOND", in_channels=16, out_channels=[16, 32], layer_nums=[1, 1], layer_strides=[2, 2]
        ),
        prefix + "neck": dict(
            type="SECONDFPN", in_channels=[16, 32], out_channels=[16, 16], upsample_strides=[1, 2]
        ),
    }


def _anchor_head() -> dict:
    return dict(
        type="Anchor3DHead",
        num_classes=3,
        in_channels=32,
        feat_channels=32,
        anchor_generator=dict(
            type="AlignedAnchor3DRangeGenerator",
            ranges=[[0, -4, -1.78, 8, 4, -1.78], [0, -4, -0.6, 8, 4, -0.6], [0, -4, -1.78, 8, 4, -1.78]],
            sizes=[[0.8, 0.6, 1.73], [1.76, 0.6, 1.73], [3.9, 1.6, 1.56]],
            rotations=[0, 1.57],
            reshape_out=False,
        ),
        train_cfg=dict(
            assigner=[dict(type="MaxIoUAssigner3D", pos_iou_thr=0.5, neg_iou_thr=0.35, min_pos_iou=0.35)] * 2
            + [dict(type="MaxIoUAssigner3D", pos_iou_thr=0.6, neg_iou_thr=0.45, min_pos_iou=0.45)],
            pos_weight=-1,
        ),
        test_cfg=dict(
            use_rotate_nms=True, nms_pre=40, nms_thr=0.01, score_thr=0.0, min_bbox_size=0, max_num=12
        ),
    )


def _center_head() -> dict:
    return dict(
        type="CenterHead",
        in_channels=32,
        share_conv_channel=16,
        tasks=[
            dict(num_class=1, class_names=["Car"]),
            dict(num_class=2, class_names=["Pedestrian", "Cyclist"]),
        ],
        bbox_coder=dict(
            type="CenterPointBBoxCoder",
            pc_range=RANGE[:2],
            out_size_factor=2,
            voxel_size=VOXEL[:2],
            post_center_range=[-2, -6, -5, 10, 6, 3],
            max_num=20,
            score_threshold=0.0,
            code_size=7,
        ),
        train_cfg=dict(
            grid_size=[16, 16, 1],
            voxel_size=VOXEL,
            point_cloud_range=RANGE,
            out_size_factor=2,
            dense_reg=1,
            gaussian_overlap=0.1,
            max_objs=10,
            min_radius=2,
            code_weights=[1.0] * 8,
        ),
        test_cfg=dict(
            max_num=12,
            score_threshold=0.0,
            nms_type="rotate",
            pre_max_size=20,
            post_max_size=12,
            nms_thr=0.2,
            post_center_limit_range=[-2, -6, -5, 10, 6, 3],
        ),
    )


def _build(head: dict | nn.Module, kind=VoxelNet):
    torch.manual_seed(0)
    prefix = "pts_" if kind is CenterPoint else ""
    built = {key: MODELS.build(value) for key, value in _frame(prefix).items()}
    head = MODELS.build(head) if isinstance(head, dict) else head
    return kind(data_preprocessor=_preprocessor(), **built, **{prefix + "bbox_head": head})


def _export_inputs(preprocessed):
    voxels = preprocessed["inputs"]["voxels"]
    return (
        voxels["voxels"].unsqueeze(0),
        voxels["num_points"].float().unsqueeze(0),
        voxels["coors"][:, 2:].float().unsqueeze(0),
    )


# ---- data preprocessor ---------------------------------------------------------------------------
def test_preprocessor_voxelises_each_cloud_and_prepends_the_batch_index():
    pre = Det3DDataPreprocessor(
        voxel_layer=dict(max_num_points=8, voxel_size=VOXEL, point_cloud_range=RANGE, max_voxels=(40, 300))
    )
    data = _batch((3, 4))
    out = pre(data, training=False)
    voxel_dict = out["inputs"]["voxels"]
    expected_voxels, expected_coors, expected_counts = [], [], []
    for index, cloud in enumerate(data["inputs"]["points"]):
        v, c, n = hard_voxelize(cloud, VOXEL, RANGE, 8, 300)
        expected_voxels.append(v)
        expected_coors.append(torch.cat([torch.full((len(c), 1), index), c], 1))
        expected_counts.append(n)
    torch.testing.assert_close(voxel_dict["voxels"], torch.cat(expected_voxels))
    torch.testing.assert_close(voxel_dict["coors"], torch.cat(expected_coors))
    torch.testing.assert_close(voxel_dict["num_points"], torch.cat(expected_counts))
    assert voxel_dict["coors"].dtype == torch.int64 and voxel_dict["num_points"].dtype == torch.int64
    assert len(out["inputs"]["points"]) == 2 and out["data_samples"] is not None
    # the call's flag picks the voxel budget: 40 per cloud while training
    train = pre(_batch((3, 4)), training=True)["inputs"]["voxels"]
    assert len(train["coors"]) == 80 and (train["coors"][:, 0] == 1).sum() == 40


def test_preprocessor_dynamic_keeps_in_range_points():
    pre = Det3DDataPreprocessor(
        voxel_type="dynamic", voxel_layer=dict(voxel_size=VOXEL, point_cloud_range=RANGE)
    )
    data = _batch((5,))
    cloud = data["inputs"]["points"][0]
    out = pre(data)["inputs"]["voxels"]
    inside = ((cloud[:, :3] >= torch.tensor(RANGE[:3])) & (cloud[:, :3] < torch.tensor(RANGE[3:]))).all(1)
    torch.testing.assert_close(out["voxels"], cloud[inside])
    expected = torch.floor((cloud[inside, :3] - torch.tensor(RANGE[:3])) / torch.tensor(VOXEL)).long().flip(1)
    torch.testing.assert_close(out["coors"][:, 1:], expected)
    assert (out["coors"][:, 0] == 0).all()


def test_preprocessor_errors():
    with pytest.raises(ValueError, match="voxel_type"):
        Det3DDataPreprocessor(
            voxel_type="sparse", voxel_layer=dict(voxel_size=VOXEL, point_cloud_range=RANGE)
        )
    with pytest.raises(ValueError, match="voxel_layer"):
        Det3DDataPreprocessor()
    with pytest.raises(ValueError, match="unknown keys"):
        Det3DDataPreprocessor(voxel_layer=dict(voxel_size=VOXEL, point_cloud_range=RANGE, max_points=3))
    pre = Det3DDataPreprocessor(voxel_layer=dict(voxel_size=VOXEL, point_cloud_range=RANGE))
    with pytest.raises(TypeError, match="points"):
        pre({"inputs": [torch.zeros(3, 4)]})


# ---- the frame with the stand-in head ------------------------------------------------------------
def test_loss_reaches_every_parameter_and_predict_shapes():
    torch.set_num_threads(1)
    model = _build(TinyHead(32))
    assert model.task == "det3d"
    data = model.data_preprocessor(_batch(), training=True)
    feats = model.extract_feat(data["inputs"])
    assert [tuple(f.shape) for f in feats] == [(2, 32, 8, 8)]
    losses = model(**data, mode="loss")
    loss, log_vars = model.parse_losses(losses)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    model.eval()
    with torch.no_grad():
        samples = model.val_step(_batch())
    assert all(s.pred_instances_3d.bboxes_3d.shape[1] == 7 for s in samples)


def _check_export_equals_predict(model, seed=7):
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(_batch((seed,)), training=False)
        boxes, scores, labels = model.export_forward(*_export_inputs(data))
        (sample,) = model(**data, mode="predict")
    pred = sample.pred_instances_3d
    real = labels[0] >= 0
    torch.testing.assert_close(pred.bboxes_3d, boxes[0][real])
    torch.testing.assert_close(pred.scores_3d, scores[0][real])
    torch.testing.assert_close(pred.labels_3d, labels[0][real])
    assert ((labels[0] == -1) == (scores[0] == 0)).all()
    return int(real.sum())


def _check_onnx(model, tmp_path):
    import onnxruntime as ort

    model.eval()

    class Export(nn.Module):
        def __init__(self, detector):
            super().__init__()
            self.detector = detector

        def forward(self, voxels, num_points, coors):
            return self.detector.export_forward(voxels, num_points, coors)

    with torch.no_grad():
        traced = _export_inputs(model.data_preprocessor(_batch((11,)), training=False))
        path = tmp_path / "model.onnx"
        torch.onnx.export(
            Export(model).eval(),
            traced,
            str(path),
            opset_version=17,
            dynamo=False,
            input_names=["voxels", "num_points", "coors"],
            output_names=["boxes", "scores", "labels"],
            dynamic_axes={name: {1: "M"} for name in ("voxels", "num_points", "coors")},
        )
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for seed in (12, 13):  # other clouds: other M than the traced one
            inputs = _export_inputs(model.data_preprocessor(_batch((seed,)), training=False))
            assert inputs[0].shape[1] != traced[0].shape[1]
            expected = model.export_forward(*inputs)
            got = session.run(
                None, {name: t.numpy() for name, t in zip(("voxels", "num_points", "coors"), inputs)}
            )
            np.testing.assert_allclose(got[0], expected[0].numpy(), atol=1e-4)
            np.testing.assert_allclose(got[1], expected[1].numpy(), atol=1e-5)
            np.testing.assert_array_equal(got[2], expected[2].numpy())


def test_stand_in_export_and_onnx(tmp_path):
    torch.set_num_threads(1)
    model = _build(TinyHead(32))
    assert _check_export_equals_predict(model) > 0
    _check_onnx(model, tmp_path)


def test_centerpoint_names_and_same_computation():
    voxelnet = _build(_center_head())
    centerpoint = _build(_center_head(), kind=CenterPoint)
    keys = list(centerpoint.state_dict())
    assert "pts_voxel_encoder.pfn_layers.0.linear.weight" in keys and "pts_neck.deblocks.0.0.weight" in keys
    assert "pts_backbone.blocks.0.0.weight" in keys and any(k.startswith("pts_bbox_head.") for k in keys)
    state = {
        (k if k.startswith("data_preprocessor") else "pts_" + k): v for k, v in voxelnet.state_dict().items()
    }
    centerpoint.load_state_dict(state)
    voxelnet.eval(), centerpoint.eval()
    with torch.no_grad():
        data = voxelnet.data_preprocessor(_batch((3,)), training=False)
        a = voxelnet.export_forward(*_export_inputs(data))
        b = centerpoint.export_forward(*_export_inputs(data))
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)


def test_cfgs_handed_to_the_head():
    head_cfg = _anchor_head()
    train_cfg, test_cfg = head_cfg.pop("train_cfg"), head_cfg.pop("test_cfg")
    parts = {key: MODELS.build(value) for key, value in _frame().items()}
    model = VoxelNet(_preprocessor(), **parts, bbox_head=head_cfg, train_cfg=train_cfg, test_cfg=test_cfg)
    assert model.bbox_head.test_cfg["max_num"] == 12 and len(model.bbox_head.assigners) == 3
    centre = _center_head()
    pts_train = centre.pop("train_cfg")
    parts = {key: MODELS.build(value) for key, value in _frame("pts_").items()}
    model = CenterPoint(_preprocessor(), **parts, pts_bbox_head=centre, train_cfg=dict(pts=pts_train))
    assert model.pts_bbox_head.train_cfg["max_objs"] == 10
    with pytest.raises(ValueError, match="inside the bbox_head config"):
        VoxelNet(
            _preprocessor(),
            **{k: MODELS.build(v) for k, v in _frame().items()},
            bbox_head=TinyHead(32),
            train_cfg=dict(assigner=None),
        )
    with pytest.raises(TypeError, match="has no loss"):
        VoxelNet(
            _preprocessor(), **{k: MODELS.build(v) for k, v in _frame().items()}, bbox_head=nn.Conv2d(1, 1, 1)
        )


# ---- the real heads ------------------------------------------------------------------------------
@pytest.mark.parametrize("head", ["anchor", "center"])
def test_real_heads_loss_export_and_onnx(head, tmp_path):
    torch.set_num_threads(1)
    model = _build(_anchor_head() if head == "anchor" else _center_head(), kind=VoxelNet)
    model.train()
    data = model.data_preprocessor(_batch(), training=True)
    loss, _ = model.parse_losses(model(**data, mode="loss"))
    assert torch.isfinite(loss)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
    _check_export_equals_predict(model)
    _check_onnx(model, tmp_path)


def test_registry_builds_a_cpu_grid_pointpillars_config():
    """The whole config built bottom-up by the registry, on a 40 x 40 m grid of 0.2 m pillars (200 x 200)
    with narrow SECOND channels: every size comes from the config."""
    torch.set_num_threads(1)
    pcr, voxel = [0.0, -20.0, -3.0, 40.0, 20.0, 1.0], [0.2, 0.2, 4.0]
    head = _anchor_head()
    head.update(in_channels=96, feat_channels=96)
    head["anchor_generator"]["ranges"] = [[0, -20, -1.78, 40, 20, -1.78]] * 3
    cfg = dict(
        type="VoxelNet",
        data_preprocessor=dict(
            type="Det3DDataPreprocessor",
            voxel_layer=dict(
                max_num_points=16, voxel_size=voxel, point_cloud_range=pcr, max_voxels=(8000, 8000)
            ),
        ),
        voxel_encoder=dict(
            type="PillarFeatureNet",
            in_channels=4,
            feat_channels=[32],
            voxel_size=voxel,
            point_cloud_range=pcr,
            norm_cfg=dict(eps=1e-3, momentum=0.01),
        ),
        middle_encoder=dict(type="PointPillarsScatter", in_channels=32, output_shape=[200, 200]),
        backbone=dict(type="SECOND", in_channels=32, out_channels=[32, 64, 128], layer_nums=[1, 1, 1]),
        neck=dict(
            type="SECONDFPN", in_channels=[32, 64, 128], out_channels=[32, 32, 32], upsample_strides=[1, 2, 4]
        ),
        bbox_head=head,
    )
    model = MODELS.build(cfg).eval()
    with torch.no_grad():
        data = model.data_preprocessor(_batch((1,)), training=False)
        (feat,) = model.extract_feat(data["inputs"])
        boxes, scores, labels = model.export_forward(*_export_inputs(data))
    assert feat.shape == (1, 96, 100, 100)
    assert boxes.shape == (1, 12, 7) and scores.shape == (1, 12) and labels.dtype == torch.int64
