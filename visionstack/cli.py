"""The ``visionstack`` command: one entry point for every task.

    visionstack train CONFIG [--work-dir D] [--resume [CKPT]] [--set key.sub=value ...] [--amp]
    visionstack test CONFIG CHECKPOINT [--out metrics.json] [--out-format DIR]
    visionstack infer CONFIG CHECKPOINT INPUT... [--out-dir D] [--topk K] [--score-thr T]
    visionstack export CONFIG CHECKPOINT [--format onnx] [--dynamic] [--verify] [--quantize int8]
    visionstack infer --backend onnxruntime MODEL_DIR INPUT... [--out-dir D]
    visionstack config show CONFIG [--set ...] [--format py|json|yaml]
    visionstack logs plot WORK_DIR [--out PNG]
    visionstack data synth TASK --out DIR  write the task's synthetic dataset in its standard format
    visionstack eval TASK --gt GT --pred PRED [--config CONFIG]   score saved predictions
    visionstack analyze NAME CONFIG CHECKPOINT [--out-dir D]      a task's analysis of a trained model
    visionstack data browse CONFIG [--out-dir D] [--num N] [--split train|val] [--set ...]
    visionstack foundations demo {perceptron,xor,moons,digits} [--out-dir D]
    visionstack demo                       train the Digits config, then infer on a few images

Multi-GPU / multi-node: ``torchrun --nproc-per-node N -m visionstack train CONFIG``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import Config, ConfigFileError
from .interop.cli import add_convert_command
from .registry import TASKS, ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent


def _load_config(args: argparse.Namespace) -> Config:
    return Config.fromfile(args.config, args.set or ())


def _default_work_dir(config_path: str) -> str:
    return str(Path("work_dirs") / Path(config_path).stem)


def _prepare_train_config(args: argparse.Namespace) -> Config:
    cfg = _load_config(args)
    cfg["work_dir"] = args.work_dir or cfg.get("work_dir") or _default_work_dir(args.config)
    if args.resume is not None:
        cfg["resume"] = True if args.resume == "auto" else args.resume
    if args.amp:
        from .engine import enable_amp

        enable_amp(cfg)
    if args.seed is not None:
        cfg.setdefault("randomness", {})["seed"] = args.seed
    if args.deterministic:
        cfg.setdefault("randomness", {})["deterministic"] = True
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    from .engine import Runner

    runner = Runner.from_cfg(_prepare_train_config(args))
    runner.train()
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from .engine import Runner

    cfg = _load_config(args)
    cfg["work_dir"] = args.work_dir or cfg.get("work_dir") or _default_work_dir(args.config)
    cfg["load_from"] = args.checkpoint
    cfg["resume"] = False
    if args.unsafe_load:
        cfg["load_from_unsafe"] = True
    result_files = _add_result_writer(cfg, args) if args.out_format or args.coco_out else []
    runner = Runner.from_cfg(cfg)
    metrics = runner.test() or {}
    for path, description in result_files:
        if path.exists():
            print(f"{description} written to {path}")
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    for key, value in scalars.items():
        print(f"{key}: {value:.4f}")
    _plot_confusion_matrices(metrics, runner, Path(args.out).parent if args.out else Path(cfg["work_dir"]))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(scalars, indent=2))
        print(f"metrics written to {args.out}")
    return 0


def _add_result_writer(cfg: Config, args: argparse.Namespace) -> list[tuple[Path, str]]:
    """Make ``test_evaluator`` also write the predictions in the task's standard format (the task adapter
    says how); ``--coco-out PREFIX`` is ``--out-format DIR`` with the file stem ``PREFIX``'s name."""
    from .tasks.adapter import adapter_for_config

    flag = "--out-format" if args.out_format else "--coco-out"
    if args.out_format:
        out_dir, name = Path(args.out_format), "results"
    else:
        prefix = Path(args.coco_out[: -len(".json")] if args.coco_out.endswith(".json") else args.coco_out)
        out_dir, name = prefix.parent, prefix.name
    if cfg.get("test_evaluator") is None:
        raise ConfigError(f"test {flag}: {_config_name(cfg)} has no test_evaluator")
    try:
        cfg["test_evaluator"], files = adapter_for_config(cfg).add_result_writer(
            cfg["test_evaluator"], out_dir, name
        )
    except ConfigError as error:
        raise ConfigError(f"test {flag}: {_config_name(cfg)}: {error}") from error
    return files


