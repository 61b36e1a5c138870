"""Detections as JSON records, masks as COCO RLE (NumPy and pycocotools only: the deploy runtime uses them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..adapter import class_name

__all__ = ["detection_records", "encode_mask_rle"]


def encode_mask_rle(masks: Any) -> list[dict]:
    """Run-length encode binary masks the way COCO stores them.

    Args:
        masks: (N, H, W) bool/uint8 array (nonzero = inside).

    Returns:
        N dicts ``{"size": [H, W], "counts": str}`` (compressed RLE, counts decoded to ASCII).
    """
    from pycocotools import mask as mask_utils

    array = np.asarray(masks)
    if array.ndim != 3:
        raise ValueError(f"encode_mask_rle: masks must be (N, H, W), got shape {tuple(array.shape)}")
    if len(array) == 0:
        return []
    # pycocotools reads column-major uint8 (H, W, N).
    encoded = mask_utils.encode(np.asfortranarray(array.transpose(1, 2, 0) != 0, dtype=np.uint8))
    for rle in encoded:
        rle["counts"] = rle["counts"].decode("ascii")
    return encoded


def detection_records(
    bboxes: Any,
    scores: Any,
    labels: Any,
    masks: Any = None,
    class_names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """One image's detections as JSON-ready dicts, best score first.

    Args:
        bboxes: (N, 4) xyxy in original-image pixels.
        scores: (N,) scores.
        labels: (N,) class indices.
        masks: optional (N, H, W) binary masks at the original size.
        class_names: names by label; None writes the label as a string.

    Returns:
        N dicts ``{"bbox": [x1, y1, x2, y2], "score", "label", "class"}``, plus ``"mask"``: a COCO
        compressed RLE ``{"size": [H, W], "counts": str}`` when there are masks.
    """
    bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    rles = encode_mask_rle(masks) if masks is not None else None
    records = []
    for index in np.argsort(-scores, kind="stable").tolist():
        label = int(labels[index])
        record = {
            "bbox": [float(v) for v in bboxes[index]],
            "score": float(scores[index]),
            "label": label,
            "class": class_name(label, class_names),
        }
        if rles is not None:
            record["mask"] = rles[index]
        records.append(record)
    return records
