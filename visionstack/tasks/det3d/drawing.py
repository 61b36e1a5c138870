"""Pictures of 3D detections: a bird's-eye view of the point cloud, and boxes on the camera image.

The bird's-eye view is drawn as a driver sees the road: LiDAR +x (forward) points up the picture and
+y (left) points left, so pixel ``(column, row) = ((y1 - y) / resolution, (x1 - x) / resolution)``
for ``point_range = (x0, y0, x1, y1)``. NumPy and OpenCV only (no torch), BGR uint8 pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from ...visualization.primitives import class_color
from .boxes import bev_corners, box_corners, project_to_image

__all__ = ["GT_COLOR", "PRED_PALETTE", "bev_pixels", "draw_bev", "draw_boxes_on_image"]

GT_COLOR = (0, 255, 0)  # BGR green
GRID_COLOR = (70, 70, 70)
GRID_TEXT_COLOR = (150, 150, 150)
# Prediction colours by label when no palette is given (B, G, R): no green, which marks the GT.
PRED_PALETTE = ((60, 20, 220), (0, 165, 255), (255, 144, 30), (200, 0, 200), (0, 230, 230), (255, 255, 0))
TEXT_COLOR = (230, 230, 230)
GRID_STEP = 10.0  # metres between grid lines
_FONT = cv2.FONT_HERSHEY_SIMPLEX
# The edges of :func:`~.boxes.box_corners`' 8 corners: back face, front face, then the sides.
_BOX_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))
_FRONT_CROSS = ((4, 6), (5, 7))


def bev_pixels(xy: Any, point_range: Sequence[float], resolution: float) -> np.ndarray:
    """LiDAR (x, y) (..., 2) -> bird's-eye-view pixel (column, row) (..., 2), float (forward up, left left)."""
    xy = np.asarray(xy, dtype=np.float64)
    _, _, x1, y1 = point_range
    return np.stack([(y1 - xy[..., 1]) / resolution, (x1 - xy[..., 0]) / resolution], axis=-1)


def draw_bev(
    points: Any,
    point_range: Sequence[float] = (0.0, -40.0, 70.4, 40.0),
    resolution: float = 0.1,
    gt_boxes: Any = None,
    pred_boxes: Any = None,
    pred_scores: Any = None,
    pred_labels: Any = None,
    class_names: Sequence[str] | None = None,
    score_thr: float = 0.0,
    title: str | None = None,
    palette: Sequence[Sequence[int]] | None = None,
    z_range: tuple[float, float] = (-3.0, 1.0),
) -> np.ndarray:
    """A top view of a point cloud with ground-truth and predicted boxes.

    Points are coloured by height (``z_range`` over OpenCV's turbo map) on black; a grid every 10 m
    with distance labels; GT boxes as green rotated rectangles; predictions (score >= ``score_thr``)
    in a colour per class with a heading tick (centre to the front edge) and the score; a legend.

    Args:
        points: (N, 3+) LiDAR points.
        point_range: ``(x0, y0, x1, y1)`` metres shown.
        resolution: metres per pixel.
        gt_boxes: (G, 7) LiDAR boxes or None.
        pred_boxes: (K, 7) LiDAR boxes or None; ``pred_scores`` (K,) and ``pred_labels`` (K,) go with them.
        class_names: names by label, for the legend and captions.
        score_thr: the lowest prediction score drawn.
        title: written at the top left.
        palette: (B, G, R) colour per predicted label; None: :data:`PRED_PALETTE`.
        z_range: heights mapped to the ends of the colour map.

    Returns:
        (round((x1 - x0) / resolution), round((y1 - y0) / resolution), 3) uint8 BGR picture.
    """
    x0, y0, x1, y1 = (float(v) for v in point_range)
    height, width = int(round((x1 - x0) / resolution)), int(round((y1 - y0) / resolution))
    canvas = np.zeros((height, width, 3), np.uint8)
    scale = max(0.35, min(height, width) / 1400)
    _draw_grid(canvas, point_range, resolution, scale)
    _draw_points(
        canvas,
        np.asarray(points, dtype=np.float64).reshape(-1, np.shape(points)[-1]),
        point_range,
        resolution,
        z_range,
    )
    _draw_sensor(canvas, point_range, resolution)
    if gt_boxes is not None and len(gt_boxes):
        for corners in bev_pixels(bev_corners(np.asarray(gt_boxes, np.float64)), point_range, resolution):
            _polygon(canvas, corners, GT_COLOR, 1)
    palette = PRED_PALETTE if palette is None else palette
    shown_labels: list[int] = []
    if pred_boxes is not None and len(pred_boxes):
        shown_labels = _draw_predictions(
            canvas,
            pred_boxes,
            pred_scores,
            pred_labels,
            class_names,
            score_thr,
            palette,
            point_range,
            resolution,
            scale,
        )
    _draw_legend(canvas, gt_boxes is not None, sorted(set(shown_labels)), class_names, palette, title, scale)
    return canvas


