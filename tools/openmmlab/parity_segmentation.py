"""Segmentation cases of the OpenMMLab parity script (MMSegmentation 1.2.2; see tools/openmmlab_parity.py).

Each case builds MMSegmentation's segmentor from its packaged config (random init) and visionstack's
from configs/segmentation/, copies the weights over (the state-dict names are the same: no renaming
is needed for these models) and compares, on one batch:

- the backbone's maps, one row per stage;
- the decode head's and the auxiliary head's logits (eval mode, at the heads' own resolution);
- the predictions after resizing to a different original size and the argmax (``seg_logits`` and the
  fraction of pixels whose label differs; a difference counts as a tie only where OpenMMLab's two best
  logits are equal within 1e-5 relative);
- the training losses term by term (``decode.loss_ce``, ``aux.loss_ce``, and the ``acc_seg`` values)
  on the same ground-truth map, which has a band of ignore-index (255) pixels.

OpenMMLab's configs use SyncBN; it is switched to BN through ``om_options`` (SyncBN needs a process
group in training mode; its eval-mode arithmetic equals BN's). The losses run in train mode (batch
statistics) on a batch of two: the pooled 1 x 1 branches of PSPNet and DeepLabV3+ cannot normalise
one value per channel. Both sides are seeded identically right before each loss call, so their
``nn.Dropout2d`` masks agree. SegFormer's stochastic depth draws its masks differently (MMCV:
``floor(keep + rand)``; visionstack: ``bernoulli_``), so the DropPath modules of both sides are in
eval mode for the loss rows (everything else trains).
"""

from __future__ import annotations

from typing import Any

import parity_common as pc
import torch

FAMILY = "segmentation"
BN = dict(type="BN", requires_grad=True)
INPUT_HW = (128, 256)  # small, a multiple of 16 (UNet) and of 32
ORI_HW = (200, 400)  # the "original" image size predictions are resized to
TIE_RTOL = 1e-5


def _bn(*parts: str) -> dict[str, Any]:
    """om_options turning the SyncBN of the named model parts into BN."""
    return {f"model.{part}.norm_cfg": dict(BN) for part in parts}


def _inputs(batch: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, *INPUT_HW, generator=gen)