def _config_name(cfg: Config) -> str:
    return str(getattr(cfg, "filename", None) or "the config")


def _plot_confusion_matrices(metrics: dict, runner, out_dir: Path) -> None:
    """Draw every confusion matrix among the test metrics as a PNG next to the results."""
    from .visualization import plot_confusion_matrix

    class_names = (runner.test_dataloader.dataset.metainfo or {}).get("classes")
    for key, value in metrics.items():
        if key.endswith("confusion_matrix/result") or key == "confusion_matrix/result":
            out_dir.mkdir(parents=True, exist_ok=True)
            path = plot_confusion_matrix(value, class_names, out_dir / "confusion_matrix.png")
            print(f"confusion matrix drawn to {path}")


def cmd_infer(args: argparse.Namespace) -> int:
    if args.backend == "onnxruntime":
        return _infer_onnxruntime(args)
    from .inference import Inferencer

    if not args.inputs:
        raise SystemExit(
            "visionstack infer: give CONFIG CHECKPOINT INPUT... (or --backend onnxruntime MODEL_DIR INPUT...)"
        )
    options = {dest: getattr(args, dest) for dest in _task_infer_option_names()}
    inferencer = Inferencer(_load_config(args), args.checkpoint, device=args.device, task_options=options)
    samples = inferencer(args.inputs)
    results = inferencer.to_results(samples)
    records = inferencer.to_records(samples, topk=args.topk, results=results)
    return _report_predictions(args, inferencer, results, records)


def _infer_onnxruntime(args: argparse.Namespace) -> int:
    """``infer --backend onnxruntime MODEL_DIR INPUT...``: the exported model, same JSON and drawings."""
    from .deploy import OnnxInferencer

    if args.set:
        raise SystemExit("visionstack infer: --set does not apply to an exported model (re-export instead)")
    inputs = [args.checkpoint, *args.inputs] if args.checkpoint else list(args.inputs)
    if not inputs:
        raise SystemExit("visionstack infer --backend onnxruntime: give MODEL_DIR INPUT...")
    # the task options given (e.g. a recogniser's --lexicon) reach the adapter's runtime post-processing
    given = {
        dest: getattr(args, dest)
        for dest, (_, kwargs) in _task_flags("infer_options").items()
        if getattr(args, dest) is not None and getattr(args, dest) != kwargs.get("default")
    }
    inferencer = OnnxInferencer(args.config, model_file=args.model_file, num_threads=args.threads, **given)
    results = inferencer(inputs)
    records = inferencer.to_records(results, topk=args.topk)
    return _report_predictions(args, inferencer, results, records)


def _report_predictions(args: argparse.Namespace, inferencer: Any, results: list, records: list) -> int:
    """Print the predictions of either backend; with ``--out-dir`` also write their JSON and drawings."""
    context = inferencer.context(topk=args.topk, score_thr=args.score_thr)
    _print_predictions(inferencer.adapter, records, context)
    if args.out_dir:
        _write_predictions(args.out_dir, inferencer.adapter, results, records, context)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import glob

    from .export.exporter import export_model

    cfg = _load_config(args)
    out_dir = Path(args.out_dir or Path("work_dirs") / "export" / Path(args.config).stem)
    result = export_model(
        cfg,
        args.checkpoint,
        out_dir,
        dynamic=args.dynamic,
        input_shape=args.input_shape,
        config_path=args.config,
    )
    onnx_spec = result.deploy["onnx"]
    print(
        f"exported {result.deploy['model']['type']} ({result.deploy['task']}) in {result.seconds:.1f} s: "
        f"{result.onnx_path} ({result.onnx_path.stat().st_size / 2**20:.1f} MiB), input {onnx_spec['input_shape']}"
    )
    print(f"deploy config: {out_dir / 'deploy.json'}")
    report: dict[str, Any] = {}
    if args.verify:
        from .export.verify import verify_export

        images = sorted(p for pattern in args.verify_images or () for p in glob.glob(pattern)) or None
        report["fp32"] = verify_export(
            cfg, args.checkpoint, out_dir, model=result.model, images=images, max_val=args.val_images
        )
        _print_verify("ONNX Runtime (fp32)", report["fp32"])
    if args.quantize == "int8":
        from .export.quantize import INT8_FILE, quantize_int8
        from .export.verify import verify_export

        calibration = _calibration_images(cfg, args.calibration_images)
        path = quantize_int8(out_dir, calibration)
        print(
            f"INT8 model: {path} ({path.stat().st_size / 2**20:.1f} MiB), calibrated on {len(calibration)} training images"
        )
        report["int8"] = verify_export(
            cfg,
            args.checkpoint,
            out_dir,
            model=result.model,
            model_file=INT8_FILE,
            num_images=4,
            max_val=args.val_images,
        )
        _print_verify("ONNX Runtime (int8)", report["int8"])
    if report:
        (out_dir / "verify.json").write_text(json.dumps(report, indent=2, default=str))
        print(f"verification report: {out_dir / 'verify.json'}")
    return 0


