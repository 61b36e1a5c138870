"""Pose parity cases: MMPose 1.3.2 vs visionstack (top-down 2D and 2D -> 3D lifting).

Top-down (SimpleBaseline R-50, RTMPose-t/s/m on 256x192 crops): backbone features, head outputs (heatmaps or the
SimCC x/y vectors), the codec's training targets, decoded keypoints and scores after the flip test and the codec's
decode (mapped back to image pixels), the loss (train mode, MMPose's targets fed to both) and its accuracy.

Lifting (VideoPose3D 243/27 frames, the Martinez et al. simple baseline): the last block's features, the
regression output, the decoded joints and the loss for the same targets.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import parity_common as pc
import torch

# --- side-venv patches (on top of om_prelude) --------------------------------------------------------------------
# mmpose.visualization (imported by mmpose.utils.register_all_modules) imports torchvision.transforms.ToPILImage;
# om_prelude's torchvision stub has only ops: a placeholder class is enough (never called here).
_tv = sys.modules.get("torchvision")
if _tv is not None and getattr(_tv, "__version__", "").endswith("om_prelude_stub"):

    class ToPILImage:  # noqa: D101
        def __init__(self, *args, **kwargs):
            raise NotImplementedError("torchvision.transforms stub (tools/openmmlab/parity_pose.py)")

    # another family's module may have installed a transforms stub already: add to it
    _transforms = sys.modules.get("torchvision.transforms") or types.ModuleType("torchvision.transforms")
    if not hasattr(_transforms, "ToPILImage"):
        _transforms.ToPILImage = ToPILImage
    sys.modules["torchvision.transforms"] = _transforms
    _tv.transforms = _transforms

FAMILY = "pose"
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
H36M_FLIP = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]
INPUT_SIZE = (192, 256)  # (w, h)


def _non_finite(*values) -> bool:
    """Whether any floating tensor in ``values`` holds NaN or inf (``pc.rel_diff`` alone would hide a NaN)."""
    return any(t.is_floating_point() and not torch.isfinite(t).all() for v in values for t in pc.flatten(v))


def compare(model: str, item: str, vs_value, om_value, note: str = "") -> pc.Row:
    """``pc.compare`` that fails on non-finite values."""
    if _non_finite(vs_value, om_value):
        return pc.Row(FAMILY, model, item, None, False, "non-finite values")
    return pc.compare(FAMILY, model, item, vs_value, om_value, note=note)


def compare_losses(model: str, vs_losses: dict, om_losses: dict, names: dict | None = None) -> list[pc.Row]:
    """``pc.compare_losses`` whose rows fail when either side's term is not finite."""
    rows = pc.compare_losses(FAMILY, model, vs_losses, om_losses, names=names)
    for row in rows:
        vs_key = (names or {}).get(row.item, row.item)
        if _non_finite(om_losses[row.item], vs_losses.get(vs_key, torch.zeros(()))):
            row.ok, row.rel, row.note = False, None, "non-finite loss"
        else:
            row.note = f"MMPose {float(sum(t.sum() for t in pc.flatten(om_losses[row.item]))):.5g}"
    return rows


def _quiet_mmengine():
    import logging

    from mmengine.logging import MMLogger

    MMLogger.get_instance("mmengine").setLevel(logging.ERROR)


def filled_row(model: str, om, vs) -> list[pc.Row]:
    """A row listing the model keys the conversion filled (values an MMPose checkpoint cannot hold), if any."""
    from visionstack.models.openmmlab_keys import convert_openmmlab_state_dict

    _, conversion = convert_openmmlab_state_dict(vs, om.state_dict())
    filled = getattr(conversion, "filled", [])
    if not filled:
        return []
    reasons = "; ".join(sorted({reason for _, reason in filled}))
    return [pc.Row(FAMILY, model, "filled keys", None, True, f"{len(filled)}: {reasons}")]


