#!/usr/bin/env python
"""OpenMMLab's ``test`` and ``visionstack test`` give the same metric on the same segmentation checkpoint.

Runs in the OpenMMLab side venv (benchmarks/openmmlab/README.md), from the repository root:

    $VENV/bin/python tools/openmmlab/test_metric_parity_segmentation.py [--work-dir DIR] [--iters 60]

1. writes visionstack's synthetic segmentation scenes (``visionstack data synth segmentation``: a few
   training images, 20 validation images, 96 px, so the test pipeline's resize to 128 px and the
   resize of the predictions back to 96 px are both exercised);
2. trains MMSegmentation's FCN R-18-D8 (its packaged ``fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py``,
   8 classes, SyncBN switched to BN, the data section pointed at the synthetic files through
   MMSegmentation's ``BaseSegDataset``) briefly with MMEngine's Runner, so that mIoU is not trivial,
   and keeps MMEngine's checkpoint;
3. runs OpenMMLab's test on it (a fresh Runner with ``load_from``, ``IoUMetric``), keeping each image's
   prediction and the unrounded metric values (MMSegmentation rounds to two decimals);
4. ``visionstack convert checkpoint --from openmmlab configs/segmentation/fcn_r18-d8_synth.py`` (strict),
   then ``visionstack test`` on it with ``--out`` (metrics) and ``--out-format`` (label maps);
5. compares aAcc, mIoU, mAcc, mDice, the per-class IoU/Acc/Dice (``classwise=True``) and the label maps
   pixel by pixel.

Exit status 0 when no pixel differs and the metrics agree to METRIC_TOL percentage points and to the
two decimals OpenMMLab prints. MMSegmentation counts the class areas with ``torch.histc`` in float32 and
divides in float32; visionstack counts in int64 and divides in float64, so equal label maps give values
that differ in the 7th significant digit (float32's precision).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import time

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import parity_common as pc  # noqa: E402  (applies the side-venv prelude)
import torch  # noqa: E402

OM_CONFIG = "fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py"
VS_CONFIG = "configs/segmentation/fcn_r18-d8_synth.py"
SCALE = (128, 128)
BIN = osp.dirname(sys.executable)
METRIC_TOL = 1e-4  # percentage points: float32 division (MMSegmentation) vs float64 (visionstack)

# filled by ExactIoUMetric while OpenMMLab's test runs
OM_PREDICTIONS: dict[str, np.ndarray] = {}
OM_UNROUNDED: dict[str, float] = {}


def register_exact_metric():
    """MMSegmentation's IoUMetric that also keeps the predictions and the unrounded summary values."""
    from mmseg.evaluation.metrics import IoUMetric
    from mmseg.registry import METRICS

    @METRICS.register_module(force=True)
    class ExactIoUMetric(IoUMetric):
        def process(self, data_batch, data_samples):
            for sample in data_samples:
                OM_PREDICTIONS[osp.basename(sample["img_path"])] = (
                    sample["pred_sem_seg"]["data"][0].cpu().numpy()
                )
            super().process(data_batch, data_samples)

        def compute_metrics(self, results):
            columns = tuple(zip(*results))
            areas = [sum(column) for column in columns]  # intersect, union, pred, label per class
            per_class = self.total_area_to_metrics(*areas, self.metrics, self.nan_to_num, self.beta)
            OM_UNROUNDED["aAcc"] = float(per_class.pop("aAcc")) * 100
            classes = self.dataset_meta["classes"]
            for name, values in per_class.items():
                values = np.asarray(values, dtype=np.float64) * 100
                OM_UNROUNDED["m" + name] = float(np.nanmean(values))
                OM_UNROUNDED.update({f"{name}_{c}": float(v) for c, v in zip(classes, values)})
            return super().compute_metrics(results)


def write_data(out: str, num_train: int) -> list[str]:
    if not osp.exists(osp.join(out, "meta.json")):
        subprocess.run(
            [
                osp.join(BIN, "visionstack"),
                "data",
                "synth",
                "segmentation",
                "--out",
                out,
                "--num-train",
                str(num_train),
                "--num-val",
                "20",
                "--image-size",
                "96",
            ],
            check=True,
        )
    with open(osp.join(out, "meta.json")) as f:
        return list(json.load(f)["classes"])