def _gt_map(num_classes: int, seed: int) -> torch.Tensor:
    """(1, H, W) labels: blocks of random classes (so neighbours agree, as in real maps), a 255 band."""
    gen = torch.Generator().manual_seed(seed)
    h, w = INPUT_HW
    coarse = torch.randint(0, num_classes, (1, 1, h // 16, w // 16), generator=gen).float()
    labels = torch.nn.functional.interpolate(coarse, size=(h, w), mode="nearest")[0].long()
    labels[:, h // 2 : h // 2 + 9, :] = 255
    labels[:, :, :5] = 255
    return labels


def _om_samples(batch: int, gts: list[torch.Tensor] | None = None) -> list[Any]:
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    samples = []
    for index in range(batch):
        sample = SegDataSample(
            metainfo=dict(img_shape=INPUT_HW, pad_shape=INPUT_HW, ori_shape=ORI_HW, padding_size=[0, 0, 0, 0])
        )
        if gts is not None:
            sample.gt_sem_seg = PixelData(data=gts[index].clone())
        samples.append(sample)
    return samples


def _vs_samples(batch: int, gts: list[torch.Tensor] | None = None) -> list[Any]:
    from visionstack.structures import DataSample, PixelData

    samples = []
    for index in range(batch):
        sample = DataSample(metainfo=dict(img_shape=INPUT_HW, ori_shape=ORI_HW))
        if gts is not None:
            sample.gt_sem_seg = PixelData(data=gts[index].clone())
        samples.append(sample)
    return samples


def _set_drop_path_eval(model: torch.nn.Module) -> int:
    """Put every stochastic-depth module of ``model`` in eval mode; how many there were."""
    count = 0
    for module in model.modules():
        if type(module).__name__ == "DropPath":
            module.eval()
            count += 1
    return count


def _prediction_row(
    name: str, vs_pred: torch.Tensor, om_pred: torch.Tensor, om_logits: torch.Tensor
) -> pc.Row:
    """Fraction of pixels with another label; differing pixels must be exact ties in OpenMMLab's logits."""
    if vs_pred.shape != om_pred.shape:
        return pc.Row(
            FAMILY,
            name,
            "prediction (resize + argmax)",
            None,
            False,
            f"shapes {tuple(vs_pred.shape)} vs {tuple(om_pred.shape)}",
        )
    differ = vs_pred != om_pred
    fraction = differ.double().mean().item()
    note = f"{int(differ.sum())} of {differ.numel()} pixels differ, size {tuple(om_pred.shape[-2:])}"
    ok = fraction == 0.0
    if not ok:
        top2 = om_logits.topk(2, dim=0).values  # (2, H, W)
        gap = (top2[0] - top2[1]).abs() <= TIE_RTOL * top2[0].abs().clamp_min(1e-12)
        ties = differ[0] & gap
        ok = bool(ties.sum() == differ.sum())
        note += f"; {int(ties.sum())} of them exact ties"
    return pc.Row(FAMILY, name, "prediction (resize + argmax)", fraction, ok, note)


def make_run(name: str, num_classes: int, has_aux: bool = True, drop_path: bool = False):
    """The comparison of one segmentor (see the module docstring)."""

    def run(om_model, vs_model) -> list[pc.Row]:
        rows: list[pc.Row] = []
        x = _inputs(1, seed=1)
        with torch.no_grad():
            om_feats = om_model.extract_feat(x)
            vs_feats = vs_model.extract_feat(x)
            if len(om_feats) != len(vs_feats):
                return [
                    pc.Row(FAMILY, name, "backbone", None, False, f"{len(vs_feats)} vs {len(om_feats)} maps")
                ]
            for index, (vs_f, om_f) in enumerate(zip(vs_feats, om_feats)):
                rows.append(
                    pc.compare(FAMILY, name, f"backbone out {index} {tuple(om_f.shape[1:])}", vs_f, om_f)
                )
            om_logits = om_model.decode_head(om_feats)
            rows.append(
                pc.compare(
                    FAMILY,
                    name,
                    f"decode head logits {tuple(om_logits.shape[1:])}",
                    vs_model.decode_head(vs_feats),
                    om_logits,
                )
            )
            if has_aux:
                om_aux = om_model.auxiliary_head(om_feats)
                rows.append(
                    pc.compare(
                        FAMILY,
                        name,
                        f"aux head logits {tuple(om_aux.shape[1:])}",
                        vs_model.auxiliary_head(vs_feats),
                        om_aux,
                    )
                )
            om_out = om_model.predict(x, _om_samples(1))[0]
            vs_out = vs_model.predict(x, _vs_samples(1))[0]
        rows.append(
            pc.compare(
                FAMILY,
                name,
                f"seg_logits at original size {ORI_HW}",
                vs_out.seg_logits.data,
                om_out.seg_logits.data,
            )
        )
        rows.append(
            _prediction_row(name, vs_out.pred_sem_seg.data, om_out.pred_sem_seg.data, om_out.seg_logits.data)
        )

        # training losses: batch of two, same ground truth (with 255 pixels), same seeds
        xb = _inputs(2, seed=2)
        gts = [_gt_map(num_classes, seed=3), _gt_map(num_classes, seed=4)]
        om_model.train()
        vs_model.train()
        note = ""
        if drop_path:
            n_om, n_vs = _set_drop_path_eval(om_model), _set_drop_path_eval(vs_model)
            note = f"DropPath in eval mode ({n_om} vs {n_vs} modules)"
        with torch.no_grad():
            torch.manual_seed(5)
            om_losses = om_model.loss(xb, _om_samples(2, gts))
            torch.manual_seed(5)
            vs_losses = vs_model.loss(xb, _vs_samples(2, gts))
        om_model.eval()
        vs_model.eval()
        loss_rows = pc.compare_losses(FAMILY, name, vs_losses, om_losses)
        for row in loss_rows:
            row.note = note
        rows += loss_rows
        for key in om_losses:
            if key.endswith("acc_seg"):
                # MMSeg returns a (1,) tensor, visionstack a scalar
                rows.append(
                    pc.compare(
                        FAMILY,
                        name,
                        key,
                        vs_losses[key].reshape(-1),
                        om_losses[key].reshape(-1),
                        note="pixel accuracy, percent",
                    )
                )
        return rows

    return run


CASES = [
    pc.Case(
        FAMILY,
        "FCN R-50-D8",
        "mmseg",
        "fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py",
        "configs/segmentation/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py",
        run=make_run("FCN R-50-D8", 19),
        key_file="mmseg_fcn_r50_d8_cityscapes",
        om_options=_bn("backbone", "decode_head", "auxiliary_head"),
    ),
    pc.Case(
        FAMILY,
        "PSPNet R-50-D8",
        "mmseg",
        "pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py",
        "configs/segmentation/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py",
        run=make_run("PSPNet R-50-D8", 19),
        key_file="mmseg_pspnet_r50_d8_cityscapes",
        om_options=_bn("backbone", "decode_head", "auxiliary_head"),
    ),
    pc.Case(
        FAMILY,
        "DeepLabV3+ R-50-D8",
        "mmseg",
        "deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py",
        "configs/segmentation/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py",
        run=make_run("DeepLabV3+ R-50-D8", 19),
        key_file="mmseg_deeplabv3plus_r50_d8_cityscapes",
        om_options=_bn("backbone", "decode_head", "auxiliary_head"),
    ),
    pc.Case(
        FAMILY,
        "UNet-S5-D16 FCN",
        "mmseg",
        "unet/unet-s5-d16_fcn_4xb4-160k_cityscapes-512x1024.py",
        "configs/segmentation/unet-s5-d16_fcn_4xb4-160k_cityscapes-512x1024.py",
        run=make_run("UNet-S5-D16 FCN", 19),
        key_file="mmseg_unet_s5_d16_fcn_cityscapes",
        om_options=_bn("backbone", "decode_head", "auxiliary_head"),
    ),
    pc.Case(
        FAMILY,
        "SegFormer MiT-B0",
        "mmseg",
        "segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py",
        "configs/segmentation/segformer_mit-b0_8xb2-160k_ade20k-512x512.py",
        run=make_run("SegFormer MiT-B0", 150, has_aux=False, drop_path=True),
        key_file="mmseg_segformer_mit_b0_ade20k",
        om_options=_bn("decode_head"),
    ),
    # the R-18 variant whose checkpoint tools/openmmlab/test_metric_parity_segmentation.py converts
    pc.Case(
        FAMILY,
        "FCN R-18-D8",
        "mmseg",
        "fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py",
        "configs/segmentation/fcn_r18-d8_synth.py",
        run=make_run("FCN R-18-D8", 19),
        key_file="mmseg_fcn_r18_d8_cityscapes",
        vs_overrides=("model.decode_head.num_classes=19", "model.auxiliary_head.num_classes=19"),
        om_options=_bn("backbone", "decode_head", "auxiliary_head"),
    ),
]
