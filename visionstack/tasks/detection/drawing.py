"""Draw detections (boxes, ``class score`` captions, instance masks) onto an image.

Used by ``visionstack infer --out-dir`` for predictions and by ``visionstack data browse`` for the
ground truth a pipeline produced. Boxes are ``(N, 4)`` x1 y1 x2 y2 in continuous pixel coordinates
of the image drawn on (pixel column ``c`` covers ``[c, c + 1)``), so a box ``[x1, x2)`` covers the
pixel columns ``round(x1) .. round(x2) - 1``; its outline is drawn on those border pixels, inwards.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch

from ...visualization.primitives import Color, blend_canvas, class_color, draw_labels

__all__ = ["draw_detections", "class_color"]


def draw_detections(
    image_bgr: np.ndarray,
    instances: Any,
    class_names: Sequence[str] | None = None,
    score_thr: float = 0.3,
    palette: Sequence[Sequence[int]] | None = None,
    alpha: float = 0.5,
    font_size: int | None = None,
) -> np.ndarray:
    """Return a copy of the image with boxes, captions and masks of the instances drawn on it.

    Instances with a ``scores`` field below ``score_thr`` are left out and the others are captioned
    ``"<class> <score>"``; instances without scores (ground truth) are all drawn, captioned
    ``"<class>"``. The best-scoring instance is drawn last, so it stays on top.

    Args:
        image_bgr: (H, W, 3) uint8 BGR image (or (H, W) grayscale).
        instances: an InstanceData (or mapping) with ``bboxes`` (N, 4) xyxy in the image's pixels,
            optional ``labels`` (N,), ``scores`` (N,) and ``masks``: (N, H, W) bool/0-1 tensor or
            array, :class:`~visionstack.structures.BitmapMasks` or
            :class:`~visionstack.structures.PolygonMasks` of the image's size.
        class_names: names by label; None writes ``class <label>``.
        score_thr: the lowest score drawn (ignored for instances without scores).
        palette: (B, G, R) colour per label (cycled); None generates distinct hues.
        alpha: mask opacity: a mask pixel becomes ``(1 - alpha) * pixel + alpha * class colour``.
        font_size: caption height in pixels; None scales it with the image.

    Returns:
        (H, W, 3) uint8 BGR image.
    """
    image = blend_canvas(image_bgr, alpha, "draw_detections")
    height, width = image.shape[:2]
    fields = _selected_fields(instances, score_thr, height, width)
    colors = [class_color(int(label), palette) for label in fields["labels"]]
    if fields["masks"] is not None:
        _blend_masks(image, fields["masks"], colors, alpha)
    thickness = max(1, int(round(min(height, width) / 250)))
    for box, color in zip(fields["bboxes"], colors):
        _draw_box(image, box, color, thickness)
    captions = [
        _caption(int(label), score, class_names, fields["has_labels"])
        for label, score in zip(fields["labels"], fields["scores"])
    ]
    return _write_captions(image, fields["bboxes"], captions, colors, font_size)


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _field(instances: Any, name: str) -> Any:
    if hasattr(instances, "get"):  # InstanceData and mappings
        return instances.get(name)
    return getattr(instances, name, None)


def _mask_array(masks: Any, count: int, height: int, width: int) -> np.ndarray:
    """Masks of any supported kind as an (N, H, W) bool array."""
    array = _numpy(masks.to_ndarray()) if hasattr(masks, "to_ndarray") else _numpy(masks)
    if array.ndim != 3 or len(array) != count:
        raise ValueError(
            f"draw_detections: masks must be ({count}, H, W) for {count} boxes, got {array.shape}"
        )
    if array.shape[1:] != (height, width):
        raise ValueError(
            f"draw_detections: masks are {array.shape[2]}x{array.shape[1]} but the image is {width}x{height}; "
            "draw on the image the masks belong to (predictions: the original image)"
        )
    return array != 0


def _selected_fields(instances: Any, score_thr: float, height: int, width: int) -> dict[str, Any]:
    """``bboxes`` (K, 4), ``labels`` (K,), ``scores`` (K,) or Nones, ``masks`` (K, H, W) or None,
    kept by the score threshold and sorted by increasing score."""
    raw_boxes = _field(instances, "bboxes")
    if raw_boxes is None:
        raise KeyError("draw_detections: the instances have no `bboxes` (N, 4) x1 y1 x2 y2")
    bboxes = _numpy(raw_boxes).astype(np.float64).reshape(-1, 4)
    count = len(bboxes)
    raw_labels = _field(instances, "labels")
    labels = np.zeros(count, dtype=np.int64) if raw_labels is None else _numpy(raw_labels).astype(np.int64)
    raw_scores = _field(instances, "scores")
    scores = None if raw_scores is None else _numpy(raw_scores).astype(np.float64).reshape(-1)
    raw_masks = _field(instances, "masks")
    masks = None if raw_masks is None else _mask_array(raw_masks, count, height, width)
    if len(labels) != count or (scores is not None and len(scores) != count):
        raise ValueError(
            f"draw_detections: {count} boxes but {len(labels)} labels"
            + ("" if scores is None else f" and {len(scores)} scores")
        )
    order = np.arange(count)
    if scores is not None:
        order = order[scores[order] >= score_thr]
        order = order[np.argsort(scores[order], kind="stable")]
    return {
        "bboxes": bboxes[order],
        "labels": labels[order],
        "scores": [None] * len(order) if scores is None else scores[order].tolist(),
        "masks": None if masks is None else masks[order],
        "has_labels": raw_labels is not None,
    }


def _blend_masks(image: np.ndarray, masks: np.ndarray, colors: list[Color], alpha: float) -> None:
    """Blend each mask's pixels with its colour, in place (overlaps blend twice)."""
    for mask, color in zip(masks, colors):
        region = image[mask].astype(np.float32)
        blended = (1.0 - alpha) * region + alpha * np.asarray(color, dtype=np.float32)
        image[mask] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _pixel_extent(box: np.ndarray, height: int, width: int) -> tuple[int, int, int, int] | None:
    """The first and last pixel column/row a box covers, clipped to the image; None when outside."""
    x1, y1 = max(int(round(box[0])), 0), max(int(round(box[1])), 0)
    x2, y2 = min(int(round(box[2])), width) - 1, min(int(round(box[3])), height) - 1
    if x2 < x1 or y2 < y1:
        return None
    return x1, y1, x2, y2


