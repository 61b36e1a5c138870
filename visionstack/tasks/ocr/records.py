"""The JSON records of OCR predictions (``infer``'s ``predictions.json``, ``visionstack ocr``'s, and the result
files ``test --out-format`` writes): plain lists and numbers, polygons flat ``[x1, y1, x2, y2, ...]`` in
original-image pixels as MMOCR writes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["flat_polygon", "ocr_record", "textdet_record", "textrecog_record"]


def flat_polygon(polygon: Any, decimals: int = 2) -> list[float]:
    """A polygon ((P, 2) or flat) as a flat list of rounded floats."""
    return [round(float(value), decimals) for value in np.asarray(polygon, np.float64).reshape(-1)]


def textdet_record(instances: Mapping[str, Any]) -> dict[str, Any]:
    """``{"instances": [{"polygon": [...], "score": s}, ...]}`` of a ``pred_instances`` result field."""
    polygons = list(instances.get("polygons", []))
    scores = np.asarray(instances.get("scores", np.ones(len(polygons))), np.float64).reshape(-1)
    return {
        "instances": [
            {"polygon": flat_polygon(polygon), "score": round(float(score), 4)}
            for polygon, score in zip(polygons, scores)
        ]
    }


def textrecog_record(text: Mapping[str, Any]) -> dict[str, Any]:
    """``{"text": ..., "score": s, "char_scores": [...]}`` of a ``pred_text`` result field."""
    char_scores = np.asarray(text.get("char_scores", []), np.float64).reshape(-1)
    return {
        "text": str(text["item"]),
        "score": round(float(np.asarray(text.get("score", 0.0))), 4),
        "char_scores": [round(float(value), 4) for value in char_scores],
    }


def ocr_record(result: Mapping[str, Any]) -> dict[str, Any]:
    """The end-to-end record: per region its polygon, detection score, text, text score and character
    confidences."""
    instances = result.get("pred_instances", {})
    record = textdet_record(instances)
    texts = list(instances.get("texts", []))
    text_scores = np.asarray(instances.get("text_scores", np.zeros(len(texts))), np.float64).reshape(-1)
    char_scores = list(instances.get("char_scores", [[] for _ in texts]))
    for entry, text, score, chars in zip(record["instances"], texts, text_scores, char_scores):
        entry["text"] = str(text)
        entry["text_score"] = round(float(score), 4)
        entry["char_scores"] = [round(float(v), 4) for v in np.asarray(chars, np.float64).reshape(-1)]
    return record
