"""Pose results as files: COCO keypoint result JSONs, written during ``test`` and scored by ``eval``.

The standard result file of 2D multi-person pose is COCO's keypoint result list (what the COCO
evaluation server takes), written by ``CocoKeypointMetric(outfile_prefix=PREFIX)``:

- ``PREFIX.keypoints.json``: ``[{"image_id", "category_id", "keypoints": [x1, y1, s1, ..., xK, yK, sK],
  "score", "bbox": [x, y, w, h]}]``: coordinates in original-image pixels, the third value of each
  keypoint is the model's keypoint score (as MMPose writes it; COCOeval reads only x and y), ``score``
  the rescored instance score, ``bbox`` the person box the top-down model cropped (absent when the
  model had none; COCOeval then takes the detection's area from the keypoints' extent, else from it);
- ``PREFIX.gt.json`` when the metric had no ``ann_file``: the COCO keypoint ground truth it built from
  the samples.

:func:`evaluate_files` scores them against a COCO keypoint annotation file with the metric's own
evaluation (:meth:`CocoKeypointMetric.evaluate_results`), so the keys and values are those of ``test``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..result_files import metric_entries, read_json_list

__all__ = [
    "BOX_AREA_RATIO",
    "evaluate_files",
    "ground_truth_to_coco",
    "instances_to_coco",
    "keypoint_result_file",
    "prepare_keypoint_annotations",
    "read_keypoint_ground_truth",
    "read_keypoint_results",
    "write_keypoint_results",
]

logger = logging.getLogger(__name__)

# options of a test-time CocoKeypointMetric that write files or need the config's own ground truth
_WRITER_OPTIONS = ("ann_file", "outfile_prefix", "format_only")


def _plain_id(value: Any) -> Any:
    """An image / annotation id as a JSON-writable Python scalar (tensors and NumPy scalars unwrapped)."""
    if hasattr(value, "item") and np.ndim(value) == 0:
        return value.item()
    return value


def instances_to_coco(instances: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Scored person instances -> COCO keypoint results.

    Args:
        instances: dicts with ``img_id``, ``category_id``, ``keypoints`` (K, 2) original-image pixels,
            ``keypoint_scores`` (K,), ``score`` (the instance score) and ``bbox`` ((4,) xyxy or None).

    Returns:
        ``{"image_id", "category_id", "keypoints": 3K floats (x, y, keypoint score), "score"}`` dicts,
        plus ``"bbox": [x, y, w, h]`` for instances with a box, in the order given.
    """
    results = []
    for instance in instances:
        keypoints = np.asarray(instance["keypoints"], dtype=np.float64).reshape(-1, 2)
        scores = np.asarray(instance["keypoint_scores"], dtype=np.float64).reshape(-1, 1)
        result = {
            "image_id": _plain_id(instance["img_id"]),
            "category_id": int(instance["category_id"]),
            "keypoints": np.concatenate([keypoints, scores], axis=1).reshape(-1).tolist(),
            "score": float(instance["score"]),
        }
        if instance.get("bbox") is not None:
            x1, y1, x2, y2 = (float(v) for v in np.asarray(instance["bbox"], dtype=np.float64).reshape(4))
            result["bbox"] = [x1, y1, x2 - x1, y2 - y1]
        results.append(result)
    return results


