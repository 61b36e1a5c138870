"""Write a classifier's top-k predictions onto an image (used by ``visionstack infer --out-dir``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ...visualization.primitives import as_bgr

__all__ = ["draw_classification"]

MIN_FONT_SIZE = 8


def draw_classification(
    image_bgr: np.ndarray,
    pred_label: Any,
    class_names: Sequence[str] | None = None,
    topk: int = 1,
    min_side: int = 224,
    font_size: int | None = None,
) -> np.ndarray:
    """Return a copy of the image with the ``topk`` best classes and their scores written top-left.

    The text sits on a translucent dark box so it reads on any background. Images whose shorter
    side is below ``min_side`` are first enlarged (nearest neighbour, so pixels stay visible)
    because text on a 32x32 image cannot be read.

    Args:
        image_bgr: (H, W, 3) uint8 BGR image (or (H, W) grayscale).
        pred_label: a LabelData (or dict) with ``score`` (num_classes,) and/or ``label`` (1,);
            with a label only, that one class is written without a score.
        class_names: the dataset's class names; None writes ``class <index>``.
        topk: how many classes to write, best first.
        min_side: enlarge smaller images to this shorter side (0 keeps the size).
        font_size: text height in pixels; None scales it with the image and shrinks it until the
            longest line fits the width.

    Returns:
        (H', W', 3) uint8 BGR image; (H', W') = (H, W) unless the image was enlarged.
    """
    image = _enlarged(as_bgr(image_bgr, "draw_classification"), min_side)
    lines = _prediction_lines(pred_label, class_names, topk)
    return _write_lines(image, lines, font_size)


def _enlarged(image: np.ndarray, min_side: int) -> np.ndarray:
    shorter = min(image.shape[:2])
    if min_side <= 0 or shorter >= min_side:
        return image.copy()
    factor = int(np.ceil(min_side / shorter))
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)


def _prediction_lines(pred_label: Any, class_names: Sequence[str] | None, topk: int) -> list[str]:
    if topk < 1:
        raise ValueError(f"draw_classification: topk must be >= 1, got {topk}")
    score, label = pred_label.get("score"), pred_label.get("label")
    if score is None and label is None:
        raise ValueError("draw_classification: pred_label has neither `score` nor `label`")
    if score is None:
        return [_class_name(int(torch.as_tensor(label).reshape(-1)[0]), class_names)]
    score = torch.as_tensor(score).detach().cpu().float().reshape(-1)
    if class_names is not None and len(class_names) != score.numel():
        raise ValueError(
            f"draw_classification: {len(class_names)} class names but the score has {score.numel()} classes"
        )
    values, indices = score.topk(min(topk, score.numel()))
    return [f"{_class_name(int(i), class_names)}: {float(v):.2f}" for v, i in zip(values, indices)]


def _class_name(index: int, class_names: Sequence[str] | None) -> str:
    return f"class {index}" if class_names is None else str(class_names[index])


def _write_lines(image_bgr: np.ndarray, lines: list[str], font_size: int | None) -> np.ndarray:
    height, width = image_bgr.shape[:2]
    margin = max(2, min(height, width) // 60)
    size = font_size or max(MIN_FONT_SIZE, min(height, width) // 14)
    font = ImageFont.load_default(size=size)
    canvas = Image.fromarray(np.ascontiguousarray(image_bgr[..., ::-1])).convert("RGBA")
    probe = ImageDraw.Draw(canvas)
    while font_size is None and size > MIN_FONT_SIZE and _text_width(probe, lines, font) + 2 * margin > width:
        size -= 1
        font = ImageFont.load_default(size=size)
    line_height = int(size * 1.25)
    box = (
        0,
        0,
        min(width, _text_width(probe, lines, font) + 2 * margin),
        line_height * len(lines) + 2 * margin,
    )
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle(box, fill=(0, 0, 0, 150))
    for row, line in enumerate(lines):
        draw.text((margin, margin + row * line_height), line, font=font, fill=(255, 255, 255, 255))
    rgb = np.asarray(Image.alpha_composite(canvas, overlay).convert("RGB"))
    return np.ascontiguousarray(rgb[..., ::-1])


def _text_width(draw: ImageDraw.ImageDraw, lines: list[str], font: Any) -> int:
    return max(int(np.ceil(draw.textlength(line, font=font))) for line in lines)
