"""COCO detection / instance segmentation / proposal metric (COCOeval from pycocotools or faster-coco-eval).

Keys (prefix ``coco``), values in 0-1 as COCOeval reports them (unrounded; MMDetection rounds to
3 decimals):

- ``bbox`` / ``segm``: ``{t}_mAP`` (IoU 0.50:0.95), ``{t}_mAP_50``, ``{t}_mAP_75``, ``{t}_mAP_s``,
  ``{t}_mAP_m``, ``{t}_mAP_l`` (100 detections per image), ``{t}_AR@1``, ``{t}_AR@10``,
  ``{t}_AR@100``, ``{t}_AR_s@100``, ``{t}_AR_m@100``, ``{t}_AR_l@100`` — exactly COCOeval's
  twelve ``stats`` in order. With ``classwise=True`` also, for each class that has ground truth (spaces in
  names become ``_``), the columns of MMDetection's ``classwise`` table as keys: ``{t}_AP_<class>``
  (IoU 0.50:0.95; MMDetection returns this one as ``<class>_precision``, rounded), ``{t}_AP50_<class>``,
  ``{t}_AP75_<class>``, ``{t}_APs_<class>``, ``{t}_APm_<class>``, ``{t}_APl_<class>`` (-1 where COCOeval
  has no entry, e.g. a class without small objects), and a rich table of all classes is logged.
- ``proposal`` (class-agnostic box recall, as MMDetection's): ``AR@<n>`` for each of
  ``proposal_nums`` and ``AR_s@<max>``, ``AR_m@<max>``, ``AR_l@<max>``.

The numbers are computed from COCOeval's accumulated ``precision``/``recall`` arrays with
COCOeval's own summary rule (mean over entries > -1; -1 when there are none), so they equal
``COCOeval.stats`` and also work for IoU thresholds without 0.5 or 0.75 (those keys are then left out).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionstack.evaluation import BaseMetric
from visionstack.evaluation.coco_eval import coco_api as _coco_api
from visionstack.evaluation.coco_eval import summarize_coco_eval
from visionstack.registry import METRICS

from .coco_format import (
    dump_coco_results,
    ground_truth_to_coco,
    predictions_to_coco,
    read_ground_truth,
    read_predictions,
)

__all__ = ["CocoMetric"]

logger = logging.getLogger(__name__)

BACKENDS = ("pycocotools", "faster_coco_eval")
IOU_TYPES = ("bbox", "segm", "proposal")
DEFAULT_MAX_DETS = (1, 10, 100)
# (key suffix, ap?, iou threshold or None for all, area range name, max-dets index, per-class key stem)
_DETECTION_STATS = (
    ("mAP", True, None, "all", -1, "AP"),
    ("mAP_50", True, 0.5, "all", -1, "AP50"),
    ("mAP_75", True, 0.75, "all", -1, "AP75"),
    ("mAP_s", True, None, "small", -1, "APs"),
    ("mAP_m", True, None, "medium", -1, "APm"),
    ("mAP_l", True, None, "large", -1, "APl"),
)
_AREA_NAMES = ("all", "small", "medium", "large")


@METRICS.register()
class CocoMetric(BaseMetric):
    """COCO mAP/AR for boxes, masks and proposals (see the module docstring for the keys).

    ``process`` reads ``pred_instances`` (``bboxes`` (N, 4) xyxy in original-image pixels,
    ``scores`` (N,), ``labels`` (N,) in 0..C-1, optional ``masks`` (N, H, W) bool) with the
    ``img_id`` and ``ori_shape`` metainfo; masks are RLE-encoded right away, so the records that
    travel between ranks are small. Without ``ann_file`` it also reads ``gt_instances`` (and
    ``ignored_instances``, evaluated as COCO crowd regions) and builds the COCO ground truth from
    them (category id = ``dataset_meta["cat_ids"][label]`` or ``label + 1``; ``area`` = mask area,
    else box area; a missing ``img_id`` becomes the sample's dataset index).

    Args:
        ann_file: a COCO annotation json; None builds the ground truth from the samples.
        metric: any of ``"bbox"``, ``"segm"``, ``"proposal"``.
        classwise: add the per-class AP keys (module docstring) and log a per-class table.
        proposal_nums: detections per image for ``proposal`` recall.
        iou_thrs: IoU thresholds; None is COCO's 0.50:0.05:0.95.
        format_only: only write the result files (needs ``outfile_prefix``); return no numbers.
        outfile_prefix: write ``<prefix>.bbox.json`` (and ``.segm.json``) in COCO result format; without
            ``ann_file`` also ``<prefix>.gt.json``, the ground truth built from the samples, so that the
            files can be scored again offline (:meth:`evaluate_results`, ``visionstack eval``).
        backend: ``"pycocotools"`` or ``"faster_coco_eval"`` (same numbers, faster).
        collect_device: see :class:`BaseMetric`.
        prefix: key prefix (default ``"coco"``).
    """

    default_prefix = "coco"

    def __init__(
        self,
        ann_file: str | Path | None = None,
        metric: str | Sequence[str] = ("bbox",),
        classwise: bool = False,
        proposal_nums: Sequence[int] = (100, 300, 1000),
        iou_thrs: float | Sequence[float] | None = None,
        format_only: bool = False,
        outfile_prefix: str | Path | None = None,
        backend: str = "pycocotools",
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metric_types = (metric,) if isinstance(metric, str) else tuple(metric)
        unknown = [name for name in self.metric_types if name not in IOU_TYPES]
        if unknown or not self.metric_types:
            raise ValueError(f"CocoMetric: metric must be a non-empty subset of {IOU_TYPES}, got {metric!r}")
        if backend not in BACKENDS:
            raise ValueError(f"CocoMetric: backend must be one of {BACKENDS}, got {backend!r}")
        if format_only and outfile_prefix is None:
            raise ValueError("CocoMetric: format_only=True writes result files; set outfile_prefix too")
        self.classwise = classwise
        self.proposal_nums = tuple(int(n) for n in proposal_nums)
        if iou_thrs is None:
            iou_thrs = np.linspace(0.5, 0.95, 10)  # COCO's thresholds, built as COCOeval builds them
        self.iou_thrs = np.atleast_1d(np.asarray(iou_thrs, dtype=np.float64))
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.backend = backend
        self._coco_cls, self._coco_eval_cls = _coco_api(backend)
        self.ann_file = ann_file
        self._coco_gt = self._load_ann_file(ann_file) if ann_file is not None else None

    def _load_ann_file(self, ann_file: str | Path) -> Any:
        path = Path(ann_file)
        if not path.is_file():
            raise FileNotFoundError(
                f"CocoMetric: ann_file {str(path)!r} does not exist; check the metric's ann_file"
            )
        with contextlib.redirect_stdout(io.StringIO()):
            coco = self._coco_cls(str(path))
        if "segm" in self.metric_types:
            _boxes_as_missing_segmentations(coco, path)
        return coco

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            record = read_predictions(sample, index)
            if self._coco_gt is None and not self.format_only:
                record["gt"] = read_ground_truth(sample, index)
            elif record["img_id"] is None:
                raise KeyError(
                    f"CocoMetric: data_samples[{index}] has no img_id metainfo; with ann_file the "
                    "predictions are matched to the file's images by id (pack img_id in the pipeline)"
                )
            self.results.append(record)

    # ---- compute ------------------------------------------------------------------------------------
    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        results = self._with_image_ids(results)
        self._check_masks(results)
        if self.format_only:  # e.g. a test-dev submission: no ground truth needed
            self._dump(results, self._category_ids(self._coco_gt))
            return {}
        coco_gt = self._coco_gt if self._coco_gt is not None else self._build_ground_truth(results)
        cat_ids = self._category_ids(coco_gt)
        if self.outfile_prefix is not None:
            self._dump(results, cat_ids, None if self._coco_gt is not None else coco_gt.dataset)
        bbox_results, segm_results = predictions_to_coco(results, cat_ids)
        img_ids = sorted({record["img_id"] for record in results})
        return self._score(coco_gt, bbox_results, segm_results, img_ids, cat_ids)

    def evaluate_results(
        self,
        bbox_results: list[dict],
        segm_results: Sequence[dict] = (),
        img_ids: Sequence[int] | None = None,
    ) -> dict[str, float]:
        """Score COCO result lists (e.g. read from the files ``outfile_prefix`` wrote) against ``ann_file``.

        The same evaluation as :meth:`compute_metrics`, so the same (unprefixed) keys and values for
        the same detections: categories in the order of :meth:`compute_metrics` (``dataset_meta``'s
        ``cat_ids``, else its ``classes`` by name, else the sorted ids of the file).

        Args:
            bbox_results: ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` dicts, the
                content of ``<prefix>.bbox.json`` (also used for ``proposal``).
            segm_results: ``{"image_id", "category_id", "segmentation": RLE, "score"}`` dicts, the
                content of ``<prefix>.segm.json``; needed for ``segm``.
            img_ids: the evaluated images; None: every image of ``ann_file`` (an image without a
                result is one where the model found nothing).

        Raises:
            ValueError: without ``ann_file``; when ``segm`` is asked for without ``segm_results``
                while ``bbox_results`` is not empty; for a result of an image or category that is not
                evaluated (see :meth:`check_results`).
        """
        if self._coco_gt is None:
            raise ValueError(
                "CocoMetric.evaluate_results scores against ann_file; build the metric with ann_file="
            )
        if "segm" in self.metric_types and not segm_results and bbox_results:
            raise ValueError("CocoMetric: metric 'segm' needs the segmentation results (<prefix>.segm.json)")
        img_ids = sorted(self._coco_gt.getImgIds()) if img_ids is None else list(img_ids)
        for name, results in (("bbox_results", bbox_results), ("segm_results", segm_results)):
            try:
                self.check_results(results, img_ids)
            except ValueError as error:
                raise ValueError(f"CocoMetric: {name}: {error}") from error
        cat_ids = self._category_ids(self._coco_gt)
        return self._score(self._coco_gt, list(bbox_results), list(segm_results), img_ids, cat_ids)

    def check_results(self, results: Sequence[dict], img_ids: Sequence[int] | None = None) -> None:
        """Check that every COCO result is of an evaluated image and category of ``ann_file``.

        COCOeval would stop with a bare assertion on an unknown image and silently drop a result of
        another category; this names the result instead.

        Args:
            results: COCO result dicts (``image_id``, ``category_id`` ...).
            img_ids: the evaluated images; None: every image of ``ann_file``.

        Raises:
            ValueError: ``"result <index>: image_id ..."`` (or ``category_id``) for the first bad result.
        """
        if self._coco_gt is None:
            raise ValueError(
                "CocoMetric.check_results checks against ann_file; build the metric with ann_file="
            )
        images = set(self._coco_gt.getImgIds() if img_ids is None else img_ids)
        categories = set(self._category_ids(self._coco_gt))
        for index, result in enumerate(results):
            if result.get("image_id") not in images:
                raise ValueError(
                    f"result {index}: image_id {result.get('image_id')!r} is not an image of {self.ann_file!r}"
                )
            if result.get("category_id") not in categories:
                raise ValueError(
                    f"result {index}: category_id {result.get('category_id')!r} is not an evaluated category of "
                    f"{self.ann_file!r} ({sorted(categories)})"
                )

    def _score(
        self,
        coco_gt: Any,
        bbox_results: list[dict],
        segm_results: list[dict],
        img_ids: list,
        cat_ids: list[int],
    ) -> dict[str, float]:
        """Every requested IoU type's values for COCO result lists on the images ``img_ids``."""
        missing = set(img_ids) - set(coco_gt.getImgIds())
        if missing:
            raise KeyError(
                f"CocoMetric: img_id {sorted(missing)[:5]} not in the ground truth {self.ann_file!r}; the "
                "dataset and the metric's ann_file must describe the same images"
            )
        class_names = [coco_gt.cats[cat_id]["name"] for cat_id in cat_ids]
        metrics: dict[str, float] = {}
        for iou_type in self.metric_types:
            predictions = segm_results if iou_type == "segm" else bbox_results
            metrics.update(self._evaluate(iou_type, coco_gt, predictions, cat_ids, img_ids, class_names))
        return metrics

    def _dump(self, results: list[dict], cat_ids: list[int] | None, ground_truth: dict | None = None) -> None:
        paths = dump_coco_results(results, self.outfile_prefix, cat_ids, ground_truth)
        logger.info("CocoMetric: results written to %s", ", ".join(str(p) for p in paths.values()))

    def _check_masks(self, results: list[dict]) -> None:
        if "segm" not in self.metric_types:
            return
        if any(record["masks"] is None for record in results):
            raise KeyError(
                "CocoMetric: metric 'segm' needs pred_instances.masks (N, H, W) in every prediction"
            )
        if (
            self._coco_gt is None
            and not self.format_only
            and any("mask" not in a for r in results for a in r["gt"]["anns"])
        ):
            raise KeyError(
                "CocoMetric: metric 'segm' without ann_file needs gt_instances.masks (and "
                "ignored_instances.masks) in every sample; load the masks in the pipeline or pass ann_file"
            )

    def _with_image_ids(self, results: list[dict]) -> list[dict]:
        """Records with ``img_id`` set (the dataset index where the sample had none)."""
        if all(record["img_id"] is not None for record in results):
            return results
        results = [dict(record) for record in results]
        for index, record in enumerate(results):
            if record["img_id"] is None:
                record["img_id"] = index
                if "gt" in record:
                    record["gt"] = {**record["gt"], "img_id": index}
        return results

    def _build_ground_truth(self, results: list[dict]) -> Any:
        meta = self.dataset_meta or {}
        num_labels = max(
            [len(meta.get("classes") or ())]
            + [int(r["labels"].max()) + 1 for r in results if len(r["labels"])]
            + [ann["bbox_label"] + 1 for r in results for ann in r["gt"]["anns"]]
        )
        names = list(meta.get("classes") or ())
        names += [f"class_{label}" for label in range(len(names), num_labels)]
        dataset = ground_truth_to_coco([r["gt"] for r in results], meta.get("cat_ids"), names)
        coco_gt = self._coco_cls()
        coco_gt.dataset = dataset
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt.createIndex()
        return coco_gt

    def _category_ids(self, coco_gt: Any) -> list[int] | None:
        """COCO category id of each contiguous label (index = label); None (label + 1) without any source."""
        meta = self.dataset_meta or {}
        if meta.get("cat_ids") is not None:
            return [int(cat_id) for cat_id in meta["cat_ids"]]
        if coco_gt is None:
            return None
        if self._coco_gt is not None and meta.get("classes"):
            by_name = {cat["name"]: cat["id"] for cat in coco_gt.dataset["categories"]}
            unknown = [name for name in meta["classes"] if name not in by_name]
            if unknown:
                raise KeyError(f"CocoMetric: classes {unknown[:5]} are not categories of {self.ann_file!r}")
            return [by_name[name] for name in meta["classes"]]
        return sorted(coco_gt.getCatIds())

    def _evaluate(
        self,
        iou_type: str,
        coco_gt: Any,
        predictions: list[dict],
        cat_ids: list[int],
        img_ids: list[int],
        class_names: list[str],
    ) -> dict[str, float]:
        names = self._key_names(iou_type)
        if not predictions:
            warnings.warn(
                f"CocoMetric: no {iou_type} predictions on any image; every {iou_type} value is 0",
                stacklevel=3,
            )
            return {name: 0.0 for name in names}
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes(copy.deepcopy(predictions))
            coco_eval = self._coco_eval_cls(coco_gt, coco_dt, "bbox" if iou_type == "proposal" else iou_type)
            coco_eval.params.catIds = cat_ids
            coco_eval.params.imgIds = img_ids
            coco_eval.params.iouThrs = self.iou_thrs
            if iou_type == "proposal":
                coco_eval.params.useCats = 0
                coco_eval.params.maxDets = list(self.proposal_nums)
            coco_eval.evaluate()
            coco_eval.accumulate()
        values = self._summary(coco_eval, iou_type)
        if self.classwise and iou_type != "proposal":
            values.update(self._classwise(coco_eval, iou_type, class_names))
        logger.info("CocoMetric %s: %s", iou_type, ", ".join(f"{k}={v:.4f}" for k, v in values.items()))
        return values

    def _key_names(self, iou_type: str) -> list[str]:
        if iou_type == "proposal":
            largest = self.proposal_nums[-1]
            return [f"AR@{n}" for n in self.proposal_nums] + [f"AR_{a}@{largest}" for a in "sml"]
        names = [f"{iou_type}_{name}" for name, _, thr, _, _, _ in _DETECTION_STATS if self._has_thr(thr)]
        return (
            names
            + [f"{iou_type}_AR@{n}" for n in DEFAULT_MAX_DETS]
            + [f"{iou_type}_AR_{a}@100" for a in "sml"]
        )

    def _has_thr(self, thr: float | None) -> bool:
        return thr is None or bool(np.isclose(self.iou_thrs, thr).any())

    def _summary(self, coco_eval: Any, iou_type: str) -> dict[str, float]:
        areas = dict(zip("sml", _AREA_NAMES[1:]))
        if iou_type == "proposal":
            largest = self.proposal_nums[-1]
            values = {
                f"AR@{n}": summarize_coco_eval(coco_eval, False, max_dets=n) for n in self.proposal_nums
            }
            for short, area in areas.items():
                values[f"AR_{short}@{largest}"] = summarize_coco_eval(
                    coco_eval, False, area=area, max_dets=largest
                )
            return values
        values = {
            f"{iou_type}_{name}": summarize_coco_eval(coco_eval, ap, thr, area, DEFAULT_MAX_DETS[index])
            for name, ap, thr, area, index, _ in _DETECTION_STATS
            if self._has_thr(thr)
        }
        for n in DEFAULT_MAX_DETS:
            values[f"{iou_type}_AR@{n}"] = summarize_coco_eval(coco_eval, False, max_dets=n)
        for short, area in areas.items():
            values[f"{iou_type}_AR_{short}@100"] = summarize_coco_eval(
                coco_eval, False, area=area, max_dets=100
            )
        return values

    def _classwise(self, coco_eval: Any, iou_type: str, class_names: list[str]) -> dict[str, float]:
        """Per-class AP keys (the table's columns, for classes with ground truth) and a rich table of all classes."""
        columns = [
            (name, thr, area, stem) for name, _, thr, area, _, stem in _DETECTION_STATS if self._has_thr(thr)
        ]
        rows, values = [], {}
        for index, class_name in enumerate(class_names):
            row = [summarize_coco_eval(coco_eval, True, thr, area, 100, index) for _, thr, area, _ in columns]
            rows.append((class_name, row))
            if row[0] > -1:  # -1: no ground truth of the class (COCOeval's marker)
                for (_, _, _, stem), value in zip(columns, row):
                    values[f"{iou_type}_{stem}_{class_name.replace(' ', '_')}"] = value
        logger.info("%s", _render_table(f"COCO {iou_type} AP per class", [c[0] for c in columns], rows))
        return values


def _render_table(title: str, columns: list[str], rows: list[tuple[str, list[float]]]) -> str:
    """A rich table as text (``-`` for classes without ground truth)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("class")
    for column in columns:
        table.add_column(column.replace("mAP", "AP"), justify="right")
    for name, row in rows:
        table.add_row(name, *(f"{value:.3f}" if value > -1 else "-" for value in row))
    buffer = io.StringIO()
    Console(file=buffer, width=120, force_terminal=False).print(table)
    return buffer.getvalue()


def _boxes_as_missing_segmentations(coco: Any, path: Path) -> None:
    """Give ground-truth annotations without ``segmentation`` their box as a polygon, so that mask
    evaluation runs (COCOeval would stop with a KeyError); says how many and which ids."""
    missing = [ann for ann in coco.dataset.get("annotations", []) if not ann.get("segmentation")]
    for ann in missing:
        x, y, w, h = ann["bbox"]
        ann["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    if missing:
        ids = ", ".join(str(ann["id"]) for ann in missing[:5])
        logger.warning(
            "CocoMetric: %d annotation(s) of %s have no segmentation (ids %s%s); their boxes stand in for masks",
            len(missing),
            path,
            ids,
            ", ..." if len(missing) > 5 else "",
        )
