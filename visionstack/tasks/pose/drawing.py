"""Draw people's keypoints and skeletons onto an image (``infer --out-dir``, ``data browse``).

Keypoints are pixel indices (see :mod:`.datasets`). A keypoint is drawn when its score reaches ``kpt_thr`` (the
ground truth: when it is labelled), a limb when both its ends are; left limbs green, right ones orange, the
middle blue, as :data:`.metainfo.COCO_KEYPOINTS` colours them (RGB there, BGR here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from ...visualization.primitives import as_bgr
from .metainfo import COCO_KEYPOINTS

__all__ = ["draw_poses"]


def _array(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    if value is None:
        return np.zeros(shape, dtype=np.float32)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def draw_poses(
    image_bgr: np.ndarray,
    instances: Mapping[str, Any] | Any,
    kpt_thr: float = 0.3,
    metainfo: Mapping[str, Any] | None = None,
    draw_boxes: bool = True,
) -> np.ndarray:
    """A copy of the image with each person's box, keypoints and limbs drawn.

    Args:
        image_bgr: (H, W, 3) uint8 BGR (or (H, W) grayscale).
        instances: ``keypoints`` (N, K, 2), and ``keypoint_scores`` (N, K) (predictions) or ``keypoints_visible``
            (N, K) (ground truth); ``bboxes`` (N, 4) xyxy when present.
        kpt_thr: the lowest score drawn.
        metainfo: ``skeleton``, ``keypoint_colors``, ``skeleton_colors`` (default COCO-17's).
        draw_boxes: draw the person boxes too.
    """
    meta = metainfo or COCO_KEYPOINTS
    canvas = as_bgr(image_bgr, "draw_poses").copy()
    keypoints = _array(instances.get("keypoints"), (0, 0, 2))
    if keypoints.ndim != 3 or keypoints.shape[-1] < 2:
        raise ValueError(f"draw_poses: keypoints must be (N, K, 2), got shape {keypoints.shape}")
    count, num_keypoints = keypoints.shape[:2]
    scores = instances.get("keypoint_scores")
    if scores is None:
        scores = instances.get("keypoints_visible")
    scores = _array(scores, (count, num_keypoints)) if scores is not None else np.ones((count, num_keypoints))
    thickness = max(1, round(min(canvas.shape[:2]) / 160))
    radius = thickness + 1
    key_colors = [tuple(int(c) for c in reversed(color)) for color in meta.get("keypoint_colors", ())]
    limb_colors = [tuple(int(c) for c in reversed(color)) for color in meta.get("skeleton_colors", ())]
    boxes = instances.get("bboxes")
    if draw_boxes and boxes is not None:
        for box in _array(boxes, (0, 4)).reshape(-1, 4):
            x1, y1, x2, y2 = (int(round(float(v))) for v in box)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), (200, 200, 200), 1, cv2.LINE_AA)
    for person in range(count):
        points, shown = keypoints[person], scores[person] >= kpt_thr
        for index, (a, b) in enumerate(meta.get("skeleton", ())):
            if a < num_keypoints and b < num_keypoints and shown[a] and shown[b]:
                color = limb_colors[index] if index < len(limb_colors) else (255, 128, 51)
                start = tuple(int(round(float(v))) for v in points[a])
                end = tuple(int(round(float(v))) for v in points[b])
                cv2.line(canvas, start, end, color, thickness, cv2.LINE_AA)
        for index in np.flatnonzero(shown):
            color = key_colors[index] if index < len(key_colors) else (0, 0, 255)
            center = tuple(int(round(float(v))) for v in points[index])
            cv2.circle(canvas, center, radius, color, -1, cv2.LINE_AA)
    return canvas
