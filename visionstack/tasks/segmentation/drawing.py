"""Draw a semantic segmentation map over an image: each class in its palette colour, named in place.

Used by ``visionstack infer`` for predicted maps and by ``visionstack data browse`` for the ground
truth a pipeline produced. Palettes follow MMSegmentation's dataset metainfo: one ``[R, G, B]``
per class, while images are BGR (OpenCV), so colours are reversed before blending.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch

from ...visualization.primitives import blend_canvas, class_color, draw_labels

__all__ = ["draw_sem_seg", "seg_palette_bgr"]


def seg_palette_bgr(num_colors: int, palette: Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """(num_colors, 3) uint8 BGR colours: ``palette`` (RGB, cycled when shorter) or generated hues."""
    if palette is not None and len(palette) > 0:
        rgb = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
        if rgb.min() < 0 or rgb.max() > 255:
            raise ValueError("draw_sem_seg: palette colours must be [R, G, B] in 0..255")
        return rgb[np.arange(num_colors) % len(rgb)][:, ::-1].astype(np.uint8)
    return np.array([class_color(label) for label in range(num_colors)], dtype=np.uint8).reshape(-1, 3)


def draw_sem_seg(
    image_bgr: np.ndarray,
    seg_map: Any,
    palette: Sequence[Sequence[int]] | None,
    classes: Sequence[str] | None = None,
    alpha: float = 0.5,
    ignore_index: int = 255,
    with_labels: bool = True,
    font_size: int | None = None,
) -> np.ndarray:
    """Return a copy of the image with every labelled pixel blended with its class colour.

    Pixels at ``ignore_index`` keep the image's colour. With ``with_labels`` each class present is
    named once, on a box of its colour centred on the most interior pixel of its largest connected
    region (the maximum of the distance transform, ties broken towards the centroid), so the name
    sits inside the region even for rings and crescents, whose centroid falls outside.

    Args:
        image_bgr: (H, W, 3) uint8 BGR image (or (H, W) grayscale).
        seg_map: (H, W) or (1, H, W) class indices (tensor, array, or PixelData with ``data``) of
            the image's size.
        palette: ``[R, G, B]`` per class (cycled for larger labels); None generates distinct hues.
        classes: names by label; None writes the label number.
        alpha: colour opacity: a pixel becomes ``(1 - alpha) * pixel + alpha * colour`` (rounded).
        ignore_index: the label of pixels left unpainted.
        with_labels: write class names.
        font_size: caption height in pixels; None scales it with the image.

    Returns:
        (H, W, 3) uint8 BGR image.
    """
    image = blend_canvas(image_bgr, alpha, "draw_sem_seg")
    labels = _label_array(seg_map, image.shape[:2])
    painted = (labels != ignore_index) & (labels >= 0)
    present = np.unique(labels[painted])
    if present.size == 0:
        return image
    colors = seg_palette_bgr(int(present.max()) + 1, palette)
    pixels, paint = image[painted].astype(np.float32), colors[labels[painted]].astype(np.float32)
    blended = (1.0 - alpha) * pixels + alpha * paint
    image[painted] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    if not with_labels:
        return image
    anchors = [(int(label), _label_anchor(labels == label)) for label in present]
    return _write_names(image, anchors, colors, classes, font_size)


def _label_array(seg_map: Any, size: tuple[int, int]) -> np.ndarray:
    """The map as an (H, W) int64 array, checked against the image size."""
    is_array = isinstance(seg_map, (np.ndarray, torch.Tensor))
    data = seg_map.data if hasattr(seg_map, "data") and not is_array else seg_map  # PixelData
    array = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(
            f"draw_sem_seg: seg_map must be (H, W) or (1, H, W) class indices, got {array.shape}"
        )
    if array.shape != tuple(size):
        raise ValueError(
            f"draw_sem_seg: seg_map is {array.shape[1]}x{array.shape[0]} but the image is {size[1]}x{size[0]}; "
            "draw on the image the map belongs to (predictions: the original image)"
        )
    return array.astype(np.int64)


def _label_anchor(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of a pixel farthest from the border of the mask's largest 8-connected region."""
    count, components, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    largest = 1 + int(np.argmax(stats[1:count, cv2.CC_STAT_AREA]))
    region = np.pad((components == largest).astype(np.uint8), 1)  # the image border is a region border too
    distance = cv2.distanceTransform(region, cv2.DIST_L2, 3)[1:-1, 1:-1]
    # of the (near-)deepest pixels, the one closest to the region's centroid: a band gets its name
    # in its middle, not at its first column
    ys, xs = np.nonzero(distance >= distance.max() - 0.5)
    cy, cx = np.nonzero(components == largest)
    nearest = int(np.argmin((ys - cy.mean()) ** 2 + (xs - cx.mean()) ** 2))
    return int(xs[nearest]), int(ys[nearest])


def _write_names(
    image: np.ndarray,
    anchors: list[tuple[int, tuple[int, int]]],
    colors: np.ndarray,
    classes: Sequence[str] | None,
    font_size: int | None,
) -> np.ndarray:
    """Write each class name centred on its anchor, on a box of the class colour, kept inside the image."""
    height, width = image.shape[:2]
    labels = []
    for label, (x, y) in anchors:
        name = str(classes[label]) if classes is not None and 0 <= label < len(classes) else str(label)
        blue, green, red = (int(v) for v in colors[label])
        labels.append((name, (blue, green, red), functools.partial(_centred, x, y, width, height)))
    return draw_labels(image, labels, font_size)


def _centred(x: int, y: int, width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """A name box's corner: centred on (x, y), moved inside the image."""
    return min(max(x - box_w // 2, 0), max(width - box_w, 0)), min(
        max(y - box_h // 2, 0), max(height - box_h, 0)
    )
