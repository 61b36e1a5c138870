"""Training and inference speed of the ``channels_last`` and ``compile`` options, measured in one run.

For a classifier, a detector and a segmentor (the CPU configs) it builds the Runner four times
(default, ``channels_last=True``, ``compile=True``, both), feeds each the same fixed batches from the
config's training and validation loaders, and reports the median seconds per training iteration
(``train_step``: forward, loss, backward, optimizer step) and per inference batch (``test_step``),
and each option's speed-up over the default. The first iterations (warm-up, compilation) are not
timed; the compile time is printed apart. Training is float32 (the configs' bfloat16 autocast is
emulated, and slow, on CPUs without AMX/AVX512-BF16; ``--amp`` keeps it).

The synthetic data of ``benchmarks/loss_trace.py`` is written to ``--data`` once.

Run: ``.venv/bin/python benchmarks/speed_options.py [--iters 10] [--only NAME ...] [--variants ...]``;
``--only`` takes the names of ``MODELS`` (the default run: classifier, detector, segmentor, i.e.
ResNet-18 Digits, FCOS R-18 and FCN R-18-D8 on synthetic data).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import statistics
import tempfile
import time
from pathlib import Path

import torch
from loss_trace import CONFIGS, DATA_ROOTS, _write_data, benchmark_config

# name -> (config, synthetic data folder); the first three are the default run
MODELS = {
    "classifier": (CONFIGS["resnet18_digits"], DATA_ROOTS["resnet18_digits"]),
    "detector": (CONFIGS["fcos"], DATA_ROOTS["fcos"]),
    "segmentor": (CONFIGS["fcn"], DATA_ROOTS["fcn"]),
    "mobilenetv2": ("configs/classification/mobilenetv2_digits.py", "digits"),
    "retinanet": ("configs/detection/retinanet_r18_fpn_synth.py", "synth_det"),
    "rtmdet": ("configs/detection/rtmdet_tiny_synth.py", "synth_det"),
    "faster_rcnn": ("configs/detection/faster_rcnn_r18_fpn_synth.py", "synth_det"),
    "mask_rcnn": (CONFIGS["mask_rcnn"], DATA_ROOTS["mask_rcnn"]),
    "pspnet": ("configs/segmentation/pspnet_r18-d8_synth.py", "synth_seg"),
    "deeplabv3plus": ("configs/segmentation/deeplabv3plus_r18-d8_synth.py", "synth_seg"),
    "segformer": (CONFIGS["segformer"], DATA_ROOTS["segformer"]),
    "unet": ("configs/segmentation/unet-s5-d16_fcn_synth.py", "synth_seg"),
}
DEFAULT_MODELS = ("classifier", "detector", "segmentor")
VARIANTS = {
    "default": {},
    "channels_last": {"channels_last": True},
    "compile": {"compile": True},
    "both": {"channels_last": True, "compile": True},
}


def runner_for(name: str, data: Path, work_dir: str, options: dict, amp: bool):
    from visionstack.engine import Runner

    config, data_folder = MODELS[name]
    cfg = benchmark_config(config, data / data_folder, amp)
    cfg["work_dir"] = work_dir
    cfg.update(options)
    return Runner.from_cfg(cfg)


def median_seconds(step, batches: list, warmup: int, iters: int) -> tuple[float, float]:
    """(seconds of the warm-up calls, median seconds per call after them)."""
    start = time.perf_counter()
    for index in range(warmup):
        step(copy.deepcopy(batches[index % len(batches)]))
    warm = time.perf_counter() - start
    times = []
    for index in range(iters):
        batch = copy.deepcopy(batches[index % len(batches)])
        start = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - start)
    return warm, statistics.median(times)


def measure(name: str, data: Path, options: dict, args: argparse.Namespace) -> dict[str, float]:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as work_dir:
        runner = runner_for(name, data, work_dir, options, args.amp)
        runner._build_train_parts()
        train_batches = list(itertools.islice(runner.train_loop.dataloader, 3))
        val_loop = runner.val_loop if runner.val_loop is not None else runner.train_loop
        val_batches = list(itertools.islice(val_loop.dataloader, 2))
        model, optim_wrapper = runner.model, runner.optim_wrapper
        model.train()
        train_warm, train_s = median_seconds(
            lambda batch: model.train_step(batch, optim_wrapper=optim_wrapper),
            train_batches,
            args.warmup,
            args.iters,
        )
        model.eval()
        with torch.no_grad():
            infer_warm, infer_s = median_seconds(model.test_step, val_batches, args.warmup, args.iters)
    return {"train_s": train_s, "infer_s": infer_s, "warmup_s": train_warm + infer_warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="work_dirs/loss_trace_data")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--only", nargs="+", choices=sorted(MODELS))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = Path(args.data).resolve()
    _write_data(data)
    print(
        f"{'model':>10} {'variant':>14} {'train s/it':>11} {'x default':>10} {'infer s/batch':>14} "
        f"{'x default':>10} {'warm-up s':>10}"
    )
    for model in args.only or DEFAULT_MODELS:
        base = None
        for variant in args.variants:
            result = measure(model, data, VARIANTS[variant], args)
            base = base or result
            print(
                f"{model:>10} {variant:>14} {result['train_s']:>11.4f} {base['train_s'] / result['train_s']:>10.2f} "
                f"{result['infer_s']:>14.4f} {base['infer_s'] / result['infer_s']:>10.2f} {result['warmup_s']:>10.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
