"""Classification predictions as JSON records (NumPy only: the deploy runtime uses them too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..adapter import class_name

__all__ = ["classification_record"]


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
        {"label": int(i), "class": class_name(int(i), class_names), "score": float(values[i])} for i in order
    ]
    return {
        "topk": ranked,
        "pred_label": ranked[0]["label"],
        "pred_class": ranked[0]["class"],
        "pred_score": ranked[0]["score"],
    }