def om_config(data_root: str, classes: list[str], work_dir: str, iters: int):
    """MMSegmentation's packaged FCN R-18-D8 config pointed at the synthetic files (BN, 8 classes)."""
    from mmengine.config import Config

    cfg = Config.fromfile(pc.om_config_path("mmseg", OM_CONFIG))
    bn = dict(type="BN", requires_grad=True)
    cfg.merge_from_dict(
        {
            "model.backbone.norm_cfg": bn,
            "model.decode_head.norm_cfg": bn,
            "model.auxiliary_head.norm_cfg": bn,
            "model.decode_head.num_classes": len(classes),
            "model.auxiliary_head.num_classes": len(classes),
            "model.data_preprocessor.size": SCALE,
        }
    )
    pc._strip_pretrained(cfg.model)  # no ImageNet weights (nothing is downloaded)

    def dataset(split, pipeline):
        return dict(
            type="BaseSegDataset",
            data_root=data_root,
            img_suffix=".jpg",
            seg_map_suffix=".png",
            data_prefix=dict(img_path=f"img_dir/{split}", seg_map_path=f"ann_dir/{split}"),
            metainfo=dict(classes=tuple(classes)),
            pipeline=pipeline,
        )

    train_pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="LoadAnnotations"),
        dict(type="RandomResize", scale=SCALE, ratio_range=(0.75, 1.5), keep_ratio=True),
        dict(type="RandomCrop", crop_size=SCALE, cat_max_ratio=0.75),
        dict(type="RandomFlip", prob=0.5),
        dict(type="PackSegInputs"),
    ]
    # the test pipeline of configs/_base_/datasets/synth_seg.py: resize to 128 px, labels at original size
    test_pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="Resize", scale=SCALE, keep_ratio=True),
        dict(type="LoadAnnotations"),
        dict(type="PackSegInputs"),
    ]
    cfg.train_dataloader = dict(
        batch_size=4,
        num_workers=0,
        sampler=dict(type="InfiniteSampler", shuffle=True),
        dataset=dataset("train", train_pipeline),
    )
    cfg.test_dataloader = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type="DefaultSampler", shuffle=False),
        dataset=dataset("val", test_pipeline),
    )
    cfg.test_evaluator = dict(type="ExactIoUMetric", iou_metrics=["mIoU", "mDice"])
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=iters, val_interval=iters + 1)
    cfg.optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.01))
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", by_epoch=False, interval=iters)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=10, log_metric_by_epoch=False)
    cfg.default_hooks.visualization = dict(type="SegVisualizationHook", draw=False)
    cfg.randomness = dict(seed=0)
    cfg.work_dir = work_dir
    return cfg


def om_train(cfg) -> str:
    from mmengine.runner import Runner

    checkpoint = osp.join(cfg.work_dir, f"iter_{cfg.train_cfg.max_iters}.pth")
    if not osp.exists(checkpoint):  # (an earlier run's checkpoint is reused)
        cfg = copy.deepcopy(cfg)
        cfg.experiment_name = "om_train"
        Runner.from_cfg(cfg).train()
    return checkpoint


def om_test(cfg, checkpoint: str) -> dict[str, float]:
    """OpenMMLab's test, as its tools/test.py does it: the config, load_from, Runner.test()."""
    from mmengine.runner import Runner

    cfg = copy.deepcopy(cfg)
    cfg.load_from = checkpoint
    cfg.experiment_name = "om_test"
    cfg.train_dataloader = cfg.train_cfg = cfg.optim_wrapper = cfg.param_scheduler = None
    return Runner.from_cfg(cfg).test()


