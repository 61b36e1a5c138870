"""``visionstack ocr IMAGE... --det-config D --rec-config R``: end-to-end OCR on image files or folders.

Each model is a config with its checkpoint (``--det-checkpoint``, ``--rec-checkpoint``) or an ``export`` folder
(then it runs on ONNX Runtime). Prints the words found per image; with ``--out-dir`` writes
``predictions.json`` (per image: every region's polygon, detection score, text, text score and character
confidences; the file ``visionstack eval ocr`` scores) and ``<image>_ocr.png`` (the image with the regions
outlined beside a white canvas with each text written at its region).
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_ocr_command", "run_ocr"]


def add_ocr_command(
    commands: Any,
    with_overrides: Callable[[argparse.ArgumentParser], Any],
    load_predictor: Callable[..., Any],
    expand_inputs: Callable[..., list],
) -> None:
    """Add ``ocr`` to the command line's sub-commands (the ocr adapter's ``commands``); ``load_predictor`` and
    ``expand_inputs`` are the command line's (:func:`visionstack.inference.load_predictor`,
    :func:`visionstack.deploy.runtime.expand_inputs`)."""
    parser = commands.add_parser(
        "ocr",
        help="end-to-end OCR: detect text regions, then read each (a textdet and a textrecog model)",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("inputs", nargs="+", help="image files or folders")
    parser.add_argument("--det-config", required=True, help="a textdet config, or an export folder")
    parser.add_argument("--det-checkpoint", help="the detector's weights (with a config)")
    parser.add_argument("--rec-config", required=True, help="a textrecog config, or an export folder")
    parser.add_argument("--rec-checkpoint", help="the recogniser's weights (with a config)")
    parser.add_argument("--lexicon", metavar="FILE", help="read only words of this list (one per line)")
    parser.add_argument("--pattern", metavar="REGEX", help="read only texts matching this regular expression")
    parser.add_argument("--det-score-thr", type=float, default=0.0, help="skip regions scoring lower")
    parser.add_argument("--out-dir", help="write predictions.json and the drawings here")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    parser.set_defaults(
        func=functools.partial(run_ocr_command, load_predictor=load_predictor, expand_inputs=expand_inputs)
    )


def run_ocr_command(
    args: argparse.Namespace, load_predictor: Callable[..., Any], expand_inputs: Callable[..., list]
) -> int:
    from rich.console import Console
    from rich.table import Table

    records = run_ocr(
        load_predictor,
        expand_inputs(args.inputs),
        args.det_config,
        args.rec_config,
        det_checkpoint=args.det_checkpoint,
        rec_checkpoint=args.rec_checkpoint,
        lexicon=args.lexicon,
        pattern=args.pattern,
        det_score_thr=args.det_score_thr,
        out_dir=args.out_dir,
        device=args.device,
        threads=args.threads,
    )
    table = Table(title="OCR")
    for column in ("image", "words", "texts"):
        table.add_column(column)
    for record in records:
        texts = " ".join(instance["text"] for instance in record["instances"])
        table.add_row(str(record["img_path"]), str(len(record["instances"])), texts)
    Console().print(table)
    if args.out_dir:
        print(f"predictions and drawings written to {args.out_dir}")
    return 0


def run_ocr(
    load_predictor: Callable[..., Any],
    inputs: list[str],
    det_config: str,
    rec_config: str,
    det_checkpoint: str | None = None,
    rec_checkpoint: str | None = None,
    lexicon: str | None = None,
    pattern: str | None = None,
    det_score_thr: float = 0.0,
    out_dir: str | Path | None = None,
    device: str = "cpu",
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Run the pipeline on the image files ``inputs`` with the models ``load_predictor`` loads (see
    :func:`visionstack.inference.load_predictor`) and return the JSON records (written with the drawings to
    ``out_dir``)."""
    import cv2

    from ...utils.image_io import read_image
    from .drawing import draw_ocr_side_by_side
    from .end_to_end import ModelBackend, OCRPipeline
    from .records import ocr_record

    if lexicon is not None and not Path(lexicon).is_file():
        raise FileNotFoundError(f"--lexicon {lexicon}: no such file")
    options = {
        key: value for key, value in {"lexicon": lexicon, "pattern": pattern}.items() if value is not None
    }
    detector = ModelBackend(load_predictor(det_config, det_checkpoint, device=device, threads=threads))
    recognizer = ModelBackend(
        load_predictor(rec_config, rec_checkpoint, device=device, threads=threads, **options), options
    )
    pipeline = OCRPipeline(detector, recognizer, det_score_thr=det_score_thr)
    paths = [str(path) for path in inputs]
    results = pipeline(paths)
    records = [{"img_path": result["img_path"], **ocr_record(result)} for result in results]
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "predictions.json").write_text(json.dumps(records, indent=1))
        for result in results:
            instances = result["pred_instances"]
            picture = draw_ocr_side_by_side(
                read_image(result["img_path"], "color"), instances["polygons"], instances["texts"]
            )
            cv2.imwrite(str(out / f"{Path(result['img_path']).stem}_ocr.png"), picture)
    return records