def _draw_grid(canvas: np.ndarray, point_range: Sequence[float], resolution: float, scale: float) -> None:
    x0, y0, x1, y1 = point_range
    height, width = canvas.shape[:2]
    for x in np.arange(np.ceil(x0 / GRID_STEP) * GRID_STEP, x1 + 1e-9, GRID_STEP):
        row = int(round((x1 - x) / resolution))
        cv2.line(canvas, (0, row), (width - 1, row), GRID_COLOR, 1)
        cv2.putText(
            canvas,
            f"{x:.0f} m",
            (4, max(row - 4, 12)),
            _FONT,
            0.4 * scale / 0.5,
            GRID_TEXT_COLOR,
            1,
            cv2.LINE_AA,
        )
    for y in np.arange(np.ceil(y0 / GRID_STEP) * GRID_STEP, y1 + 1e-9, GRID_STEP):
        column = int(round((y1 - y) / resolution))
        cv2.line(canvas, (column, 0), (column, height - 1), GRID_COLOR, 1)
        if abs(y) > 1e-9:
            cv2.putText(
                canvas,
                f"{y:.0f}",
                (column + 3, height - 6),
                _FONT,
                0.4 * scale / 0.5,
                GRID_COLOR,
                1,
                cv2.LINE_AA,
            )


def _draw_points(
    canvas: np.ndarray,
    points: np.ndarray,
    point_range: Sequence[float],
    resolution: float,
    z_range: tuple[float, float],
) -> None:
    if points.size == 0:
        return
    pixels = np.floor(bev_pixels(points[:, :2], point_range, resolution)).astype(np.int64)
    height, width = canvas.shape[:2]
    inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
    pixels, z = pixels[inside], points[inside, 2]
    order = np.argsort(z, kind="stable")  # higher points drawn last, so they stay visible
    level = np.clip((z[order] - z_range[0]) / (z_range[1] - z_range[0]), 0, 1)
    colors = cv2.applyColorMap(np.round(level * 255).astype(np.uint8)[:, None], cv2.COLORMAP_TURBO)[:, 0]
    canvas[pixels[order, 1], pixels[order, 0]] = colors


def _draw_sensor(canvas: np.ndarray, point_range: Sequence[float], resolution: float) -> None:
    """A small white triangle at the sensor, pointing forward (up)."""
    column, row = bev_pixels(np.zeros(2), point_range, resolution)
    size = 6
    triangle = np.array(
        [[column, row - size], [column - size / 1.5, row + size / 2], [column + size / 1.5, row + size / 2]]
    )
    cv2.fillPoly(canvas, [np.round(triangle).astype(np.int32)], (255, 255, 255), cv2.LINE_AA)


def _point(xy: np.ndarray) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


def _polygon(canvas: np.ndarray, corners: np.ndarray, color: tuple[int, int, int], thickness: int) -> None:
    cv2.polylines(canvas, [np.round(corners).astype(np.int32)], True, color, thickness, cv2.LINE_AA)


