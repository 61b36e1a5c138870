"""OCR results as files: the JSON that ``test`` writes and ``eval`` scores, for detection, recognition and both.

Each result file is a JSON list with one record per test image (or word crop), in dataset order::

    textdet:   {"img_path": ".../img_1.jpg", "polygons": [[x1, y1, x2, y2, ...], ...], "scores": [0.93, ...]}
    textrecog: {"img_path": ".../word_1.png", "text": "Hello", "score": 0.97, "char_scores": [0.99, ...]}
    ocr:       {"img_path": ..., "polygons": [...], "scores": [...], "texts": ["Hello", ...], "text_scores": [...]}

Polygons are flat ``[x1, y1, x2, y2, ...]`` lists in original-image pixels (MMOCR's layout). Every float32
is stored as its exact float64 value, so what is read back is bit-identical and :func:`evaluate_textdet_files`,
:func:`evaluate_textrecog_files` and :func:`evaluate_ocr_files` give the numbers the metrics give in ``test``.
The readers also take the per-instance layout of ``infer``'s and ``visionstack ocr``'s ``predictions.json``
(``{"img_path", "instances": [{"polygon", "score", "text", "text_score"}]}``); those files round the
coordinates to 2 decimals and the scores to 4, so their numbers may differ from ``test``'s in rare
borderline cases.

Ground truth (read with :mod:`.formats`): an ICDAR 2015 folder (``gt_<image stem>.txt``), a Total-Text
folder (``poly_gt_<image stem>.txt``) or an MMOCR 1.x ``textdet_*.json`` for detection; an ``image text``
list or an MMOCR ``textrecog_*.json`` for recognition.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstack.evaluation import JsonResultWriter
from visionstack.registry import METRICS, build

from ..result_files import metric_entries, read_json_list
from .metrics import (
    CharMetric,
    E2EHmeanIOUMetric,
    HmeanIOUMetric,
    OCREndToEndMetric,
    OneMinusNEDMetric,
    WordMetric,
)

__all__ = [
    "OCRResultWriter",
    "TextDetResultWriter",
    "TextRecogResultWriter",
    "evaluate_ocr_files",
    "evaluate_textdet_files",
    "evaluate_textrecog_files",
    "read_textdet_ground_truth",
    "read_textdet_results",
    "read_textrecog_results",
]

GT_FORMATS = ("icdar2015", "totaltext", "mmocr")
DET_OPTIONS = ("match_iou_thr", "ignore_precision_thr", "pred_score_thrs", "strategy")
_GT_PREFIXES = {"icdar2015": "gt_", "totaltext": "poly_gt_"}


def _floats(value: Any) -> list[float]:
    if isinstance(value, torch.Tensor):
        value = value.detach().float().cpu().numpy()
    return [float(v) for v in np.asarray(value, dtype=np.float32).reshape(-1)]


def _img_path(sample: Any, index: int, owner: str) -> str:
    path = sample.get("img_path")
    if path is None:
        raise KeyError(
            f"{owner}: data_samples[{index}] has no img_path metainfo; the file matches images by path"
        )
    return str(path)


def _instance_fields(sample: Any, index: int, owner: str, keys: Sequence[str]) -> dict[str, Any]:
    instances = sample.get("pred_instances")
    if instances is None:
        raise KeyError(f"{owner}: data_samples[{index}] has no pred_instances")
    record: dict[str, Any] = {"polygons": [_floats(p) for p in (instances.get("polygons") or [])]}
    for key in keys:
        value = instances.get(key)
        if value is None:
            raise KeyError(f"{owner}: data_samples[{index}].pred_instances has no {key}")
        record[key] = [str(v) for v in value] if key == "texts" else _floats(value)
    return record


@METRICS.register()
class TextDetResultWriter(JsonResultWriter):
    """Writes each test image's ``img_path``, ``polygons`` (flat) and ``scores`` (see the module docstring).

    Not a metric: put it next to ``HmeanIOUMetric`` in ``test_evaluator``; it returns no value.

    Args:
        out_file: the JSON file to write (folders are created).
        collect_device, prefix: see :class:`~visionstack.evaluation.BaseMetric`.
    """

    default_prefix = "textdet_results"
    fields: tuple[str, ...] = ("scores",)

    def __init__(
        self, out_file: str | os.PathLike, collect_device: str = "cpu", prefix: str | None = None
    ) -> None:
        super().__init__(out_file, collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        owner = type(self).__name__
        for index, sample in enumerate(data_samples):
            record = {"img_path": _img_path(sample, index, owner)}
            record.update(_instance_fields(sample, index, owner, self.fields))
            self.results.append(record)


@METRICS.register()
class OCRResultWriter(TextDetResultWriter):
    """Writes each image's ``img_path``, ``polygons``, ``scores``, ``texts`` and ``text_scores`` (end to end)."""

    default_prefix = "ocr_results"
    fields = ("scores", "texts", "text_scores")


