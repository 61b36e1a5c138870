"""DBNet's training targets from text polygons (NumPy, cv2, pyclipper, Shapely).

Liao et al., "Real-time Scene Text Detection with Differentiable Binarization" (AAAI 2020),
section 3.4 "Label generation", with MMOCR's ``DBModuleLoss`` details:

- probability (kernel) map: each polygon G shrunk by ``D = A (1 - r^2) / L`` (A its area, L its
  perimeter, r = ``shrink_ratio`` = 0.4) and filled with 1. As MMOCR, the polygon is cast to int
  and D rounded to an integer pixel count before the (pyclipper, rounded joins) shrink;
- its mask: 0 over ignored polygons (``###``, polygons smaller than ``min_sidelength`` or of area
  < 1, and those that vanish or split when shrunk), 1 elsewhere;
- threshold map: G expanded by the same D (not rounded); in the expanded region each pixel gets
  ``1 - min(dist / D, 1)`` with dist its distance to the nearest edge of G (maximum over
  overlapping polygons), then everything is mapped linearly to [thr_min, thr_max] = [0.3, 0.7];
- threshold mask: the filled expanded polygons (non-ignored ones only).

The distance is the true point-to-segment distance of the paper's definition. MMOCR (and the
authors' code) use a law-of-cosines shortcut that returns the distance to the nearer endpoint when
a pixel sees the edge under an acute angle; that differs from the segment distance near edges
shorter than about 2 D (the short sides of small words).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from shapely.geometry import Polygon

from ..postprocess import offset_polygon

__all__ = [
    "DBTargets",
    "build_db_targets",
    "is_polygon_too_small",
    "point_segment_distance",
    "shrink_distance",
    "draw_kernels",
    "draw_threshold_map",
]


@dataclass
class DBTargets:
    """The four (H, W) float32 target maps of one image.

    Attributes:
        shrink_map: 1 inside the shrunk (kernel) polygons of the kept instances, 0 elsewhere.
        shrink_mask: 0 over ignored instances, 1 elsewhere.
        thr_map: the threshold targets in [thr_min, thr_max].
        thr_mask: 1 inside the expanded polygons of the kept instances.
        ignored: (N,) bool, the instances that were ignored (given or found invalid).
    """

    shrink_map: np.ndarray
    shrink_mask: np.ndarray
    thr_map: np.ndarray
    thr_mask: np.ndarray
    ignored: np.ndarray


def shrink_distance(polygon: np.ndarray, shrink_ratio: float = 0.4) -> float:
    """The paper's offset ``D = A (1 - r^2) / L`` of a (P, 2) polygon (A area, L perimeter)."""
    shape = Polygon(np.asarray(polygon, dtype=np.float64).reshape(-1, 2))
    return shape.area * (1.0 - shrink_ratio**2) / shape.length


def is_polygon_too_small(polygon: np.ndarray, min_sidelength: float = 8) -> bool:
    """True when a (P, 2) polygon has area < 1 or its minimum-area rectangle a side < ``min_sidelength``."""
    polygon = np.asarray(polygon, dtype=np.float32).reshape(-1, 2)
    if abs(Polygon(polygon).area) < 1:
        return True
    return min(cv2.minAreaRect(polygon)[1]) < min_sidelength


def draw_kernels(
    shape: tuple[int, int], polygons: Sequence[np.ndarray], ignored: np.ndarray, shrink_ratio: float = 0.4
) -> tuple[np.ndarray, np.ndarray]:
    """Fill the shrunk polygons of the non-ignored instances.

    Args:
        shape: (H, W) of the map.
        polygons: N (P, 2) polygons in pixels.
        ignored: (N,) bool; ignored polygons are skipped.
        shrink_ratio: the ``r`` of ``D = A (1 - r^2) / L``.

    Returns:
        ``(kernel, ignored)``: (H, W) float32 map with instance ``i`` drawn as ``i + 1``, and the
        ignore flags with the polygons whose shrink vanished or split added.
    """
    kernel = np.zeros(shape, dtype=np.float32)
    ignored = np.array(ignored, dtype=bool, copy=True)
    for index, polygon in enumerate(polygons):
        if ignored[index]:
            continue
        polygon = np.asarray(polygon).reshape(-1, 2).astype(np.int32)
        shape_ = Polygon(polygon)
        # MMOCR rounds the offset to whole pixels (int(x + 0.5)) and guards the perimeter
        distance = int(shape_.area * (1 - shrink_ratio**2) / (shape_.length + 0.001) + 0.5)
        shrunk = offset_polygon(polygon, -distance)
        if len(shrunk) == 0:
            ignored[index] = True
            continue
        cv2.fillPoly(kernel, [shrunk.astype(np.int32)], index + 1)
    return kernel, ignored


