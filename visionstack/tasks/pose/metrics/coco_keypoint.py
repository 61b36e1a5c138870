"""COCO keypoint AP/AR (:class:`CocoKeypointMetric`, MMPose's ``CocoMetric``).

A top-down model predicts one person per sample; the metric groups the predictions by image, keeps one per
annotation id, rescores each (``bbox_keypoint``: box score x mean of the keypoint scores above
``keypoint_score_thr``), removes duplicates by OKS-NMS (:mod:`.oks`) and runs COCOeval(iouType="keypoints")
with the dataset's per-keypoint ``sigmas``: 10 OKS thresholds 0.50:0.95, 20 detections per image, the medium
(32^2..96^2) and large (> 96^2) area ranges. Keys (prefix ``coco``), MMPose's names and COCOeval's ``stats``
order: ``AP``, ``AP .5``, ``AP .75``, ``AP (M)``, ``AP (L)``, ``AR``, ``AR .5``, ``AR .75``, ``AR (M)``,
``AR (L)``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstack.evaluation import BaseMetric, sample_fields
from visionstack.registry import METRICS

from ....evaluation.coco_eval import coco_api as _coco_api
from ....evaluation.coco_eval import summarize_coco_eval
from ..results import (
    ground_truth_to_coco,
    instances_to_coco,
    prepare_keypoint_annotations,
    read_keypoint_ground_truth,
    write_keypoint_results,
)
from ._common import _first_present, _instance_field, _numpy, _per_instance
from .oks import MAX_DETS, oks_nms, soft_oks_nms

__all__ = ["CocoKeypointMetric"]

logger = logging.getLogger(__name__)

BACKENDS = ("pycocotools", "faster_coco_eval")
SCORE_MODES = ("bbox", "bbox_keypoint", "bbox_rle", "keypoint")
NMS_MODES = ("oks_nms", "soft_oks_nms", "none")
# (key, ap?, OKS threshold or None for all, area range), COCOeval's keypoint stats in order
_KEYPOINT_STATS = (
    ("AP", True, None, "all"),
    ("AP .5", True, 0.5, "all"),
    ("AP .75", True, 0.75, "all"),
    ("AP (M)", True, None, "medium"),
    ("AP (L)", True, None, "large"),
    ("AR", False, None, "all"),
    ("AR .5", False, 0.5, "all"),
    ("AR .75", False, 0.75, "all"),
    ("AR (M)", False, None, "medium"),
    ("AR (L)", False, None, "large"),
)

_COCO_EXPECTS = (
    "pose DataSamples with img_id metainfo and pred_instances.keypoints (N, K, 2) and keypoint_scores (N, K)"
)


def _read_prediction(sample: Any, index: int, owner: str) -> dict[str, Any]:
    """One sample's person predictions as a small picklable record (see :meth:`CocoKeypointMetric.process`)."""
    img_id, pred = sample_fields(sample, ("img_id", "pred_instances"), owner, index, _COCO_EXPECTS)
    keypoints = _numpy(_instance_field(pred, "keypoints", "pred_instances", owner, index))
    keypoints = keypoints[None] if keypoints.ndim == 2 else keypoints
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(
            f"{owner}: data_samples[{index}].pred_instances.keypoints must be (N, K, 2), got {keypoints.shape}"
        )
    count, num_keypoints = keypoints.shape[:2]
    scores = _numpy(_instance_field(pred, "keypoint_scores", "pred_instances", owner, index))
    if scores.size != count * num_keypoints:
        raise ValueError(
            f"{owner}: data_samples[{index}].pred_instances.keypoint_scores has shape {scores.shape}, "
            f"expected ({count}, {num_keypoints}) as the keypoints"
        )
    gt = sample.get("gt_instances")
    bbox_scores = _first_present((pred, "bbox_scores"), (sample, "bbox_score"), (gt, "bbox_scores"))
    bboxes = _first_present((pred, "bboxes"), (sample, "bbox"))
    scales = _first_present(
        (gt, "bbox_scales"), (pred, "bbox_scales"), (sample, "bbox_scale"), (sample, "input_scale")
    )
    return {
        "img_id": _scalar(img_id),
        "id": _scalar(sample.get("id")),
        "category_id": int(_scalar(sample.get("category_id", 1))),
        "keypoints": keypoints,
        "keypoint_scores": scores.reshape(count, num_keypoints),
        # no box score: 1 (MMPose's default; ground-truth boxes have no score)
        "bbox_scores": np.ones(count)
        if bbox_scores is None
        else _per_instance(bbox_scores, count, "bbox_score", owner, index),
        "bboxes": None if bboxes is None else _per_instance(bboxes, count, "bbox", owner, index, 4),
        "areas": None
        if scales is None
        else _per_instance(scales, count, "bbox_scale", owner, index, 2).prod(1),
    }


