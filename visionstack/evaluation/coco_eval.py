"""COCOeval's backends and its summary rule, shared by the COCO-style metrics of every task (boxes, masks,
keypoints)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["coco_api", "summarize_coco_eval"]


def coco_api(backend: str) -> tuple[type, type]:
    """The ``(COCO, COCOeval)`` classes of a backend."""
    if backend == "faster_coco_eval":
        try:
            from faster_coco_eval import COCO, COCOeval_faster
        except ImportError as error:
            raise ImportError(
                "CocoMetric(backend='faster_coco_eval') needs the faster-coco-eval package: "
                "pip install faster-coco-eval (or use backend='pycocotools')"
            ) from error
        return COCO, COCOeval_faster
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    return COCO, COCOeval


def summarize_coco_eval(
    coco_eval: Any,
    ap: bool,
    iou_thr: float | None = None,
    area: str = "all",
    max_dets: int = 100,
    category_index: int | None = None,
) -> float:
    """One summary number from an accumulated COCOeval, by COCOeval's own rule.

    Args:
        coco_eval: a COCOeval after ``evaluate()`` and ``accumulate()``.
        ap: average precision (True) or average recall (False).
        iou_thr: one IoU threshold, or None for the mean over all of ``params.iouThrs``.
        area: ``"all"``, ``"small"``, ``"medium"`` or ``"large"``.
        max_dets: one of ``params.maxDets``.
        category_index: restrict to one category (index into ``params.catIds``), or None for all.

    Returns:
        the mean over entries > -1, or -1.0 when there is none (no ground truth).
    """
    params = coco_eval.params
    values = coco_eval.eval["precision" if ap else "recall"]  # (T, R, K, A, M) or (T, K, A, M)
    if iou_thr is not None:
        values = values[np.flatnonzero(np.isclose(params.iouThrs, iou_thr))]
    area_index = list(params.areaRngLbl).index(area)
    max_det_index = list(params.maxDets).index(max_dets)
    values = values[..., area_index, max_det_index]  # (T, R, K) or (T, K)
    if category_index is not None:
        values = values[..., category_index]
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else -1.0