def point_segment_distance(xs: np.ndarray, ys: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Euclidean distance of the points (xs, ys) to the segment start-end (any broadcastable shape)."""
    dx, dy = float(end[0] - start[0]), float(end[1] - start[1])
    length_sq = dx * dx + dy * dy
    if length_sq == 0:
        return np.hypot(xs - start[0], ys - start[1])
    t = np.clip(((xs - start[0]) * dx + (ys - start[1]) * dy) / length_sq, 0.0, 1.0)
    return np.hypot(xs - (start[0] + t * dx), ys - (start[1] + t * dy))


def draw_threshold_map(
    shape: tuple[int, int],
    polygons: Sequence[np.ndarray],
    shrink_ratio: float = 0.4,
    thr_min: float = 0.3,
    thr_max: float = 0.7,
) -> tuple[np.ndarray, np.ndarray]:
    """The threshold map and mask of the given (kept) polygons.

    Args:
        shape: (H, W) of the maps.
        polygons: (P, 2) float polygons in pixels.
        shrink_ratio: sets the border width ``D = A (1 - r^2) / L``.
        thr_min, thr_max: the map's range (far from any edge: ``thr_min``; on an edge: ``thr_max``).

    Returns:
        ``(thr_map, thr_mask)``: (H, W) float32 in [thr_min, thr_max] and (H, W) float32 0/1.
    """
    height, width = shape
    border = np.zeros(shape, dtype=np.float32)
    mask = np.zeros(shape, dtype=np.uint8)
    for polygon in polygons:
        polygon = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        distance = shrink_distance(polygon, shrink_ratio)
        expanded = offset_polygon(polygon, distance)
        if len(expanded) == 0:  # degenerate polygon: MMOCR falls back to the polygon itself
            expanded = polygon
        expanded = expanded.astype(np.int32)
        cv2.fillPoly(mask, [expanded], 1)
        x_min, y_min = expanded.min(axis=0)
        x_max, y_max = expanded.max(axis=0)
        # the visible part of the expanded box
        x0, x1 = max(x_min, 0), min(x_max, width - 1)
        y0, y1 = max(y_min, 0), min(y_max, height - 1)
        if x0 > x1 or y0 > y1:
            continue
        ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1].astype(np.float64)
        nearest = np.full(xs.shape, np.inf)
        for index in range(len(polygon)):
            edge = point_segment_distance(xs, ys, polygon[index], polygon[(index + 1) % len(polygon)])
            nearest = np.minimum(nearest, edge)
        closeness = 1.0 - np.clip(nearest / distance, 0.0, 1.0)
        region = border[y0 : y1 + 1, x0 : x1 + 1]
        np.fmax(region, closeness.astype(np.float32), out=region)
    thr_map = border * (thr_max - thr_min) + thr_min
    return thr_map.astype(np.float32), mask.astype(np.float32)


def build_db_targets(
    shape: tuple[int, int],
    polygons: Sequence[np.ndarray],
    ignored: Sequence[bool] | np.ndarray | None = None,
    *,
    shrink_ratio: float = 0.4,
    thr_min: float = 0.3,
    thr_max: float = 0.7,
    min_sidelength: float = 8,
) -> DBTargets:
    """All DBNet targets of one image (MMOCR ``DBModuleLoss._get_target_single``).

    Args:
        shape: (H, W) of the maps (the network's input size, padding included: padded pixels are
            background, as MMOCR's ``Pad`` makes them).
        polygons: N (P, 2) polygons, x y in input pixels.
        ignored: (N,) bool, True for ``###`` instances; None: none ignored.
        shrink_ratio: r of the offset ``D = A (1 - r^2) / L``.
        thr_min, thr_max: range of the threshold map.
        min_sidelength: polygons whose minimum-area rectangle has a shorter side are ignored.

    Returns:
        The :class:`DBTargets`.
    """
    count = len(polygons)
    ignored = np.zeros(count, dtype=bool) if ignored is None else np.array(ignored, dtype=bool).reshape(-1)
    if len(ignored) != count:
        raise ValueError(f"build_db_targets: {count} polygons but {len(ignored)} ignore flags")
    for index, polygon in enumerate(polygons):
        if is_polygon_too_small(polygon, min_sidelength):
            ignored[index] = True
    kernel, ignored = draw_kernels(shape, polygons, ignored, shrink_ratio)
    shrink_mask = np.ones(shape, dtype=np.uint8)
    for polygon, is_ignored in zip(polygons, ignored):
        if is_ignored:
            cv2.fillPoly(shrink_mask, [np.asarray(polygon).reshape(-1, 2).astype(np.int32)], 0)
    kept = [polygon for polygon, is_ignored in zip(polygons, ignored) if not is_ignored]
    thr_map, thr_mask = draw_threshold_map(shape, kept, shrink_ratio, thr_min, thr_max)
    return DBTargets(
        shrink_map=(kernel > 0).astype(np.float32),
        shrink_mask=shrink_mask.astype(np.float32),
        thr_map=thr_map,
        thr_mask=thr_mask,
        ignored=ignored,
    )