def _scalar(value: Any) -> Any:
    if isinstance(value, (torch.Tensor, np.ndarray, np.generic)) and np.size(value) == 1:
        return np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value).item()
    return value


def _read_ground_truth(sample: Any, index: int, owner: str, need_area: bool) -> dict[str, Any]:
    """One sample's ground-truth people as a record for :func:`ground_truth_to_coco`."""
    (gt,) = sample_fields(
        sample, ("gt_instances",), owner, index, "gt_instances to build the ground truth without ann_file"
    )
    where = "gt_instances"
    keypoints = _numpy(_instance_field(gt, "keypoints", where, owner, index))
    keypoints = keypoints[None] if keypoints.ndim == 2 else keypoints
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(
            f"{owner}: data_samples[{index}].gt_instances.keypoints must be (G, K, 2), got {keypoints.shape}"
        )
    count = len(keypoints)
    visible = _numpy(_instance_field(gt, "keypoints_visible", where, owner, index))
    visible = (visible[..., 0] if visible.ndim == 3 else visible).reshape(keypoints.shape[:2])
    boxes = _per_instance(
        _instance_field(gt, "bboxes", where, owner, index), count, "gt_instances.bboxes", owner, index, 4
    )
    areas = gt.get("areas")
    if areas is None and need_area and count:
        raise KeyError(
            f"{owner}: data_samples[{index}].gt_instances has no areas; use_area=True scales OKS by the "
            "annotation area (pack areas, pass ann_file, or set use_area=False for 0.53 x the box area)"
        )
    areas = (
        [None] * count if areas is None else _per_instance(areas, count, "gt_instances.areas", owner, index)
    )
    crowd = gt.get("iscrowd")
    crowd = (
        np.zeros(count)
        if crowd is None
        else _per_instance(crowd, count, "gt_instances.iscrowd", owner, index)
    )
    ids = _first_present((gt, "ids"), (sample, "ids"), (sample, "id"))
    ids = [None] * count if ids is None else list(np.atleast_1d(_numpy(ids, None)).reshape(-1))
    if len(ids) != count:
        ids = [None] * count
    anns = []
    for k in range(count):
        labelled = visible[k] > 0
        x1, y1, x2, y2 = boxes[k].tolist()
        points = np.concatenate([keypoints[k], np.where(labelled, 2.0, 0.0)[:, None]], axis=1)
        anns.append(
            {
                "id": _scalar(ids[k]),
                "category_id": int(_scalar(sample.get("category_id", 1))),
                "keypoints": points.reshape(-1).tolist(),
                "num_keypoints": int(labelled.sum()),
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": None if areas[k] is None else float(areas[k]),
                "iscrowd": int(crowd[k]),
            }
        )
    shape = sample.get("ori_shape")
    return {
        "img_id": _scalar(sample.get("img_id")),
        "height": None if shape is None else int(shape[0]),
        "width": None if shape is None else int(shape[1]),
        "anns": anns,
    }