def ground_truth_to_coco(
    records: Sequence[Mapping[str, Any]],
    class_names: Sequence[str] | None = None,
    keypoint_names: Sequence[str] | None = None,
    skeleton: Sequence[Sequence[int]] | None = None,
    extra_category_ids: Sequence[int] = (),
) -> dict[str, Any]:
    """Ground-truth records (one per sample) -> a COCO keypoint dataset dict.

    Images are kept once per ``img_id`` and annotations once per id (top-down samples repeat an image
    once per person); annotations without an id get fresh ids from 1 up that no given id uses.

    Args:
        records: ``{"img_id", "height", "width" (None when unknown), "anns": [{"id" (or None),
            "category_id", "keypoints": 3K list (x, y, v), "num_keypoints", "bbox": [x, y, w, h],
            "area" (or None), "iscrowd"}]}``.
        class_names: category names in sorted category-id order (default ``"class_<id>"``).
        keypoint_names: the category's keypoint names; skeleton: its 0-based limbs (written 1-based,
            as COCO files store them).
        extra_category_ids: categories to declare even without annotations (those of predictions).

    Returns:
        ``{"info", "images", "categories", "annotations"}`` for ``COCO()``.
    """
    images: dict[Any, dict] = {}
    annotations: dict[Any, dict] = {}
    unnamed: list[dict] = []
    for record in records:
        img_id = _plain_id(record["img_id"])
        if img_id not in images:
            image = {"id": img_id}
            if record.get("height") is not None:
                image.update(height=int(record["height"]), width=int(record["width"]))
            images[img_id] = image
        for ann in record["anns"]:
            coco_ann = {key: value for key, value in ann.items() if key != "id" and value is not None}
            coco_ann["image_id"] = img_id
            if ann.get("id") is None:
                unnamed.append(coco_ann)
            elif _plain_id(ann["id"]) not in annotations:
                annotations[_plain_id(ann["id"])] = {"id": _plain_id(ann["id"]), **coco_ann}
    next_id = 1
    for coco_ann in unnamed:  # ids from 1 up: COCOeval reads an id of 0 as "unmatched"
        while next_id in annotations:
            next_id += 1
        annotations[next_id] = {"id": next_id, **coco_ann}
    category_ids = sorted({ann["category_id"] for ann in annotations.values()} | set(extra_category_ids))
    categories = []
    for index, cat_id in enumerate(category_ids):
        name = class_names[index] if class_names and index < len(class_names) else f"class_{cat_id}"
        category = {"id": int(cat_id), "name": name, "supercategory": name}
        if keypoint_names is not None:
            category["keypoints"] = list(keypoint_names)
        if skeleton is not None:
            category["skeleton"] = [[int(a) + 1, int(b) + 1] for a, b in skeleton]
        categories.append(category)
    return {
        "info": {"description": "visionstack keypoint ground truth"},
        "images": list(images.values()),
        "categories": categories,
        "annotations": list(annotations.values()),
    }


def _strip_json(prefix: str | os.PathLike) -> str:
    prefix = os.fspath(prefix)
    return prefix[: -len(".json")] if prefix.endswith(".json") else prefix


def write_keypoint_results(
    results: Sequence[dict], out_prefix: str | os.PathLike, ground_truth: Mapping[str, Any] | None = None
) -> dict[str, Path]:
    """Write COCO keypoint results (and a ground truth) as ``<prefix>.keypoints.json`` (``<prefix>.gt.json``).

    Args:
        results: COCO keypoint result dicts (:func:`instances_to_coco`).
        out_prefix: the file prefix; a trailing ``.json`` is dropped first.
        ground_truth: a COCO dataset dict (:func:`ground_truth_to_coco`) to write as well.

    Returns:
        ``{"keypoints": path, "gt": path}`` of the files written.
    """
    prefix = _strip_json(out_prefix)
    contents: dict[str, Any] = {"keypoints": list(results)}
    if ground_truth is not None:
        contents["gt"] = ground_truth
    written = {kind: Path(f"{prefix}.{kind}.json") for kind in contents}
    written["keypoints"].parent.mkdir(parents=True, exist_ok=True)
    for kind, path in written.items():
        path.write_text(json.dumps(contents[kind]), encoding="utf-8")
    return written


