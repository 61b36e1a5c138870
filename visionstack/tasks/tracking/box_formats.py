"""Conversions between the box parametrisations the trackers use.

Every function takes a (4,) box or an (N, 4) array of boxes and returns float64 of the same shape:

- ``xyxy``: (x1, y1, x2, y2), 0-based absolute pixels — the in-memory convention of visionstack.
- ``xyah``: (centre x, centre y, aspect ratio w / h, height) — the measurement of DeepSORT's and
  ByteTrack's Kalman filter (:mod:`.kalman_xyah`).
- ``xysr``: (centre x, centre y, scale = area w * h, ratio w / h) — the measurement of SORT's and
  OC-SORT's Kalman filter (:mod:`.kalman_xysr`).
- ``xywh``: (left, top, width, height) in the same 0-based pixels; the MOT files' 1-based
  ``bb_left, bb_top`` are converted in ``mot_format.py``, not here.

Widths and heights are plain differences ``x2 - x1`` (no "+1" pixel convention).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "xyah_to_xyxy",
    "xysr_to_xyxy",
    "xywh_to_xyxy",
    "xyxy_to_xyah",
    "xyxy_to_xysr",
    "xyxy_to_xywh",
]


def _as_boxes(boxes: np.ndarray) -> np.ndarray:
    """``boxes`` as a float64 (N, 4) array (a (4,) box becomes (1, 4))."""
    array = np.asarray(boxes, dtype=np.float64)
    if array.shape[-1:] != (4,) or array.ndim not in (1, 2):
        raise ValueError(f"boxes must have shape (4,) or (N, 4), got {array.shape}")
    return array.reshape(-1, 4)


def _like(result: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``result`` (N, 4) reshaped back to (4,) when the input was a single box."""
    return result[0] if np.ndim(boxes) == 1 else result


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) -> (centre x, centre y, w / h, h); (4,) or (N, 4)."""
    b = _as_boxes(boxes)
    width, height = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    centre_x, centre_y = b[:, 0] + width / 2, b[:, 1] + height / 2
    return _like(np.stack([centre_x, centre_y, width / height, height], axis=1), boxes)


def xyah_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(centre x, centre y, w / h, h) -> (x1, y1, x2, y2); (4,) or (N, 4)."""
    b = _as_boxes(boxes)
    width, height = b[:, 2] * b[:, 3], b[:, 3]
    return _like(_centre_size_to_xyxy(b[:, 0], b[:, 1], width, height), boxes)


def xyxy_to_xysr(boxes: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) -> (centre x, centre y, area w * h, w / h); (4,) or (N, 4)."""
    b = _as_boxes(boxes)
    width, height = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    centre_x, centre_y = b[:, 0] + width / 2, b[:, 1] + height / 2
    return _like(np.stack([centre_x, centre_y, width * height, width / height], axis=1), boxes)


def xysr_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(centre x, centre y, area, w / h) -> (x1, y1, x2, y2); (4,) or (N, 4).

    A negative area (a Kalman prediction can overshoot) is clipped to 0, giving a degenerate box
    instead of NaN.
    """
    b = _as_boxes(boxes)
    # w = sqrt(s * r), h = s / w = sqrt(s / r); both from the area, as SORT does.
    area = np.clip(b[:, 2], 0.0, None)
    width = np.sqrt(area * b[:, 3])
    height = np.divide(area, width, out=np.zeros_like(area), where=width > 0)
    return _like(_centre_size_to_xyxy(b[:, 0], b[:, 1], width, height), boxes)


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) -> (left, top, width, height), same 0-based pixels; (4,) or (N, 4)."""
    b = _as_boxes(boxes)
    return _like(np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1), boxes)


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(left, top, width, height) -> (x1, y1, x2, y2), same 0-based pixels; (4,) or (N, 4)."""
    b = _as_boxes(boxes)
    return _like(np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1), boxes)


def _centre_size_to_xyxy(
    centre_x: np.ndarray, centre_y: np.ndarray, width: np.ndarray, height: np.ndarray
) -> np.ndarray:
    return np.stack(
        [centre_x - width / 2, centre_y - height / 2, centre_x + width / 2, centre_y + height / 2], axis=1
    )