# --- top-down ----------------------------------------------------------------------------------------------------
def _crops(seed: int = 1, batch: int = 2) -> torch.Tensor:
    """Normalised crops: smooth random images (a blurred noise field), so heatmaps are not all noise."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, INPUT_SIZE[1] // 8, INPUT_SIZE[0] // 8, generator=gen)
    return torch.nn.functional.interpolate(
        x, size=(INPUT_SIZE[1], INPUT_SIZE[0]), mode="bilinear", align_corners=False
    )


def _geometry(batch: int):
    """Per crop: its centre and (w, h) extent in the original image, and the person box."""
    centers = np.array([[320.0, 240.0], [150.5, 300.25]])[:batch]
    scales = np.array([[240.0, 320.0], [180.0, 240.0]])[:batch]
    boxes = np.concatenate([centers - scales / 2 / 1.25, centers + scales / 2 / 1.25], axis=1)
    return centers, scales, boxes


def _om_topdown_samples(batch: int, targets: list[dict] | None = None):
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample

    centers, scales, boxes = _geometry(batch)
    samples = []
    for i in range(batch):
        sample = PoseDataSample(
            metainfo=dict(
                flip_indices=COCO_FLIP,
                input_size=INPUT_SIZE,
                input_center=centers[i].astype(np.float32),
                input_scale=scales[i].astype(np.float32),
            )
        )
        sample.gt_instances = InstanceData(
            bboxes=boxes[i : i + 1].astype(np.float32), bbox_scores=np.ones(1, np.float32)
        )
        if targets is not None:
            labels = InstanceData()
            for key, value in targets[i].items():
                if key == "heatmaps":
                    sample.gt_fields = PixelData(heatmaps=torch.as_tensor(value))
                else:
                    labels.set_field(torch.as_tensor(value), key)
            sample.gt_instance_labels = labels
        samples.append(sample)
    return samples


def _vs_topdown_samples(batch: int, targets: list[dict] | None = None):
    from visionstack.structures import DataSample, InstanceData, PixelData

    centers, scales, boxes = _geometry(batch)
    samples = []
    for i in range(batch):
        sample = DataSample(
            metainfo=dict(
                flip_indices=COCO_FLIP,
                input_size=INPUT_SIZE,
                input_center=tuple(centers[i]),
                input_scale=tuple(scales[i]),
                bbox=boxes[i].tolist(),
            )
        )
        if targets is not None:
            labels = InstanceData()
            for key, value in targets[i].items():
                if key == "heatmaps":
                    sample.gt_fields = PixelData(heatmaps=torch.as_tensor(value))
                else:
                    labels.set_field(key, torch.as_tensor(value))
            sample.gt_instance_labels = labels
        samples.append(sample)
    return samples


def _gt_keypoints(batch: int, seed: int = 3):
    """Keypoints inside the crop (input pixels) with a few invisible ones."""
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform([8, 8], [INPUT_SIZE[0] - 8, INPUT_SIZE[1] - 8], size=(batch, 1, 17, 2))
    visible = np.ones((batch, 1, 17), np.float32)
    visible[:, :, [3, 11]] = 0
    return keypoints, visible


def keypoint_row(model: str, item: str, vs_points, vs_scores, om_points, om_scores) -> pc.Row:
    """Decoded keypoints: within BOX_TOL pixels (rel column = max px diff), scores within TOL relative."""
    vs_points, om_points = np.asarray(vs_points, np.float64), np.asarray(om_points, np.float64)
    if vs_points.shape != om_points.shape:
        return pc.Row(FAMILY, model, item, None, False, f"shapes {vs_points.shape} vs {om_points.shape}")
    px = float(np.abs(vs_points - om_points).max())
    score_rel = pc.rel_diff(torch.as_tensor(np.asarray(vs_scores)), torch.as_tensor(np.asarray(om_scores)))
    ok = px <= pc.BOX_TOL and score_rel <= pc.TOL
    note = (
        f"{vs_points.shape[0]}x{vs_points.shape[-2]} keypoints, max {px:.1e} px, scores rel {score_rel:.1e}"
    )
    return pc.Row(FAMILY, model, item, px, ok, note)


def run_topdown(model: str):
    def run(om, vs) -> list[pc.Row]:
        _quiet_mmengine()
        rows = []
        batch = 2
        x = _crops(batch=batch)
        with torch.no_grad():
            feats_om, feats_vs = om.extract_feat(x), vs.extract_feat(x)
            rows.append(compare(model, "backbone features", feats_vs, feats_om))
            out_om, out_vs = om.head.forward(feats_om), vs.head(feats_vs)
            kind = "heatmaps" if isinstance(out_om, torch.Tensor) else "SimCC x, y"
            rows.append(compare(model, f"head output ({kind})", out_vs, out_om))

            # the flip test, decode and the crop -> image mapping
            om_pred = om.predict(x, _om_topdown_samples(batch))
            vs_pred = vs.predict(x, _vs_topdown_samples(batch))
            rows.append(
                keypoint_row(
                    model,
                    "decoded keypoints (flip test, image px)",
                    np.concatenate([s.pred_instances.keypoints.numpy() for s in vs_pred]),
                    np.concatenate([s.pred_instances.keypoint_scores.numpy() for s in vs_pred]),
                    np.concatenate([np.asarray(s.pred_instances.keypoints) for s in om_pred]),
                    np.concatenate([np.asarray(s.pred_instances.keypoint_scores) for s in om_pred]),
                )
            )

        # training targets: both codecs on the same keypoints; MMPose's are then fed to both models
        keypoints, visible = _gt_keypoints(batch)
        # crop 0's ground truth: half of it the keypoints the model decodes in train mode (batch-norm statistics of
        # the batch, as in the loss), so that the accuracy is neither 0 nor 1 and compares something
        om.train()
        with torch.no_grad():
            decoded = np.asarray(om.head.decode(om.head.forward(om.extract_feat(x)))[0].keypoints, np.float64)
        keypoints[0, :, ::2] = decoded[:, ::2]
        om_targets = [om.head.decoder.encode(keypoints[i], visible[i]) for i in range(batch)]
        vs_targets = [vs.head.decoder.encode(keypoints[i], visible[i]) for i in range(batch)]
        keys = [
            k
            for k in om_targets[0]
            if k in ("heatmaps", "keypoint_x_labels", "keypoint_y_labels", "keypoint_weights")
        ]
        rows.append(
            compare(
                model,
                "codec targets (" + ", ".join(keys) + ")",
                [[torch.as_tensor(np.asarray(t[k])) for k in keys] for t in vs_targets],
                [[torch.as_tensor(np.asarray(t[k])) for k in keys] for t in om_targets],
            )
        )
        targets = [{k: np.asarray(t[k], np.float32) for k in keys} for t in om_targets]
        om.train()
        vs.train()
        torch.manual_seed(5)
        om_losses = om.loss(x, _om_topdown_samples(batch, targets))
        torch.manual_seed(5)
        vs_losses = vs.loss(x, _vs_topdown_samples(batch, targets))
        rows += compare_losses(model, vs_losses, om_losses)
        rows.append(
            compare(
                model,
                "acc_pose (PCK@0.05)",
                vs_losses["acc_pose"],
                om_losses["acc_pose"],
                note=f"MMPose {float(om_losses['acc_pose']):.4g}",
            )
        )
        return rows + filled_row(model, om, vs)

    return run


# --- lifting -----------------------------------------------------------------------------------------------------
def _keypoint_windows(frames: int, batch: int = 2, seed: int = 7) -> torch.Tensor:
    """(N, L, 17, 2) normalised 2D keypoint sequences that move smoothly."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(batch, 1, 17, 2, generator=gen) * 0.3
    drift = torch.randn(batch, 1, 17, 2, generator=gen) * 0.002
    t = torch.arange(frames, dtype=torch.float32).reshape(1, frames, 1, 1)
    return base + drift * t + torch.randn(batch, frames, 17, 2, generator=gen) * 0.01


