"""Kernels of the annotations made of coordinates: boxes, keypoints, polygons.

See :mod:`.annotation_kernels` for the contract; every coordinate here is a continuous pixel
coordinate (x right, y down; an image of width W spans x in [0, W]).

* ``gt_bboxes``: (N, 4) float32 x1 y1 x2 y2, clipped to the image after every operation but a pad
  (a box is never dropped here; the transforms drop empty ones with :func:`boxes_inside`). A warp
  gives the box enclosing the four warped corners.
* ``gt_keypoints``: (N, K, 2) float32 x y, with ``gt_keypoints_visible`` (N, K) (any dtype; 0 means
  invisible). A point leaving the image (outside ``[0, w) x [0, h)``) becomes invisible, its
  coordinates kept. A horizontal or vertical flip is a mirror, which turns a left wrist into a
  right one, so the new keypoint ``k`` is the mirrored old keypoint ``flip_indices[k]`` (MMPose's
  metainfo and rule, read from ``results["flip_indices"]``, ``results["flip_pairs"]`` or ``results["metainfo"]``); a
  diagonal flip is a half turn, which keeps sides, so it swaps nothing.
* ``gt_polygons``: a list of N (P, 2) float arrays (one polygon per instance, e.g. a text region);
  cropped and warped polygons are clipped to the image (Sutherland-Hodgman), so P may change and a
  polygon outside the image becomes (0, 2). The vertex order is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...structures.masks import clip_polygon
from .annotation_kernels import (
    AnnotationKernel,
    CropOp,
    FlipOp,
    PadOp,
    ResizeOp,
    WarpOp,
    register_annotation_kernel,
)

__all__ = ["BoxesKernel", "KeypointsKernel", "PolygonsKernel", "boxes_inside", "clip_boxes", "flip_indices"]


def boxes_inside(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N,) bool: the box overlaps the image with a positive width and height (MMDetection's ``is_inside``)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return (
        (boxes[:, 0] < width)
        & (boxes[:, 2] > 0)
        & (boxes[:, 1] < height)
        & (boxes[:, 3] > 0)
        & (boxes[:, 2] > boxes[:, 0])
        & (boxes[:, 3] > boxes[:, 1])
    )


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip (N, 4) x1 y1 x2 y2 boxes to ``[0, width] x [0, height]`` in place; returns them."""
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    return boxes


def _as_boxes(value: Any) -> np.ndarray:
    boxes = np.asarray(value, dtype=np.float32)
    if boxes.size % 4:
        raise ValueError(f"expected (N, 4) boxes x1 y1 x2 y2, got shape {boxes.shape}")
    return boxes.reshape(-1, 4)


class BoxesKernel(AnnotationKernel):
    """(N, 4) float32 x1 y1 x2 y2 boxes in absolute pixels (see the module docstring)."""

    per_instance = True

    def flip(self, value: Any, op: FlipOp, results: dict) -> np.ndarray:
        boxes = _as_boxes(value).copy()
        width, height = op.size
        if op.direction in ("horizontal", "diagonal"):
            boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
        if op.direction in ("vertical", "diagonal"):
            boxes[:, [1, 3]] = height - boxes[:, [3, 1]]
        return boxes

    def resize(self, value: Any, op: ResizeOp, results: dict) -> np.ndarray:
        scale_w, scale_h = op.scale
        boxes = _as_boxes(value) * np.float32([scale_w, scale_h, scale_w, scale_h])
        return clip_boxes(boxes, *op.size) if op.clip_boxes else boxes

    def crop(self, value: Any, op: CropOp, results: dict) -> np.ndarray:
        x1, y1 = op.window[:2]
        boxes = _as_boxes(value) - np.float32([x1, y1, x1, y1])
        return clip_boxes(boxes, *op.size)

    def pad(self, value: Any, op: PadOp, results: dict) -> Any:
        left, top = op.offset
        if (left, top) == (0, 0):
            return value  # boxes do not move when the canvas grows at the bottom and right
        return _as_boxes(value) + np.float32([left, top, left, top])

    def warp(self, value: Any, op: WarpOp, results: dict) -> np.ndarray:
        boxes = _as_boxes(value).astype(np.float64)
        corners = boxes[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2)
        warped = op.project(corners)
        enclosing = np.concatenate([warped.min(axis=1), warped.max(axis=1)], axis=1).reshape(-1, 4)
        return clip_boxes(enclosing.astype(np.float32), *op.size)

    def __repr__(self) -> str:
        return "BoxesKernel()"


