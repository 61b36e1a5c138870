"""``visionstack convert``: checkpoints and configs from OpenMMLab."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_convert_command"]


def add_convert_command(commands: Any, with_overrides: Any) -> None:
    """Add ``convert checkpoint`` and ``convert config`` to the command line."""
    convert = commands.add_parser("convert", help="bring OpenMMLab checkpoints and configs").add_subparsers(
        dest="subcommand", required=True
    )
    ckpt = with_overrides(
        convert.add_parser(
            "checkpoint",
            help="map an OpenMMLab .pth onto the model of a visionstack config (strictly)",
            description="Every checkpoint key must map and every shape agree, or the error lists what did not.",
        )
    )
    ckpt.add_argument("--from", dest="source_tool", choices=("openmmlab",), default="openmmlab")
    ckpt.add_argument("config", help="the visionstack config of the same architecture")
    ckpt.add_argument("input", help="the OpenMMLab checkpoint (.pth)")
    ckpt.add_argument("output", help="where the visionstack checkpoint goes")
    ckpt.add_argument(
        "--unsafe-pickle",
        action="store_true",
        help="read a checkpoint that stores Python objects (MMEngine's do); trusted files only",
    )
    ckpt.set_defaults(func=cmd_convert_checkpoint)

    conf = convert.add_parser(
        "config",
        help="write the visionstack config equivalent to an OpenMMLab config, with a report",
        description="_base_ chains and package references (mmdet::) are resolved; every key that "
        "could not be mapped is listed in the report with the reason.",
    )
    conf.add_argument("input", help="the OpenMMLab config (.py)")
    conf.add_argument(
        "--out",
        help="the visionstack config to write (default: ./<input stem>_visionstack.py, in the current folder)",
    )
    conf.add_argument("--report", help="where the report goes (default: <out stem>.report.md next to --out)")
    conf.add_argument(
        "--package-root",
        action="append",
        default=[],
        metavar="PACKAGE=DIR",
        help="where a package's configs are (mmdet=/path/to/mmdet/configs), when it is not installed",
    )
    conf.set_defaults(func=cmd_convert_config)


def cmd_convert_checkpoint(args: argparse.Namespace) -> int:
    from ..models.openmmlab_keys import OpenMMLabKeyError
    from ..utils.checkpoint_io import UnsafeCheckpointError
    from .openmmlab_checkpoint import convert_checkpoint_file

    try:
        summary = convert_checkpoint_file(
            args.config, args.input, args.output, overrides=args.set or [], unsafe_pickle=args.unsafe_pickle
        )
    except (OpenMMLabKeyError, UnsafeCheckpointError) as error:
        print(f"visionstack convert checkpoint: error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {summary['target']}: {summary['tensors']} tensors, {summary['parameters']:,} parameters")
    for key, reason in summary["dropped"]:
        print(f"  dropped {key}: {reason}")
    for key, reason in summary["filled"]:
        print(f"  filled {key}: {reason}")
    return 0


def cmd_convert_config(args: argparse.Namespace) -> int:
    from .openmmlab_config import convert_config_file

    roots = {}
    for item in args.package_root:
        name, sep, path = item.partition("=")
        if not sep:
            print(
                f"visionstack convert config: error: --package-root {item!r} is not PACKAGE=DIR",
                file=sys.stderr,
            )
            return 2
        roots[name] = path
    report = convert_config_file(args.input, out=args.out, report=args.report, package_roots=roots)
    print(
        json.dumps(
            {k: v for k, v in report.items() if k in ("out", "report", "unmapped")}, indent=1, default=str
        )
    )
    return 0