def _om_lifting_samples(batch: int, targets: torch.Tensor | None = None):
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    samples = []
    for i in range(batch):
        sample = PoseDataSample(metainfo=dict(flip_indices=H36M_FLIP))
        sample.gt_instances = InstanceData()
        if targets is not None:
            sample.gt_instance_labels = InstanceData(
                lifting_target_label=targets[i : i + 1], lifting_target_weight=torch.ones(1, targets.shape[1])
            )
        samples.append(sample)
    return samples


def _vs_lifting_samples(batch: int, keypoints_mm: torch.Tensor | None = None):
    """Samples of one target frame each; ``keypoints_mm`` (N, 17, 3) camera-frame joints."""
    from visionstack.structures import DataSample, InstanceData

    samples = []
    for i in range(batch):
        sample = DataSample(metainfo=dict(num_frames=1))
        if keypoints_mm is not None:
            sample.gt_instances = InstanceData(keypoints=keypoints_mm[i : i + 1])
        samples.append(sample)
    return samples


def run_lifter(model: str):
    def run(om, vs) -> list[pc.Row]:
        _quiet_mmengine()
        rows = []
        batch = 2
        frames = vs.receptive_field
        x = _keypoint_windows(frames, batch)  # (N, L, 17, 2)
        x_om = x.reshape(batch, frames, -1).transpose(1, 2).contiguous()  # MMPose's (N, K * C, T)
        backbone = vs.backbone
        mlp = type(backbone).__name__ == "SimpleBaselineMLP"
        with torch.no_grad():
            feats_om = om.extract_feat(x_om)
            if mlp:
                last = _mlp_features(backbone, x)
            else:
                last = backbone._strided(x.reshape(batch, frames, -1).transpose(1, 2))
            rows.append(compare(model, "backbone features (last block)", last, feats_om[-1]))
            out_om = om.head.forward(feats_om)  # (N, J_out, 3)
            out_vs = backbone(x)[:, 0]  # (N, J_out, 3)
            rows.append(compare(model, "head output (3D joints, network units)", out_vs, out_om))
            om_pred = om.predict(x_om, _om_lifting_samples(batch))
            om_joints = torch.as_tensor(
                np.concatenate([np.asarray(s.pred_instances.keypoints) for s in om_pred])
            )
            vs_joints = torch.stack(
                [s.pred_instances.keypoints[0] for s in vs.predict(x, _vs_lifting_samples(batch))]
            )
            vs_joints = vs_joints / vs.unit_mm
            if mlp:  # MMPose decodes the 16 non-root joints (no target root given)
                vs_joints = vs_joints[:, 1:]
                rows.append(compare(model, "decoded joints (m, root-relative)", vs_joints, om_joints))
            else:
                rows.append(
                    compare(
                        model,
                        "decoded joints (m, root-relative; 16 non-root)",
                        vs_joints[:, 1:],
                        om_joints[:, 1:],
                    )
                )
                root = om_joints[:, 0].abs().max().item()
                rows.append(
                    pc.Row(
                        FAMILY,
                        model,
                        "decoded root joint",
                        None,
                        True,
                        f"visionstack sets the root to exactly 0; MMPose reports the network's root output "
                        f"(max |root| {root:.1e} m here, trained towards 0)",
                    )
                )
        # loss: the same root-relative targets (metres for MMPose, mm for visionstack)
        gen = torch.Generator().manual_seed(11)
        joints_mm = torch.randn(batch, 17, 3, generator=gen) * 300.0
        relative_m = (joints_mm - joints_mm[:, :1]) / vs.unit_mm
        om_target = relative_m[:, 1:] if mlp else relative_m
        om.train()
        vs.train()
        note = ""
        if not mlp:
            # visionstack's strided form runs channels-last, so the same seed draws other dropout masks (same
            # distribution; the loss then differs ~1e-2): the loss is compared with dropout off, batch norm training
            for module in (*om.modules(), *vs.modules()):
                if isinstance(module, torch.nn.Dropout):
                    module.eval()
            note = "dropout off (masks drawn in another layout), BN in train mode"
        torch.manual_seed(5)
        om_losses = om.loss(x_om, _om_lifting_samples(batch, om_target))
        torch.manual_seed(5)
        vs_losses = vs.loss(x, _vs_lifting_samples(batch, joints_mm))
        loss_rows = compare_losses(model, vs_losses, om_losses, names={"loss_pose3d": "loss"})
        for row in loss_rows:
            row.note = f"{row.note}; {note}" if note else row.note
        rows += loss_rows
        return rows + filled_row(model, om, vs)

    return run


