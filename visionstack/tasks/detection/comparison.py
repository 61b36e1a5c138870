"""Pairing two sets of detections of one image (eager PyTorch vs an exported model), NumPy only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["compare_detections"]


def compare_detections(
    reference: Any, exported: Mapping[str, np.ndarray], iou_match: float = 0.5
) -> dict[str, Any]:
    """Pair each exported detection with the unused reference detection of the same label and the
    highest IoU (at least ``iou_match``), scanning by decreasing score.

    Returns:
        ``matched``, ``unmatched_reference``, ``unmatched_exported``, ``max_box_diff`` (px, over
        matched pairs), ``max_score_diff`` and ``label_mismatch`` (pairs whose best box has another label).
    """
    ref_boxes = reference.bboxes.detach().cpu().double().numpy().reshape(-1, 4)
    ref_scores = reference.scores.detach().cpu().double().numpy().reshape(-1)
    ref_labels = reference.labels.detach().cpu().numpy().reshape(-1)
    boxes = np.asarray(exported["bboxes"], dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(exported["scores"], dtype=np.float64).reshape(-1)
    labels = np.asarray(exported["labels"]).reshape(-1)
    used = np.zeros(len(ref_boxes), dtype=bool)
    box_diff = score_diff = 0.0
    matched = label_mismatch = 0
    for index in np.argsort(-scores, kind="stable"):
        if not len(ref_boxes):
            break
        x1 = np.maximum(ref_boxes[:, 0], boxes[index, 0])
        y1 = np.maximum(ref_boxes[:, 1], boxes[index, 1])
        x2 = np.minimum(ref_boxes[:, 2], boxes[index, 2])
        y2 = np.minimum(ref_boxes[:, 3], boxes[index, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
        iou = inter / np.maximum(area(ref_boxes) + area(boxes[index]) - inter, 1e-9)
        iou[used] = -1
        same = np.where(ref_labels == labels[index], iou, -1)
        best = int(np.argmax(same))
        if same[best] < iou_match:
            if iou.max() >= iou_match:
                label_mismatch += 1
            continue
        used[best] = True
        matched += 1
        box_diff = max(box_diff, float(np.abs(ref_boxes[best] - boxes[index]).max()))
        score_diff = max(score_diff, float(abs(ref_scores[best] - scores[index])))
    return {
        "matched": matched,
        "unmatched_reference": int(len(ref_boxes) - used.sum()),
        "unmatched_exported": int(len(boxes) - matched),
        "max_box_diff": box_diff,
        "max_score_diff": score_diff,
        "label_mismatch": label_mismatch,
    }