def _calibration_images(cfg: Config, count: int) -> list[str]:
    from .registry import DATASETS, build

    dataset_cfg = (cfg.get("train_dataloader") or {}).get("dataset")
    if not dataset_cfg:
        raise SystemExit(
            "--quantize int8 calibrates on training images: the config has no train_dataloader.dataset"
        )
    dataset = build(dataset_cfg, DATASETS)
    step = max(1, len(dataset) // max(count, 1))
    paths = []
    for index in range(0, len(dataset), step):
        info = dataset.get_data_info(index)
        paths.append(str(info["img_path"]))
        if len(paths) == count:
            break
    return paths


def _print_verify(title: str, report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{title} vs PyTorch on {report['images']} images")
    table.add_column("check")
    table.add_column("value", justify="right")
    for key, value in report.items():
        if key in ("metrics", "metric_diff", "task", "images"):
            continue
        table.add_row(key, f"{value:.3g}" if isinstance(value, float) else str(value))
    for name, metrics in (report.get("metrics") or {}).items():
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float)))
        table.add_row(f"val metric ({name})", shown)
    if report.get("metric_diff"):
        worst = max(report["metric_diff"].items(), key=lambda item: item[1])
        table.add_row("largest metric difference", f"{worst[0]} {worst[1]:.4g}")
    Console(width=max(100, Console().width)).print(table)


def _print_predictions(adapter: Any, records: list[dict], context: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="predictions")
    for column in ["image", *adapter.table_columns(context)]:
        table.add_column(column)
    for record in records:
        table.add_row(str(record["img_path"]), *adapter.table_row(record, context))
    Console(width=max(100, Console().width)).print(table)


def _write_predictions(
    out_dir: str, adapter: Any, results: Sequence[dict], records: list[dict], context: Any
) -> None:
    """predictions.json plus ``<stem>_pred.png``: the image with its predictions drawn, and whatever else the
    task writes per image (a segmentor's ``<stem>_label.png`` label map)."""
    import cv2

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "predictions.json").write_text(json.dumps(records, indent=2))
    for result, record in zip(results, records):
        if not any(field in result for field in adapter.prediction_fields):
            continue
        stem = Path(record["img_path"]).stem
        image = cv2.imread(str(record["img_path"]), cv2.IMREAD_COLOR)
        cv2.imwrite(str(out / f"{stem}_pred.png"), adapter.draw(image, result, context))
        adapter.write_prediction_files(out, stem, result, context)
    print(f"predictions written to {out}/predictions.json")


def cmd_config_show(args: argparse.Namespace) -> int:
    cfg = _load_config(args)
    if args.format == "json":
        print(json.dumps(cfg.to_dict(), indent=2, default=str))
    elif args.format == "yaml":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            cfg.dump(Path(tmp) / "config.yaml")
            print((Path(tmp) / "config.yaml").read_text(), end="")
    else:
        print(cfg.pretty_text, end="")
    return 0


