"""Latency of the exported graph: eager PyTorch ``export_forward`` against ONNX Runtime, batch 1.

For each model, the config is built with random weights (or ``--checkpoint NAME=PATH``), exported
with ``visionstack.export.exporter.export_model`` (static shapes, ``dynamic=False``) into a temporary
folder and loaded by the torch-free ``visionstack.deploy.OnnxInferencer``. One input is made from a
fixed BGR image of the model's input size (a synthetic scene for detection and segmentation, noise for
classification) through the deploy preprocessor (for detectors also the ``img_shape`` /
``scale_factor`` tensors), and the same arrays are fed to

* eager: ``model.export_forward(*inputs)`` under ``torch.inference_mode()`` (the computation the
  graph holds, with the same post-processing as the graph),
* onnxruntime: ``session.run`` of the exported graph.

Both use the same number of threads (``torch.set_num_threads`` and the session's intra-op threads).
After ``--warmup`` untimed calls of each, the two are timed in this one process in alternating blocks
of ``--block`` consecutive calls until each has ``--runs`` timed calls, so that load from other jobs
falls on both alike. The first call of every block is not timed: each runtime's worker threads keep
spinning for a moment after a call, which would slow the other runtime's next call (a cost a
deployment running one runtime does not have). The script prints the median and the 90th percentile
of each and the ratio of the medians eager / onnxruntime (> 1: ONNX Runtime is faster), with the
1-minute load average of the machine during the model's runs: on a shared machine, eager PyTorch's
OpenMP threads suffer far more than ONNX Runtime's when another job holds a core (load above the
free cores), so read ratios measured under load with care.
A ``check`` column compares the two outputs (largest absolute difference of the logits, or the
number of detections each returned).

Detectors: with random weights every class score is about the prior probability of the head's bias
(about 0.01), below the configs' ``score_thr`` (0.05; 0.001 for RTMDet), so almost nothing would
reach the NMS. ``--score-thr`` (default 0.0) replaces ``bbox_head.test_cfg.score_thr`` before export:
at 0.0 every candidate that the per-level ``nms_pre`` top-k keeps goes through the NMS, the largest
NMS work this input size can cause; ``--score-thr config`` keeps the config's value (for trained
checkpoints). The number of detections the graph returned is printed (``dets``). Random RTMDet weights
regress boxes of about 1e-9 px, which the ``min_bbox_size`` filter drops before the NMS even at
score_thr 0 (a handful survive on the sample scene): its NMS does little work without trained weights.

Run: ``.venv/bin/python benchmarks/deploy_latency.py [--models NAME ...] [--runs 30] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstack.config import Config


@dataclass(frozen=True)
class ModelSpec:
    """A benchmarked model: its config, edits applied to the loaded config, and its input (H, W)."""

    config: str
    input_hw: tuple[int, int]
    edit: Callable[[Config], None] | None = None


def _resnet18_at_224(cfg: Config) -> None:
    """The ImageNet ResNet-50 classifier turned into ResNet-18 (512 channels into the head)."""
    cfg["model"]["backbone"]["depth"] = 18
    cfg["model"]["head"]["in_channels"] = 512


MODELS: dict[str, ModelSpec] = {
    "resnet18_digits": ModelSpec("configs/classification/resnet18_digits.py", (32, 32)),
    "resnet18_224": ModelSpec("configs/classification/resnet50_imagenet.py", (224, 224), _resnet18_at_224),
    "fcos_r18_fpn_synth": ModelSpec("configs/detection/fcos_r18_fpn_synth.py", (256, 256)),
    "retinanet_r18_fpn_synth": ModelSpec("configs/detection/retinanet_r18_fpn_synth.py", (256, 256)),
    "rtmdet_tiny_synth": ModelSpec("configs/detection/rtmdet_tiny_synth.py", (256, 256)),
    "fcn_r18-d8_synth": ModelSpec("configs/segmentation/fcn_r18-d8_synth.py", (128, 128)),
    "segformer_mit-b0_synth": ModelSpec("configs/segmentation/segformer_mit-b0_synth.py", (128, 128)),
}
DEFAULT_SCORE_THR = 0.0


def _score_thr(value: str) -> float | None:
    """``--score-thr``: a float, or ``config`` (None: keep the config's value)."""
    if value == "config":
        return None
    try:
        return float(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--score-thr takes a number or 'config', got {value!r}") from error


def _checkpoints(items: Sequence[str]) -> dict[str, str]:
    """``NAME=PATH`` pairs -> {name: path}; names must be benchmarked models."""
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not path:
            raise SystemExit(f"--checkpoint {item!r}: expected NAME=PATH")
        if name not in MODELS:
            raise SystemExit(f"--checkpoint {item!r}: unknown model {name!r}; models: {', '.join(MODELS)}")
        if not Path(path).is_file():
            raise SystemExit(f"--checkpoint {item!r}: {path} is not a file")
        out[name] = path
    return out


def load_config(spec: ModelSpec, score_thr: float | None) -> Config:
    """The model's config with its edits and, for a detector, ``bbox_head.test_cfg.score_thr`` replaced."""
    cfg = Config.fromfile(spec.config)
    if spec.edit is not None:
        spec.edit(cfg)
    head = cfg["model"].get("bbox_head")
    if head is not None and score_thr is not None:
        if head.get("test_cfg") is None:
            head["test_cfg"] = {}
        head["test_cfg"]["score_thr"] = score_thr
    return cfg


def sample_image(task: str, input_hw: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A fixed (H, W, 3) uint8 BGR image: a scene of the synthetic detection / segmentation data for those
    tasks (what the ``*_synth`` models are trained on), uniform noise for classification."""
    rng = np.random.default_rng(seed)
    height, width = input_hw
    if task == "detection":
        from visionstack.tasks.detection.synthetic import render_scene

        return render_scene(rng, height, width)[0]
    if task == "segmentation" and height == width:
        from visionstack.tasks.segmentation.synthetic import render_segmentation_scene

        return render_segmentation_scene(rng, height)[0]
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def make_inputs(inferencer: Any, input_hw: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, ...]:
    """The graph's input arrays for :func:`sample_image` of the model's task, preprocessed for deployment.

    Returns:
        ``(batch,)`` with batch (1, 3, H, W) float32, or ``(batch, img_shape, scale_factor)`` ((1, 2)
        float32 each) when the graph takes the image metainfo (detectors).
    """
    image = sample_image(inferencer.task, input_hw, seed)
    tensor, meta = inferencer.preprocessor.image(image)
    batch = inferencer.preprocessor.batch([tensor])
    expected = list(inferencer.session.get_inputs()[0].shape)
    if list(batch.shape) != expected:
        raise RuntimeError(
            f"preprocessed batch {list(batch.shape)} does not fit the static graph input {expected}"
        )
    arrays = [batch]
    if "img_shape" in inferencer.input_names:
        arrays.append(np.array([meta["img_shape"]], dtype=np.float32))
    if "scale_factor" in inferencer.input_names:
        arrays.append(np.array([meta["scale_factor"]], dtype=np.float32))
    return tuple(arrays)


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _check(task: str, eager: Sequence[torch.Tensor], onnx: Sequence[np.ndarray]) -> tuple[str, int | None]:
    """A short comparison of the two outputs, and the number of detections of the graph (detectors)."""
    if task == "detection":
        eager_dets = int((eager[1] >= 0).sum())
        onnx_dets = int((onnx[1] >= 0).sum())
        return f"dets {onnx_dets} (eager {eager_dets})", onnx_dets
    diff = float(np.abs(eager[0].numpy() - onnx[0]).max())
    return f"max|diff| {diff:.1e}", None


def bench_model(
    name: str, spec: ModelSpec, checkpoint: str | None, args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    """Export one model and time both paths; returns the JSON record (``error`` set on failure)."""
    from visionstack.deploy import OnnxInferencer
    from visionstack.export.exporter import export_model

    record: dict[str, Any] = {"model": name, "config": spec.config, "checkpoint": checkpoint}
    try:
        cfg = load_config(spec, args.score_thr)
        torch.manual_seed(0)
        result = export_model(cfg, checkpoint, scratch / name, dynamic=False, input_shape=spec.input_hw)
    except Exception as error:  # e.g. a head whose export_forward is not written yet
        record["error"] = f"export failed: {type(error).__name__}: {str(error).strip().splitlines()[0]}"
        if args.verbose:
            traceback.print_exc()
        return record
    try:
        task = result.deploy["task"]
        inferencer = OnnxInferencer(result.model_dir, num_threads=args.threads)
        arrays = make_inputs(inferencer, spec.input_hw)
        tensors = [torch.from_numpy(array) for array in arrays]
        feeds = dict(zip(inferencer.input_names, arrays))
        session, output_names, model = inferencer.session, inferencer.output_names, result.model
        record.update(task=task, input=[list(array.shape) for array in arrays])
        if task == "detection":
            record["score_thr"] = result.deploy["postprocess"].get("score_thr")
            record["max_per_img"] = result.deploy["postprocess"].get("max_per_img")

        def run_eager() -> Sequence[torch.Tensor]:
            with torch.inference_mode():
                outputs = model.export_forward(*tensors)
            return outputs if isinstance(outputs, (tuple, list)) else (outputs,)

        def run_onnx() -> list[np.ndarray]:
            return session.run(output_names, feeds)

        for _ in range(args.warmup):
            run_eager()
            run_onnx()
        eager_ms: list[float] = []
        onnx_ms: list[float] = []
        load_before = os.getloadavg()[0]
        while len(onnx_ms) < args.runs:  # blocks of each in turn, the first call of a block untimed
            count = min(args.block, args.runs - len(onnx_ms))
            for fn, times in ((run_eager, eager_ms), (run_onnx, onnx_ms)):
                fn()
                for _ in range(count):
                    start = time.perf_counter()
                    fn()
                    times.append((time.perf_counter() - start) * 1e3)
        load = max(load_before, os.getloadavg()[0])
        check, dets = _check(task, run_eager(), run_onnx())
        record.update(
            eager_ms={"median": statistics.median(eager_ms), "p90": _percentile(eager_ms, 90)},
            onnxruntime_ms={"median": statistics.median(onnx_ms), "p90": _percentile(onnx_ms, 90)},
            ratio=statistics.median(eager_ms) / statistics.median(onnx_ms),
            check=check,
            detections=dets,
            load_avg_1min=load,
        )
    except Exception as error:
        record["error"] = f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
        if args.verbose:
            traceback.print_exc()
    return record


def _row(record: dict[str, Any]) -> list[str]:
    if "error" in record:
        return [record["model"], "-", "-", "-", "-", "-", "-", "-", "-", record["error"]]
    shape = "x".join(str(v) for v in record["input"][0])
    eager, onnx = record["eager_ms"], record["onnxruntime_ms"]
    return [
        record["model"],
        shape,
        f"{eager['median']:.2f}",
        f"{eager['p90']:.2f}",
        f"{onnx['median']:.2f}",
        f"{onnx['p90']:.2f}",
        f"{record['ratio']:.2f}",
        f"{record['load_avg_1min']:.1f}",
        record["check"],
        "",
    ]


def print_table(records: Sequence[dict[str, Any]]) -> None:
    """A plain fixed-width table; errors take the place of the numbers."""
    header = [
        "model",
        "input",
        "eager med",
        "eager p90",
        "ort med",
        "ort p90",
        "eager/ort",
        "load",
        "check",
        "error",
    ]
    rows = [_row(record) for record in records]
    has_error = any(row[-1] for row in rows)
    if not has_error:
        header, rows = header[:-1], [row[:-1] for row in rows]
    widths = [max(len(str(row[col])) for row in [header, *rows]) for col in range(len(header))]
    numeric = set(range(2, 8))

    def fmt(row: Sequence[str]) -> str:
        cells = [
            str(c).rjust(w) if i in numeric else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ]
        return "  ".join(cells).rstrip()

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        choices=list(MODELS),
        default=list(MODELS),
        metavar="NAME",
        help=f"models to time (default: all): {', '.join(MODELS)}",
    )
    parser.add_argument("--runs", type=int, default=30, help="timed calls of each path (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls of each path first (default 5)")
    parser.add_argument(
        "--block",
        type=int,
        default=10,
        help="consecutive timed calls of one runtime before switching to the other (default 10)",
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads and ONNX Runtime intra-op threads (default 2)"
    )
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="trained weights for a model (repeatable); default: random initial weights",
    )
    parser.add_argument(
        "--score-thr",
        type=_score_thr,
        default=DEFAULT_SCORE_THR,
        metavar="THR|config",
        help="detectors: bbox_head.test_cfg.score_thr for the export (default 0.0: every "
        "nms_pre candidate enters the NMS); 'config' keeps the config's value",
    )
    parser.add_argument("--out", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of failures")
    args = parser.parse_args()
    if args.runs < 1 or args.block < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--runs, --block and --threads must be >= 1, --warmup >= 0")
    checkpoints = _checkpoints(args.checkpoint)

    torch.set_num_threads(args.threads)
    import onnxruntime

    score_thr = "config value" if args.score_thr is None else f"{args.score_thr:g}"
    print(
        f"batch 1, {args.threads} threads (torch {torch.__version__}, onnxruntime {onnxruntime.__version__}), "
        f"{args.warmup} warm-up + {args.runs} timed calls each in alternating blocks of {args.block}; "
        f"times in ms; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"detector score_thr: {score_thr}; weights: random init unless --checkpoint")
    wait_policy = os.environ.get("OMP_WAIT_POLICY")
    print(f"OMP_WAIT_POLICY={wait_policy or '(unset: OpenMP threads spin at barriers)'}")
    if os.getloadavg()[0] + args.threads > (os.cpu_count() or 1) and not wait_policy:
        print(
            "warning: the machine is busy (load average + threads > CPUs): eager PyTorch's spinning OpenMP "
            "threads can be slowed many times over (OMP_WAIT_POLICY=PASSIVE avoids that, at the price of a "
            "wake-up per parallel region that slows eager on an idle machine); compare runs by their load column"
        )
    records = []
    with tempfile.TemporaryDirectory(prefix="deploy_latency_") as scratch:
        for name in args.models:
            record = bench_model(name, MODELS[name], checkpoints.get(name), args, Path(scratch))
            if "error" in record:
                print(f"  {name}: {record['error']}", flush=True)
            else:
                print(f"  {name}: done ({record['ratio']:.2f}x)", flush=True)
            records.append(record)
    print()
    print_table(records)
    for record in records:
        if record.get("detections") is not None:
            print(
                f"{record['model']}: the graph returned {record['detections']} detections "
                f"(max_per_img {record['max_per_img']}, score_thr {record['score_thr']:g})"
                + ("; the NMS had no candidate" if record["detections"] == 0 else "")
            )
    if any(record.get("detections") == 0 and (record.get("score_thr") or 0.0) <= 0 for record in records):
        print(
            "note: 0 detections at score_thr 0 means every candidate was dropped by the min_bbox_size filter "
            "before the NMS (random RTMDet weights regress boxes of ~1e-9 px); time such a model with trained "
            "weights (--checkpoint NAME=PATH) to include the NMS"
        )
    print("eager/ort > 1: ONNX Runtime is faster (ratio of the medians)")
    if args.out is not None:
        meta = {
            "threads": args.threads,
            "runs": args.runs,
            "warmup": args.warmup,
            "block": args.block,
            "cpus": os.cpu_count(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "score_thr": args.score_thr,
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"settings": meta, "results": records}, indent=2))
        print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
