"""Word crops for recognition: a text region of a scene image cut out and rectified (NumPy and OpenCV only).

A detector's region is a polygon. Its crop is the region's quadrilateral (the polygon itself when it has four
points, else its minimum-area rectangle) warped to an upright rectangle: the quadrilateral's corners are
ordered so that the edge read as the top runs left to right and is the most horizontal of the candidate edges,
which reads text rotated by up to 45 degrees in either direction the right way up. The end-to-end pipeline
(:mod:`.end_to_end`) and the ONNX runtime cut words this way, so both backends recognise the same pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["crop_polygon", "ordered_quad"]


def ordered_quad(polygon: np.ndarray) -> np.ndarray:
    """The (4, 2) float32 corners of ``polygon``'s quadrilateral as top-left, top-right, bottom-right,
    bottom-left of the text it holds (see the module docstring).

    Raises:
        ValueError: fewer than three points.
    """
    points = np.asarray(polygon, dtype=np.float32).reshape(-1, 2)
    if len(points) < 3:
        raise ValueError(f"a text region needs at least 3 points, got {len(points)}")
    quad = points if len(points) == 4 else cv2.boxPoints(cv2.minAreaRect(points)).astype(np.float32)
    best, best_key = quad, None
    for start in range(4):
        for step in (1, -1):
            candidate = quad[[(start + step * k) % 4 for k in range(4)]]
            top, side = candidate[1] - candidate[0], candidate[3] - candidate[0]
            if (
                top[0] * side[1] - top[1] * side[0] <= 0 or top[0] <= 0
            ):  # clockwise (y down), top to the right
                continue
            slope = abs(float(np.arctan2(top[1], top[0])))
            key = (round(slope, 6), -float(np.hypot(*top)))
            if best_key is None or key < best_key:
                best, best_key = candidate, key
    return best.astype(np.float32)


def crop_polygon(image: np.ndarray, polygon: np.ndarray, min_size: int = 2) -> np.ndarray:
    """The rectified crop of ``polygon`` from ``image`` ((H, W) or (H, W, C) uint8), at least ``min_size``
    pixels a side; parts outside the image are filled by replicating its border."""
    quad = ordered_quad(polygon)
    width = max(int(round(max(np.hypot(*(quad[1] - quad[0])), np.hypot(*(quad[2] - quad[3]))))), min_size)
    height = max(int(round(max(np.hypot(*(quad[3] - quad[0])), np.hypot(*(quad[2] - quad[1]))))), min_size)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad, target)
    return cv2.warpPerspective(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
