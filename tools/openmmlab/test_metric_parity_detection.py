#!/usr/bin/env python
"""OpenMMLab's ``test`` and ``visionstack test`` give the same COCO box metric on the same detector checkpoint.

Runs in the OpenMMLab side venv (benchmarks/openmmlab/README.md), from the repository root:

    $VENV/bin/python tools/openmmlab/test_metric_parity_detection.py [--work-dir DIR] [--iters 1500]

1. writes visionstack's synthetic COCO shapes (``visionstack data synth detection``: 200 training and
   30 validation images of 128-256 px, 5 classes);
2. trains MMDetection's RTMDet-tiny (its packaged ``rtmdet/rtmdet_tiny_8xb32-300e_coco.py``: 5 classes,
   SyncBN as BN (one process), batches padded to multiples of 32, no EMA / pipeline-switch hooks, the
   data section pointed at the synthetic files with visionstack's synthetic-set pipelines: resize to fit
   256 px for the test, 192 px for training) from scratch for 1500 iterations with MMEngine's Runner, so
   that the mAP is not trivial, and keeps MMEngine's checkpoint;
3. runs OpenMMLab's test on it twice (a fresh Runner with ``load_from``, ``CocoMetric``): as packaged,
   and with ``proposal_nums=(1, 10, 100)``, because MMDetection's CocoMetric hands COCOeval its
   ``proposal_nums`` (100, 300, 1000) as ``maxDets``, so its default mAP counts up to 1000 detections per
   image and class where COCO's protocol (and visionstack) counts 100. Both keep COCOeval's twelve
   unrounded numbers (MMDetection prints three decimals); the second writes its detections;
4. ``visionstack convert checkpoint --from openmmlab configs/detection/rtmdet_tiny_synth.py`` (strict),
   then ``visionstack test`` on it with the same test settings (batch 1, as OpenMMLab's test here) and
   MMDetection's norm settings (eps 1e-5, momentum 0.1: the RTMDet configs of visionstack use MMYOLO's
   eps 1e-3, see the parity report), writing its detections too;
5. compares the twelve COCO numbers and the detections (per image and class: count, then each
   OpenMMLab box matched to the nearest visionstack one).

Exit status 0 when the twelve numbers agree to METRIC_TOL and the detections match.
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
from collections import defaultdict

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)

import parity_common as pc  # noqa: E402  (applies the side-venv prelude)

import numpy as np  # noqa: E402
import torch  # noqa: E402

OM_CONFIG = "rtmdet/rtmdet_tiny_8xb32-300e_coco.py"
VS_CONFIG = "configs/detection/rtmdet_tiny_synth.py"
SCALE = (256, 256)  # the test pipeline's (configs/_base_/datasets/synth_det.py)
TRAIN_SCALE = (192, 192)  # a cheaper training scale (the CPUs here are shared)
BIN = osp.dirname(sys.executable)
METRIC_TOL = 1e-6  # the same detections give the same COCOeval numbers; this only absorbs float noise
BOX_TOL = 1e-3  # px, between the two result files
STAT_NAMES = [
    "mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l", "AR@1", "AR@10", "AR@100", "AR_s@100", "AR_m@100",
    "AR_l@100",
]
# MMDetection's norms for RTMDet (SyncBN defaults; BN in one process) on the visionstack side
MMDET_NORM = "{'type': 'torch.nn.BatchNorm2d', '_partial_': True, 'eps': 1e-05, 'momentum': 0.1}"

OM_STATS: dict[str, list[float]] = {}  # filled by the patched COCOeval while OpenMMLab's test runs
OM_RUN = ["default"]  # the name OM_STATS files the running test's numbers under


def capture_cocoeval_stats() -> None:
    """Let MMDetection's CocoMetric keep COCOeval's twelve unrounded numbers (it logs them rounded)."""
    import mmdet.evaluation.metrics.coco_metric as coco_metric

    base = coco_metric.COCOeval

    class KeepingCOCOeval(base):
        def summarize(self):
            super().summarize()
            OM_STATS[OM_RUN[0]] = [float(v) for v in self.stats]

    coco_metric.COCOeval = KeepingCOCOeval


def write_data(out: str) -> list[str]:
    val = osp.join(out, "annotations", "instances_val.json")
    if not osp.exists(val):
        subprocess.run([osp.join(BIN, "visionstack"), "data", "synth", "detection", "--out", out,
                        "--num-train", "200", "--num-val", "30"], check=True)
    with open(val) as f:
        return [c["name"] for c in sorted(json.load(f)["categories"], key=lambda c: c["id"])]


def om_config(data_root: str, classes: list[str], work_dir: str, iters: int, lr: float):
    """MMDetection's packaged RTMDet-tiny config pointed at the synthetic files (BN, 5 classes)."""
    from mmengine.config import Config

    cfg = Config.fromfile(pc.om_config_path("mmdet", OM_CONFIG))
    bn = dict(type="BN")
    cfg.merge_from_dict({
        "model.backbone.norm_cfg": bn, "model.neck.norm_cfg": bn, "model.bbox_head.norm_cfg": bn,
        "model.bbox_head.num_classes": len(classes),
        # the packaged pipelines pad every image to 640x640; the synthetic-set pipelines only resize, so the
        # batch is padded to multiples of 32 (as visionstack's RTMDet data preprocessor does)
        "model.data_preprocessor.pad_size_divisor": 32,
    })
    pc._strip_pretrained(cfg.model)  # no ImageNet weights (nothing is downloaded)

    def dataset(split, pipeline, **extra):
        return dict(type="CocoDataset", data_root=data_root, ann_file=f"annotations/instances_{split}.json",
                    data_prefix=dict(img=f"{split}/"), metainfo=dict(classes=tuple(classes)),
                    pipeline=pipeline, **extra)

    # the pipelines of configs/_base_/datasets/synth_det.py (visionstack's synthetic-set recipe; training at a
    # smaller scale to save time)
    train_pipeline = [
        dict(type="LoadImageFromFile"), dict(type="LoadAnnotations", with_bbox=True),
        dict(type="Resize", scale=TRAIN_SCALE, keep_ratio=True), dict(type="RandomFlip", prob=0.5),
        dict(type="PackDetInputs"),
    ]
    test_pipeline = [
        dict(type="LoadImageFromFile"), dict(type="Resize", scale=SCALE, keep_ratio=True),
        dict(type="LoadAnnotations", with_bbox=True),
        dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
    ]
    cfg.train_dataloader = dict(
        batch_size=8, num_workers=0, sampler=dict(type="InfiniteSampler", shuffle=True),
        batch_sampler=dict(type="AspectRatioBatchSampler"),
        dataset=dataset("train", train_pipeline, filter_cfg=dict(filter_empty_gt=True, min_size=8)))
    cfg.test_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type="DefaultSampler", shuffle=False),
                               dataset=dataset("val", test_pipeline, test_mode=True))
    cfg.test_evaluator = dict(type="CocoMetric", ann_file=osp.join(data_root, "annotations/instances_val.json"),
                              metric="bbox")
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.custom_hooks = []  # no EMA (its weights would replace the trained ones), no pipeline switch
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=iters, val_interval=iters + 1)
    cfg.optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=lr, weight_decay=0.05),
                             paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
    cfg.param_scheduler = [dict(type="LinearLR", start_factor=1e-2, by_epoch=False, begin=0, end=30)]
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", by_epoch=False, interval=iters)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=10, log_metric_by_epoch=False)
    cfg.default_hooks.visualization = dict(type="DetVisualizationHook", draw=False)
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


