"""Drawing primitives shared by every task's pictures: image checks and class colours (BGR)."""

from __future__ import annotations

import colorsys
from collections.abc import Callable, Iterable, Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["Color", "Placement", "as_bgr", "blend_canvas", "class_color", "draw_labels", "text_color"]

Color = tuple[int, int, int]
# (box width, box height) of a label -> the (x, y) of its box's top-left corner
Placement = Callable[[int, int], tuple[int, int]]
GOLDEN_RATIO_CONJUGATE = 0.618033988749895


def class_color(label: int, palette: Sequence[Sequence[int]] | None = None) -> Color:
    """The (B, G, R) colour of class ``label``: ``palette[label]`` (cycled), or a generated one.

    Generated hues step by the golden ratio around the colour wheel, so neighbouring labels get
    far-apart hues whatever the number of classes.
    """
    if palette is not None and len(palette) > 0:
        blue, green, red = (int(v) for v in palette[label % len(palette)])
        return blue, green, red
    hue = (max(label, 0) * GOLDEN_RATIO_CONJUGATE + 0.05) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(round(blue * 255)), int(round(green * 255)), int(round(red * 255))


def as_bgr(image: np.ndarray, owner: str = "draw") -> np.ndarray:
    """A uint8 (H, W, 3) BGR view of ``image`` (grayscale converted); errors name ``owner``."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"{owner}: expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{owner}: expected (H, W, 3) BGR or (H, W) grayscale, got shape {image.shape}")
    return image


def blend_canvas(image: np.ndarray, alpha: float, owner: str = "draw") -> np.ndarray:
    """A BGR copy of ``image`` to draw on, after checking the overlay opacity ``alpha`` is in [0, 1]."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{owner}: alpha must be in [0, 1], got {alpha}")
    return as_bgr(image, owner).copy()


def text_color(color: Color) -> tuple[int, int, int, int]:
    """Black on light colours, white on dark ones (ITU-R BT.601 luma), as RGBA."""
    blue, green, red = color
    return (0, 0, 0, 255) if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else (255, 255, 255, 255)


def draw_labels(
    image: np.ndarray, labels: Iterable[tuple[str, Color, Placement]], font_size: int | None = None
) -> np.ndarray:
    """Write each ``(text, colour, placement)`` label on a filled box of its BGR colour.

    The box holds the text with a margin; ``placement`` maps its size to its top-left corner, so
    each task decides where its labels go (above a box, centred on a region ...). ``font_size``
    None scales the text with the image (9 to 20 pixels). Returns a new (H, W, 3) uint8 BGR image.
    """
    height, width = image.shape[:2]
    size = font_size or max(9, min(20, int(round(min(height, width) / 20))))
    font = ImageFont.load_default(size=size)
    canvas = Image.fromarray(np.ascontiguousarray(image[..., ::-1]))
    draw = ImageDraw.Draw(canvas)
    pad = max(1, size // 6)
    for text, (blue, green, red), placement in labels:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
        x, y = placement(box_w, box_h)
        draw.rectangle((x, y, x + box_w - 1, y + box_h - 1), fill=(red, green, blue))
        draw.text((x + pad - left, y + pad - top), text, font=font, fill=text_color((blue, green, red)))
    return np.ascontiguousarray(np.asarray(canvas)[..., ::-1])
