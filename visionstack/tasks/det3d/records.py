"""3D detections as JSON records (NumPy only: both inference backends and the result files use them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..adapter import class_name

__all__ = ["BOX_FORMAT", "det3d_records"]

BOX_FORMAT = (
    "LiDAR frame (x forward, y left, z up), metres: x, y, z of the bottom centre, dx (length), dy (width), "
    "dz (height), yaw (rad, counter-clockwise from +x)"
)


def det3d_records(
    boxes: Any, scores: Any, labels: Any, class_names: Sequence[str] | None
) -> list[dict[str, Any]]:
    """One dict per detection, best score first: ``class``, ``label``, ``score``, ``box_3d`` (7 floats, see
    :data:`BOX_FORMAT`) and ``distance`` (metres from the sensor, in the ground plane)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 7)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    return [
        {
            "class": class_name(int(labels[i]), class_names),
            "label": int(labels[i]),
            "score": round(float(scores[i]), 5),
            "box_3d": [round(float(v), 4) for v in boxes[i]],
            "distance": round(float(np.hypot(boxes[i, 0], boxes[i, 1])), 2),
        }
        for i in order
    ]
