"""Action predictions as JSON records (NumPy only: the deploy runtime imports them too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..adapter import class_name

__all__ = ["action_record", "ranked_classes", "timeline_record"]


def ranked_classes(
    scores: Any, class_names: Sequence[str] | None = None, topk: int = 5
) -> list[dict[str, Any]]:
    """The ``topk`` best classes, best first, as ``{"label": int, "class": str, "score": float}``.

    Args:
        scores: (num_classes,) scores (probabilities for a softmax head). Equal scores keep the lower
            label first (as ``np.argmax`` and the classification records do).
        class_names: names by label; None (or a label past the list) writes the label as a string.
        topk: how many classes; at most num_classes are returned.
    """
    if topk < 1:
        raise ValueError(f"action records: topk must be >= 1, got {topk}")
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("action records: the scores are empty")
    order = np.argsort(-values, kind="stable")[:topk]
    return [
        {"label": int(i), "class": class_name(int(i), class_names), "score": float(values[i])} for i in order
    ]


def action_record(scores: Any, class_names: Sequence[str] | None = None, topk: int = 5) -> dict[str, Any]:
    """One video's record: ``{"topk": [{"label", "class", "score"}, ...]}`` (see :func:`ranked_classes`)."""
    return {"topk": ranked_classes(scores, class_names, topk)}


def timeline_record(
    windows: Sequence[tuple[float, float, Any]], class_names: Sequence[str] | None = None, topk: int = 5
) -> list[dict[str, Any]]:
    """Records of a long video scored window by window (a sliding clip).

    Args:
        windows: ``(start_seconds, end_seconds, scores)`` per window, scores (num_classes,).
        class_names: names by label.
        topk: classes per window.

    Returns:
        ``[{"start": s, "end": s, "topk": [...]}, ...]`` in the given order.
    """
    records = []
    for index, window in enumerate(windows):
        start, end, scores = _window(window, index, "timeline_record")
        records.append({"start": start, "end": end, "topk": ranked_classes(scores, class_names, topk)})
    return records


def _window(window: Any, index: int, owner: str) -> tuple[float, float, np.ndarray]:
    """``(start, end, scores)`` of one window, checked (``end >= start``)."""
    try:
        start, end, scores = window
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: window {index} must be (start_seconds, end_seconds, scores)") from None
    start, end = float(start), float(end)
    if end < start:
        raise ValueError(f"{owner}: window {index} ends ({end} s) before it starts ({start} s)")
    return start, end, np.asarray(scores, dtype=np.float64).reshape(-1)