def cmd_logs_plot(args: argparse.Namespace) -> int:
    from .visualization import plot_logs

    out = args.out or str(Path(args.work_dir) / "curves.png")
    plot_logs(args.work_dir, out)
    print(f"training curves written to {out}")
    return 0


def cmd_foundations_demo(args: argparse.Namespace) -> int:
    from .foundations.demos import run_demo

    result = run_demo(args.name, Path(args.out_dir))
    print(
        f"{args.name}: accuracy {100 * result['accuracy']:.2f}%; pictures: {', '.join(map(str, result['pngs']))}"
    )
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    from .tasks.adapter import get_adapter

    options = {"num_train": args.num_train, "num_val": args.num_val, "image_size": args.image_size}
    options = {key: value for key, value in options.items() if value is not None}
    summary = get_adapter(args.task).write_synthetic(Path(args.out), seed=args.seed, **options)
    print(f"synthetic {args.task} dataset written to {args.out}: {summary}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score saved predictions against ground truth in the dataset's own format (the task adapter's
    ``evaluate``), with the numbers ``visionstack test`` computes."""
    from .tasks.adapter import get_adapter

    cfg = _load_config(args) if args.config else None
    adapter = get_adapter(args.task)
    options = {}
    for dest, (flag, _) in _task_flags("eval_options").items():
        if getattr(args, dest, None) is not None:
            if flag not in dict(adapter.eval_options):
                raise ConfigError(f"eval {args.task}: {flag} is an option of another task")
            options[dest] = getattr(args, dest)
    metrics = adapter.evaluate(args.gt, args.pred, cfg, **options)
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    for key, value in scalars.items():
        print(f"{key}: {value:.4f}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(scalars, indent=2))
        print(f"metrics written to {args.out}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    """Run an analysis of a trained model that the config's task adapter offers (its ``analyses``)."""
    from .tasks.adapter import adapter_for_config

    cfg = _load_config(args)
    analysis = adapter_for_config(cfg).analysis(args.name)
    out_dir = Path(args.out_dir or Path(_default_work_dir(args.config)) / "analyze" / args.name)
    summary = analysis(cfg, args.checkpoint, out_dir, device=args.device)
    for key, value in summary.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


def cmd_data_browse(args: argparse.Namespace) -> int:
    """Draw what the dataset's pipeline hands to the model: the packed image and its annotations."""
    import cv2

    from .engine.randomness import set_random_seed
    from .registry import DATASETS, build
    from .tasks.adapter import PredictionContext, adapter_for_config

    cfg = _load_config(args)
    key = f"{args.split}_dataloader"
    loader_cfg = cfg.get(key)
    if not isinstance(loader_cfg, dict) or not isinstance(loader_cfg.get("dataset"), dict):
        raise ConfigError(f"data browse: {_config_name(cfg)} has no {key}.dataset to browse")
    set_random_seed(int((cfg.get("randomness") or {}).get("seed") or 0))  # the same pictures every time
    dataset = build(loader_cfg["dataset"], DATASETS)
    metainfo = getattr(dataset, "metainfo", None) or {}
    context = PredictionContext(class_names=metainfo.get("classes"), palette=metainfo.get("palette"))
    adapter = adapter_for_config(cfg) if cfg.get("model") else None
    out = Path(args.out_dir or Path(_default_work_dir(args.config)) / "browse" / args.split)
    out.mkdir(parents=True, exist_ok=True)
    count = min(args.num, len(dataset))
    for index in range(count):
        packed = dataset[index]
        if not isinstance(packed, dict) or "inputs" not in packed:
            raise ValueError(
                f"data browse: {key}.dataset[{index}] is a {type(packed).__name__}, not a packed sample "
                "({'inputs', 'data_samples'}); end the pipeline with a Pack* transform"
            )
        sample = packed.get("data_samples")
        img_path = sample.get("img_path") if sample is not None else None
        stem = Path(str(img_path)).stem if img_path else "sample"
        drawn = _draw_packed(packed["inputs"], sample, adapter, context)
        cv2.imwrite(str(out / f"{index}_{stem}.png"), drawn)
    print(f"{count} samples of {key} drawn to {out}")
    return 0


