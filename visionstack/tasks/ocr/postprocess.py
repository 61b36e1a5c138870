"""DBNet's post-processing: a probability map -> text polygons with scores (NumPy, cv2, pyclipper).

No torch here: the ONNX runtime runs the exported network (which ends at the probability map) and
then this function, so eager ``predict`` and the runtime share one implementation.

The steps are MMOCR's ``DBPostprocessor`` (after Liao et al., "Real-time Scene Text Detection with
Differentiable Binarization", AAAI 2020, section 3.5 "Inference"):

1. binarise ``prob_map > mask_thr`` and trace the outer and inner contours (``cv2.findContours``,
   ``RETR_LIST``, ``CHAIN_APPROX_SIMPLE``);
2. simplify each contour with ``cv2.approxPolyDP`` (epsilon = ``epsilon_ratio`` x its arc length);
   fewer than 4 points: dropped;
3. box score = the mean probability inside the simplified polygon; below ``min_text_score``: dropped;
4. the network predicts *shrunk* text kernels, so grow the polygon back ("unclip") with pyclipper by
   ``D' = A' * unclip_ratio / L'`` (A' area, L' perimeter of the simplified polygon); an empty or
   split result is dropped;
5. ``"quad"``: the minimum-area rectangle of the unclipped polygon, dropped when its shorter side is
   under ``min_text_width``; ``"poly"``: the unclipped polygon itself;
6. divide the coordinates by ``scale`` (the resize factor (w, h) of the test pipeline) to reach
   the original image's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pyclipper
from shapely.geometry import Polygon

__all__ = ["TEXT_REPR_TYPES", "db_postprocess", "offset_polygon", "unclip_distance"]

TEXT_REPR_TYPES = ("poly", "quad")


def offset_polygon(polygon: np.ndarray, distance: float) -> np.ndarray:
    """Grow (``distance > 0``) or shrink (``< 0``) a polygon with rounded joins (Vatti clipping).

    pyclipper works on integers: the input coordinates are truncated towards zero, as MMOCR's
    ``offset_polygon`` does with the same library.

    Args:
        polygon: (P, 2) x y points.
        distance: the offset in pixels.

    Returns:
        (Q, 2) float32 points, or an empty (0, 2) array when the result vanished or split into
        several polygons (then it no longer describes one text instance).
    """
    offsetter = pyclipper.PyclipperOffset()
    offsetter.AddPath(np.asarray(polygon).reshape(-1, 2), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    result = offsetter.Execute(distance)
    if len(result) != 1:
        return np.zeros((0, 2), dtype=np.float32)
    return np.asarray(result[0], dtype=np.float32).reshape(-1, 2)


def unclip_distance(polygon: np.ndarray, unclip_ratio: float) -> float:
    """The unclip offset ``A * r / L`` of a (P, 2) polygon (area A, perimeter L, ratio r)."""
    shape = Polygon(polygon)
    return shape.area * unclip_ratio / shape.length


def db_postprocess(
    prob_map: np.ndarray,
    *,
    text_repr_type: str = "poly",
    mask_thr: float = 0.3,
    min_text_score: float = 0.3,
    min_text_width: float = 5,
    unclip_ratio: float = 1.5,
    epsilon_ratio: float = 0.01,
    max_candidates: int = 3000,
    scale: Sequence[float] = (1.0, 1.0),
) -> tuple[list[np.ndarray], np.ndarray]:
    """Text instances of one DBNet probability map (see the module docstring for the steps).

    Args:
        prob_map: (H, W) float32 text probabilities in [0, 1], at the network's input size.
        text_repr_type: ``"quad"`` (4-point minimum-area rectangles) or ``"poly"`` (polygons).
        mask_thr: pixels with a probability above it are text.
        min_text_score: the smallest mean probability inside a kept region.
        min_text_width: the shortest side a quad may have (pixels of the map); ``"quad"`` only.
        unclip_ratio: the ``r`` of the unclip offset ``A * r / L``.
        epsilon_ratio: the ``approxPolyDP`` tolerance as a fraction of the contour's length.
        max_candidates: contours beyond this index are not examined (MMOCR stops after index
            ``max_candidates``, so at most ``max_candidates + 1`` are).
        scale: (sx, sy), the test pipeline's ``scale_factor`` (w, h): output coordinates are the
            map's divided by it.

    Returns:
        ``(polygons, scores)``: a list of N (P, 2) float32 arrays (x y, original image pixels;
        P = 4 for quads, in ``cv2.boxPoints`` order) and (N,) float32 box scores.
    """
    if text_repr_type not in TEXT_REPR_TYPES:
        raise ValueError(f"db_postprocess: text_repr_type must be 'poly' or 'quad', got {text_repr_type!r}")
    prob_map = np.asarray(prob_map, dtype=np.float32)
    if prob_map.ndim != 2:
        raise ValueError(f"db_postprocess: prob_map must be (H, W), got shape {prob_map.shape}")
    text_mask = (prob_map > mask_thr).astype(np.uint8) * 255
    contours, _ = cv2.findContours(text_mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    scale_xy = np.asarray(scale, dtype=np.float32).reshape(1, 2)

    polygons, scores = [], []
    for index, contour in enumerate(contours):
        if index > max_candidates:
            break
        epsilon = epsilon_ratio * cv2.arcLength(contour, True)
        points = cv2.approxPolyDP(contour, epsilon, True).reshape(-1, 2)
        if points.shape[0] < 4:
            continue
        score = region_score(prob_map, points)
        if score < min_text_score:
            continue
        polygon = offset_polygon(points, unclip_distance(points, unclip_ratio))
        if len(polygon) == 0:
            continue
        if text_repr_type == "quad":
            rect = cv2.minAreaRect(polygon)
            if min(rect[1]) < min_text_width:
                continue
            polygon = cv2.boxPoints(rect)
        if len(polygon) < 4:
            continue
        polygons.append((polygon / scale_xy).astype(np.float32))
        scores.append(score)
    return polygons, np.asarray(scores, dtype=np.float32)


def region_score(prob_map: np.ndarray, points: np.ndarray) -> float:
    """Mean of ``prob_map`` over the pixels of the filled (P, 2) polygon ``points`` (integer x y)."""
    height, width = prob_map.shape
    x_min = int(np.clip(np.floor(points[:, 0].min()), 0, width - 1))
    x_max = int(np.clip(np.ceil(points[:, 0].max()), 0, width - 1))
    y_min = int(np.clip(np.floor(points[:, 1].min()), 0, height - 1))
    y_max = int(np.clip(np.ceil(points[:, 1].max()), 0, height - 1))
    mask = np.zeros((y_max - y_min + 1, x_max - x_min + 1), dtype=np.uint8)
    shifted = (points - np.array([x_min, y_min])).astype(np.int32).reshape(1, -1, 2)
    cv2.fillPoly(mask, shifted, 1)
    return float(cv2.mean(prob_map[y_min : y_max + 1, x_min : x_max + 1], mask)[0])
