"""Inpainting masks (NumPy + OpenCV): free-form brush strokes, boxes, and their mix.

Every mask is an (H, W) uint8 array, 1 = hole (missing pixel), 0 = known. Randomness comes only from the
``rng`` (a ``numpy.random.Generator``) passed in, so a seed fixes a mask.

- :func:`free_form_mask`: random walks drawn with thick lines and round joints and ends, the irregular
  masks of DeepFill v2 (Yu et al. 2019, Sec. 3.3, "free-form mask generation") with the parameters of
  MMagic's ``random_irregular_mask`` (vertices, turning angle, segment length, brush width).
- :func:`bbox_mask`: one axis-aligned box (MMagic's ``random_bbox`` + ``bbox2mask``).
- :func:`random_mask`: ``free_form``, ``bbox`` or ``mixed`` (a box and strokes, their union, as DeepFill
  v2 trains on both), with the hole fraction kept within ``hole_fraction`` (default 5-50 %).

The hole fraction is controlled by drawing strokes one at a time: a stroke that would push the hole
fraction above the maximum is redrawn (after repeated refusals the brush and the segments shrink), and
strokes are added until the minimum is reached and the drawn number of strokes is done.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["MASK_MODES", "bbox_mask", "free_form_mask", "random_bbox", "random_mask"]

MASK_MODES = ("free_form", "bbox", "mixed")
_REFUSALS_BEFORE_SHRINK = 8
_MAX_TRIES = 400


def _check_shape(shape: Sequence[int]) -> tuple[int, int]:
    height, width = (int(s) for s in tuple(shape)[:2])
    if height < 1 or width < 1:
        raise ValueError(f"mask shape must be (H, W) with positive sizes, got {tuple(shape)}")
    return height, width


def _check_fraction(hole_fraction: Sequence[float]) -> tuple[float, float]:
    low, high = (float(f) for f in hole_fraction)
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"hole_fraction must be (min, max) with 0 <= min <= max <= 1, got {hole_fraction}")
    return low, high


def _draw_stroke(
    mask: np.ndarray,
    rng: np.random.Generator,
    num_vertices: Sequence[int],
    max_angle: float,
    length_range: Sequence[float],
    brush_width: Sequence[int],
    shrink: float,
) -> None:
    """Draw one random walk on ``mask`` (in place): segments of random length and turning angle, each a
    line of random width with discs of the same width at both ends, so the stroke is one connected
    region with round ends. ``shrink`` (<= 1) scales the lengths and widths down."""
    height, width = mask.shape
    vertices = int(rng.integers(num_vertices[0], num_vertices[1] + 1))
    start = np.array([rng.integers(0, width), rng.integers(0, height)], dtype=np.int64)  # x, y
    for index in range(vertices):
        angle = rng.uniform(0.0, max_angle)
        if index % 2 == 0:  # alternate the turning direction, as DeepFill v2's walks do
            angle = 2.0 * math.pi - angle
        length = max(1.0, rng.uniform(length_range[0], length_range[1]) * shrink)
        brush = max(1, int(round(rng.integers(brush_width[0], brush_width[1] + 1) * shrink)))
        end = start + np.array([length * math.cos(angle), length * math.sin(angle)])
        end = np.clip(np.round(end), [0, 0], [width - 1, height - 1]).astype(np.int64)
        cv2.line(mask, (int(start[0]), int(start[1])), (int(end[0]), int(end[1])), 1, brush)
        radius = max(1, brush // 2)
        cv2.circle(mask, (int(start[0]), int(start[1])), radius, 1, -1)
        cv2.circle(mask, (int(end[0]), int(end[1])), radius, 1, -1)
        start = end


def _add_strokes(
    mask: np.ndarray,
    rng: np.random.Generator,
    num_strokes: Sequence[int],
    hole_fraction: tuple[float, float],
    stroke_options: dict,
) -> np.ndarray:
    """Add strokes to ``mask`` until ``num_strokes`` are drawn and the hole fraction is in range."""
    low, high = hole_fraction
    target = int(rng.integers(num_strokes[0], num_strokes[1] + 1))
    drawn, refusals, shrink = 0, 0, 1.0
    for _ in range(_MAX_TRIES):
        if drawn >= target and mask.mean() >= low:
            return mask
        candidate = mask.copy()
        _draw_stroke(candidate, rng, shrink=shrink, **stroke_options)
        if candidate.mean() <= high:
            mask, drawn, refusals = candidate, drawn + 1, 0
            continue
        refusals += 1
        if refusals % _REFUSALS_BEFORE_SHRINK == 0:
            shrink /= 2.0  # the strokes are too big for this image and this maximum
    if drawn >= target and mask.mean() >= low:
        return mask
    raise ValueError(
        f"cannot reach a hole fraction in [{low}, {high}] with strokes on a {mask.shape} mask "
        f"(reached {mask.mean():.3f}); widen hole_fraction or use smaller brush_width/length_range"
    )


def free_form_mask(
    shape: Sequence[int],
    rng: np.random.Generator,
    num_vertices: Sequence[int] = (4, 12),
    max_angle: float = 4.0,
    length_range: Sequence[float] = (10, 100),
    brush_width: Sequence[int] = (10, 40),
    num_strokes: Sequence[int] = (1, 4),
    hole_fraction: Sequence[float] = (0.05, 0.5),
) -> np.ndarray:
    """Free-form brush strokes (DeepFill v2's irregular masks).

    Each stroke is a random walk from a uniform start pixel: ``num_vertices`` segments (integer, both
    ends included) whose direction is a uniform angle in [0, ``max_angle``) radians, mirrored
    (``2 pi - angle``) on every other segment; lengths uniform in ``length_range`` pixels; each segment a
    line of an integer width in ``brush_width`` (both ends included) with discs at its ends (round joints
    and ends). The end points are clipped to the image.

    Args:
        shape: (H, W) (extra trailing dims ignored).
        rng: the random generator.
        num_vertices: (min, max) segments per stroke.
        max_angle: the largest turning angle, radians.
        length_range: (min, max) segment length, pixels.
        brush_width: (min, max) line width, pixels.
        num_strokes: (min, max) strokes (more are drawn if the hole fraction is below its minimum).
        hole_fraction: (min, max) fraction of hole pixels; (0, 1) for no control.

    Returns:
        (H, W) uint8, 1 = hole.

    Raises:
        ValueError: the hole fraction cannot be reached (an image far too small for the brush).
    """
    height, width = _check_shape(shape)
    options = dict(
        num_vertices=tuple(num_vertices),
        max_angle=float(max_angle),
        length_range=tuple(length_range),
        brush_width=tuple(brush_width),
    )
    mask = np.zeros((height, width), np.uint8)
    return _add_strokes(mask, rng, tuple(num_strokes), _check_fraction(hole_fraction), options)


def random_bbox(
    shape: Sequence[int],
    rng: np.random.Generator,
    max_bbox_shape: Sequence[int] | None = None,
    max_bbox_delta: Sequence[int] | None = None,
    margin: Sequence[int] | int = 0,
) -> tuple[int, int, int, int]:
    """A random box (MMagic's ``random_bbox``): size ``max_bbox_shape - U{0..max_bbox_delta}`` per axis,
    position uniform with at least ``margin`` pixels to the image border.

    Args:
        shape: (H, W).
        rng: the random generator.
        max_bbox_shape: (h, w) of the largest box; default half the image.
        max_bbox_delta: (dh, dw), how much smaller the box may be; default half of ``max_bbox_shape``.
        margin: (top/bottom, left/right) or one value, the smallest distance to the border.

    Returns:
        (top, left, height, width) in pixels.
    """
    height, width = _check_shape(shape)
    max_h, max_w = (
        (max(1, height // 2), max(1, width // 2)) if max_bbox_shape is None else map(int, max_bbox_shape)
    )
    delta_h, delta_w = (max_h // 2, max_w // 2) if max_bbox_delta is None else map(int, max_bbox_delta)
    margin_h, margin_w = (int(margin), int(margin)) if np.isscalar(margin) else map(int, margin)
    if max_h + 2 * margin_h > height or max_w + 2 * margin_w > width:
        raise ValueError(
            f"a box of up to {(max_h, max_w)} with margin {(margin_h, margin_w)} does not fit in {(height, width)}"
        )
    if not (0 <= delta_h < max_h and 0 <= delta_w < max_w):
        raise ValueError(
            f"max_bbox_delta {(delta_h, delta_w)} must be in [0, max_bbox_shape {(max_h, max_w)})"
        )
    box_h = max_h - int(rng.integers(0, delta_h + 1))
    box_w = max_w - int(rng.integers(0, delta_w + 1))
    top = int(rng.integers(margin_h, height - margin_h - box_h + 1))
    left = int(rng.integers(margin_w, width - margin_w - box_w + 1))
    return top, left, box_h, box_w


def bbox_mask(
    shape: Sequence[int],
    rng: np.random.Generator,
    max_bbox_shape: Sequence[int] | None = None,
    margin: Sequence[int] | int = 0,
    max_bbox_delta: Sequence[int] | None = None,
) -> np.ndarray:
    """One random box hole (see :func:`random_bbox` for the arguments); (H, W) uint8, 1 = hole.

    With the defaults the box is 1/4 to 1/2 of the image on each axis: 6.25-25 % of the pixels.
    """
    height, width = _check_shape(shape)
    top, left, box_h, box_w = random_bbox(shape, rng, max_bbox_shape, max_bbox_delta, margin)
    mask = np.zeros((height, width), np.uint8)
    mask[top : top + box_h, left : left + box_w] = 1
    return mask


def random_mask(
    shape: Sequence[int],
    rng: np.random.Generator,
    mode: str = "mixed",
    hole_fraction: Sequence[float] = (0.05, 0.5),
    bbox_options: dict | None = None,
    **stroke_options,
) -> np.ndarray:
    """A random inpainting mask whose hole fraction lies in ``hole_fraction``.

    Args:
        shape: (H, W).
        rng: the random generator.
        mode: ``free_form`` (strokes), ``bbox`` (one box, redrawn until its fraction is in range) or
            ``mixed`` (one box, then strokes added to it; the box is drawn at most half the maximum).
        hole_fraction: (min, max) fraction of hole pixels.
        bbox_options: :func:`bbox_mask` arguments (``max_bbox_shape``, ``margin``, ``max_bbox_delta``).
        stroke_options: :func:`free_form_mask` arguments (``num_vertices``, ``max_angle``,
            ``length_range``, ``brush_width``, ``num_strokes``).

    Returns:
        (H, W) uint8, 1 = hole.
    """
    if mode not in MASK_MODES:
        raise ValueError(f"random_mask: unknown mode {mode!r}; choose one of {list(MASK_MODES)}")
    low, high = _check_fraction(hole_fraction)
    bbox_options = dict(bbox_options or {})
    if mode == "free_form":
        return free_form_mask(shape, rng, hole_fraction=(low, high), **stroke_options)
    box_high = high if mode == "bbox" else high / 2.0
    for _ in range(_MAX_TRIES):
        mask = bbox_mask(shape, rng, **bbox_options)
        if mask.mean() <= box_high and (mode == "mixed" or mask.mean() >= low):
            break
    else:
        raise ValueError(
            f"random_mask: no box of {bbox_options or 'the default size'} has a hole fraction in "
            f"[{low}, {box_high}] on a {tuple(shape)[:2]} mask"
        )
    if mode == "bbox":
        return mask
    strokes = _stroke_defaults(stroke_options)
    num_strokes = strokes.pop("num_strokes")
    return _add_strokes(mask, rng, num_strokes, (low, high), strokes)


def _stroke_defaults(options: dict) -> dict:
    defaults = dict(
        num_vertices=(4, 12), max_angle=4.0, length_range=(10, 100), brush_width=(10, 40), num_strokes=(1, 4)
    )
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"random_mask: unknown stroke options {sorted(unknown)}; known: {sorted(defaults)}")
    return {**defaults, **options}