def _packed_image(inputs: Any) -> Any:
    """A packed (C, H, W) image tensor (BGR, as the pipeline keeps it) -> (H, W, 3) uint8 array."""
    import numpy as np
    import torch

    image = torch.as_tensor(inputs).detach().cpu()
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(
            f"data browse: packed inputs of shape {tuple(image.shape)} are not one (C, H, W) image"
        )
    if image.dtype != torch.uint8:
        image = image.float().round().clamp(0, 255).to(torch.uint8)
    array = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def _draw_packed(inputs: Any, sample: Any, adapter: Any, context: Any) -> Any:
    """The packed image with its ground truth, drawn by the task adapter (of the config's model, or else the
    first whose ground-truth fields the sample holds)."""
    from .registry import TASKS
    from .tasks.adapter import get_adapter

    image = inputs if isinstance(inputs, dict) else _packed_image(inputs)  # a dict: e.g. a point cloud
    if sample is None:
        return image
    if adapter is None:
        found = [get_adapter(name) for name in TASKS.keys()]
        found = [
            candidate
            for candidate in found
            if any(field in sample for field in candidate.ground_truth_fields)
        ]
        if getattr(inputs, "ndim", 3) == 3:  # one image: a task whose inputs are images comes first
            found.sort(key=lambda candidate: candidate.input_suffixes is not None)
        adapter = found[0] if found else None
    return image if adapter is None else adapter.draw_ground_truth(image, sample, context)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(work_root=Path(args.work_dir))


