"""Polygon geometry for text evaluation: areas, intersections and IoU with Shapely, as MMOCR 1.x measures them.

A polygon is a (P, 2) float32 array of x y points in pixels (P >= 3); a flat ``[x1, y1, x2, y2, ...]``
list, a tensor or a Shapely ``Polygon`` are accepted everywhere too. Coordinates pass through float32
first, as MMOCR's ``poly2shapely`` does, so the areas equal MMOCR's to the last bit.

Invalid polygons (self-crossing "bow ties" that detectors and annotators do produce) are repaired with
``buffer(0)`` before measuring, as MMOCR's ``poly_make_valid``. That repair is lossy: of the bow tie
``(0,0) (2,2) (2,0) (0,2)`` it keeps one triangle (area 1), where Shapely's raw signed-area formula says
0 and ``shapely.make_valid`` keeps both triangles (area 2). The metrics use MMOCR's repair so their
numbers are MMOCR's; :func:`make_valid_polygon` offers ``method="make_valid"`` for other uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = [
    "as_polygon_array",
    "make_valid_polygon",
    "poly_intersection",
    "poly_union",
    "polygon_area",
    "polygon_iou",
    "polygon_to_bbox",
    "polygons_to_shapely",
    "to_shapely",
]

PolygonLike = Any  # (P, 2) or (2P,) array / list / tensor, or a shapely Polygon


def as_polygon_array(polygon: PolygonLike) -> np.ndarray:
    """The polygon as a (P, 2) float32 array.

    Args:
        polygon: (P, 2) points, a flat ``[x1, y1, ...]`` sequence of even length, a tensor of either
            shape, or a Shapely ``Polygon`` (its exterior, without the closing point).

    Raises:
        ValueError: an odd number of coordinates or fewer than 3 points.
    """
    if isinstance(polygon, Polygon):
        return np.asarray(polygon.exterior.coords, dtype=np.float32)[:-1]
    if hasattr(polygon, "detach"):  # a torch tensor, without importing torch here
        polygon = polygon.detach().cpu().numpy()
    points = np.asarray(polygon, dtype=np.float32)
    if points.size % 2 or points.size < 6:
        raise ValueError(
            f"a polygon needs an even number (>= 6) of coordinates, x y per point; got shape {points.shape}"
        )
    return points.reshape(-1, 2)


def to_shapely(polygon: PolygonLike) -> Polygon:
    """A Shapely ``Polygon`` of the points (not repaired; see :func:`make_valid_polygon`)."""
    if isinstance(polygon, Polygon):
        return polygon
    return Polygon(as_polygon_array(polygon))


def polygons_to_shapely(polygons: Sequence[PolygonLike] | None) -> list[Polygon]:
    """Every polygon of a list as a Shapely ``Polygon`` (None or an empty list: ``[]``)."""
    return [to_shapely(polygon) for polygon in (polygons if polygons is not None else [])]


def make_valid_polygon(polygon: PolygonLike, method: str = "buffer") -> BaseGeometry:
    """The polygon unchanged when valid, else a repaired geometry.

    Args:
        polygon: see :func:`as_polygon_array`.
        method: ``"buffer"``: ``buffer(0)`` (MMOCR's ``poly_make_valid``; may drop a lobe of a
            self-crossing polygon, turns a degenerate one into an empty geometry of area 0);
            ``"make_valid"``: ``shapely.make_valid`` with the non-areal parts left out (keeps every lobe).
    """
    shape = to_shapely(polygon)
    if shape.is_valid:
        return shape
    if method == "buffer":
        return shape.buffer(0)
    if method != "make_valid":
        raise ValueError(f"make_valid_polygon: method must be 'buffer' or 'make_valid', got {method!r}")
    repaired = shapely.make_valid(shape)
    if isinstance(repaired, GeometryCollection):  # drop the lines and points of a partly degenerate polygon
        parts = [part for part in repaired.geoms if isinstance(part, (Polygon, MultiPolygon))]
        repaired = shapely.unary_union(parts) if parts else Polygon()
    return repaired


def polygon_area(polygon: PolygonLike) -> float:
    """The area in square pixels of the repaired polygon (>= 0, whatever the point order)."""
    return float(make_valid_polygon(polygon).area)


def poly_intersection(a: PolygonLike, b: PolygonLike) -> float:
    """The area of the intersection of two repaired polygons."""
    return float(make_valid_polygon(a).intersection(make_valid_polygon(b)).area)


def poly_union(a: PolygonLike, b: PolygonLike) -> float:
    """The area of the union of two repaired polygons."""
    return float(make_valid_polygon(a).union(make_valid_polygon(b)).area)


def polygon_iou(a: PolygonLike, b: PolygonLike, zero_division: float = 0.0) -> float:
    """Intersection over union of two polygons; ``zero_division`` when the union is empty.

    Both are repaired first (:func:`make_valid_polygon`), as MMOCR's ``poly_iou``.
    """
    shape_a, shape_b = make_valid_polygon(a), make_valid_polygon(b)
    union = shape_a.union(shape_b).area
    if union == 0:
        return float(zero_division)
    return float(shape_a.intersection(shape_b).area / union)


def polygon_to_bbox(polygon: PolygonLike) -> np.ndarray:
    """The (4,) float32 xyxy bounding box of the polygon's points."""
    points = as_polygon_array(polygon)
    return np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float32)
