"""Action parity cases: MMAction2 1.2.0 vs visionstack (TSN, TSM, R(2+1)D, ST-GCN).

Small inputs (64x64 frames, a few segments; 20-frame skeleton clips), normalised tensors fed to both models
(the data preprocessors are left out). Rows: backbone features, head logits (one row per view), class scores
after the test-time averaging of views (``average_clips="prob"``), and the training loss (train mode, the same
labels, the same seed before each call: dropout draws the same masks).
"""

from __future__ import annotations

import sys
import types

import parity_common as pc
import torch

# --- side-venv patches (on top of om_prelude) --------------------------------------------------------------------
# The mmaction2 1.2.0 wheel lacks the package mmaction/models/localizers/drn/ (the DRN localizer; its source
# folder has no __init__.py, so the wheel build skipped it) while mmaction/models/localizers/__init__.py imports
# it: an empty stand-in package with a placeholder DRN class lets `import mmaction.models` work (DRN is not used).
if "mmaction.models.localizers.drn" not in sys.modules:
    _drn = types.ModuleType("mmaction.models.localizers.drn")
    _drn.__path__ = []
    _drn_drn = types.ModuleType("mmaction.models.localizers.drn.drn")

    class DRN:  # noqa: D101
        def __init__(self, *args, **kwargs):
            raise NotImplementedError(
                "mmaction2 1.2.0 wheel has no DRN (stub in tools/openmmlab/parity_action.py)"
            )

    _drn_drn.DRN = DRN
    _drn.drn = _drn_drn
    sys.modules["mmaction.models.localizers.drn"] = _drn
    sys.modules["mmaction.models.localizers.drn.drn"] = _drn_drn

FAMILY = "action"
NUM_CLASSES = 400


def _non_finite(*values) -> bool:
    """Whether any floating tensor in ``values`` holds NaN or inf (``pc.rel_diff`` alone would hide a NaN)."""
    return any(t.is_floating_point() and not torch.isfinite(t).all() for v in values for t in pc.flatten(v))


def compare(model: str, item: str, vs_value, om_value, note: str = "") -> pc.Row:
    """``pc.compare`` that fails on non-finite values."""
    if _non_finite(vs_value, om_value):
        return pc.Row(FAMILY, model, item, None, False, "non-finite values")
    return pc.compare(FAMILY, model, item, vs_value, om_value, note=note)


def _quiet_mmengine():
    import logging

    from mmengine.logging import MMLogger

    MMLogger.get_instance("mmengine").setLevel(logging.ERROR)


def _om_samples(labels):
    from mmaction.structures import ActionDataSample

    return [ActionDataSample().set_gt_label(torch.tensor([int(label)])) for label in labels]


def _vs_samples(labels):
    from visionstack.structures import DataSample, LabelData

    return [DataSample(gt_label=LabelData(label=torch.tensor([int(label)]))) for label in labels]