def keypoint_result_file(pred: str | os.PathLike) -> Path:
    """The result file named by ``pred``: the file itself, or the prefix ``P`` of ``P.keypoints.json``.

    Raises:
        FileNotFoundError: naming a path that is neither.
    """
    path = Path(pred)
    if path.is_file():
        return path
    prefixed = Path(f"{_strip_json(pred)}.keypoints.json")
    if prefixed.is_file():
        return prefixed
    raise FileNotFoundError(
        f"COCO keypoint results not found: {str(path)!r} is neither a file nor a prefix P of P.keypoints.json"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _result_problem(result: Any) -> str | None:
    if not isinstance(result, dict):
        return f"expected an object, got {type(result).__name__}"
    missing = [key for key in ("image_id", "category_id", "keypoints", "score") if key not in result]
    if missing:
        return f"missing {missing}"
    if not _is_number(result["score"]):
        return f"score {result['score']!r} is not a number"
    keypoints = result["keypoints"]
    if not isinstance(keypoints, list) or not keypoints or len(keypoints) % 3:
        return "`keypoints` must be a non-empty list [x1, y1, s1, ..., xK, yK, sK] (3K numbers)"
    if not all(_is_number(v) for v in keypoints):
        return "`keypoints` holds a value that is not a number"
    box = result.get("bbox")
    if box is not None and (
        not isinstance(box, list) or len(box) != 4 or not all(_is_number(v) for v in box)
    ):
        return f"bbox {box!r} is not [x, y, w, h] numbers"
    return None


def read_keypoint_results(path: str | os.PathLike) -> list[dict]:
    """The COCO keypoint results stored in ``path``, checked record by record.

    Raises:
        ValueError: not JSON, not a list, records of unequal keypoint counts, or a record without
            ``image_id``, ``category_id``, a numeric ``score`` and ``keypoints`` (3K numbers); naming
            the file and the record.
    """
    path = Path(path)
    results = read_json_list(path, "COCO keypoint results", "person instances")
    for index, result in enumerate(results):
        problem = _result_problem(result)
        if problem is None and len(result["keypoints"]) != len(results[0]["keypoints"]):
            problem = f"{len(result['keypoints']) // 3} keypoints, but result 0 has {len(results[0]['keypoints']) // 3}"
        if problem:
            raise ValueError(f"COCO keypoint results {str(path)!r}, result {index}: {problem}")
    return results


# xtcocotools' object scale without annotated areas (CrowdPose, AIC): the box area x 0.53, about the
# mean ratio of a COCO person's segment area to its box area
BOX_AREA_RATIO = 0.53


def read_keypoint_ground_truth(ann_file: str | os.PathLike) -> dict:
    """The COCO dataset dict stored in ``ann_file`` (``images``, ``annotations``, ``categories``).

    Raises:
        FileNotFoundError, ValueError: naming the file.
    """
    path = Path(ann_file)
    if not path.is_file():
        raise FileNotFoundError(f"COCO keypoint annotation file {str(path)!r} does not exist")
    try:
        dataset = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"COCO keypoint annotation file {str(path)!r} is not valid JSON: {error}") from error
    if not isinstance(dataset, dict) or "annotations" not in dataset or "images" not in dataset:
        raise ValueError(
            f"COCO keypoint annotation file {str(path)!r} is not a COCO dataset (images, annotations)"
        )
    dataset.setdefault("categories", [])
    return dataset


def prepare_keypoint_annotations(dataset: dict, use_area: bool, source: str) -> None:
    """Fill in place what COCOeval reads from keypoint annotations: ``iscrowd`` (0), ``num_keypoints``
    (the labelled count) and, with ``use_area=False``, ``area`` = 0.53 x the box area (xtcocotools' rule
    for sets without areas, for the OKS scale and the area ranges alike).

    Raises:
        KeyError: an annotation with keypoints but no ``bbox``, or no ``area`` while ``use_area``;
            naming it and ``source``.
    """
    for ann in dataset["annotations"]:
        if "keypoints" not in ann:
            continue  # another category's annotation; the metric checks the evaluated ones
        if "bbox" not in ann:
            raise KeyError(f"annotation {ann.get('id')} of {source} has no bbox (x, y, w, h)")
        ann.setdefault("iscrowd", 0)
        if "num_keypoints" not in ann:
            ann["num_keypoints"] = int(np.count_nonzero(np.asarray(ann["keypoints"])[2::3] > 0))
        if not use_area:
            ann["area"] = ann["bbox"][2] * ann["bbox"][3] * BOX_AREA_RATIO
        elif "area" not in ann:
            raise KeyError(
                f"annotation {ann.get('id')} of {source} has no area; set use_area=False to scale OKS by "
                f"{BOX_AREA_RATIO} x the box area"
            )


