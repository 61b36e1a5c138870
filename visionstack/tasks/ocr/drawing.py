"""Pictures of OCR predictions: outlined text regions, MMOCR's side-by-side reading, an enlarged word crop.

NumPy, OpenCV and Pillow only, no torch (the deploy runtime draws too). Images are BGR uint8 (H, W, 3) (or
(H, W) grayscale); polygons are (P, 2) x y points in the image's pixels (flat lists are accepted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ...visualization.primitives import as_bgr, draw_labels

__all__ = ["draw_ocr_side_by_side", "draw_recognition", "draw_text_polygons", "text_box"]

POLYGON_COLOR = (0, 200, 0)  # BGR green: a detected or annotated word
IGNORED_COLOR = (160, 160, 160)  # grey: a ``###`` region
CANVAS_OUTLINE = (200, 200, 200)
TEXT_INK = (0, 0, 0)
WRONG_COLOR = (0, 0, 220)  # BGR red
RIGHT_COLOR = (0, 150, 0)
IGNORE_TEXTS = ("###", "#")
RECOGNITION_HEIGHT = 64  # crops are enlarged to this height in draw_recognition
RECOGNITION_MIN_WIDTH = 240


def _points(polygon: Any) -> np.ndarray:
    return np.asarray(polygon, dtype=np.float32).reshape(-1, 2)


def _font(size: int) -> Any:
    return ImageFont.load_default(size=max(6, int(size)))


def _thickness(image: np.ndarray) -> int:
    return max(1, int(round(min(image.shape[:2]) / 300)))


def draw_text_polygons(
    image: np.ndarray,
    polygons: Sequence[Any],
    scores: Sequence[float] | Any | None = None,
    texts: Sequence[str] | None = None,
    color: tuple[int, int, int] = POLYGON_COLOR,
) -> np.ndarray:
    """Return a copy of the image with every polygon outlined and its score and/or text written small
    above its top-left point.

    Regions whose text is ``###`` or ``#`` (ignored ground truth) are outlined in grey.

    Args:
        image: (H, W, 3) uint8 BGR (or (H, W) grayscale).
        polygons: N polygons, (P, 2) or flat, in the image's pixels.
        scores: (N,) detection scores (a list, an array or a tensor), written with 2 decimals.
        texts: N transcriptions.
        color: the BGR outline colour.

    Returns:
        (H, W, 3) uint8 BGR.
    """
    canvas = as_bgr(image, "draw_text_polygons").copy()
    points = [_points(p) for p in polygons]
    score_values = None if scores is None else np.asarray(_numpy(scores), dtype=np.float64).reshape(-1)
    for name, values in (("scores", score_values), ("texts", texts)):
        if values is not None and len(values) != len(points):
            raise ValueError(f"draw_text_polygons: {len(points)} polygons but {len(values)} {name}")
    labels = []
    for index, poly in enumerate(points):
        text = None if texts is None else str(texts[index])
        outline = IGNORED_COLOR if text in IGNORE_TEXTS else color
        cv2.polylines(
            canvas, [np.round(poly).astype(np.int32)], True, outline, _thickness(canvas), cv2.LINE_AA
        )
        parts = [
            part for part in (text, None if score_values is None else f"{score_values[index]:.2f}") if part
        ]
        if parts:
            labels.append((" ".join(parts), outline, _above(poly, canvas.shape)))
    return (
        draw_labels(canvas, labels, font_size=max(9, min(14, min(canvas.shape[:2]) // 30)))
        if labels
        else canvas
    )


def _numpy(value: Any) -> Any:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else value


def _above(poly: np.ndarray, shape: tuple[int, ...]) -> Any:
    """A placement: the label's box just above the polygon's top-left point, kept inside the image."""
    corner = poly[np.argmin(poly.sum(axis=1))]
    height, width = shape[:2]

    def place(box_w: int, box_h: int) -> tuple[int, int]:
        x = int(np.clip(corner[0], 0, max(0, width - box_w)))
        y = int(corner[1]) - box_h - 1
        y = y if y >= 0 else int(np.clip(poly[:, 1].max() + 1, 0, max(0, height - box_h)))
        return x, y

    return place


def text_box(polygon: Any) -> np.ndarray:
    """The (4, 2) float32 corners of the polygon's minimum-area rectangle in reading order: top-left,
    top-right, bottom-right, bottom-left, the top edge along the longer side and pointing right
    (so a word rotated by up to 90 degrees is written left to right, upright)."""
    corners = cv2.boxPoints(cv2.minAreaRect(_points(polygon)))
    edges = [corners[1] - corners[0], corners[2] - corners[1]]
    along = edges[0] if np.linalg.norm(edges[0]) >= np.linalg.norm(edges[1]) else edges[1]
    across = edges[1] if along is edges[0] else edges[0]
    if not np.linalg.norm(along):
        return corners.astype(np.float32)  # all points equal: nothing to orient
    if along[0] < 0 or (along[0] == 0 and along[1] > 0):
        along = -along  # read left to right; a vertical word reads bottom to top
    # "down" for the glyphs: ``along`` turned 90 degrees clockwise on screen (y points down), so the
    # text is rotated, never mirrored
    across = np.array([-along[1], along[0]], dtype=np.float32) * (
        np.linalg.norm(across) / np.linalg.norm(along)
    )
    center = corners.mean(axis=0)
    top_left = center - along / 2 - across / 2
    return np.stack([top_left, top_left + along, top_left + along + across, top_left + across]).astype(
        np.float32
    )


def _write_in_box(canvas: np.ndarray, box: np.ndarray, text: str, ink: tuple[int, int, int]) -> None:
    """Write ``text`` as large as fits into the rotated rectangle ``box`` (reading order), in place."""
    width = int(round(np.linalg.norm(box[1] - box[0])))
    height = int(round(np.linalg.norm(box[3] - box[0])))
    if width < 2 or height < 2 or not text:
        return
    scale = 4  # draw large, then warp down: sharper small text
    font = _font(height * scale * 0.8)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    patch = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(patch).text((-left, -top), text, font=font, fill=255)
    mask = np.asarray(patch, dtype=np.float32) / 255.0
    fit = min(width / mask.shape[1], height / mask.shape[0])  # keep the glyphs' aspect; centre in the box
    dw, dh = max(1, round(mask.shape[1] * fit)), max(1, round(mask.shape[0] * fit))
    mask = cv2.resize(mask, (dw, dh), interpolation=cv2.INTER_AREA)  # shrink first: no aliasing in the warp
    ph, pw = mask.shape
    along, across = (box[1] - box[0]) / width, (box[3] - box[0]) / height
    origin = box[0] + along * (width - dw) / 2 + across * (height - dh) / 2
    source = np.float32([[0, 0], [pw, 0], [pw, ph]])
    target = np.float32([origin, origin + along * dw, origin + along * dw + across * dh])
    matrix = cv2.getAffineTransform(source, target)
    alpha = cv2.warpAffine(mask, matrix, (canvas.shape[1], canvas.shape[0]), flags=cv2.INTER_LINEAR)[
        ..., None
    ]
    canvas[:] = np.round(canvas * (1 - alpha) + np.asarray(ink, np.float32) * alpha).astype(np.uint8)


def draw_ocr_side_by_side(
    image: np.ndarray, polygons: Sequence[Any], texts: Sequence[str], scores: Sequence[float] | None = None
) -> np.ndarray:
    """MMOCR's end-to-end picture: the image with its regions outlined on the left, a white canvas of the
    same size on the right with each text written inside its region (rotated with it, as large as fits).

    Args:
        image: (H, W, 3) uint8 BGR (or (H, W) grayscale).
        polygons: N regions, (P, 2) or flat, in the image's pixels.
        texts: N transcriptions (empty ones are outlined only).
        scores: optional (N,) detection scores, written on the left next to the outlines.

    Returns:
        (H, 2 W, 3) uint8 BGR.
    """
    image = as_bgr(image, "draw_ocr_side_by_side")
    if len(texts) != len(polygons):
        raise ValueError(f"draw_ocr_side_by_side: {len(polygons)} polygons but {len(texts)} texts")
    left = draw_text_polygons(image, polygons, scores=scores)
    right = np.full_like(image, 255)
    for polygon, text in zip(polygons, texts):
        poly = np.round(_points(polygon)).astype(np.int32)
        cv2.polylines(right, [poly], True, CANVAS_OUTLINE, _thickness(right), cv2.LINE_AA)
        if str(text) not in IGNORE_TEXTS:
            _write_in_box(right, text_box(polygon), str(text), TEXT_INK)
    return np.concatenate([left, right], axis=1)


def draw_recognition(
    image: np.ndarray, text: str, score: float | None = None, gt: str | None = None
) -> np.ndarray:
    """A word crop enlarged to 64 pixels high on a white card with the reading written below.

    The reading (``text  0.97``) is black without ``gt``; with ``gt`` it is green when equal and red when
    not, and the ground truth is written under it (``gt: ...``).

    Args:
        image: the (h, w, 3) uint8 BGR crop (or grayscale).
        text: the recognised text.
        score: its confidence (0 to 1), or None.
        gt: the true text, or None.

    Returns:
        (H', W', 3) uint8 BGR, W' >= 240.
    """
    crop = as_bgr(image, "draw_recognition")
    factor = RECOGNITION_HEIGHT / crop.shape[0]
    width = max(1, int(round(crop.shape[1] * factor)))
    crop = cv2.resize(crop, (width, RECOGNITION_HEIGHT), interpolation=cv2.INTER_CUBIC)
    lines = [
        (
            f"{text}  {score:.2f}" if score is not None else text,
            TEXT_INK if gt is None else (RIGHT_COLOR if text == gt else WRONG_COLOR),
        )
    ]
    if gt is not None:
        lines.append((f"gt: {gt}", (90, 90, 90)))
    font = _font(20)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    boxes = [probe.textbbox((0, 0), line or " ", font=font) for line, _ in lines]
    margin, gap = 8, 6
    card_w = max(RECOGNITION_MIN_WIDTH, width + 2 * margin, *(b[2] - b[0] + 2 * margin for b in boxes))
    card_h = RECOGNITION_HEIGHT + 2 * margin + sum(b[3] - b[1] + gap for b in boxes)
    card = Image.new("RGB", (card_w, card_h), (255, 255, 255))
    card.paste(Image.fromarray(np.ascontiguousarray(crop[..., ::-1])), ((card_w - width) // 2, margin))
    draw = ImageDraw.Draw(card)
    y = RECOGNITION_HEIGHT + margin + gap
    for (line, (blue, green, red)), (x0, y0, _, y1) in zip(lines, boxes):
        draw.text((margin - x0, y - y0), line, font=font, fill=(red, green, blue))
        y += y1 - y0 + gap
    return np.ascontiguousarray(np.asarray(card)[..., ::-1])