def om_test(cfg, checkpoint: str, run: str, **metric) -> dict[str, float]:
    """OpenMMLab's test, as its tools/test.py does it: the config, load_from, Runner.test()."""
    from mmengine.runner import Runner

    OM_RUN[0] = run
    cfg = copy.deepcopy(cfg)
    cfg.test_evaluator.update(metric)
    cfg.load_from = checkpoint
    cfg.experiment_name = "om_test"
    cfg.train_dataloader = cfg.train_cfg = cfg.optim_wrapper = cfg.param_scheduler = None
    return Runner.from_cfg(cfg).test()


def vs_convert_and_test(checkpoint: str, data_root: str, work_dir: str) -> tuple[dict[str, float], str]:
    converted = osp.join(work_dir, "vs_rtmdet_tiny_synth.pth")
    start = time.time()
    out = subprocess.run([osp.join(BIN, "visionstack"), "convert", "checkpoint", "--from", "openmmlab",
                          VS_CONFIG, checkpoint, converted, "--unsafe-pickle",
                          "--set", *[f"model.{part}.norm_layer={MMDET_NORM}" for part in ("backbone", "neck",
                                                                                           "bbox_head")]],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    convert_log = out.stdout.strip()
    metrics_file = osp.join(work_dir, "vs_metrics.json")
    subprocess.run([osp.join(BIN, "visionstack"), "test", VS_CONFIG, converted,
                    "--work-dir", osp.join(work_dir, "vs_test"), "--out", metrics_file,
                    "--set", *[f"model.{part}.norm_layer={MMDET_NORM}" for part in ("backbone", "neck", "bbox_head")],
                    f"test_dataloader.dataset.data_root={data_root}/",
                    f"test_evaluator.ann_file={data_root}/annotations/instances_val.json",
                    f"test_evaluator.outfile_prefix={work_dir}/vs_results",
                    "test_dataloader.batch_size=1", "test_dataloader.num_workers=0",
                    "test_dataloader.persistent_workers=False"],
                   check=True, cwd=ROOT)
    with open(metrics_file) as f:
        metrics = json.load(f)
    return metrics, f"{convert_log} ({time.time() - start:.0f} s with the test)"


def compare_detections(om_file: str, vs_file: str) -> tuple[str, bool]:
    """The two COCO result files: per image and class the same number of detections, each OpenMMLab
    detection matched to the nearest visionstack one (box, then score); the largest distances."""

    def load(path):
        groups = defaultdict(list)
        with open(path) as f:
            for r in json.load(f):
                groups[(r["image_id"], r["category_id"])].append([r["score"], *r["bbox"]])
        return {k: np.array(v) for k, v in groups.items()}

    om, vs = load(om_file), load(vs_file)
    if sorted(om) != sorted(vs):
        return f"(image, class) pairs with detections differ: {len(om)} vs {len(vs)}", False
    bad = [k for k in om if len(om[k]) != len(vs[k])]
    if bad:
        return f"detection counts differ for {len(bad)} of {len(om)} (image, class) pairs", False
    box = score = 0.0
    for key, a in om.items():
        b = vs[key].copy()
        for row in a:  # greedy nearest match (the results are equal up to float noise)
            dist = np.abs(b[:, 1:] - row[1:]).max(1) + np.abs(b[:, 0] - row[0])
            j = int(np.argmin(dist))
            box = max(box, float(np.abs(b[j, 1:] - row[1:]).max()))
            score = max(score, float(abs(b[j, 0] - row[0])))
            b = np.delete(b, j, axis=0)
    total = sum(len(v) for v in om.values())
    images = len({k[0] for k in om})
    return (f"{total} detections on {images} images; per image and class equal counts; matched one to one:"
            f" max box diff {box:.1e} px (xywh), max score diff {score:.1e}"), box <= BOX_TOL


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work-dir", default="work_dirs/openmmlab_metric_parity_detection")
    ap.add_argument("--iters", type=int, default=1500, help="OpenMMLab training iterations (batch 8)")
    ap.add_argument("--lr", type=float, default=0.002, help="AdamW learning rate (visionstack's synthetic recipe)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    data_root = osp.join(work_dir, "synth_det")

    import mmdet.utils

    mmdet.utils.register_all_modules(init_default_scope=True)
    capture_cocoeval_stats()
    classes = write_data(data_root)
    cfg = om_config(data_root, classes, osp.join(work_dir, f"om_{args.iters}it_lr{args.lr:g}"), args.iters, args.lr)
    t0 = time.time()
    checkpoint = om_train(cfg)
    t1 = time.time()
    om_metrics = om_test(cfg, checkpoint, "default")
    # MMDetection's CocoMetric sets COCOeval's maxDets to proposal_nums (100, 300, 1000), so its mAP rows
    # count up to 1000 detections per image and class; with (1, 10, 100) it computes COCO's own twelve
    om_test(cfg, checkpoint, "standard", proposal_nums=(1, 10, 100),
            outfile_prefix=osp.join(work_dir, "om_results"))
    t2 = time.time()
    vs_metrics, convert_log = vs_convert_and_test(checkpoint, data_root, work_dir)
    det_note, det_ok = compare_detections(osp.join(work_dir, "om_results.bbox.json"),
                                          osp.join(work_dir, "vs_results.bbox.json"))

    lines = [
        f"OpenMMLab: mmdet {OM_CONFIG} (BN, {len(classes)} classes), {args.iters} AdamW iterations (lr {args.lr:g}) of batch 8 on"
        f" {data_root} ({t1 - t0:.0f} s{', reused' if t1 - t0 < 5 else ''}), checkpoint {checkpoint};"
        f" test {t2 - t1:.0f} s",
        f"visionstack: {VS_CONFIG} with MMDetection's norms (eps 1e-5, momentum 0.1); convert: {convert_log}",
        "",
        "| COCO bbox | OpenMMLab test, default CocoMetric (printed) | same, unrounded | OpenMMLab, maxDets"
        " 1/10/100 | visionstack test | abs. diff to maxDets 1/10/100 |",
        "|---|---|---|---|---|---|",
    ]
    ok = "standard" in OM_STATS and "default" in OM_STATS
    default_names = [*STAT_NAMES[:6], "AR@100", "AR@300", "AR@1000", "AR_s@1000", "AR_m@1000", "AR_l@1000"]
    for index, name in enumerate(STAT_NAMES):
        printed = om_metrics.get(f"coco/bbox_{name}") if index < 6 else None
        default = OM_STATS.get("default", [None] * 12)[index]
        standard = OM_STATS.get("standard", [None] * 12)[index]
        vs = vs_metrics.get(f"coco/bbox_{name}")
        if standard is None or vs is None:
            lines.append(f"| {name} | {printed} | {default} | {standard} | {vs} | missing |")
            ok = False
            continue
        diff = abs(vs - standard)
        ok &= diff <= METRIC_TOL
        shown = "-" if printed is None else f"{printed:.3f}"
        default_shown = "-" if default is None else f"{default:.6f} ({default_names[index]})"
        lines.append(f"| {name} | {shown} | {default_shown} | {standard:.6f} | {vs:.6f} | {diff:.1e} |")
    same_default = all(
        abs(OM_STATS["default"][i] - vs_metrics.get(f"coco/bbox_{STAT_NAMES[i]}", float("nan"))) <= METRIC_TOL
        for i in range(6)
    ) if ok else False
    lines += ["", "the six mAP values of OpenMMLab's default CocoMetric (maxDets 1000) "
              + ("equal visionstack's (no image has over 100 detections of one class that matter)" if same_default
                 else "differ from visionstack's COCO-standard ones (maxDets 100)")]
    lines += ["", f"detections (the two COCO result files): {det_note}"]
    ok &= det_ok
    lines.append("RESULT: " + ("same metrics and detections" if ok else "**DIFFERENT**"))
    text = "\n".join(lines)
    print(text)
    with open(osp.join(work_dir, "report.md"), "w") as f:
        f.write(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
