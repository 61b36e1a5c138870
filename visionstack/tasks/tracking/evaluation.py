"""HOTA, CLEAR and Identity metrics of MOT result files through ``trackeval`` (:func:`evaluate_mot`).

trackeval's ``MotChallenge2DBox`` scores one class only, *pedestrian* (MOT class id 1), and refuses result
rows of any other class. Every evaluated class ``c`` is therefore scored in a run of its own on filtered
copies of the files, written to a temporary folder (with a seqmap and a ``seqinfo.ini`` per sequence):

- ground truth: rows of class ``c`` become class 1; rows of MOT17's distractor classes (person on vehicle 2,
  static person 7, distractor 8, reflection 12; unless one of them is an evaluated class) keep their class,
  so that trackeval's preprocessing still drops predictions that match them; every other row becomes a
  neutral class (9, occluder) that takes part in that preprocessing matching only, exactly as it does when
  trackeval reads the original file. Ids are renumbered (per class for the evaluated rows, per row for the
  others), which changes no metric and keeps every id unique within a frame.
- predictions: rows of class ``c`` (a class of -1 counts as 1), as class 1.

Sequences are combined by trackeval itself (``COMBINED_SEQ``), classes by each metric's
``combine_classes_class_averaged`` (classes with neither ground truth nor predictions left out, trackeval's
``ignore_empty_classes=True``) and ``combine_classes_det_averaged``.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["METRIC_NAMES", "MOT_CLASS_IDS_BY_NAME", "evaluate_mot", "read_mot_rows", "resolve_class_ids"]

METRIC_NAMES = ("HOTA", "CLEAR", "Identity")
# trackeval's MOT Challenge class table (mot_challenge_2d_box.py), used to default class ids by name
MOT_CLASS_IDS_BY_NAME = {
    "pedestrian": 1, "person_on_vehicle": 2, "car": 3, "bicycle": 4, "motorbike": 5, "non_mot_vehicle": 6,
    "static_person": 7, "distractor": 8, "occluder": 9, "occluder_on_ground": 10, "occluder_full": 11,
    "reflection": 12, "crowd": 13,
}  # fmt: skip
_DISTRACTOR_IDS = (2, 7, 8, 12)  # MOT17's, removed by trackeval's preprocessing
_OTHER_CLASS = 9  # a valid MOT class that is neither evaluated nor a distractor
# our key -> (trackeval metric, field); array fields (HOTA's alpha thresholds) are averaged
_FIELDS = {
    "HOTA": {k: k for k in ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr")},
    "CLEAR": {
        **{k: k for k in ("MOTA", "MOTP", "MODA", "IDSW", "Frag", "MT", "PT", "ML")},
        **{"TP": "CLR_TP", "FP": "CLR_FP", "FN": "CLR_FN"},
    },
    "Identity": {k: k for k in ("IDF1", "IDP", "IDR")},
}
_RESERVED = ("seq", "det_av")
_GT_COLUMNS = 9  # frame, id, bb_left, bb_top, w, h, consider, class, visibility
_PRED_COLUMNS = 10  # frame, id, bb_left, bb_top, w, h, score, class, -1, -1


def read_mot_rows(path: str | Path, kind: str) -> np.ndarray:
    """Read a MOT gt or result txt file, checking every row.

    Comma- or whitespace-separated; blank lines are skipped. Missing trailing columns take MOT's defaults
    (gt: consider 1, class 1, visibility 1; results: score 1, class -1, then -1).

    Args:
        path: the txt file.
        kind: ``"gt"`` (at least 6 columns) or ``"pred"`` (at least 6 columns).

    Returns:
        (N, 9) float64 gt rows or (N, 10) result rows, in the MOT columns of the module docstring
        (boxes as stored: 1-based ``bb_left, bb_top, width, height``).

    Raises:
        ValueError: naming the file and line of a row that is not numeric, has fewer than 6 columns, a
            frame that is not an integer >= 1, or (results) a negative id.
    """
    width = _GT_COLUMNS if kind == "gt" else _PRED_COLUMNS
    defaults = [0.0] * 6 + ([1.0, 1.0, 1.0] if kind == "gt" else [1.0, -1.0, -1.0, -1.0])
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        fields = line.replace(",", " ").split()
        if not fields:
            continue
        try:
            values = [float(v) for v in fields[:width]]
        except ValueError:
            raise ValueError(f"{path}:{number}: not a numeric MOT row: {line.strip()!r}") from None
        if len(values) < 6 or not np.isfinite(values).all():
            raise ValueError(
                f"{path}:{number}: a MOT row needs at least 6 finite values (frame, id, bb_left, bb_top, "
                f"width, height), got {line.strip()!r}"
            )
        if values[0] < 1 or values[0] != int(values[0]):
            raise ValueError(f"{path}:{number}: frame must be an integer >= 1 (MOT frames are 1-based)")
        if kind != "gt" and values[1] < 0:
            raise ValueError(f"{path}:{number}: a result row needs a track id >= 0, got {values[1]:g}")
        rows.append(values + defaults[len(values) :])
    return np.asarray(rows, dtype=np.float64).reshape(-1, width)


def evaluate_mot(
    gt_dir: str | Path,
    pred_dir: str | Path,
    classes: Sequence[str] | None = None,
    sequences: Sequence[str] | None = None,
    metrics: Sequence[str] = METRIC_NAMES,
    class_ids: Sequence[int] | None = None,
) -> dict[str, float]:
    """Score MOT result files against MOT ground truth with trackeval, per class and combined.

    Args:
        gt_dir: a split folder holding ``<SEQ>/gt/gt.txt`` (and ``<SEQ>/seqinfo.ini``), or one such
            sequence folder. Without ``seqinfo.ini`` the sequence length is the last frame of the files.
        pred_dir: the folder holding one ``<SEQ>.txt`` result file per sequence (a file is accepted for a
            single sequence). Boxes 1-based ``bb_left, bb_top, width, height``; column 8 the MOT class id.
        classes: the class names to score; None: ``("pedestrian",)``.
        sequences: the sequences to score; None: every sequence of ``gt_dir``.
        metrics: a subset of ``("HOTA", "CLEAR", "Identity")``.
        class_ids: the MOT class id of each name of ``classes``; None: trackeval's MOT ids when every name
            is a MOT Challenge class (pedestrian 1, car 3, bicycle 4 ...), else 1..K.

    Returns:
        Flat floats, fractions in 0..1 (counts as floats). Without prefix: the combination over every
        class, **class-averaged** (each class's score averaged; counts summed): ``HOTA, DetA, AssA, LocA,
        DetRe, DetPr, AssRe, AssPr`` (means over HOTA's 19 alpha thresholds, as trackeval reports),
        ``MOTA, MOTP, MODA, IDSW, Frag, MT, PT, ML, TP, FP, FN``, ``IDF1, IDP, IDR``; ``det_av/<metric>``:
        the detection-averaged combination (counts of every class pooled); ``<class>/<metric>``: each class;
        ``seq/<SEQ>/<metric>``: each sequence (class-averaged).

    Raises:
        FileNotFoundError: no sequence in ``gt_dir``, or no result file for a sequence (named).
        ValueError: a malformed row (file and line), a frame beyond ``seqLength``, an unknown metric or
            sequence, or an error trackeval reports (with its message).
    """
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRIC_NAMES]
    if unknown or not metrics:
        raise ValueError(f"evaluate_mot: metrics must be a non-empty subset of {METRIC_NAMES}, got {metrics}")
    classes, class_ids = resolve_class_ids(classes, class_ids)
    data = _load_split(Path(gt_dir), Path(pred_dir), sequences)
    per_class: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="visionstack_trackeval_") as tmp:
        for name, class_id in zip(classes, class_ids):
            work = Path(tmp) / f"class{class_id}"
            _write_class_split(work, data, class_id, class_ids)
            per_class[name] = _run_trackeval(work, list(data), metrics, name)
    return _flatten_all(per_class, list(data), metrics)


def import_trackeval() -> Any:
    """The ``trackeval`` package, or an error saying how to install it (without its GUI-OpenCV dependency)."""
    try:
        import trackeval
    except ImportError as error:
        raise ImportError(
            "the tracking metrics need trackeval: `pip install --no-deps trackeval==1.3.0 tabulate` "
            f"(--no-deps: it asks for the GUI opencv-python, which overwrites the headless one) ({error})"
        ) from error
    return trackeval


# ---- inputs ---------------------------------------------------------------------------------------------
def resolve_class_ids(
    classes: Sequence[str] | None, class_ids: Sequence[int] | None
) -> tuple[list[str], list[int]]:
    """The evaluated class names and their MOT class ids, with :func:`evaluate_mot`'s defaults.

    Raises:
        ValueError: ids not distinct, not >= 1 or not one per class; repeated or reserved class names.
    """
    classes = ["pedestrian"] if classes is None else [str(c) for c in classes]
    if class_ids is None:
        if all(c in MOT_CLASS_IDS_BY_NAME for c in classes):
            class_ids = [MOT_CLASS_IDS_BY_NAME[c] for c in classes]
        else:
            class_ids = list(range(1, len(classes) + 1))
    class_ids = [int(c) for c in class_ids]
    if len(class_ids) != len(classes) or len(set(class_ids)) != len(class_ids) or min(class_ids) < 1:
        raise ValueError(
            f"evaluate_mot: class_ids {class_ids} must be distinct ids >= 1, one per class of {classes}"
        )
    clash = [c for c in classes if c in _RESERVED or not c]
    if clash or len(set(classes)) != len(classes):
        raise ValueError(f"evaluate_mot: class names must be distinct and not {_RESERVED}, got {classes}")
    return classes, class_ids


def _load_split(gt_dir: Path, pred_dir: Path, sequences: Sequence[str] | None) -> dict[str, dict]:
    """``{seq: {"gt": (N, 9), "pred": (M, 10), "length": int, "info": seqinfo dict}}`` in sorted order.

    A sequence is named by its folder (as trackeval's seqmaps name them)."""
    if (gt_dir / "gt" / "gt.txt").is_file():
        seq_dirs = {gt_dir.name: gt_dir}
    elif gt_dir.is_dir():
        seq_dirs = {d.name: d for d in sorted(gt_dir.iterdir()) if (d / "gt" / "gt.txt").is_file()}
    else:
        seq_dirs = {}
    if not seq_dirs:
        raise FileNotFoundError(f"evaluate_mot: no <SEQ>/gt/gt.txt under {gt_dir}")
    if sequences is not None:
        missing = [s for s in sequences if s not in seq_dirs]
        if missing:
            raise ValueError(f"evaluate_mot: sequences {missing} are not in {gt_dir} ({sorted(seq_dirs)})")
        seq_dirs = {s: seq_dirs[s] for s in sequences}
    data = {}
    for seq, seq_dir in sorted(seq_dirs.items()):
        pred_file = pred_dir if pred_dir.is_file() and len(seq_dirs) == 1 else pred_dir / f"{seq}.txt"
        if not pred_file.is_file():
            raise FileNotFoundError(f"evaluate_mot: no result file {pred_file} for the sequence {seq!r}")
        gt, pred = read_mot_rows(seq_dir / "gt" / "gt.txt", "gt"), read_mot_rows(pred_file, "pred")
        info = _read_seqinfo(seq_dir)
        length = int(info.get("seqLength", 0)) or int(max(gt[:, 0].max(initial=0), pred[:, 0].max(initial=0)))
        for rows, path in ((gt, seq_dir / "gt" / "gt.txt"), (pred, pred_file)):
            if len(rows) and rows[:, 0].max() > length:
                raise ValueError(
                    f"evaluate_mot: {path} has frame {int(rows[:, 0].max())} beyond seqLength={length} of "
                    f"{seq_dir / 'seqinfo.ini'}"
                )
        data[seq] = {"gt": gt, "pred": pred, "length": max(length, 1), "info": info}
    return data


def _read_seqinfo(seq_dir: Path) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # keep MOT's camelCase keys
    if parser.read(seq_dir / "seqinfo.ini") and parser.has_section("Sequence"):
        return dict(parser["Sequence"])
    return {}


# ---- one class, one trackeval run -----------------------------------------------------------------------
def _write_class_split(work: Path, data: dict[str, dict], class_id: int, class_ids: Sequence[int]) -> None:
    """The folders trackeval reads for ``class_id``: ``gt/<SEQ>/{gt/gt.txt, seqinfo.ini}``,
    ``trackers/pred/<SEQ>.txt`` and ``seqmap.txt`` (see the module docstring for the relabelling)."""
    distractors = [d for d in _DISTRACTOR_IDS if d not in class_ids]
    (work / "trackers" / "pred").mkdir(parents=True)
    for seq, item in data.items():
        seq_dir = work / "gt" / seq
        (seq_dir / "gt").mkdir(parents=True)
        gt = item["gt"].copy()
        own, distractor = gt[:, 7] == class_id, np.isin(gt[:, 7], distractors)
        gt[own, 1] = _dense_ids(gt[own, 1])
        gt[~own, 1] = (gt[own, 1].max(initial=0) + 1) + np.arange((~own).sum())
        gt[:, 7] = np.where(own, 1, np.where(distractor, gt[:, 7], _OTHER_CLASS))
        _save_rows(seq_dir / "gt" / "gt.txt", gt)
        info = configparser.ConfigParser()
        info.optionxform = str
        info["Sequence"] = {**item["info"], "name": seq, "seqLength": str(item["length"])}
        with open(seq_dir / "seqinfo.ini", "w") as file:
            info.write(file, space_around_delimiters=False)
        pred = item["pred"]
        pred = pred[np.where(pred[:, 7] == -1, 1, pred[:, 7]) == class_id].copy()
        pred[:, 1], pred[:, 7] = _dense_ids(pred[:, 1]), 1
        _save_rows(work / "trackers" / "pred" / f"{seq}.txt", pred)
    (work / "seqmap.txt").write_text("name\n" + "".join(f"{seq}\n" for seq in data))


def _dense_ids(ids: np.ndarray) -> np.ndarray:
    """Ids renumbered 1..K in sorted order (trackeval sizes a lookup table by the largest id)."""
    return np.unique(ids, return_inverse=True)[1].reshape(-1) + 1.0


def _save_rows(path: Path, rows: np.ndarray) -> None:
    fmt = ["%d", "%d"] + ["%.17g"] * (rows.shape[1] - 2)
    fmt[7] = "%d"
    np.savetxt(path, rows, fmt=fmt, delimiter=",")


def _run_trackeval(work: Path, seqs: list[str], metrics: Sequence[str], name: str) -> dict:
    """trackeval's results for the class-1 split in ``work``: ``{seq or "COMBINED_SEQ": {metric: res}}``."""
    trackeval = import_trackeval()

    eval_config = {
        **trackeval.Evaluator.get_default_eval_config(),
        **{"USE_PARALLEL": False, "BREAK_ON_ERROR": True, "RETURN_ON_ERROR": False, "LOG_ON_ERROR": None},
        **{k: False for k in ("PRINT_RESULTS", "PRINT_CONFIG", "TIME_PROGRESS", "OUTPUT_SUMMARY")},
        **{k: False for k in ("OUTPUT_EMPTY_CLASSES", "OUTPUT_DETAILED", "PLOT_CURVES")},
    }
    dataset_config = {
        **trackeval.datasets.MotChallenge2DBox.get_default_dataset_config(),
        "GT_FOLDER": str(work / "gt"),
        "TRACKERS_FOLDER": str(work / "trackers"),
        "OUTPUT_FOLDER": str(work / "output"),
        "TRACKERS_TO_EVAL": ["pred"],
        "CLASSES_TO_EVAL": ["pedestrian"],
        "BENCHMARK": "MOT17",
        "SEQMAP_FILE": str(work / "seqmap.txt"),
        "SKIP_SPLIT_FOL": True,
        "TRACKER_SUB_FOLDER": "",
        "PRINT_CONFIG": False,
    }
    output = io.StringIO()  # trackeval prints progress (and tracebacks on errors)
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            evaluator = trackeval.Evaluator(eval_config)
            dataset = trackeval.datasets.MotChallenge2DBox(dataset_config)
            metric_list = [getattr(trackeval.metrics, m)({"PRINT_CONFIG": False}) for m in metrics]
            results, _ = evaluator.evaluate([dataset], metric_list)
    except trackeval.utils.TrackEvalException as error:
        raise ValueError(f"evaluate_mot: trackeval could not evaluate the class {name!r}: {error}") from None
    per_seq = results["MotChallenge2DBox"]["pred"]
    return {seq: per_seq[seq]["pedestrian"] for seq in [*seqs, "COMBINED_SEQ"]}


# ---- combination and flat keys --------------------------------------------------------------------------
def _flatten_all(per_class: dict[str, dict], seqs: list[str], metrics: Sequence[str]) -> dict[str, float]:
    trackeval = import_trackeval()

    objects = {m: getattr(trackeval.metrics, m)({"PRINT_CONFIG": False}) for m in metrics}
    combined = {name: res["COMBINED_SEQ"] for name, res in per_class.items()}
    out = _flatten(_combine_classes(combined, objects, averaged=True), metrics)
    out.update(_flatten(_combine_classes(combined, objects, averaged=False), metrics, "det_av/"))
    for name, res in combined.items():
        out.update(_flatten(res, metrics, f"{name}/"))
    for seq in seqs:
        by_class = {name: res[seq] for name, res in per_class.items()}
        out.update(_flatten(_combine_classes(by_class, objects, averaged=True), metrics, f"seq/{seq}/"))
    return out


def _combine_classes(by_class: dict[str, dict], objects: dict[str, Any], averaged: bool) -> dict[str, dict]:
    """Each metric's class combination of ``{class: {metric: res}}`` (one class: its own results)."""
    if len(by_class) == 1:
        return next(iter(by_class.values()))
    combined = {}
    for metric, obj in objects.items():
        res = {name: value[metric] for name, value in by_class.items()}
        if averaged:
            nonempty = any(_has_data(metric, r) for r in res.values())
            combined[metric] = obj.combine_classes_class_averaged(res, ignore_empty_classes=nonempty)
        else:
            combined[metric] = obj.combine_classes_det_averaged(res)
    return combined


def _has_data(metric: str, res: dict) -> bool:
    """trackeval's ``ignore_empty_classes`` test: any ground truth or prediction in the class."""
    if metric == "HOTA":
        return bool((res["HOTA_TP"] + res["HOTA_FN"] + res["HOTA_FP"] > 0).any())
    if metric == "CLEAR":
        return res["CLR_TP"] + res["CLR_FN"] + res["CLR_FP"] > 0
    return res["IDTP"] + res["IDFN"] + res["IDFP"] > 0


def _flatten(res: dict[str, dict], metrics: Sequence[str], prefix: str = "") -> dict[str, float]:
    return {
        f"{prefix}{key}": float(np.mean(res[metric][field]))
        for metric in metrics
        for key, field in _FIELDS[metric].items()
    }
