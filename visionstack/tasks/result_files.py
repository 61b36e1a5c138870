"""What the tasks' result-file readers (``tasks/<task>/results.py``) share: JSON lists and metric configs.

``visionstack eval`` scores result files written by ``test``; each task reads its own format, but the
first checks of a JSON result file and the walk over a ``test_evaluator``'s metric entries are the
same everywhere, and so are their error messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..registry import METRICS, resolve_type

__all__ = ["metric_entries", "read_json_list"]


def read_json_list(path: Path, what: str, items: str) -> list:
    """The JSON list stored in ``path``; its elements are not checked.

    Args:
        path: the result file.
        what: how error messages name the file's kind, e.g. ``"COCO results"``.
        items: what the list holds, for the error message, e.g. ``"detections"``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not UTF-8 JSON, or not a list; naming ``what`` and the file.
    """
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{what} {str(path)!r} is not valid JSON: {error}") from error
    if not isinstance(value, list):
        raise ValueError(f"{what} {str(path)!r} must be a JSON list of {items}, got {type(value).__name__}")
    return value


def metric_entries(metrics: Mapping | Sequence[Mapping] | None) -> Iterator[tuple[type, Mapping[str, Any]]]:
    """The entries of a ``test_evaluator`` metrics config (one dict, a list of them, or None), in order,
    each with the metric class its ``type`` names (resolved as each entry is reached)."""
    for entry in [metrics] if isinstance(metrics, Mapping) else list(metrics or []):
        yield resolve_type(entry["type"], METRICS), entry