def _with_overrides(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        metavar="KEY=VALUE",
        help="override config values: train_dataloader.batch_size=8 model.head.num_classes=5",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visionstack", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_model_commands(commands)
    _add_export_command(commands)
    _add_inspection_commands(commands)
    _add_data_and_demo_commands(commands)
    _add_analyze_command(commands)
    _add_task_commands(commands)
    add_convert_command(commands, _with_overrides)
    return parser


def _add_task_commands(commands: Any) -> None:
    """The commands tasks add (their adapters' ``commands``)."""
    from .tasks.adapter import get_adapter

    added: dict[str, str] = {}
    for name in TASKS.keys():
        for command, where in get_adapter(name).commands.items():
            if command in added:
                raise ConfigError(f"the {name} and {added[command]} tasks both add the command {command!r}")
            added[command] = name
            module_name, _, function_name = where.partition(":")
            function = getattr(importlib.import_module(module_name), function_name)
            # what a task command may ask for from this layer (task modules do not import it)
            services = {"load_predictor": _load_predictor, "expand_inputs": _expand_inputs}
            wanted = inspect.signature(function).parameters
            function(commands, _with_overrides, **{k: v for k, v in services.items() if k in wanted})


def _load_predictor(*args: Any, **kwargs: Any) -> Any:
    from .inference import load_predictor

    return load_predictor(*args, **kwargs)


def _expand_inputs(*args: Any, **kwargs: Any) -> Any:
    from .deploy.runtime import expand_inputs

    return expand_inputs(*args, **kwargs)


def _add_model_commands(commands: Any) -> None:
    """train, test, infer."""
    with_overrides = _with_overrides
    train = with_overrides(commands.add_parser("train", help="train a model from a config"))
    train.add_argument("config")
    train.add_argument("--work-dir")
    train.add_argument("--resume", nargs="?", const="auto", help="resume from CKPT (default: the latest)")
    train.add_argument(
        "--amp", action="store_true", help="mixed precision (bfloat16 on CPU, float16 on CUDA)"
    )
    train.add_argument("--seed", type=int)
    train.add_argument("--deterministic", action="store_true")
    train.set_defaults(func=cmd_train)

    test = with_overrides(commands.add_parser("test", help="evaluate a checkpoint on the test set"))
    test.add_argument("config")
    test.add_argument(
        "checkpoint",
        nargs="?",
        help="the weights (none for a model without any)",
    )
    test.add_argument("--work-dir")
    test.add_argument("--out", help="write the metrics as JSON")
    test.add_argument(
        "--out-format",
        metavar="DIR",
        help="also write the predictions in the task's standard format into DIR (top-k JSON, COCO results "
        "JSON, PNG label maps, ...); `visionstack eval` scores them",
    )
    test.add_argument(
        "--coco-out",
        metavar="PREFIX",
        help="--out-format with result files named PREFIX.* (COCO: PREFIX.bbox.json, PREFIX.segm.json)",
    )
    test.add_argument(
        "--unsafe-load",
        action="store_true",
        help="allow a checkpoint that needs full unpickling (it can run code: trusted files only)",
    )
    test.set_defaults(func=cmd_test)

    infer = with_overrides(
        commands.add_parser(
            "infer",
            help="predict on images or folders",
            description="CONFIG CHECKPOINT INPUT... with PyTorch, or --backend onnxruntime MODEL_DIR INPUT... "
            "with a model written by `visionstack export`",
        )
    )
    infer.add_argument("config", metavar="CONFIG|MODEL_DIR")
    infer.add_argument("checkpoint", nargs="?", metavar="CHECKPOINT")
    infer.add_argument("inputs", nargs="*", metavar="INPUT")
    infer.add_argument("--backend", choices=("pytorch", "onnxruntime"), default="pytorch")
    infer.add_argument(
        "--model-file", help="onnxruntime: another ONNX file of MODEL_DIR (e.g. model_int8.onnx)"
    )
    infer.add_argument("--threads", type=int, help="onnxruntime: intra-op threads")
    infer.add_argument("--out-dir", help="write predictions.json and drawn images here")
    infer.add_argument("--topk", type=int, default=5)
    infer.add_argument(
        "--score-thr",
        type=float,
        default=0.3,
        help="predictions scored below this are not drawn or counted in the table (default 0.3)",
    )
    infer.add_argument("--device", default="cpu")
    _add_task_flags(infer, "infer_options")
    infer.set_defaults(func=cmd_infer)


def _task_flags(attribute: str) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """dest name -> (flag, argparse keyword arguments) of every task's ``infer_options`` or ``eval_options``."""
    from .tasks.adapter import get_adapter

    options: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for name in TASKS.keys():
        for flag, kwargs in getattr(get_adapter(name), attribute):
            options.setdefault(flag.lstrip("-").replace("-", "_"), (flag, kwargs))
    return options


def _task_infer_option_names() -> list[str]:
    return list(_task_flags("infer_options"))


def _add_task_flags(parser: argparse.ArgumentParser, attribute: str) -> None:
    group = parser.add_argument_group("task options (the tasks that use them say so)")
    for flag, kwargs in _task_flags(attribute).values():
        group.add_argument(flag, **kwargs)


def _task_analyses() -> dict[str, list[str]]:
    """Analysis name -> the tasks that offer it (every adapter's ``analyses``)."""
    from .tasks.adapter import get_adapter

    analyses: dict[str, list[str]] = {}
    for name in TASKS.keys():
        for analysis in get_adapter(name).analyses:
            analyses.setdefault(analysis, []).append(name)
    return analyses


def _add_analyze_command(commands: Any) -> None:
    analyses = _task_analyses()
    listed = "; ".join(f"{name} ({', '.join(tasks)})" for name, tasks in sorted(analyses.items()))
    analyze = _with_overrides(
        commands.add_parser(
            "analyze",
            help="analyse a trained model (the tasks offer the analyses)",
            description=f"Analyses by name (task): {listed or 'none'}.",
        )
    )
    analyze.add_argument("name", choices=sorted(analyses), metavar="NAME", help=listed or None)
    analyze.add_argument("config")
    analyze.add_argument("checkpoint")
    analyze.add_argument("--out-dir", help="default work_dirs/<config>/analyze/<NAME>")
    analyze.add_argument("--device", default="cpu")
    analyze.set_defaults(func=cmd_analyze)


def _add_export_command(commands: Any) -> None:
    export = _with_overrides(
        commands.add_parser("export", help="export to ONNX with deploy.json (runs with visionstack.deploy)")
    )
    export.add_argument("config")
    export.add_argument("checkpoint", nargs="?", help="weights (default: the initial ones)")
    export.add_argument("--format", choices=("onnx",), default="onnx")
    export.add_argument("--out-dir", help="default work_dirs/export/<config>")
    export.add_argument(
        "--dynamic", action="store_true", help="free batch, height and width (where the model allows)"
    )
    export.add_argument("--input-shape", type=int, nargs=2, metavar=("H", "W"), help="static input size")
    export.add_argument(
        "--verify", action="store_true", help="compare with PyTorch on sample images and the val metric"
    )
    export.add_argument(
        "--verify-images", nargs="+", metavar="GLOB", help="sample images (default: val images)"
    )
    export.add_argument("--val-images", type=int, help="evaluate on the first N val images only")
    export.add_argument(
        "--quantize", choices=("int8",), help="also write model_int8.onnx (static, calibrated)"
    )
    export.add_argument("--calibration-images", type=int, default=32, help="training images to calibrate on")
    export.set_defaults(func=cmd_export)


def _add_inspection_commands(commands: Any) -> None:
    """config show, logs plot."""
    with_overrides = _with_overrides
    config = commands.add_parser("config", help="inspect configs").add_subparsers(
        dest="subcommand", required=True
    )
    show = with_overrides(config.add_parser("show", help="print the resolved config"))
    show.add_argument("config")
    show.add_argument("--format", choices=("py", "json", "yaml"), default="py")
    show.set_defaults(func=cmd_config_show)

    logs = commands.add_parser("logs", help="training logs").add_subparsers(dest="subcommand", required=True)
    plot = logs.add_parser("plot", help="draw loss, learning rate and metrics as a PNG")
    plot.add_argument("work_dir")
    plot.add_argument("--out", help="PNG path (default WORK_DIR/curves.png)")
    plot.set_defaults(func=cmd_logs_plot)


def _add_data_and_demo_commands(commands: Any) -> None:
    """data synth, data browse, foundations demo, demo."""
    with_overrides = _with_overrides
    data = commands.add_parser("data", help="datasets").add_subparsers(dest="subcommand", required=True)
    synth = data.add_parser("synth", help="write a deterministic synthetic dataset in the task's format")
    synth.add_argument("task", choices=TASKS.keys())
    synth.add_argument("--out", required=True)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--num-train", type=int, help="training images (default: the task's writer's)")
    synth.add_argument("--num-val", type=int, help="validation images (default: the task's writer's)")
    synth.add_argument(
        "--image-size", type=int, help="side of the square images, where the task's writer takes it"
    )
    synth.set_defaults(func=cmd_data_synth)
    browse = with_overrides(data.add_parser("browse", help="draw the samples a config's pipeline produces"))
    browse.add_argument("config")
    browse.add_argument("--out-dir", help="where the PNGs go (default work_dirs/<config>/browse/<split>)")
    browse.add_argument("--num", type=int, default=8, help="how many samples, from the first (default 8)")
    browse.add_argument("--split", choices=("train", "val"), default="train")
    browse.set_defaults(func=cmd_data_browse)

    evaluate = with_overrides(
        commands.add_parser(
            "eval", help="score saved predictions against ground truth in the dataset's format"
        )
    )
    evaluate.add_argument("task", choices=TASKS.keys())
    evaluate.add_argument("--gt", required=True, help="ground truth in the dataset's own format")
    evaluate.add_argument("--pred", required=True, help="predictions in the task's standard format")
    evaluate.add_argument("--config", help="a config whose dataset and evaluator settings apply")
    evaluate.add_argument("--out", help="write the metrics as JSON")
    _add_task_flags(evaluate, "eval_options")
    evaluate.set_defaults(func=cmd_eval)

    foundations = commands.add_parser("foundations", help="deep-learning basics in NumPy")
    demo_parser = foundations.add_subparsers(dest="subcommand", required=True).add_parser("demo")
    demo_parser.add_argument("name", choices=("perceptron", "xor", "moons", "digits"))
    demo_parser.add_argument("--out-dir", default="work_dirs/foundations")
    demo_parser.set_defaults(func=cmd_foundations_demo)

    demo = commands.add_parser("demo", help="train the embedded default (Digits) and run inference")
    demo.add_argument("--work-dir", default="work_dirs/demo")
    demo.set_defaults(func=cmd_demo)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ConfigFileError, FileNotFoundError) as error:
        print(f"visionstack {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
