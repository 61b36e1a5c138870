"""The ``visionstack`` command: one entry point for every task.

    visionstack train CONFIG [--work-dir D] [--resume [CKPT]] [--set key.sub=value ...] [--amp]
    visionstack test CONFIG CHECKPOINT [--out metrics.json]
    visionstack infer CONFIG CHECKPOINT INPUT... [--out-dir D] [--topk K]
    visionstack config show CONFIG [--set ...] [--format py|json|yaml]
    visionstack logs plot WORK_DIR [--out PNG]
    visionstack data synth {classification,detection} --out DIR
    visionstack foundations demo {perceptron,xor,moons,digits} [--out-dir D]
    visionstack demo                       train the Digits config, then infer on a few images

Multi-GPU / multi-node: ``torchrun --nproc-per-node N -m visionstack train CONFIG``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import Config, ConfigFileError
from .registry import ConfigError

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
        cfg["optim_wrapper"]["type"] = "AmpOptimWrapper"
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
    runner = Runner.from_cfg(cfg)
    metrics = runner.test() or {}
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    for key, value in scalars.items():
        print(f"{key}: {value:.4f}")
    _plot_confusion_matrices(metrics, runner, Path(args.out).parent if args.out else Path(cfg["work_dir"]))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(scalars, indent=2))
        print(f"metrics written to {args.out}")
    return 0


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
    from .inference import Inferencer

    inferencer = Inferencer(_load_config(args), args.checkpoint, device=args.device)
    samples = inferencer(args.inputs)
    records = inferencer.to_records(samples, topk=args.topk)
    _print_predictions(records)
    if args.out_dir:
        _write_predictions(args.out_dir, samples, records, inferencer.class_names, args.topk)
    return 0


def _print_predictions(records: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="predictions")
    table.add_column("image")
    table.add_column("top-k (class: score)")
    for record in records:
        ranked = ", ".join(f"{item['class']}: {item['score']:.3f}" for item in record.get("topk", []))
        table.add_row(str(record["img_path"]), ranked)
    Console(width=max(100, Console().width)).print(table)


def _write_predictions(out_dir: str, samples, records: list[dict], class_names, topk: int) -> None:
    import cv2

    from .visualization import draw_classification

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "predictions.json").write_text(json.dumps(records, indent=2))
    for sample, record in zip(samples, records):
        if "pred_label" not in sample:
            continue
        image = cv2.imread(str(record["img_path"]), cv2.IMREAD_COLOR)
        drawn = draw_classification(image, sample.pred_label, class_names, topk=min(topk, 3))
        cv2.imwrite(str(out / (Path(record["img_path"]).stem + "_pred.png")), drawn)
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
    print(f"{args.name}: accuracy {100 * result['accuracy']:.2f}%; pictures: {', '.join(map(str, result['pngs']))}")
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    if args.task == "detection":
        from .tasks.detection.synthetic import synth_detection

        summary = synth_detection(Path(args.out), seed=args.seed)
    else:
        from .data.datasets.digits import write_digits

        summary = write_digits(str(args.out), scale=2)  # as configs/_base_/datasets/digits.py
    print(f"synthetic {args.task} dataset written to {args.out}: {summary}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(work_root=Path(args.work_dir))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visionstack", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_overrides(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE",
                       help="override config values: train_dataloader.batch_size=8 model.head.num_classes=5")
        return p

    train = with_overrides(commands.add_parser("train", help="train a model from a config"))
    train.add_argument("config")
    train.add_argument("--work-dir")
    train.add_argument("--resume", nargs="?", const="auto", help="resume from CKPT (default: the latest)")
    train.add_argument("--amp", action="store_true", help="mixed precision (bfloat16 on CPU, float16 on CUDA)")
    train.add_argument("--seed", type=int)
    train.add_argument("--deterministic", action="store_true")
    train.set_defaults(func=cmd_train)

    test = with_overrides(commands.add_parser("test", help="evaluate a checkpoint on the test set"))
    test.add_argument("config")
    test.add_argument("checkpoint")
    test.add_argument("--work-dir")
    test.add_argument("--out", help="write the metrics as JSON")
    test.add_argument("--unsafe-load", action="store_true",
                      help="allow a checkpoint that needs full unpickling (it can run code: trusted files only)")
    test.set_defaults(func=cmd_test)

    infer = with_overrides(commands.add_parser("infer", help="predict on images or folders"))
    infer.add_argument("config")
    infer.add_argument("checkpoint")
    infer.add_argument("inputs", nargs="+", metavar="INPUT")
    infer.add_argument("--out-dir", help="write predictions.json and drawn images here")
    infer.add_argument("--topk", type=int, default=5)
    infer.add_argument("--device", default="cpu")
    infer.set_defaults(func=cmd_infer)

    config = commands.add_parser("config", help="inspect configs").add_subparsers(dest="action", required=True)
    show = with_overrides(config.add_parser("show", help="print the resolved config"))
    show.add_argument("config")
    show.add_argument("--format", choices=("py", "json", "yaml"), default="py")
    show.set_defaults(func=cmd_config_show)

    logs = commands.add_parser("logs", help="training logs").add_subparsers(dest="action", required=True)
    plot = logs.add_parser("plot", help="draw loss, learning rate and metrics as a PNG")
    plot.add_argument("work_dir")
    plot.add_argument("--out", help="PNG path (default WORK_DIR/curves.png)")
    plot.set_defaults(func=cmd_logs_plot)

    data = commands.add_parser("data", help="datasets").add_subparsers(dest="action", required=True)
    synth = data.add_parser("synth", help="write a deterministic synthetic dataset in the task's format")
    synth.add_argument("task", choices=("classification", "detection"))
    synth.add_argument("--out", required=True)
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(func=cmd_data_synth)

    foundations = commands.add_parser("foundations", help="deep-learning basics in NumPy")
    demo_parser = foundations.add_subparsers(dest="action", required=True).add_parser("demo")
    demo_parser.add_argument("name", choices=("perceptron", "xor", "moons", "digits"))
    demo_parser.add_argument("--out-dir", default="work_dirs/foundations")
    demo_parser.set_defaults(func=cmd_foundations_demo)

    demo = commands.add_parser("demo", help="train the embedded default (Digits) and run inference")
    demo.add_argument("--work-dir", default="work_dirs/demo")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ConfigFileError, FileNotFoundError) as error:
        print(f"visionstack {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
