"""Pose metrics: COCO keypoint AP/AR (OKS), and PCK, AUC, EPE, NME as MMPose defines them.

**COCO keypoints** (:class:`CocoKeypointMetric`, MMPose's ``CocoMetric``). A top-down model predicts one
person per sample; the metric groups the predictions by image, keeps one per annotation id, rescores
each (``bbox_keypoint``: box score x mean of the keypoint scores above ``keypoint_score_thr``), removes
duplicates by OKS-NMS (Object Keypoint Similarity, the COCO keypoint challenge's match score) and runs
COCOeval(iouType="keypoints") with the dataset's per-keypoint ``sigmas``: 10 OKS thresholds 0.50:0.95,
20 detections per image, the medium (32^2..96^2) and large (> 96^2) area ranges. Keys (prefix ``coco``),
MMPose's names and COCOeval's ``stats`` order: ``AP``, ``AP .5``, ``AP .75``, ``AP (M)``, ``AP (L)``,
``AR``, ``AR .5``, ``AR .75``, ``AR (M)``, ``AR (L)``.

OKS between a prediction d and a ground truth g (Ronchi & Perona 2017; pycocotools ``computeOks``):
``mean over labelled keypoints (v > 0) of exp(-|d_k - g_k|^2 / (2 s^2 (2 sigma_k)^2))`` with the
object scale ``s^2`` = the annotation's ``area`` (its segment area, not the box's). A ground truth
without a labelled keypoint (crowd regions, people too small to annotate) scores every keypoint by its
distance *outside* the box enlarged to 3x its width and height (zero inside), so that a prediction on
such a person can match it and be ignored rather than count as a false positive.

**PCK / AUC / EPE / NME** (MMPose's ``keypoint_eval``): per-keypoint distances of labelled keypoints
(``keypoints_visible > 0``), each coordinate divided by its normalisation factor (an instance with a
zero factor is skipped). PCK = the mean over keypoints of the fraction of distances below ``thr``
(keys ``PCK`` / ``PCKh`` / ``tPCK`` for the box's longer side / the head size / the torso length);
AUC = the mean PCK at the thresholds ``0, 1/n, ..., (n-1)/n`` with distances divided by
``norm_factor`` pixels; EPE = the mean pixel distance; NME = the mean normalised distance.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstack.evaluation import BaseMetric, sample_fields
from visionstack.registry import METRICS

from ...evaluation.coco_eval import coco_api as _coco_api
from ...evaluation.coco_eval import summarize_coco_eval
from .results import (
    ground_truth_to_coco,
    instances_to_coco,
    prepare_keypoint_annotations,
    read_keypoint_ground_truth,
    write_keypoint_results,
)

__all__ = [
    "AUC",
    "EPE",
    "NME",
    "CocoKeypointMetric",
    "PCKAccuracy",
    "keypoint_auc",
    "keypoint_distances",
    "keypoint_epe",
    "keypoint_nme",
    "keypoint_pck_accuracy",
    "oks_iou",
    "oks_nms",
    "soft_oks_nms",
]

logger = logging.getLogger(__name__)

BACKENDS = ("pycocotools", "faster_coco_eval")
SCORE_MODES = ("bbox", "bbox_keypoint", "bbox_rle", "keypoint")
NMS_MODES = ("oks_nms", "soft_oks_nms", "none")
MAX_DETS = 20  # COCOeval's detections per image for keypoints
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


def _numpy(value: Any, dtype: Any = np.float64) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


# ---- OKS and OKS-NMS -----------------------------------------------------------------------------------
def oks_iou(
    keypoints: Any,
    gt_keypoints: Any,
    gt_areas: Any,
    sigmas: Any,
    gt_visible: Any | None = None,
    gt_bboxes: Any | None = None,
    areas: Any | None = None,
) -> np.ndarray:
    """Object Keypoint Similarity of every prediction with every ground truth.

    With ``gt_visible`` and ``gt_bboxes`` this is pycocotools' ``computeOks`` (only keypoints with
    ``v > 0`` count; a ground truth without any scores the distance outside its 3x box); with ``areas``
    it is MMPose's symmetric OKS of OKS-NMS (scale = the mean of both areas, every keypoint counts).

    Args:
        keypoints: (D, K, 2) predicted keypoints, pixels.
        gt_keypoints: (G, K, 2) reference keypoints, pixels.
        gt_areas: (G,) object scales s^2 (COCO: the annotation ``area``).
        sigmas: (K,) per-keypoint constants.
        gt_visible: (G, K) labels, ``> 0`` = labelled; None: every keypoint counts.
        gt_bboxes: (G, 4) ``x, y, w, h``: needed for ground truths without a labelled keypoint.
        areas: (D,) prediction areas; given, the scale is ``(gt_area + area) / 2``.

    Returns:
        (D, G) float64 OKS in [0, 1].

    Raises:
        ValueError: mismatched keypoint counts, or a ground truth without labelled keypoints and no box.
    """
    sigmas = _numpy(sigmas).reshape(-1)
    num_keypoints = len(sigmas)
    pred = (
        _numpy(keypoints).reshape(-1, num_keypoints, 2)
        if np.size(keypoints)
        else np.zeros((0, num_keypoints, 2))
    )
    gt = _numpy(gt_keypoints)
    if gt.ndim != 3 or gt.shape[1:] != (num_keypoints, 2):
        raise ValueError(
            f"oks_iou: gt_keypoints must be (G, {num_keypoints}, 2) for {num_keypoints} sigmas, got {gt.shape}"
        )
    gt_areas = _numpy(gt_areas).reshape(-1)
    visible = (
        np.ones(gt.shape[:2], dtype=bool)
        if gt_visible is None
        else _numpy(gt_visible).reshape(gt.shape[:2]) > 0
    )
    if areas is None:
        scale = np.broadcast_to(gt_areas[None, :], (len(pred), len(gt)))
    else:
        scale = (gt_areas[None, :] + _numpy(areas).reshape(-1)[:, None]) / 2
    dx = pred[:, None, :, 0] - gt[None, :, :, 0]  # (D, G, K)
    dy = pred[:, None, :, 1] - gt[None, :, :, 1]
    unlabelled = ~visible.any(axis=1)
    if unlabelled.any():
        if gt_bboxes is None:
            raise ValueError(
                f"oks_iou: ground truth {int(np.flatnonzero(unlabelled)[0])} has no labelled keypoint; "
                "pass gt_bboxes (x, y, w, h) to score it by the distance to its box"
            )
        boxes = _numpy(gt_bboxes).reshape(-1, 4)
        # the box enlarged to 3x its size around it (pycocotools: "bounds for ignore regions")
        x0, x1 = boxes[:, 0] - boxes[:, 2], boxes[:, 0] + boxes[:, 2] * 2
        y0, y1 = boxes[:, 1] - boxes[:, 3], boxes[:, 1] + boxes[:, 3] * 2
        xd, yd = pred[:, None, :, 0], pred[:, None, :, 1]
        out_x = np.maximum(0, x0[None, :, None] - xd) + np.maximum(0, xd - x1[None, :, None])
        out_y = np.maximum(0, y0[None, :, None] - yd) + np.maximum(0, yd - y1[None, :, None])
        dx = np.where(unlabelled[None, :, None], out_x, dx)
        dy = np.where(unlabelled[None, :, None], out_y, dy)
        visible = visible | unlabelled[:, None]
    variances = (sigmas * 2) ** 2
    error = (dx**2 + dy**2) / variances / (scale[..., None] + np.spacing(1)) / 2
    return (np.exp(-error) * visible[None]).sum(axis=-1) / visible.sum(axis=-1)[None]


def _descending(scores: np.ndarray) -> np.ndarray:
    """Indices by decreasing score; ties: the later index first (NumPy's ``argsort()[::-1]``, as MMPose)."""
    return np.argsort(scores, kind="stable")[::-1]


def _nms_inputs(keypoints: Any, scores: Any, areas: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores, keypoints, areas = _numpy(scores).reshape(-1), _numpy(keypoints), _numpy(areas).reshape(-1)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2 or not len(keypoints) == len(scores) == len(areas):
        raise ValueError(
            f"OKS-NMS: keypoints {keypoints.shape} must be (N, K, 2) with N scores and areas, got {len(scores)} "
            f"scores and {len(areas)} areas"
        )
    return keypoints, scores, areas


def oks_nms(keypoints: Any, scores: Any, areas: Any, sigmas: Any, thr: float = 0.9) -> np.ndarray:
    """Greedy OKS-NMS: keep the best instance, drop the others whose OKS with it exceeds ``thr``, repeat.

    The OKS is MMPose's (every keypoint counts, scale = the mean area of the two instances).

    Args:
        keypoints: (N, K, 2) instances of one image, pixels.
        scores: (N,) instance scores.
        areas: (N,) instance areas (pixels^2).
        sigmas: (K,) OKS constants.
        thr: instances with OKS <= thr survive.

    Returns:
        (M,) int64 indices of the kept instances, best first.
    """
    keypoints, scores, areas = _nms_inputs(keypoints, scores, areas)
    order, keep = _descending(scores), []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        overlap = oks_iou(
            keypoints[rest], keypoints[best][None], areas[best][None], sigmas, areas=areas[rest]
        )
        order = rest[overlap[:, 0] <= thr]
    return np.asarray(keep, dtype=np.int64)


def soft_oks_nms(
    keypoints: Any, scores: Any, areas: Any, sigmas: Any, thr: float = 0.9, max_dets: int = MAX_DETS
) -> np.ndarray:
    """Soft OKS-NMS (Gaussian): after each pick, the others' scores decay by ``exp(-oks^2 / thr)``.

    Args:
        keypoints, scores, areas, sigmas: as :func:`oks_nms`.
        thr: the Gaussian's width.
        max_dets: at most this many instances are kept.

    Returns:
        (M,) int64 indices in pick order (the decayed scores only rank; MMPose keeps the original
        scores of the kept instances).
    """
    keypoints, scores, areas = _nms_inputs(keypoints, scores, areas)
    order = _descending(scores)
    scores, keep = scores[order], []
    while order.size and len(keep) < max_dets:
        best, rest = order[0], order[1:]
        keep.append(best)
        overlap = oks_iou(
            keypoints[rest], keypoints[best][None], areas[best][None], sigmas, areas=areas[rest]
        )
        decayed = scores[1:] * np.exp(-(overlap[:, 0] ** 2) / thr)
        resort = _descending(decayed)
        order, scores = rest[resort], decayed[resort]
    return np.asarray(keep, dtype=np.int64)


# ---- reading samples -----------------------------------------------------------------------------------
_COCO_EXPECTS = (
    "pose DataSamples with img_id metainfo and pred_instances.keypoints (N, K, 2) and keypoint_scores (N, K)"
)


def _instance_field(instances: Any, name: str, where: str, owner: str, index: int) -> Any:
    value = instances.get(name)
    if value is None:
        raise KeyError(f"{owner}: data_samples[{index}].{where} has no {name}")
    return value


def _first_present(*candidates: tuple[Any, str]) -> Any:
    """The first ``container[name]`` that exists (containers may be None)."""
    for container, name in candidates:
        if container is not None and container.get(name) is not None:
            return container.get(name)
    return None


def _per_instance(value: Any, count: int, name: str, owner: str, index: int, width: int = 1) -> np.ndarray:
    array = _numpy(value).reshape(-1, width) if width > 1 else _numpy(value).reshape(-1)
    if len(array) == 1 and count > 1:
        array = np.repeat(array, count, axis=0)
    if len(array) != count:
        raise ValueError(
            f"{owner}: data_samples[{index}] {name} has {len(array)} entries for {count} instances"
        )
    return array


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
def keypoint_distances(pred: Any, gt: Any, mask: Any, norm_factor: Any) -> np.ndarray:
    """Normalised distances of labelled keypoints.

    Args:
        pred: (N, K, D) predicted keypoints.
        gt: (N, K, D) reference keypoints.
        mask: (N, K) labelled (True / > 0) keypoints.
        norm_factor: (N, D) per-instance, per-coordinate divisors; an instance with a zero is skipped, a
            negative one becomes 1e6 (MMPose's rules).

    Returns:
        (N, K) ``|(pred - gt) / norm|``, -1 for masked keypoints.
    """
    pred, gt = _numpy(pred), _numpy(gt)
    norm = _numpy(norm_factor).reshape(len(pred), -1)
    valid = (_numpy(mask, None).reshape(pred.shape[:2]) > 0) & ~(norm == 0).any(axis=1)[:, None]
    norm = np.where(norm <= 0, 1e6, norm)
    distances = np.linalg.norm((pred - gt) / norm[:, None, :], axis=-1)
    return np.where(valid, distances, -1.0)


def keypoint_pck_accuracy(
    pred: Any, gt: Any, mask: Any, thr: float, norm_factor: Any
) -> tuple[np.ndarray, float, int]:
    """PCK: per keypoint, the fraction of its normalised distances below ``thr``.

    Args:
        pred, gt, mask, norm_factor: as :func:`keypoint_distances`.
        thr: the normalised distance threshold.

    Returns:
        ``(accuracy (K,) with -1 for keypoints never labelled, their mean over the labelled ones (0.0 when
        none), the number of labelled keypoints)``.
    """
    distances = keypoint_distances(pred, gt, mask, norm_factor)
    valid = distances != -1
    counts = valid.sum(axis=0)
    hits = ((distances < thr) & valid).sum(axis=0)
    accuracy = np.where(counts > 0, hits / np.maximum(counts, 1), -1.0)
    labelled = accuracy >= 0
    return accuracy, float(accuracy[labelled].mean()) if labelled.any() else 0.0, int(labelled.sum())


def keypoint_auc(pred: Any, gt: Any, mask: Any, norm_factor: float, num_thrs: int = 20) -> float:
    """The area under the PCK curve: the mean PCK at thresholds ``i / num_thrs``, i = 0..num_thrs-1, with
    every distance divided by ``norm_factor`` pixels."""
    norm = np.full((len(_numpy(pred)), 2), float(norm_factor))
    return float(
        np.mean([keypoint_pck_accuracy(pred, gt, mask, i / num_thrs, norm)[1] for i in range(num_thrs)])
    )


def keypoint_epe(pred: Any, gt: Any, mask: Any) -> float:
    """End-point error: the mean pixel distance of labelled keypoints (0 when none)."""
    pred = _numpy(pred)
    return keypoint_nme(pred, gt, mask, np.ones((len(pred), pred.shape[-1])))


def keypoint_nme(pred: Any, gt: Any, mask: Any, norm_factor: Any) -> float:
    """Normalised mean error: the mean normalised distance of labelled keypoints (0 when none)."""
    distances = keypoint_distances(pred, gt, mask, norm_factor)
    valid = distances[distances != -1]
    return float(valid.sum() / max(1, len(valid)))


def _read_keypoint_pair(sample: Any, index: int, owner: str) -> dict[str, Any]:
    """``pred`` / ``gt`` (N, K, D) keypoints and the ``mask`` (N, K) of labelled ones of one sample."""
    expects = "pred_instances.keypoints and gt_instances.keypoints / keypoints_visible"
    pred_instances, gt_instances = sample_fields(
        sample, ("pred_instances", "gt_instances"), owner, index, expects
    )
    pred = _numpy(_instance_field(pred_instances, "keypoints", "pred_instances", owner, index))
    gt = _numpy(_instance_field(gt_instances, "keypoints", "gt_instances", owner, index))
    visible = _numpy(_instance_field(gt_instances, "keypoints_visible", "gt_instances", owner, index))
    visible = visible[..., 0] if visible.ndim == 3 else visible
    pred, gt = (pred[None] if pred.ndim == 2 else pred), (gt[None] if gt.ndim == 2 else gt)
    if pred.shape != gt.shape:
        raise ValueError(
            f"{owner}: data_samples[{index}] pred_instances.keypoints {pred.shape} and gt_instances.keypoints "
            f"{gt.shape} differ in shape"
        )
    return {"pred": pred, "gt": gt, "mask": visible.reshape(gt.shape[:2]) > 0, "gt_instances": gt_instances}


def _box_size(gt_instances: Any, count: int, owner: str, index: int) -> np.ndarray:
    """(N,) the longer side of each ground-truth box."""
    boxes = _numpy(_instance_field(gt_instances, "bboxes", "gt_instances", owner, index)).reshape(-1, 4)
    boxes = _per_instance(boxes, count, "gt_instances.bboxes", owner, index, 4)
    return (boxes[:, 2:] - boxes[:, :2]).max(axis=1)


def _item(sample: Any, gt_instances: Any, name: str, count: int, owner: str, index: int) -> np.ndarray:
    """(N,) a per-instance value from ``gt_instances`` or the metainfo."""
    value = _first_present((gt_instances, name), (sample, name))
    if value is None:
        raise KeyError(f"{owner}: data_samples[{index}] has no {name} (in gt_instances or the metainfo)")
    return _per_instance(value, count, name, owner, index)


def _stack(results: list[dict], key: str) -> np.ndarray:
    return np.concatenate([record[key] for record in results])


class _KeypointErrorMetric(BaseMetric):
    """What PCK, AUC, EPE and NME share: one record per sample with ``pred`` / ``gt`` (N, K, D) keypoints and
    the ``mask`` (N, K) of labelled ones, plus what :meth:`_norms` adds (per-instance normalisers)."""

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        owner = type(self).__name__
        for index, sample in enumerate(data_samples):
            record = _read_keypoint_pair(sample, index, owner)
            gt_instances = record.pop("gt_instances")
            record.update(self._norms(sample, gt_instances, record, owner, index))
            self.results.append(record)

    def _norms(
        self, sample: Any, gt_instances: Any, record: dict, owner: str, index: int
    ) -> dict[str, np.ndarray]:
        return {}


@METRICS.register()
class PCKAccuracy(_KeypointErrorMetric):
    """Percentage of Correct Keypoints (MMPose's PCKAccuracy); keys ``PCK`` / ``PCKh`` / ``tPCK``.

    Args:
        thr: the normalised distance threshold.
        norm_item: one or several of ``"bbox"`` (the longer side of ``gt_instances.bboxes``), ``"head"``
            (``head_size`` from ``gt_instances`` or the metainfo) and ``"torso"`` (the distance between the
            ground-truth keypoints ``torso_indices``; below 1 pixel, the predicted ones', with a warning).
        torso_indices: the two keypoints whose distance is the torso size (MMPose: 4 and 5, JHMDB's).
        collect_device, prefix: see :class:`BaseMetric` (no prefix by default: MMPose's keys).
    """

    NORM_ITEMS = {"bbox": "PCK", "head": "PCKh", "torso": "tPCK"}

    def __init__(
        self,
        thr: float = 0.05,
        norm_item: str | Sequence[str] = "bbox",
        torso_indices: tuple[int, int] = (4, 5),
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.norm_items = (norm_item,) if isinstance(norm_item, str) else tuple(norm_item)
        unknown = [item for item in self.norm_items if item not in self.NORM_ITEMS]
        if unknown or not self.norm_items:
            raise ValueError(
                f"PCKAccuracy: norm_item must be among {tuple(self.NORM_ITEMS)}, got {norm_item!r}"
            )
        self.thr = float(thr)
        self.torso_indices = tuple(torso_indices)

    def _norms(
        self, sample: Any, gt_instances: Any, record: dict, owner: str, index: int
    ) -> dict[str, np.ndarray]:
        count, norms = len(record["gt"]), {}
        if "bbox" in self.norm_items:
            norms["bbox"] = _box_size(gt_instances, count, owner, index)
        if "head" in self.norm_items:
            norms["head"] = _item(sample, gt_instances, "head_size", count, owner, index)
        if "torso" in self.norm_items:
            norms["torso"] = self._torso_size(record, owner, index)
        return norms

    def _torso_size(self, record: dict, owner: str, index: int) -> np.ndarray:
        first, second = self.torso_indices
        size = np.linalg.norm(record["gt"][:, first] - record["gt"][:, second], axis=-1)
        small = size < 1
        if small.any():
            warnings.warn(
                f"{owner}: data_samples[{index}] has a ground-truth torso below 1 pixel; the predicted "
                "keypoints' torso stands in",
                stacklevel=3,
            )
            predicted = np.linalg.norm(record["pred"][:, first] - record["pred"][:, second], axis=-1)
            size = np.where(small, predicted, size)
        return size

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        pred, gt, mask = _stack(results, "pred"), _stack(results, "gt"), _stack(results, "mask")
        metrics = {}
        for item in self.norm_items:
            norm = np.repeat(_stack(results, item)[:, None], 2, axis=1)
            metrics[self.NORM_ITEMS[item]] = keypoint_pck_accuracy(pred, gt, mask, self.thr, norm)[1]
        return metrics


@METRICS.register()
class AUC(_KeypointErrorMetric):
    """Area under the PCK curve (MMPose's AUC); key ``AUC``.

    Args:
        norm_factor: distances are divided by this many pixels.
        num_thrs: thresholds ``0, 1/num_thrs, ..., (num_thrs - 1)/num_thrs``.
        collect_device, prefix: see :class:`BaseMetric`.
    """

    def __init__(
        self,
        norm_factor: float = 30,
        num_thrs: int = 20,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if num_thrs < 1 or norm_factor <= 0:
            raise ValueError(f"AUC: need num_thrs >= 1 and norm_factor > 0, got {num_thrs}, {norm_factor}")
        self.norm_factor = float(norm_factor)
        self.num_thrs = int(num_thrs)

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        pred, gt, mask = _stack(results, "pred"), _stack(results, "gt"), _stack(results, "mask")
        return {"AUC": keypoint_auc(pred, gt, mask, self.norm_factor, self.num_thrs)}


@METRICS.register()
class EPE(_KeypointErrorMetric):
    """End-point error (MMPose's EPE): the mean pixel distance of labelled keypoints; key ``EPE``."""

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        return {"EPE": keypoint_epe(_stack(results, "pred"), _stack(results, "gt"), _stack(results, "mask"))}


@METRICS.register()
class NME(_KeypointErrorMetric):
    """Normalised mean error (MMPose's NME, for faces and animals); key ``NME``.

    Args:
        norm_mode: ``"use_norm_item"``: divide by ``norm_item`` of each sample; ``"keypoint_distance"``:
            by the ground-truth distance between ``keypoint_indices`` (e.g. the outer eye corners).
        norm_item: ``"bbox_size"`` (the longer side of ``gt_instances.bboxes``) or a per-instance value of
            ``gt_instances`` or the metainfo.
        keypoint_indices: the pair for ``keypoint_distance``; None: the dataset's default
            (:attr:`DEFAULT_KEYPOINT_INDICES` by ``dataset_meta["dataset_name"]``).
        collect_device, prefix: see :class:`BaseMetric`.
    """

    # the inter-ocular (or similar) pair MMPose normalises each dataset by
    DEFAULT_KEYPOINT_INDICES = {
        "horse10": (0, 1),
        "300w": (36, 45),
        "coco_wholebody_face": (36, 45),
        "cofw": (8, 9),
        "wflw": (60, 72),
        "lapa": (66, 79),
    }
    NORM_MODES = ("use_norm_item", "keypoint_distance")

    def __init__(
        self,
        norm_mode: str,
        norm_item: str | None = None,
        keypoint_indices: Sequence[int] | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if norm_mode not in self.NORM_MODES:
            raise ValueError(f"NME: norm_mode must be one of {self.NORM_MODES}, got {norm_mode!r}")
        if norm_mode == "use_norm_item" and not norm_item:
            raise ValueError("NME: norm_mode='use_norm_item' needs norm_item (e.g. 'bbox_size')")
        if keypoint_indices is not None and len(keypoint_indices) != 2:
            raise ValueError(f"NME: keypoint_indices must be a pair, got {keypoint_indices!r}")
        self.norm_mode = norm_mode
        self.norm_item = norm_item
        self.keypoint_indices = None if keypoint_indices is None else tuple(int(i) for i in keypoint_indices)

    def _norms(
        self, sample: Any, gt_instances: Any, record: dict, owner: str, index: int
    ) -> dict[str, np.ndarray]:
        count = len(record["gt"])
        if self.norm_mode != "use_norm_item":
            return {}
        if self.norm_item == "bbox_size":
            return {"norm": _box_size(gt_instances, count, owner, index)}
        return {"norm": _item(sample, gt_instances, self.norm_item, count, owner, index)}

    def _pair(self, num_keypoints: int) -> tuple[int, int]:
        pair = self.keypoint_indices
        if pair is None:
            name = (self.dataset_meta or {}).get("dataset_name")
            if name not in self.DEFAULT_KEYPOINT_INDICES:
                raise KeyError(
                    f"NME: no default keypoint_indices for dataset {name!r} (known: "
                    f"{sorted(self.DEFAULT_KEYPOINT_INDICES)}); pass keypoint_indices=(i, j)"
                )
            pair = self.DEFAULT_KEYPOINT_INDICES[name]
        if not all(0 <= i < num_keypoints for i in pair):
            raise ValueError(f"NME: keypoint_indices {pair} outside the {num_keypoints} keypoints")
        return pair

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        pred, gt, mask = _stack(results, "pred"), _stack(results, "gt"), _stack(results, "mask")
        if self.norm_mode == "use_norm_item":
            norm = _stack(results, "norm")
        else:
            first, second = self._pair(gt.shape[1])
            norm = np.linalg.norm(gt[:, first] - gt[:, second], axis=-1)
        return {"NME": keypoint_nme(pred, gt, mask, np.repeat(norm[:, None], gt.shape[-1], axis=1))}