def _draw_box(image: np.ndarray, box: np.ndarray, color: Color, thickness: int) -> None:
    extent = _pixel_extent(box, *image.shape[:2])
    if extent is None:
        return
    x1, y1, x2, y2 = extent
    for step in range(thickness):  # thick outlines grow inwards, so the outline stays inside the box
        if x2 - step < x1 + step or y2 - step < y1 + step:
            break
        cv2.rectangle(image, (x1 + step, y1 + step), (x2 - step, y2 - step), color, 1)


def _caption(label: int, score: float | None, class_names: Sequence[str] | None, has_labels: bool) -> str:
    if not has_labels:
        return "" if score is None else f"{score:.2f}"
    name = (
        str(class_names[label])
        if class_names is not None and 0 <= label < len(class_names)
        else f"class {label}"
    )
    return name if score is None else f"{name} {score:.2f}"


def _write_captions(
    image: np.ndarray, bboxes: np.ndarray, captions: list[str], colors: list[Color], font_size: int | None
) -> np.ndarray:
    """Write each caption on a box of its colour, above the box (inside it at the top edge)."""
    if not any(captions):
        return image
    height, width = image.shape[:2]
    labels = []
    for box, caption, color in zip(bboxes, captions, colors):
        extent = _pixel_extent(box, height, width)
        if caption and extent is not None:
            labels.append((caption, color, functools.partial(_above, extent[0], extent[1], width)))
    return draw_labels(image, labels, font_size)


def _above(left: int, top: int, width: int, box_w: int, box_h: int) -> tuple[int, int]:
    """A caption box's corner: above the top edge at ``left`` (inside when no room), kept in the image."""
    return min(left, max(width - box_w, 0)), top - box_h if top - box_h >= 0 else top