def flip_indices(results: dict, num_keypoints: int) -> np.ndarray:
    """The (K,) permutation of a mirror: the new keypoint ``k`` is the old ``flip_indices[k]`` (left <-> right).

    Looked up as ``flip_indices`` or ``flip_pairs`` (``[(left, right),
    ...]``, other keypoints map to themselves), in the results and then in ``results["metainfo"]``.

    Raises:
        KeyError: neither is there.
        ValueError: not a permutation of ``num_keypoints`` keypoints.
    """
    sources = [results, results.get("metainfo") or {}]
    for source in sources:
        if source.get("flip_indices") is not None:
            indices = np.asarray(source["flip_indices"], dtype=np.int64).reshape(-1)
            break
        if source.get("flip_pairs") is not None:
            indices = np.arange(num_keypoints)
            for left, right in source["flip_pairs"]:
                indices[int(left)], indices[int(right)] = int(right), int(left)
            break
    else:
        raise KeyError(
            "gt_keypoints: a horizontal or vertical flip swaps left and right keypoints, so the results "
            "need `flip_indices` (or `flip_pairs`) from the dataset's metainfo"
        )
    if len(indices) != num_keypoints or sorted(indices.tolist()) != list(range(num_keypoints)):
        raise ValueError(
            f"gt_keypoints: flip_indices {indices.tolist()} is not a permutation of the {num_keypoints} keypoints"
        )
    return indices


class KeypointsKernel(AnnotationKernel):
    """(N, K, 2) float32 keypoints with their (N, K) visibility (see the module docstring).

    Args:
        visible_key: the results key of the visibility, updated with the keypoints.
    """

    per_instance = True

    def __init__(self, visible_key: str = "gt_keypoints_visible") -> None:
        self.visible_key = visible_key
        self.companions = (visible_key,)

    def _points(self, value: Any) -> np.ndarray:
        points = np.asarray(value, dtype=np.float32)
        if points.ndim != 3 or points.shape[2] != 2:
            raise ValueError(f"expected (N, K, 2) keypoints x y, got shape {points.shape}")
        return points

    def _visible(self, results: dict, points: np.ndarray) -> np.ndarray | None:
        visible = results.get(self.visible_key)
        if visible is None:
            return None
        visible = np.asarray(visible)
        if visible.shape != points.shape[:2]:
            raise ValueError(
                f"{self.visible_key} has shape {visible.shape} but gt_keypoints has {points.shape[:2]} "
                "instances and keypoints; expected (N, K)"
            )
        return visible

    def _hide_outside(self, points: np.ndarray, size: tuple[int, int], results: dict) -> None:
        """Mark the points outside ``[0, w) x [0, h)`` invisible (a visibility of ones when there is none)."""
        visible = self._visible(results, points)
        if visible is None:
            visible = np.ones(points.shape[:2], dtype=np.float32)
        width, height = size
        inside = (
            (points[..., 0] >= 0)
            & (points[..., 0] < width)
            & (points[..., 1] >= 0)
            & (points[..., 1] < height)
        )
        results[self.visible_key] = np.where(inside, visible, np.zeros((), dtype=visible.dtype))

    def flip(self, value: Any, op: FlipOp, results: dict) -> np.ndarray:
        points = self._points(value).copy()
        width, height = op.size
        if op.direction in ("horizontal", "diagonal"):
            points[..., 0] = width - points[..., 0]
        if op.direction in ("vertical", "diagonal"):
            points[..., 1] = height - points[..., 1]
        if op.direction == "diagonal":
            return points
        visible = self._visible(results, points)
        order = flip_indices(results, points.shape[1])
        if visible is not None:
            results[self.visible_key] = visible[:, order]
        return points[:, order]

    def resize(self, value: Any, op: ResizeOp, results: dict) -> np.ndarray:
        return self._points(value) * np.float32(op.scale)

    def crop(self, value: Any, op: CropOp, results: dict) -> np.ndarray:
        points = self._points(value) - np.float32(op.window[:2])
        self._hide_outside(points, op.size, results)
        return points

    def pad(self, value: Any, op: PadOp, results: dict) -> np.ndarray:
        return self._points(value) + np.float32(op.offset)

    def warp(self, value: Any, op: WarpOp, results: dict) -> np.ndarray:
        points = op.project(self._points(value)).astype(np.float32)
        self._hide_outside(points, op.size, results)
        return points

    def __repr__(self) -> str:
        return f"KeypointsKernel(visible_key={self.visible_key!r})"