def _keypoint_metric(metrics: Mapping | Sequence[Mapping] | None, gt: str) -> Any:
    """The config's CocoKeypointMetric re-made to score against ``gt`` and write nothing (default: a plain
    one); the config's other metrics (PCK, AUC ...) need the model's samples and are left out."""
    from visionstack.registry import METRICS, build

    from .metrics import CocoKeypointMetric

    entries, others = [], []
    for target, entry in metric_entries(metrics):
        if isinstance(target, type) and issubclass(target, CocoKeypointMetric):
            entries.append(entry)
        else:
            others.append(getattr(target, "__name__", str(target)))
    if len(entries) > 1:
        raise ValueError("eval pose: the config has several CocoKeypointMetric entries; give one")
    if not entries:
        if others:
            raise ValueError(
                f"eval pose scores COCO keypoint results with CocoKeypointMetric; the config's {others} "
                "cannot read them (add a CocoKeypointMetric to test_evaluator)"
            )
        return CocoKeypointMetric(ann_file=gt)
    if others:
        logger.warning("eval pose: %s need the model's predictions and are not computed from files", others)
    cfg = {key: value for key, value in entries[0].items() if key not in _WRITER_OPTIONS}
    return build({**cfg, "ann_file": gt}, METRICS)


def _num_keypoints(results: Sequence[dict], metric: Any) -> int | None:
    if results:
        return len(results[0]["keypoints"]) // 3
    for ann in metric.ground_truth.dataset.get("annotations", []):
        if "keypoints" in ann:
            return len(ann["keypoints"]) // 3
    return None


def evaluate_files(
    gt: str | os.PathLike,
    pred: str | os.PathLike,
    metrics: Mapping | Sequence[Mapping] | None = None,
    classes: Sequence[str] | None = None,
    sigmas: Sequence[float] | None = None,
) -> dict[str, float]:
    """Score a COCO keypoint results file against a COCO keypoint annotation file, as ``visionstack test`` does.

    Every image of ``gt`` is evaluated (an image without results is one where the model found nobody),
    as COCOeval and MMPose's CocoMetric do.

    Args:
        gt: the COCO keypoint annotation JSON (``person_keypoints_val2017.json``, or ``PREFIX.gt.json``
            written by a CocoKeypointMetric without ``ann_file``).
        pred: ``PREFIX.keypoints.json`` or its ``PREFIX``.
        metrics: the config's ``test_evaluator`` (a CocoKeypointMetric dict, or a list holding one): its
            ``use_area``, ``sigmas``, ``backend`` and ``prefix`` are used (its ``ann_file``,
            ``outfile_prefix`` and ``format_only`` are not; score and NMS options were applied when the
            file was written). None: ``CocoKeypointMetric()``.
        classes: the dataset's class names: only those categories of ``gt`` are evaluated; None: all.
        sigmas: the per-keypoint OKS sigmas (the dataset's ``sigmas`` metainfo); None: the metric
            config's, else COCO's 17 when the files hold 17 keypoints (pycocotools' own default).

    Returns:
        ``{"coco/AP": ..., "coco/AP .5": ..., ...}``: the keys and values of the in-process metric.

    Raises:
        FileNotFoundError, ValueError, KeyError: naming the file and record at fault (malformed records,
            an image or category that ``gt`` does not have, sigmas of the wrong length).
    """
    gt = os.fspath(gt)
    if not os.path.isfile(gt):
        raise FileNotFoundError(f"COCO keypoint annotation file not found: {gt!r}")
    path = keypoint_result_file(pred)
    results = read_keypoint_results(path)
    metric = _keypoint_metric(metrics, gt)
    meta: dict[str, Any] = {}
    if classes is not None:
        meta["classes"] = tuple(classes)
    if sigmas is not None:
        meta["sigmas"] = tuple(float(s) for s in sigmas)
    elif metric.sigmas is None and _num_keypoints(results, metric) == 17:
        from .metainfo import COCO_KEYPOINTS

        logger.info("eval pose: no sigmas given; 17 keypoints are scored with COCO's sigmas")
        meta["sigmas"] = tuple(COCO_KEYPOINTS["sigmas"])
    metric.dataset_meta = meta
    try:
        values = metric.evaluate_results(results)
    except ValueError as error:
        raise ValueError(f"COCO keypoint results {str(path)!r}: {error}") from error
    return {f"{metric.prefix}/{key}" if metric.prefix else key: value for key, value in values.items()}