def _mlp_features(backbone, x: torch.Tensor) -> torch.Tensor:
    """The simple baseline's last hidden layer (N * L, C), as MMPose's TCN's (N, C, 1)."""
    batch, length = x.shape[:2]
    y = backbone.drop(torch.relu(backbone.bn1(backbone.w1(x.reshape(batch * length, -1)))))
    for block in backbone.blocks:
        y = block(y)
    return y[:, :, None]


CASES = [
    pc.Case(
        family=FAMILY,
        name="SimpleBaseline R-50 256x192",
        om_package="mmpose",
        om_config="body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py",
        vs_config="configs/pose/simplebaseline_r50_8xb64-210e_coco-256x192.py",
        run=run_topdown("SimpleBaseline R-50 256x192"),
        key_file="mmpose_td-hm_res50_coco-256x192",
    ),
]
for _size in ("t", "s", "m"):
    CASES.append(
        pc.Case(
            family=FAMILY,
            name=f"RTMPose-{_size} 256x192",
            om_package="mmpose",
            om_config=f"body_2d_keypoint/rtmpose/coco/rtmpose-{_size}_8xb256-420e_coco-256x192.py",
            vs_config=f"configs/pose/rtmpose-{_size}_8xb256-420e_coco-256x192.py",
            run=run_topdown(f"RTMPose-{_size} 256x192"),
            key_file=f"mmpose_rtmpose-{_size}_coco-256x192",
        )
    )