def vs_convert_and_test(checkpoint: str, data_root: str, work_dir: str) -> tuple[dict[str, float], str, str]:
    converted = osp.join(work_dir, "vs_fcn_r18-d8_synth.pth")
    start = time.time()
    out = subprocess.run(
        [
            osp.join(BIN, "visionstack"),
            "convert",
            "checkpoint",
            "--from",
            "openmmlab",
            VS_CONFIG,
            checkpoint,
            converted,
            "--unsafe-pickle",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    convert_log = out.stdout.strip()
    metrics_file, pred_dir = osp.join(work_dir, "vs_metrics.json"), osp.join(work_dir, "vs_preds")
    subprocess.run(
        [
            osp.join(BIN, "visionstack"),
            "test",
            VS_CONFIG,
            converted,
            "--work-dir",
            osp.join(work_dir, "vs_test"),
            "--out",
            metrics_file,
            "--out-format",
            pred_dir,
            "--set",
            f"test_dataloader.dataset.data_root={data_root}",
            "test_dataloader.num_workers=0",
            "test_dataloader.persistent_workers=False",
            "test_evaluator.classwise=True",
        ],
        check=True,
        cwd=ROOT,
    )
    with open(metrics_file) as f:
        metrics = json.load(f)
    return metrics, pred_dir, f"{convert_log} ({time.time() - start:.0f} s with the test)"


def compare_predictions(pred_dir: str) -> tuple[int, int, int]:
    import cv2

    images = differing = total = 0
    for name, om_pred in sorted(OM_PREDICTIONS.items()):
        vs_pred = cv2.imread(osp.join(pred_dir, osp.splitext(name)[0] + ".png"), cv2.IMREAD_UNCHANGED)
        if vs_pred is None or vs_pred.shape != om_pred.shape:
            raise SystemExit(f"{name}: no visionstack label map of shape {om_pred.shape} in {pred_dir}")
        images += 1
        differing += int((vs_pred.astype(np.int64) != om_pred.astype(np.int64)).sum())
        total += om_pred.size
    return images, differing, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work-dir", default="work_dirs/openmmlab_metric_parity_segmentation")
    ap.add_argument("--iters", type=int, default=60, help="OpenMMLab training iterations (batch 4)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    data_root = osp.join(work_dir, "synth_seg")

    import mmseg.utils

    mmseg.utils.register_all_modules(init_default_scope=True)
    register_exact_metric()
    classes = write_data(data_root, num_train=64)
    cfg = om_config(data_root, classes, osp.join(work_dir, "om"), args.iters)
    t0 = time.time()
    checkpoint = om_train(cfg)
    t1 = time.time()
    om_metrics = om_test(cfg, checkpoint)
    t2 = time.time()
    vs_metrics, pred_dir, convert_log = vs_convert_and_test(checkpoint, data_root, work_dir)
    images, differing, total = compare_predictions(pred_dir)

    lines = [
        f"OpenMMLab: mmseg {OM_CONFIG} (BN, {len(classes)} classes), {args.iters} AdamW iterations of batch 4 on"
        f" {data_root} ({t1 - t0:.0f} s{', reused' if t1 - t0 < 5 else ''}), checkpoint {checkpoint}; test {t2 - t1:.0f} s",
        f"visionstack: {VS_CONFIG}; convert: {convert_log}",
        "",
        "| metric | OpenMMLab test (printed) | OpenMMLab unrounded | visionstack test | abs. diff |",
        "|---|---|---|---|---|",
    ]
    ok = True
    for key in ("aAcc", "mIoU", "mAcc", "mDice"):
        om_round, om_exact, vs = om_metrics.get(key), OM_UNROUNDED.get(key), vs_metrics.get(key)
        if om_exact is None or vs is None:
            lines.append(f"| {key} | {om_round} | {om_exact} | {vs} | missing |")
            ok = False
            continue
        diff = abs(vs - om_exact)
        ok &= diff <= METRIC_TOL and round(vs, 2) == om_round
        lines.append(f"| {key} | {om_round:.2f} | {om_exact:.6f} | {vs:.6f} | {diff:.1e} |")
    per_class = [key for key in OM_UNROUNDED if "_" in key]
    worst = max(
        (
            abs(vs_metrics.get(k, float("nan")) - OM_UNROUNDED[k])
            for k in per_class
            if not np.isnan(OM_UNROUNDED[k])
        ),
        default=float("nan"),
    )
    missing = [k for k in per_class if k not in vs_metrics]
    ok &= worst <= METRIC_TOL and not missing
    lines += [
        "",
        f"per-class values (IoU, Acc, Dice of {len(classes)} classes): {len(per_class)} compared,"
        f" max abs. diff {worst:.1e}" + (f", missing in visionstack's: {missing}" if missing else ""),
    ]
    ok &= differing == 0 and images == 20
    lines += [
        "",
        f"label maps: {images} images, {differing} of {total} pixels differ; tolerance {METRIC_TOL:g}"
        " percentage points (float32 vs float64 division of equal pixel counts)",
    ]
    lines.append("RESULT: " + ("same metrics and predictions" if ok else "**DIFFERENT**"))
    text = "\n".join(lines)
    print(text)
    with open(osp.join(work_dir, "report.md"), "w") as f:
        f.write(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
