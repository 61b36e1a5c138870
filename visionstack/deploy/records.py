"""JSON records of predictions, shared by ``visionstack infer`` on both backends (NumPy only).

Every function takes NumPy arrays (or anything ``np.asarray`` accepts), so the PyTorch inferencer
and the ONNX Runtime inferencer write the same JSON for the same predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["classification_record", "detection_records", "encode_mask_rle", "seg_class_records"]


def _class_name(label: int, class_names: Sequence[str] | None) -> str:
    named = class_names is not None and 0 <= label < len(class_names)
    return str(class_names[label]) if named else str(label)


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


def classification_record(
    scores: Any, class_names: Sequence[str] | None = None, topk: int = 5
) -> dict[str, Any]:
    """``topk`` (ranked ``{"label", "class", "score"}``) and ``pred_label/pred_class/pred_score``.

    Args:
        scores: (num_classes,) probabilities. Ties keep the lower label first.
    """
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-values, kind="stable")[: min(topk, values.size)]
    ranked = [
        {"label": int(i), "class": _class_name(int(i), class_names), "score": float(values[i])} for i in order
    ]
    return {
        "topk": ranked,
        "pred_label": ranked[0]["label"],
        "pred_class": ranked[0]["class"],
        "pred_score": ranked[0]["score"],
    }


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
            "class": _class_name(label, class_names),
        }
        if rles is not None:
            record["mask"] = rles[index]
        records.append(record)
    return records


def seg_class_records(
    seg_map: Any, class_names: Sequence[str] | None = None, ignore_index: int = 255
) -> list[dict[str, Any]]:
    """The classes of one predicted segmentation map, largest area first.

    Args:
        seg_map: (1, H, W) or (H, W) class indices (original image size).
        class_names: names by label; None writes the label as a string.
        ignore_index: a label that is not a class (not listed).

    Returns:
        ``{"label", "class", "pixels", "fraction"}`` per class present; ``fraction`` is the share of
        all H x W pixels. Ties in size keep the label order.
    """
    labels = np.asarray(seg_map).astype(np.int64).reshape(-1)
    total = labels.size
    labels = labels[(labels != ignore_index) & (labels >= 0)]
    counts = np.bincount(labels) if labels.size else np.zeros(0, dtype=np.int64)
    present = np.flatnonzero(counts)
    order = np.argsort(-counts[present], kind="stable")
    return [
        {
            "label": int(label),
            "class": _class_name(int(label), class_names),
            "pixels": int(counts[label]),
            "fraction": int(counts[label]) / total,
        }
        for label in present[order].tolist()
    ]
