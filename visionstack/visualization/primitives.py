"""Drawing primitives shared by every task's pictures: image checks and class colours (BGR)."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["Color", "as_bgr", "class_color", "text_color"]

Color = tuple[int, int, int]
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


def text_color(color: Color) -> tuple[int, int, int, int]:
    """Black on light colours, white on dark ones (ITU-R BT.601 luma), as RGBA."""
    blue, green, red = color
    return (0, 0, 0, 255) if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else (255, 255, 255, 255)