@METRICS.register()
class TextRecogResultWriter(JsonResultWriter):
    """Writes each word crop's ``img_path``, ``text``, ``score`` and ``char_scores``.

    Not a metric: put it next to ``WordMetric`` in ``test_evaluator``; it returns no value.

    Args:
        out_file: the JSON file to write (folders are created).
        collect_device, prefix: see :class:`~visionstack.evaluation.BaseMetric`.
    """

    default_prefix = "textrecog_results"

    def __init__(
        self, out_file: str | os.PathLike, collect_device: str = "cpu", prefix: str | None = None
    ) -> None:
        super().__init__(out_file, collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            path = _img_path(sample, index, "TextRecogResultWriter")
            pred = sample.get("pred_text")
            if pred is None or pred.get("item") is None:
                raise KeyError(f"TextRecogResultWriter: data_samples[{index}] ({path}) has no pred_text.item")
            score = pred.get("score")
            self.results.append(
                {
                    "img_path": path,
                    "text": str(pred.get("item")),
                    "score": 0.0 if score is None else _floats(score)[0],
                    "char_scores": _floats(pred.get("char_scores", [])),
                }
            )


# ---- reading predictions ------------------------------------------------------------------------------
def _columns(record: Mapping[str, Any], where: str, with_texts: bool) -> dict[str, Any]:
    """A result record of either layout as ``polygons`` ((P, 2) float32 list), ``scores`` and ``texts``."""
    if "instances" in record:
        items = record["instances"]
        if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
            raise ValueError(f"{where}: `instances` must be a list of objects")
        polygons = [item.get("polygon") for item in items]
        scores = [item.get("score", 1.0) for item in items]
        texts = [item.get("text") for item in items]
    else:
        polygons, scores = record.get("polygons"), record.get("scores")
        texts = record.get("texts")
        if not isinstance(polygons, list) or not isinstance(scores, list):
            raise ValueError(f"{where}: expected `polygons` and `scores` lists (or an `instances` list)")
    if len(polygons) != len(scores):
        raise ValueError(f"{where}: {len(polygons)} polygons but {len(scores)} scores")
    columns: dict[str, Any] = {"img_path": record["img_path"]}
    try:
        columns["polygons"] = [np.asarray(p, dtype=np.float32).reshape(-1, 2) for p in polygons]
        columns["scores"] = np.asarray(scores, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: a polygon or score is not numeric ({error})") from error
    if any(p.shape[0] < 3 for p in columns["polygons"]):
        raise ValueError(f"{where}: a polygon has fewer than 3 points")
    if with_texts:
        if texts is None or len(texts) != len(polygons) or any(t is None for t in texts):
            raise ValueError(f"{where}: every region needs a text (`texts` or the instances' `text`)")
        columns["texts"] = [str(t) for t in texts]
    return columns


def _result_records(path: str | os.PathLike, what: str) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {str(path)!r}")
    records = read_json_list(path, what, "per-image records")
    for index, record in enumerate(records):
        if not isinstance(record, Mapping) or not isinstance(record.get("img_path"), str):
            raise ValueError(
                f"{what} {str(path)!r}, record {index}: expected an object with an `img_path` string"
            )
    return records


def read_textdet_results(path: str | os.PathLike, with_texts: bool = False) -> list[dict]:
    """The records of a detection (or, ``with_texts``, end-to-end) result file as ``dict(img_path,
    polygons=[(P, 2) float32], scores=(N,) float32, texts=[str])``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file and the record at fault.
    """
    what = "OCR results" if with_texts else "text-detection results"
    return [
        _columns(record, f"{what} {os.fspath(path)!r}, record {index}", with_texts)
        for index, record in enumerate(_result_records(path, what))
    ]


def read_textrecog_results(path: str | os.PathLike) -> list[dict]:
    """The records of a recognition result file as ``dict(img_path, text)`` (``text`` or ``pred_text.item``)."""
    records = []
    for index, record in enumerate(_result_records(path, "text-recognition results")):
        text = record.get("text", (record.get("pred_text") or {}).get("item"))
        if not isinstance(text, str):
            raise ValueError(
                f"text-recognition results {os.fspath(path)!r}, record {index}: no `text` string"
            )
        records.append({"img_path": record["img_path"], "text": text})
    return records


# ---- reading ground truth -----------------------------------------------------------------------------
def _gt_format(gt: Path, gt_format: str | None) -> str:
    if gt_format is not None:
        if gt_format not in GT_FORMATS:
            raise ValueError(f"gt_format must be one of {GT_FORMATS}, got {gt_format!r}")
        return gt_format
    if gt.is_file():
        return "mmocr"
    names = [p.name for p in gt.glob("*.txt")]
    if any(name.startswith("poly_gt_") for name in names):
        return "totaltext"
    if any(name.startswith("gt_") for name in names):
        return "icdar2015"
    raise ValueError(
        f"{str(gt)!r} holds no gt_<image>.txt (ICDAR 2015) nor poly_gt_<image>.txt (Total-Text) file; "
        "pass gt_format or an MMOCR JSON file"
    )


def read_textdet_ground_truth(gt: str | os.PathLike, gt_format: str | None = None) -> dict[str, list[dict]]:
    """``{image stem: records dict(polygon, text, ignore)}`` of a ground-truth folder or MMOCR JSON.

    Args:
        gt: an ICDAR 2015 folder (``gt_img_1.txt`` describes the image ``img_1``), a Total-Text folder
            (``poly_gt_img1.txt`` describes ``img1``) or an MMOCR 1.x detection JSON (by ``img_path``).
        gt_format: ``"icdar2015"``, ``"totaltext"`` or ``"mmocr"``; None guesses from the file names.

    Raises:
        FileNotFoundError: ``gt`` does not exist.
        ValueError: no ground-truth file, two for one image stem, or a bad record (named by the reader).
    """
    from .formats import read_icdar2015_gt, read_mmocr_json, read_totaltext_gt

    path = Path(gt)
    if not path.exists():
        raise FileNotFoundError(f"text-detection ground truth not found: {str(path)!r}")
    kind = _gt_format(path, gt_format)
    images: dict[str, list[dict]] = {}
    if kind == "mmocr":
        for entry in read_mmocr_json(path)["data_list"]:
            stem = Path(entry["img_path"]).stem
            if stem in images:
                raise ValueError(f"{str(path)!r}: two entries for the image {stem!r}")
            images[stem] = [_mmocr_record(instance) for instance in entry["instances"]]
        return images
    prefix = _GT_PREFIXES[kind]
    reader = read_icdar2015_gt if kind == "icdar2015" else read_totaltext_gt
    for file in sorted(path.glob(f"{prefix}*.txt")):
        images[file.stem[len(prefix) :]] = reader(file)
    return images


def _mmocr_record(instance: Mapping[str, Any]) -> dict:
    polygon = instance.get("polygon")
    if polygon is None:  # a box-only instance: its rectangle, clockwise from the top-left
        x1, y1, x2, y2 = (float(v) for v in instance["bbox"])
        polygon = np.asarray([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float32)
    return {"polygon": polygon, "text": str(instance.get("text", "")), "ignore": bool(instance.get("ignore"))}


def _by_stem(records: list[dict], gt_stems: Sequence[str], gt: str, pred: str) -> list[dict]:
    """The prediction of every ground-truth image (matched by the image file's stem), in gt order."""
    found: dict[str, int] = {}
    for index, record in enumerate(records):
        stem = Path(record["img_path"].replace("\\", "/")).stem
        if stem in found:
            raise ValueError(f"{pred!r}: records {found[stem]} and {index} are both predictions for {stem!r}")
        found[stem] = index
    unknown = sorted(set(found) - set(gt_stems))
    if unknown:
        raise ValueError(f"{pred!r} has predictions for images without ground truth in {gt!r}: {unknown[:5]}")
    missing = [stem for stem in gt_stems if stem not in found]
    if missing:
        shown = ", ".join(repr(stem) for stem in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ValueError(f"{pred!r} has no prediction for {len(missing)} image(s) of {gt!r}: {shown}")
    return [records[found[stem]] for stem in gt_stems]


def _det_samples(
    gt: str | os.PathLike, pred: str | os.PathLike, gt_format: str | None, texts: bool
) -> list[dict]:
    truth = read_textdet_ground_truth(gt, gt_format)
    if not truth:
        raise ValueError(f"{os.fspath(gt)!r} holds no ground-truth image")
    matched = _by_stem(
        read_textdet_results(pred, with_texts=texts), list(truth), os.fspath(gt), os.fspath(pred)
    )
    samples = []
    for record, regions in zip(matched, truth.values()):
        pred_instances = {key: record[key] for key in ("polygons", "scores", "texts") if key in record}
        gt_instances = {
            "polygons": [region["polygon"] for region in regions],
            "ignored": np.asarray([bool(region["ignore"]) for region in regions], dtype=bool),
            "texts": [str(region["text"]) for region in regions],
        }
        samples.append(
            {"img_path": record["img_path"], "pred_instances": pred_instances, "gt_instances": gt_instances}
        )
    return samples


def _score(metrics: Sequence[Any], samples: list[dict]) -> dict[str, float]:
    results: dict[str, float] = {}
    for metric in metrics:
        metric.process(None, samples)
        for name, value in metric.evaluate(len(samples)).items():
            if name in results:
                raise ValueError(f"two metrics give {name!r}; set a different prefix on one of them")
            results[name] = value
    return results


def _configured(metrics: Mapping | Sequence[Mapping] | None, kinds: tuple[type, ...]) -> list[Any]:
    """The entries of a ``test_evaluator`` config whose class is one of ``kinds``, built."""
    return [
        build(dict(entry), METRICS) for target, entry in metric_entries(metrics) if issubclass(target, kinds)
    ]


# ---- scoring ------------------------------------------------------------------------------------------
def evaluate_textdet_files(
    gt: str | os.PathLike,
    pred: str | os.PathLike,
    gt_format: str | None = None,
    metrics: Mapping | Sequence[Mapping] | None = None,
    classes: Sequence[str] | None = None,
    **options: Any,
) -> dict[str, float]:
    """Score a text-detection result file against ground truth, with ``test``'s numbers.

    Predictions go with ground-truth images by the stem of ``img_path`` (``.../img_7.jpg`` is the image of
    ``gt_img_7.txt``); every ground-truth image needs exactly one record, and a record of an image
    without ground truth is an error.

    Args:
        gt: see :func:`read_textdet_ground_truth`.
        pred: the JSON of :class:`TextDetResultWriter` (or ``infer``'s per-instance records).
        gt_format: see :func:`read_textdet_ground_truth`.
        metrics: a config's ``test_evaluator``; its ``HmeanIOUMetric`` entries are used as configured.
        classes: unused (text detection has one class), accepted as the other tasks' ``evaluate_files``.
        **options: :class:`~.metrics.HmeanIOUMetric` arguments when ``metrics`` has none.

    Returns:
        ``{"icdar/precision", "icdar/recall", "icdar/hmean"}`` (and ``icdar/sweep_best_score_thr``).
    """
    built = _configured(metrics, (HmeanIOUMetric,)) or [HmeanIOUMetric(**options)]
    return _score(built, _det_samples(gt, pred, gt_format, texts=False))


def evaluate_ocr_files(
    gt: str | os.PathLike,
    pred: str | os.PathLike,
    gt_format: str | None = None,
    metrics: Mapping | Sequence[Mapping] | None = None,
    classes: Sequence[str] | None = None,
    **options: Any,
) -> dict[str, float]:
    """Score an end-to-end result file: detection hmean and end-to-end precision, recall and hmean (F1).

    Args:
        gt, gt_format: as :func:`evaluate_textdet_files` (the ground truth's transcriptions are used).
        pred: the JSON of :class:`OCRResultWriter` or ``visionstack ocr``'s ``predictions.json``.
        metrics: a config's ``test_evaluator``: its ``HmeanIOUMetric`` and ``E2EHmeanIOUMetric`` /
            ``OCREndToEndMetric`` entries are used as configured.
        classes: unused.
        **options: :class:`~.metrics.OCREndToEndMetric` arguments when ``metrics`` has none; the detection
            metric takes the shared ones (``match_iou_thr``, ``ignore_precision_thr``, ``pred_score_thrs``,
            ``strategy``).

    Returns:
        ``icdar/precision``, ``icdar/recall``, ``icdar/hmean`` (detection) and ``icdar/e2e_precision``,
        ``icdar/e2e_recall``, ``icdar/e2e_hmean`` (:class:`~.metrics.OCREndToEndMetric`'s keys).
    """
    built = _configured(metrics, (HmeanIOUMetric, E2EHmeanIOUMetric))
    if not built:
        det_options = {key: value for key, value in options.items() if key in DET_OPTIONS}
        built = [HmeanIOUMetric(**det_options), OCREndToEndMetric(**options)]
    return _score(built, _det_samples(gt, pred, gt_format, texts=True))


def evaluate_textrecog_files(
    gt_list: str | os.PathLike,
    pred: str | os.PathLike,
    metrics: Mapping | Sequence[Mapping] | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, float]:
    """Score a recognition result file against an ``image text`` list (or an MMOCR ``textrecog_*.json``).

    A prediction's ``img_path`` goes with the list entry whose path is (1) the prediction's path made
    relative to the list's folder, else (2) the longest trailing part of it, component by component
    (``/data/textrecog/test/word_1.png`` is ``test/word_1.png``), else (3) the only entry with its basename.
    Every entry needs exactly one prediction.

    Args:
        gt_list: the list file or JSON.
        pred: the JSON of :class:`TextRecogResultWriter`.
        metrics: a config's ``test_evaluator``; its ``WordMetric``, ``CharMetric`` and ``OneMinusNEDMetric``
            entries are used as configured (default: all three with their defaults).
        classes: unused.

    Returns:
        ``recog/word_acc``, ``recog/word_acc_ignore_case``, ``recog/word_acc_ignore_case_symbol``,
        ``recog/char_recall``, ``recog/char_precision``, ``recog/1-N.E.D`` (with the default metrics).
    """
    gt_path = Path(gt_list)
    truth = _recognition_truth(gt_path)
    records = read_textrecog_results(pred)
    matched = _match_paths(
        [r["img_path"] for r in records], list(truth), gt_path.resolve().parent, str(gt_path), os.fspath(pred)
    )
    samples = [
        {"pred_text": {"item": records[index]["text"]}, "gt_text": {"item": text}}
        for index, text in zip(matched, truth.values())
    ]
    kinds = (WordMetric, CharMetric, OneMinusNEDMetric)
    built = _configured(metrics, kinds) or [kind() for kind in kinds]
    return _score(built, samples)


def _recognition_truth(path: Path) -> dict[str, str]:
    from .formats import read_mmocr_json, read_recog_list

    if not path.is_file():
        raise FileNotFoundError(f"text-recognition ground truth not found: {str(path)!r}")
    if path.suffix.lower() == ".json":
        pairs = []
        for index, entry in enumerate(read_mmocr_json(path)["data_list"]):
            texts = [instance["text"] for instance in entry["instances"] if "text" in instance]
            if len(texts) != 1:
                raise ValueError(
                    f"{str(path)!r}, data_list[{index}]: expected one text instance, got {len(texts)}"
                )
            pairs.append((entry["img_path"], texts[0]))
    else:
        pairs = read_recog_list(path)
    truth: dict[str, str] = {}
    for image, text in pairs:
        if image in truth:
            raise ValueError(f"{str(path)!r} lists {image!r} twice")
        truth[image] = text
    if not truth:
        raise ValueError(f"{str(path)!r} lists no word crop")
    return truth


def _parts(path: str) -> tuple[str, ...]:
    return tuple(
        part for part in os.path.normpath(path).replace("\\", "/").split("/") if part not in ("", ".")
    )


def _match_paths(paths: list[str], gt_paths: list[str], root: Path, gt: str, pred: str) -> list[int]:
    """For every ground-truth path (in order), the index of its prediction (see evaluate_textrecog_files)."""
    keys = {_parts(p): i for i, p in enumerate(gt_paths)}
    by_name: dict[str, int | None] = {}
    for key, i in keys.items():
        by_name[key[-1]] = None if key[-1] in by_name else i
    owner: dict[int, int] = {}
    for index, path in enumerate(paths):
        found = None
        parts = _parts(path)
        if os.path.isabs(path):
            relative = os.path.relpath(path, root)
            found = None if relative.startswith("..") else keys.get(_parts(relative))
        for depth in range(len(parts), 0, -1):
            if found is not None:
                break
            found = keys.get(parts[-depth:])
        if found is None and parts:
            found = by_name.get(parts[-1])
        if found is None:
            raise ValueError(f"{pred!r}, record {index}: {path!r} is not a crop listed in {gt!r}")
        if found in owner:
            raise ValueError(
                f"{pred!r}: records {owner[found]} and {index} are both predictions for {gt_paths[found]!r}"
            )
        owner[found] = index
    missing = [gt_paths[i] for i in range(len(gt_paths)) if i not in owner]
    if missing:
        raise ValueError(f"{pred!r} has no prediction for {len(missing)} crop(s) of {gt!r}: {missing[:5]}")
    return [owner[i] for i in range(len(gt_paths))]