def _draw_predictions(
    canvas: np.ndarray,
    boxes: Any,
    scores: Any,
    labels: Any,
    class_names: Sequence[str] | None,
    score_thr: float,
    palette: Sequence[Sequence[int]] | None,
    point_range: Sequence[float],
    resolution: float,
    scale: float,
) -> list[int]:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 7)
    scores = np.ones(len(boxes)) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = (
        np.zeros(len(boxes), np.int64) if labels is None else np.asarray(labels).astype(np.int64).reshape(-1)
    )
    keep = (scores >= score_thr) & (labels >= 0)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    order = np.argsort(scores, kind="stable")  # best drawn last
    corners = bev_pixels(bev_corners(boxes), point_range, resolution)
    centres = bev_pixels(boxes[:, :2], point_range, resolution)
    for i in order:
        color = class_color(int(labels[i]), palette)
        _polygon(canvas, corners[i], color, 2)
        front = (corners[i, 1] + corners[i, 2]) / 2  # the front edge's midpoint (corners 1, 2)
        cv2.line(canvas, _point(centres[i]), _point(front), color, 2, cv2.LINE_AA)
        anchor = _point(corners[i].min(axis=0) + [0, -3])
        cv2.putText(canvas, f"{scores[i]:.2f}", anchor, _FONT, 0.4 * scale / 0.5, color, 1, cv2.LINE_AA)
    return [int(label) for label in labels]


def _draw_legend(
    canvas: np.ndarray,
    has_gt: bool,
    labels: list[int],
    class_names: Sequence[str] | None,
    palette: Sequence[Sequence[int]] | None,
    title: str | None,
    scale: float,
) -> None:
    font_scale, line = 0.5 * scale / 0.5, int(round(20 * scale / 0.5))
    entries = [("ground truth", GT_COLOR)] if has_gt else []
    for label in labels:
        name = (
            class_names[label] if class_names is not None and label < len(class_names) else f"class {label}"
        )
        entries.append((name, class_color(label, palette)))
    row = line
    if title:
        cv2.putText(canvas, title, (8, row), _FONT, font_scale * 1.2, TEXT_COLOR, 1, cv2.LINE_AA)
        row += line
    right = canvas.shape[1] - 8
    for text, color in entries:
        (text_width, _), _ = cv2.getTextSize(text, _FONT, font_scale, 1)
        swatch_x = right - text_width - 22
        cv2.rectangle(canvas, (swatch_x, row - line // 2 - 2), (swatch_x + 14, row - 2), color, -1)
        cv2.putText(canvas, text, (swatch_x + 20, row), _FONT, font_scale, TEXT_COLOR, 1, cv2.LINE_AA)
        row += line


def draw_boxes_on_image(
    image: np.ndarray,
    boxes_lidar: Any,
    lidar2img: Any,
    colors: Sequence[int] | Sequence[Sequence[int]] | None = None,
    thickness: int = 2,
    min_depth: float = 0.1,
) -> np.ndarray:
    """A copy of the camera image with LiDAR boxes drawn as projected 3D wire frames.

    The front face (corners 4-7 of :func:`~.boxes.box_corners`) is crossed, so the heading shows.
    Boxes with a corner less than ``min_depth`` metres in front of the camera are skipped (their
    projection would wrap around).

    Args:
        image: (H, W, 3) uint8 BGR.
        boxes_lidar: (N, 7) LiDAR boxes.
        lidar2img: (4, 4) (or (3, 4)) LiDAR -> image projection (``cam2img @ lidar2cam``).
        colors: one (B, G, R) colour for all boxes, or one per box; None: green.
        thickness: line width in pixels.
        min_depth: the nearest allowed corner depth.

    Returns:
        (H, W, 3) uint8 BGR image.
    """
    canvas = np.ascontiguousarray(np.asarray(image, dtype=np.uint8).copy())
    boxes = np.asarray(boxes_lidar, dtype=np.float64).reshape(-1, 7)
    if len(boxes) == 0:
        return canvas
    if colors is None:
        per_box = [GT_COLOR] * len(boxes)
    elif np.ndim(colors) == 1:
        per_box = [tuple(int(v) for v in colors)] * len(boxes)
    else:
        per_box = [tuple(int(v) for v in color) for color in colors]
    pixels, depth = project_to_image(box_corners(boxes).reshape(-1, 3), lidar2img)
    pixels, depth = pixels.reshape(-1, 8, 2), depth.reshape(-1, 8)
    for corners, depths, color in zip(pixels, depth, per_box):
        if depths.min() < min_depth:
            continue
        for start, end in _BOX_EDGES + _FRONT_CROSS:
            cv2.line(canvas, _point(corners[start]), _point(corners[end]), color, thickness, cv2.LINE_AA)
    return canvas