class PolygonsKernel(AnnotationKernel):
    """A list of N (P, 2) float polygons, one per instance (see the module docstring)."""

    per_instance = True

    def _polygons(self, value: Any) -> list[np.ndarray]:
        if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
            raise TypeError(f"expected a list of (P, 2) polygons, got {type(value).__name__}")
        polygons = []
        for index, polygon in enumerate(value):
            points = np.asarray(polygon)
            if points.ndim != 2 or points.shape[1] != 2:
                raise ValueError(f"polygon {index} has shape {points.shape}; expected (P, 2) x y points")
            polygons.append(points if np.issubdtype(points.dtype, np.floating) else points.astype(np.float32))
        return polygons

    def _map(self, value: Any, function) -> list[np.ndarray]:
        return [function(points.astype(np.float64)).astype(points.dtype) for points in self._polygons(value)]

    def flip(self, value: Any, op: FlipOp, results: dict) -> list[np.ndarray]:
        width, height = op.size
        flip_x = op.direction in ("horizontal", "diagonal")
        flip_y = op.direction in ("vertical", "diagonal")

        def mirror(points: np.ndarray) -> np.ndarray:
            if flip_x:
                points[:, 0] = width - points[:, 0]
            if flip_y:
                points[:, 1] = height - points[:, 1]
            return points

        return self._map(value, mirror)

    def resize(self, value: Any, op: ResizeOp, results: dict) -> list[np.ndarray]:
        scale = np.asarray(op.scale, dtype=np.float64)
        return self._map(value, lambda points: points * scale)

    def crop(self, value: Any, op: CropOp, results: dict) -> list[np.ndarray]:
        shift = np.asarray(op.window[:2], dtype=np.float64)
        width, height = op.size
        return self._map(value, lambda points: clip_polygon(points - shift, width, height))

    def pad(self, value: Any, op: PadOp, results: dict) -> list[np.ndarray]:
        shift = np.asarray(op.offset, dtype=np.float64)
        return self._map(value, lambda points: points + shift)

    def warp(self, value: Any, op: WarpOp, results: dict) -> list[np.ndarray]:
        width, height = op.size
        return self._map(value, lambda points: clip_polygon(op.project(points), width, height))

    def select(self, value: Any, keep: np.ndarray, results: dict) -> list[np.ndarray]:
        polygons = list(value)
        if len(keep) != len(polygons):
            raise IndexError(f"gt_polygons: {len(keep)} keep flags for {len(polygons)} polygons")
        return [polygon for polygon, kept in zip(polygons, keep) if kept]

    def __repr__(self) -> str:
        return "PolygonsKernel()"


register_annotation_kernel("gt_bboxes", BoxesKernel())
register_annotation_kernel("gt_keypoints", KeypointsKernel())
register_annotation_kernel("gt_polygons", PolygonsKernel())