CASES += [
    pc.Case(
        family=FAMILY,
        name="VideoPose3D 243f",
        om_package="mmpose",
        om_config="body_3d_keypoint/video_pose_lift/h36m/video-pose-lift_tcn-243frm-supv_8xb128-160e_h36m.py",
        vs_config="configs/pose3d/videopose3d_243f_h36m.py",
        vs_overrides=("model.test_flip=False",),
        run=run_lifter("VideoPose3D 243f"),
        key_file="mmpose_video-pose-lift_tcn-243frm_h36m",
        note="MMPose's packaged config has no flip test",
    ),
    pc.Case(
        family=FAMILY,
        name="VideoPose3D 27f",
        om_package="mmpose",
        om_config="body_3d_keypoint/video_pose_lift/h36m/video-pose-lift_tcn-27frm-supv_8xb128-160e_h36m.py",
        vs_config="configs/pose3d/videopose3d_27f_h36m.py",
        vs_overrides=("model.test_flip=False",),
        run=run_lifter("VideoPose3D 27f"),
        key_file="mmpose_video-pose-lift_tcn-27frm_h36m",
    ),
    pc.Case(
        family=FAMILY,
        name="SimpleBaseline3D (Martinez)",
        om_package="mmpose",
        om_config="body_3d_keypoint/image_pose_lift/h36m/image-pose-lift_tcn_8xb64-200e_h36m.py",
        vs_config="configs/pose3d/simplebaseline_h36m.py",
        vs_overrides=("model.backbone.max_norm=None",),
        om_options={"model.head.decoder.target_mean": None, "model.head.decoder.target_std": None},
        run=run_lifter("SimpleBaseline3D (Martinez)"),
        key_file="mmpose_image-pose-lift_tcn_h36m",
    ),
]