# ---- the COCO keypoint metric ----------------------------------------------------------------------------
@METRICS.register()
class CocoKeypointMetric(BaseMetric):
    """COCO keypoint AP/AR (OKS), as MMPose's CocoMetric; see the module docstring for keys and rules.

    ``process`` reads, per sample (one person for top-down models, N for bottom-up): ``img_id``, ``id``
    (the annotation id: duplicates are dropped) and ``category_id`` (default 1) metainfo;
    ``pred_instances.keypoints`` (N, K, 2) original-image pixels and ``keypoint_scores`` (N, K); the box
    score (``pred_instances.bbox_scores``, else the ``bbox_score`` metainfo, else
    ``gt_instances.bbox_scores``, else 1) and box (``pred_instances.bboxes``, else the ``bbox`` metainfo,
    (N, 4) xyxy; written to the results so that COCOeval takes the detection's area from it, as in
    MMPose's files). OKS-NMS scales by the product of the crop size (``gt_instances.bbox_scales``, else
    ``pred_instances.bbox_scales``, else the ``bbox_scale`` or ``input_scale`` metainfo: the padded box
    with the input's aspect ratio that ``TopdownAffine`` cropped, what MMPose uses), else by the
    keypoints' extent (MMPose's fallback). Without ``ann_file`` it also reads ``gt_instances``
    (``keypoints`` (G, K, 2), ``keypoints_visible`` (G, K), ``bboxes`` (G, 4) xyxy, ``areas`` (G,), optional
    ``iscrowd`` (G,)), the annotation ids (``id`` metainfo, or ``ids`` for G people) and ``ori_shape``,
    and builds the COCO ground truth from them.

    Args:
        ann_file: a COCO keypoint annotation json; None builds the ground truth from the samples.
        score_mode: the instance score: ``"bbox"`` (box score), ``"bbox_keypoint"`` (box score x the mean
            keypoint score above ``keypoint_score_thr``, 0 when none is), ``"bbox_rle"`` (box score + mean
            + max keypoint score) or ``"keypoint"`` (mean keypoint score).
        keypoint_score_thr: see ``score_mode``.
        nms_mode: ``"oks_nms"``, ``"soft_oks_nms"`` (at most 20 per image) or ``"none"``.
        nms_thr: the OKS threshold of (soft) OKS-NMS.
        use_area: scale OKS by the annotations' ``area``; False: by 0.53 x the box area, also for the
            area ranges (xtcocotools' rule for sets without areas, e.g. CrowdPose).
        sigmas: per-keypoint OKS sigmas; None: ``dataset_meta["sigmas"]``.
        format_only: only write the results (needs ``outfile_prefix``); return no numbers.
        outfile_prefix: write ``<prefix>.keypoints.json`` (and ``<prefix>.gt.json`` when the ground truth
            was built from the samples), which ``visionstack eval pose`` scores again.
        backend: ``"pycocotools"`` or ``"faster_coco_eval"`` (the same numbers).
        collect_device: see :class:`BaseMetric`.
        prefix: key prefix (default ``"coco"``).
    """

    default_prefix = "coco"

    def __init__(
        self,
        ann_file: str | Path | None = None,
        score_mode: str = "bbox_keypoint",
        keypoint_score_thr: float = 0.2,
        nms_mode: str = "oks_nms",
        nms_thr: float = 0.9,
        use_area: bool = True,
        sigmas: Sequence[float] | None = None,
        format_only: bool = False,
        outfile_prefix: str | Path | None = None,
        backend: str = "pycocotools",
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        for name, value, allowed in (
            ("score_mode", score_mode, SCORE_MODES),
            ("nms_mode", nms_mode, NMS_MODES),
            ("backend", backend, BACKENDS),
        ):
            if value not in allowed:
                raise ValueError(f"CocoKeypointMetric: {name} must be one of {allowed}, got {value!r}")
        if format_only and outfile_prefix is None:
            raise ValueError(
                "CocoKeypointMetric: format_only=True writes result files; set outfile_prefix too"
            )
        self.score_mode = score_mode
        self.keypoint_score_thr = float(keypoint_score_thr)
        self.nms_mode = nms_mode
        self.nms_thr = float(nms_thr)
        self.use_area = use_area
        self.sigmas = None if sigmas is None else tuple(float(s) for s in sigmas)
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.backend = backend
        self._coco_cls, self._coco_eval_cls = _coco_api(backend)
        self.ann_file = ann_file
        self._coco_gt = None
        if ann_file is not None:
            self._coco_gt = self._coco_from_dataset(read_keypoint_ground_truth(ann_file), self._source)

    @property
    def _source(self) -> str:
        """How errors name the ground truth."""
        return (
            repr(str(self.ann_file))
            if self.ann_file is not None
            else "the ground truth built from the samples"
        )

    @property
    def ground_truth(self) -> Any:
        """The COCO object of ``ann_file`` (None without one)."""
        return self._coco_gt

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            record = _read_prediction(sample, index, "CocoKeypointMetric")
            if self._coco_gt is None and not self.format_only:
                record["gt"] = _read_ground_truth(sample, index, "CocoKeypointMetric", self.use_area)
            self.results.append(record)

    # ---- compute --------------------------------------------------------------------------------------
    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        num_keypoints = results[0]["keypoints"].shape[1]
        for index, record in enumerate(results):
            if record["keypoints"].shape[1] != num_keypoints:
                raise ValueError(
                    f"CocoKeypointMetric: sample {index} has {record['keypoints'].shape[1]} keypoints, "
                    f"sample 0 has {num_keypoints}"
                )
        sigmas = self._sigmas(num_keypoints)
        kept = [
            instance
            for instances in _group_by_image(results).values()
            for instance in self._suppress(self._rescore(instances), sigmas)
        ]
        coco_results = instances_to_coco(kept)
        coco_gt, built = self._coco_gt, None
        if coco_gt is None and not self.format_only:
            built = self._build_ground_truth(results, coco_results)
        if self.outfile_prefix is not None:
            paths = write_keypoint_results(coco_results, self.outfile_prefix, built)
            logger.info(
                "CocoKeypointMetric: results written to %s", ", ".join(str(p) for p in paths.values())
            )
        if self.format_only:
            return {}
        if built is not None:  # normalised after writing: the file keeps the areas the samples gave
            coco_gt = self._coco_from_dataset(built, self._source)
        return self._score(coco_gt, coco_results, sigmas)

    def evaluate_results(self, results: Sequence[dict]) -> dict[str, float]:
        """Score COCO keypoint results (e.g. ``<prefix>.keypoints.json``) against ``ann_file``.

        The evaluation of :meth:`compute_metrics` (results are taken as they are: no rescoring, no NMS),
        so the same (unprefixed) keys and values for the same results.

        Raises:
            ValueError: without ``ann_file``; for a result of an image or category that is not evaluated,
                or with a keypoint count other than the sigmas'.
        """
        if self._coco_gt is None:
            raise ValueError(
                "CocoKeypointMetric.evaluate_results scores against ann_file; build it with ann_file="
            )
        num_keypoints = len(results[0]["keypoints"]) // 3 if results else _gt_num_keypoints(self._coco_gt)
        return self._score(self._coco_gt, list(results), self._sigmas(num_keypoints))

    def _sigmas(self, num_keypoints: int | None) -> np.ndarray:
        sigmas = self.sigmas if self.sigmas is not None else (self.dataset_meta or {}).get("sigmas")
        if sigmas is None:
            raise ValueError(
                "CocoKeypointMetric needs the per-keypoint OKS sigmas: pass sigmas=... or use a dataset whose "
                "metainfo has 'sigmas'"
            )
        sigmas = _numpy(sigmas).reshape(-1)
        if num_keypoints is not None and len(sigmas) != num_keypoints:
            raise ValueError(
                f"CocoKeypointMetric: {len(sigmas)} sigmas for {num_keypoints} keypoints; the sigmas must "
                "describe the model's keypoints"
            )
        return sigmas

    def _rescore(self, instances: list[dict]) -> list[dict]:
        """Set each instance's ``score`` by ``score_mode`` (MMPose's rescoring)."""
        for instance in instances:
            scores, box_score = instance["keypoint_scores"], instance["bbox_score"]
            if self.score_mode == "bbox":
                score = box_score
            elif self.score_mode == "keypoint":
                score = scores.mean()
            elif self.score_mode == "bbox_rle":
                score = box_score + scores.mean() + scores.max()
            else:
                confident = scores > self.keypoint_score_thr
                score = box_score * (scores[confident].mean() if confident.any() else 0.0)
            instance["score"] = float(score)
        return instances

    def _suppress(self, instances: list[dict], sigmas: np.ndarray) -> list[dict]:
        if self.nms_mode == "none" or not instances:
            return instances
        nms = oks_nms if self.nms_mode == "oks_nms" else soft_oks_nms
        keep = nms(
            np.stack([i["keypoints"] for i in instances]),
            np.array([i["score"] for i in instances]),
            np.array([i["area"] for i in instances]),
            sigmas,
            self.nms_thr,
        )
        return [instances[k] for k in keep]

    def _build_ground_truth(self, results: list[dict], coco_results: list[dict]) -> dict[str, Any]:
        meta = self.dataset_meta or {}
        return ground_truth_to_coco(
            [record["gt"] for record in results],
            class_names=meta.get("classes"),
            keypoint_names=meta.get("keypoint_names"),
            skeleton=meta.get("skeleton"),
            extra_category_ids=sorted({r["category_id"] for r in coco_results}),
        )

    def _coco_from_dataset(self, dataset: dict, source: str) -> Any:
        """A COCO object of a keypoint dataset dict, normalised for COCOeval (:func:`prepare_keypoint_annotations`)."""
        dataset = copy.deepcopy(dataset)
        prepare_keypoint_annotations(dataset, self.use_area, source)
        coco = self._coco_cls()
        coco.dataset = dataset
        with contextlib.redirect_stdout(io.StringIO()):
            coco.createIndex()
        return coco

    def _category_ids(self, coco_gt: Any) -> list[int]:
        """The evaluated categories: those named by ``dataset_meta["classes"]``, else every one of the file."""
        classes = (self.dataset_meta or {}).get("classes")
        if not classes or self._coco_gt is None:
            return sorted(coco_gt.getCatIds())
        by_name = {cat["name"]: cat["id"] for cat in coco_gt.dataset["categories"]}
        unknown = [name for name in classes if name not in by_name]
        if unknown:
            raise KeyError(f"CocoKeypointMetric: classes {unknown[:5]} are not categories of {self._source}")
        return sorted(by_name[name] for name in classes)

    def _score(self, coco_gt: Any, results: list[dict], sigmas: np.ndarray) -> dict[str, float]:
        """COCOeval(iouType="keypoints") of COCO keypoint results on every image of ``coco_gt``."""
        cat_ids = self._category_ids(coco_gt)
        _check_results(results, coco_gt, cat_ids, len(sigmas), self._source)
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = self._load_results(coco_gt, results)
            coco_eval = self._coco_eval_cls(coco_gt, coco_dt, "keypoints")
            coco_eval.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
            coco_eval.params.imgIds = sorted(coco_gt.getImgIds())
            coco_eval.params.catIds = cat_ids
            coco_eval.evaluate()
            coco_eval.accumulate()
        values = {
            name: summarize_coco_eval(coco_eval, ap, thr, area, MAX_DETS)
            for name, ap, thr, area in _KEYPOINT_STATS
        }
        logger.info("CocoKeypointMetric: %s", ", ".join(f"{k}={v:.4f}" for k, v in values.items()))
        return values

    def _load_results(self, coco_gt: Any, results: list[dict]) -> Any:
        if results:
            return coco_gt.loadRes(copy.deepcopy(results))
        coco_dt = self._coco_cls()  # loadRes cannot read an empty list; nobody found is a valid result
        coco_dt.dataset = {
            "images": list(coco_gt.dataset["images"]),
            "categories": copy.deepcopy(coco_gt.dataset["categories"]),
            "annotations": [],
        }
        coco_dt.createIndex()
        return coco_dt


def _gt_num_keypoints(coco_gt: Any) -> int | None:
    for ann in coco_gt.dataset["annotations"]:
        if "keypoints" in ann:
            return len(ann["keypoints"]) // 3
    return None


def _check_results(
    results: Sequence[dict], coco_gt: Any, cat_ids: Sequence[int], num_keypoints: int, source: str
) -> None:
    """Name the first result of an unknown image or category or with another keypoint count, and the
    first evaluated annotation without ``num_keypoints`` keypoints (COCOeval would stop with a bare
    assertion or error, or silently drop the result)."""
    images, categories = set(coco_gt.getImgIds()), set(cat_ids)
    for index, result in enumerate(results):
        if result["image_id"] not in images:
            raise ValueError(f"result {index}: image_id {result['image_id']!r} is not an image of {source}")
        if result["category_id"] not in categories:
            raise ValueError(
                f"result {index}: category_id {result['category_id']!r} is not an evaluated category of "
                f"{source} ({sorted(categories)})"
            )
        if len(result["keypoints"]) != 3 * num_keypoints:
            raise ValueError(
                f"result {index}: {len(result['keypoints']) // 3} keypoints, but there are {num_keypoints} sigmas"
            )
    for ann in coco_gt.loadAnns(coco_gt.getAnnIds(catIds=list(categories))):
        if len(ann.get("keypoints", ())) != 3 * num_keypoints:
            raise ValueError(
                f"annotation {ann['id']} of {source} (category {ann['category_id']}) has "
                f"{len(ann.get('keypoints', ())) // 3} keypoints, but there are {num_keypoints} sigmas"
            )


def _group_by_image(results: list[dict]) -> dict[Any, list[dict]]:
    """Person instances by image (in order of first appearance), sorted by annotation id with repeated
    ids dropped (MMPose's ``_sort_and_unique_bboxes``)."""
    by_image: dict[Any, list[dict]] = defaultdict(list)
    for record in results:
        for n, keypoints in enumerate(record["keypoints"]):
            area = record["areas"][n] if record["areas"] is not None else _extent_area(keypoints)
            by_image[record["img_id"]].append(
                {
                    "key": None if record["id"] is None else (record["id"], n),
                    "img_id": record["img_id"],
                    "category_id": record["category_id"],
                    "keypoints": keypoints,
                    "keypoint_scores": record["keypoint_scores"][n],
                    "bbox_score": float(record["bbox_scores"][n]),
                    "bbox": None if record["bboxes"] is None else record["bboxes"][n],
                    "area": float(area),
                }
            )
    for img_id, instances in by_image.items():
        if any(instance["key"] is None for instance in instances):
            continue
        instances.sort(key=lambda instance: instance["key"])
        by_image[img_id] = [
            i for j, i in enumerate(instances) if j == 0 or i["key"] != instances[j - 1]["key"]
        ]
    return by_image


def _extent_area(keypoints: np.ndarray) -> float:
    """The area of the keypoints' bounding box (MMPose's NMS area without a crop scale)."""
    span = keypoints.max(axis=0) - keypoints.min(axis=0)
    return float(span[0] * span[1])


# ---- PCK, AUC, EPE, NME ----------------------------------------------------------------------------------