def _smooth(shape, seed: int) -> torch.Tensor:
    """Normalised frames: a blurred noise field (``shape`` ends with H, W), batch and frames folded."""
    gen = torch.Generator().manual_seed(seed)
    *lead, height, width = shape
    x = torch.randn(int(torch.tensor(lead).prod()), 1, height // 4, width // 4, generator=gen)
    x = torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return x.reshape(*lead, height, width)


def _loss_rows(model, om, vs, inputs, labels, note="") -> list[pc.Row]:
    """Train-mode losses for ``labels``; sample 0's label is the class the train-mode forward (same seed: same
    dropout) ranks first, so that the top-1 accuracy is neither 0 nor 1."""
    om.train()
    vs.train()
    with torch.no_grad():
        torch.manual_seed(5)
        scores = om(inputs, None, mode="tensor", stage="head")
        scores = scores[0] if isinstance(scores, tuple) else scores
    labels = [int(scores[0].argmax()), *labels[1:]]
    torch.manual_seed(5)
    om_losses = om.loss(inputs, _om_samples(labels))
    torch.manual_seed(5)
    vs_losses = vs.loss(inputs, _vs_samples(labels))
    rows = []
    for key, value in om_losses.items():
        if "loss" not in key:
            continue
        if key not in vs_losses:
            rows.append(pc.Row(FAMILY, model, key, None, False, f"no visionstack term {key!r}"))
            continue
        rows.append(compare(model, key, vs_losses[key], value, note=f"MMAction2 {value.item():.5g}{note}"))
    if "top1_acc" in om_losses:
        rows.append(
            compare(
                model,
                "top1_acc",
                vs_losses["top1_acc"],
                torch.as_tensor(float(om_losses["top1_acc"])),
                note=f"MMAction2 {float(om_losses['top1_acc']):.3g}",
            )
        )
    return rows


def _score_row(model, om, vs, inputs, views: str) -> pc.Row:
    """Class scores after the test-time averaging of views, and equal argmax labels."""
    labels = [0] * inputs.shape[0]
    om_scores = torch.stack([s.pred_score for s in om.predict(inputs, _om_samples(labels))])
    vs_scores = torch.stack([s.pred_label.score for s in vs.predict(inputs, _vs_samples(labels))])
    row = compare(model, f"class scores after test-time averaging ({views} per sample)", vs_scores, om_scores)
    if row.ok and not torch.equal(vs_scores.argmax(-1), om_scores.argmax(-1)):
        row.ok, row.note = False, "argmax labels differ"
    return row


# --- 2D recognizers (TSN, TSM) -----------------------------------------------------------------------------------
def run_2d(model: str, segments: int, test_views: int):
    def run(om, vs) -> list[pc.Row]:
        _quiet_mmengine()
        batch, size = 2, 64
        rows = []
        x = torch.stack(
            [_smooth((segments, 3, size, size), seed=1 + i) for i in range(batch)]
        )  # (B, T, C, H, W)
        with torch.no_grad():
            frames = x.reshape(-1, 3, size, size)
            feats_om, feats_vs = om.backbone(frames), vs.backbone(frames)
            rows.append(compare(model, "backbone features", feats_vs[-1], feats_om))
            logits_om = om.cls_head(feats_om, num_segs=segments)
            logits_vs = vs.cls_head(feats_vs[-1], num_segs=segments)
            rows.append(compare(model, "head logits", logits_vs, logits_om))
            many = torch.stack(
                [_smooth((segments * test_views, 3, size, size), seed=10 + i) for i in range(batch)]
            )
            rows.append(_score_row(model, om, vs, many, f"{test_views} x {segments} frames"))
        rows += _loss_rows(model, om, vs, x, labels=[3, 17])
        return rows

    return run


# --- 3D recognizer (R(2+1)D) -------------------------------------------------------------------------------------
def run_3d(model: str, clip_len: int):
    def run(om, vs) -> list[pc.Row]:
        _quiet_mmengine()
        batch, size = 2, 64
        rows = []

        def clips(views, seed):
            video = _smooth((batch * views * clip_len, 3, size, size), seed)
            return video.reshape(batch, views, clip_len, 3, size, size).transpose(2, 3)  # (B, V, C, T, H, W)

        x = clips(1, seed=1)
        with torch.no_grad():
            flat = x.reshape(-1, *x.shape[2:])
            feats_om, feats_vs = om.backbone(flat), vs.backbone(flat)
            rows.append(compare(model, "backbone features", feats_vs[-1], feats_om))
            rows.append(compare(model, "head logits", vs.cls_head(feats_vs[-1]), om.cls_head(feats_om)))
            rows.append(_score_row(model, om, vs, clips(2, seed=2), "2 clips"))
        rows += _loss_rows(model, om, vs, x, labels=[3, 17])
        return rows + _norm_eps_rows(model, om, vs, x.reshape(-1, *x.shape[2:]))

    return run


def _norm_eps_rows(model, om, vs, clips) -> list[pc.Row]:
    """When the backbones' batch norms differ in eps (a state dict cannot carry it): the features with
    MMAction2's eps copied onto visionstack's norms, and the effect of the difference once the running
    statistics are those of real activations (a trained checkpoint's are far from the init's var = 1)."""
    from torch.nn.modules.batchnorm import _BatchNorm

    from visionstack.models.openmmlab_keys import Conversion, convert_module

    om_eps = {
        f"{name}.eps": torch.tensor(m.eps, dtype=torch.float64)
        for name, m in om.backbone.named_modules()
        if isinstance(m, _BatchNorm)
    }
    vs_eps = convert_module(om_eps, vs.backbone, Conversion())
    differ = {
        k: float(v) for k, v in vs_eps.items() if vs.backbone.get_submodule(k[: -len(".eps")]).eps != float(v)
    }
    if not differ:
        return []
    kinds = sorted(
        {f"{vs.backbone.get_submodule(k[: -len('.eps')]).eps:g} -> {v:g}" for k, v in differ.items()}
    )
    om.eval()
    vs.eval()
    with torch.no_grad():
        # running statistics of real activations: one train-mode pass with momentum 1, then copied over
        for module in om.backbone.modules():
            if isinstance(module, _BatchNorm):
                module.momentum = 1.0
        om.backbone.train()
        om.backbone(clips)
        om.backbone.eval()
        vs.load_state_dict(convert_module(dict(om.state_dict()), vs, Conversion()), strict=False)
        as_configured = pc.rel_diff(vs.backbone(clips)[-1], om.backbone(clips))
        for key, value in differ.items():
            vs.backbone.get_submodule(key[: -len(".eps")]).eps = value
        patched = compare(
            model,
            "backbone features, MMAction2's BN eps patched in",
            vs.backbone(clips)[-1],
            om.backbone(clips),
        )
    patched.note = (
        f"{len(differ)} norms differ in eps ({', '.join(kinds)}); with batch-calibrated running stats the "
        f"features differ {as_configured:.1e} relative as configured"
    )
    return [patched]


# --- skeleton recognizer (ST-GCN) --------------------------------------------------------------------------------
def run_gcn(model: str, frames: int):
    def run(om, vs) -> list[pc.Row]:
        _quiet_mmengine()
        batch, persons, joints = 2, 2, 17
        rows = []
        gen = torch.Generator().manual_seed(3)

        def skeletons(views):
            base = torch.randn(batch, views, persons, 1, joints, 3, generator=gen)
            motion = torch.randn(batch, views, persons, frames, joints, 3, generator=gen).cumsum(3) * 0.05
            return base + motion  # (B, views, M, T, V, C)

        x = skeletons(1)
        with torch.no_grad():
            rows.append(compare(model, "graph adjacency A", vs.backbone.A, om.backbone.gcn[0].gcn.A))
            flat = x.reshape(-1, *x.shape[2:])
            feats_om, feats_vs = om.backbone(flat), vs.backbone(flat)
            rows.append(compare(model, "backbone features", feats_vs, feats_om))
            rows.append(compare(model, "head logits", vs.cls_head(feats_vs), om.cls_head(feats_om)))
            rows.append(_score_row(model, om, vs, skeletons(2), "2 clips"))
        rows += _loss_rows(model, om, vs, x, labels=[3, 17])
        return rows

    return run


CASES = [
    pc.Case(
        family=FAMILY,
        name="TSN R-50 1x1x3",
        om_package="mmaction",
        om_config="recognition/tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb.py",
        vs_config="configs/action/tsn_r50_8xb32-1x1x3-100e_kinetics400-rgb.py",
        run=run_2d("TSN R-50 1x1x3", segments=3, test_views=2),
        key_file="mmaction_tsn_r50_1x1x3_kinetics400",
    ),
    pc.Case(
        family=FAMILY,
        name="TSM R-50 1x1x8",
        om_package="mmaction",
        om_config="recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py",
        vs_config="configs/action/tsm_r50_8xb16-1x1x8-50e_kinetics400-rgb.py",
        # ResNetTSM.init_weights loads torchvision weights unless pretrained2d=False (nothing may be downloaded)
        om_options={"model.backbone.pretrained2d": False},
        run=run_2d("TSM R-50 1x1x8", segments=8, test_views=2),
        key_file="mmaction_tsm_r50_1x1x8_kinetics400",
    ),
    pc.Case(
        family=FAMILY,
        name="R(2+1)D R-34 8x8x1",
        om_package="mmaction",
        om_config="recognition/r2plus1d/r2plus1d_r34_8xb8-8x8x1-180e_kinetics400-rgb.py",
        vs_config="configs/action/r2plus1d_r34_8xb8-8x8x1-180e_kinetics400-rgb.py",
        run=run_3d("R(2+1)D R-34 8x8x1", clip_len=8),
        key_file="mmaction_r2plus1d_r34_8x8x1_kinetics400",
    ),
    pc.Case(
        family=FAMILY,
        name="ST-GCN joint 2D (NTU60, COCO layout)",
        om_package="mmaction",
        om_config="skeleton/stgcn/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
        vs_config="configs/action/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
        run=run_gcn("ST-GCN joint 2D (NTU60, COCO layout)", frames=20),
        key_file="mmaction_stgcn_joint_ntu60-2d",
    ),
]
