"""Fixed-seed loss traces: the logged losses of the first N training iterations of one config per task.

A refactoring that must not change behaviour gives the same losses to the last bit. Run it on the tree
before and after the change (same machine, same data) and compare the JSON files::

    python benchmarks/loss_trace.py --out before.json            # on the old tree
    python benchmarks/loss_trace.py --out after.json --compare before.json

The synthetic data is written once to ``--data`` (small sets: 200 detection, 160 segmentation images).
Each run uses ``num_workers=0`` and its config's seed, so the trace is deterministic on one machine. By
default it trains in float32 (``optim_wrapper.type=OptimWrapper``): the CPU configs' bfloat16 autocast is
emulated, and very slow, on CPUs without AMX/AVX512-BF16; ``--amp`` keeps the configs' precision.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

CONFIGS = {
    "resnet18_digits": "configs/classification/resnet18_digits.py",
    "fcos": "configs/detection/fcos_r18_fpn_synth.py",
    "mask_rcnn": "configs/detection/mask_rcnn_r18_fpn_synth.py",
    "fcn": "configs/segmentation/fcn_r18-d8_synth.py",
    "segformer": "configs/segmentation/segformer_mit-b0_synth.py",
}
DATA_ROOTS = {
    "resnet18_digits": "digits",
    "fcos": "synth_det",
    "mask_rcnn": "synth_det",
    "fcn": "synth_seg",
    "segformer": "synth_seg",
}


class _StopTraining(Exception):
    pass


def _write_data(data: Path) -> None:
    from visionstack.cli import main as cli_main

    if not (data / "synth_det" / "annotations" / "instances_train.json").is_file():
        cli_main(
            [
                "data",
                "synth",
                "detection",
                "--out",
                str(data / "synth_det"),
                "--num-train",
                "200",
                "--num-val",
                "8",
            ]
        )
    if not (data / "synth_seg" / "meta.json").is_file():
        cli_main(
            [
                "data",
                "synth",
                "segmentation",
                "--out",
                str(data / "synth_seg"),
                "--num-train",
                "160",
                "--num-val",
                "8",
            ]
        )


def benchmark_config(config: str, root: Path, amp: bool = False, overrides: tuple[str, ...] = ()) -> Any:
    """``config`` pointed at the synthetic data in ``root``, in one process (``num_workers=0``) and,
    unless ``amp``, in float32."""
    from visionstack.config import Config

    cfg = Config.fromfile(config, [f"data_root={root}/", *overrides])
    if not amp and cfg["optim_wrapper"].get("type") == "AmpOptimWrapper":
        cfg["optim_wrapper"]["type"] = "OptimWrapper"
        cfg["optim_wrapper"].pop("dtype", None)
    for key in ("val_evaluator", "test_evaluator"):
        if isinstance(cfg.get(key), dict) and "ann_file" in cfg[key]:
            cfg[key]["ann_file"] = str(root / "annotations" / "instances_val.json")
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        if cfg.get(key):
            cfg[key]["num_workers"] = 0
            cfg[key]["persistent_workers"] = False
    return cfg


def trace(
    name: str, data: Path, iters: int, amp: bool = False, overrides: tuple[str, ...] = ()
) -> list[dict[str, float]]:
    """The logged values of the first ``iters`` training iterations of config ``name``."""
    from visionstack.engine import Runner
    from visionstack.engine.hooks import Hook

    cfg = benchmark_config(CONFIGS[name], data / DATA_ROOTS[name], amp, overrides)
    losses: list[dict[str, float]] = []

    class Recorder(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            losses.append({k: float(v) for k, v in (outputs or {}).items()})
            if len(losses) >= iters:
                raise _StopTraining

    with tempfile.TemporaryDirectory() as work_dir:
        cfg["work_dir"] = work_dir
        cfg["custom_hooks"] = [*(cfg.get("custom_hooks") or []), dict(type=Recorder)]
        runner = Runner.from_cfg(cfg)
        try:
            runner.train()
        except _StopTraining:
            pass
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON file for the traces")
    parser.add_argument("--data", default="work_dirs/loss_trace_data")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--amp", action="store_true", help="keep the configs' bfloat16 autocast")
    parser.add_argument("--only", nargs="+", choices=sorted(CONFIGS))
    parser.add_argument("--compare", help="a JSON file written before: report the first difference")
    parser.add_argument("--set", nargs="+", default=[], help="config overrides key=value for every config")
    args = parser.parse_args()
    data = Path(args.data).resolve()
    _write_data(data)
    results = {}
    for name in args.only or CONFIGS:
        started = time.perf_counter()
        results[name] = trace(name, data, args.iters, args.amp, tuple(args.set))
        print(
            f"{name}: {len(results[name])} iterations in {time.perf_counter() - started:.1f} s; "
            f"last {results[name][-1] if results[name] else None}"
        )
    Path(args.out).write_text(json.dumps(results, indent=1))
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        for name, steps in results.items():
            same = before.get(name) == steps
            print(f"{name}: {'identical' if same else 'DIFFERENT'} to {args.compare}")
            if not same:
                for index, (old, new) in enumerate(zip(before.get(name, []), steps)):
                    if old != new:
                        print(f"  first difference at iteration {index}: {old} vs {new}")
                        break


if __name__ == "__main__":
    main()
