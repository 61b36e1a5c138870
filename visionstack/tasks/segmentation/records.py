"""The classes of a predicted label map as JSON records (NumPy only: the deploy runtime uses them too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..adapter import class_name

__all__ = ["seg_class_records"]


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
            "class": class_name(int(label), class_names),
            "pixels": int(counts[label]),
            "fraction": int(counts[label]) / total,
        }
        for label in present[order].tolist()
    ]
