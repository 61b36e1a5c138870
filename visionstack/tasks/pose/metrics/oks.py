"""Object Keypoint Similarity and the keypoint NMS built on it.

OKS between a prediction d and a ground truth g (Ronchi & Perona 2017; pycocotools ``computeOks``):
``mean over labelled keypoints (v > 0) of exp(-|d_k - g_k|^2 / (2 s^2 (2 sigma_k)^2))`` with the
object scale ``s^2`` = the annotation's ``area`` (its segment area, not the box's). A ground truth
without a labelled keypoint (crowd regions, people too small to annotate) scores every keypoint by its
distance *outside* the box enlarged to 3x its width and height (zero inside), so that a prediction on
such a person can match it and be ignored rather than count as a false positive.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import _numpy

__all__ = ["MAX_DETS", "oks_iou", "oks_nms", "soft_oks_nms"]

MAX_DETS = 20  # COCOeval's detections per image for keypoints


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
