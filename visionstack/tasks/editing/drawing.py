"""Pictures of image editing: titled side-by-side comparisons, inpainting holes, grids of generated samples.

NumPy, OpenCV and Pillow only, no torch (the deploy runtime draws too). Images are BGR (H, W, 3) or
grayscale (H, W) / (H, W, 1), uint8; float images (a noisy input in 0..255 units, not clipped) are shown
rounded and clipped to 0..255. Enlarging uses nearest-neighbour interpolation everywhere, so the pixels a
super-resolution model works on stay visible as blocks instead of being smoothed by the display.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["draw_mask_overlay", "image_grid", "side_by_side", "to_bgr_uint8"]

BACKGROUND = (255, 255, 255)
SEPARATOR_COLOR = (64, 64, 64)
TITLE_INK = (0, 0, 0)
HOLE_COLOR = (0, 0, 255)  # BGR red


def to_bgr_uint8(image: np.ndarray, owner: str = "draw") -> np.ndarray:
    """An (H, W, 3) uint8 BGR copy-or-view of a grayscale / BGR image (float: rounded, clipped to 0..255)."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"{owner}: expected (H, W, 3) BGR or (H, W) grayscale, got shape {array.shape}")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
            raise TypeError(f"{owner}: expected a uint8 or float image, got {array.dtype}")
        array = np.clip(np.round(array.astype(np.float64)), 0, 255).astype(np.uint8)
    return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR) if array.ndim == 2 else array


def _resize_nearest(image: np.ndarray, height: int) -> np.ndarray:
    """``image`` scaled to ``height`` rows (the width keeps the aspect ratio), nearest neighbour."""
    if image.shape[0] == height:
        return image
    width = max(1, int(round(image.shape[1] * height / image.shape[0])))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)


def _title_band(title: str, width: int, font: ImageFont.ImageFont, height: int) -> np.ndarray:
    """A white (height, width, 3) band with ``title`` centred (shortened with "..." when too wide)."""
    band = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(band)
    text, kept = title, title
    while kept and draw.textlength(text, font=font) > width - 4:
        kept = kept[:-1]
        text = kept + "..." if kept else ""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = (width - (right - left)) // 2 - left
    y = (height - (bottom - top)) // 2 - top
    draw.text((x, y), text, font=font, fill=TITLE_INK[::-1])
    return np.ascontiguousarray(np.asarray(band)[..., ::-1])


def side_by_side(
    panels: Sequence[tuple[str, np.ndarray]],
    height: int | None = None,
    separator: int = 2,
    font_size: int | None = None,
) -> np.ndarray:
    """Panels left to right, each titled on a white band above it, with thin dark separators between.

    Every panel is scaled (nearest neighbour, aspect ratio kept) to ``height`` rows, by default the
    tallest panel's: an x4 super-resolution input is shown as 4 x 4 blocks beside the output.

    Args:
        panels: ``(title, image)`` pairs, e.g. ``[("input x4", lq), ("bicubic", up), ("EDSR", sr), ("GT", gt)]``.
        height: the panels' height in pixels (None: the largest input height).
        separator: the width of the vertical lines between panels (0: none).
        font_size: the titles' size (None: from the height, 11 to 22 pixels).

    Returns:
        (band + height, sum of widths + separators, 3) uint8 BGR.
    """
    if not panels:
        raise ValueError("side_by_side: no panel")
    images = [to_bgr_uint8(image, f"side_by_side panel {title!r}") for title, image in panels]
    height = int(height or max(image.shape[0] for image in images))
    if height < 1 or separator < 0:
        raise ValueError(f"side_by_side: height must be >= 1 and separator >= 0, got {height}, {separator}")
    size = int(font_size or max(11, min(22, height // 12)))
    font = ImageFont.load_default(size=size)
    band_height = size + max(4, size // 2)
    columns = []
    for (title, _), image in zip(panels, images):
        scaled = _resize_nearest(image, height)
        columns.append(np.concatenate([_title_band(str(title), scaled.shape[1], font, band_height), scaled]))
        if separator:
            columns.append(np.full((band_height + height, separator, 3), SEPARATOR_COLOR, dtype=np.uint8))
    return np.ascontiguousarray(np.concatenate(columns[:-1] if separator else columns, axis=1))


def draw_mask_overlay(
    image: np.ndarray,
    mask: np.ndarray,
    color: tuple[int, int, int] = HOLE_COLOR,
    alpha: float = 0.4,
    outline: int = 1,
) -> np.ndarray:
    """The image with the mask's holes tinted with ``color`` and outlined in it.

    Args:
        image: (H, W, 3) BGR or (H, W) grayscale.
        mask: (H, W) (or (1, H, W) / (H, W, 1)), non-zero = hole.
        color: the BGR tint and outline colour.
        alpha: the tint's opacity inside the holes (0: outline only, 1: holes filled).
        outline: the outline's thickness in pixels (0: none); drawn on the holes' boundary pixels, inside.

    Returns:
        (H, W, 3) uint8 BGR; pixels outside the holes and their outline are unchanged.
    """
    canvas = to_bgr_uint8(image, "draw_mask_overlay").copy()
    holes = np.squeeze(np.asarray(mask))
    if holes.shape != canvas.shape[:2]:
        raise ValueError(
            f"draw_mask_overlay: mask of shape {np.asarray(mask).shape} for an image {canvas.shape[:2]}"
        )
    if not 0.0 <= alpha <= 1.0 or outline < 0:
        raise ValueError(
            f"draw_mask_overlay: alpha must be in [0, 1] and outline >= 0, got {alpha}, {outline}"
        )
    holes = holes != 0
    tint = np.asarray(color, dtype=np.float64)
    canvas[holes] = np.round(canvas[holes] * (1.0 - alpha) + tint * alpha).astype(np.uint8)
    if outline:
        eroded = cv2.erode(
            holes.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=outline, borderValue=1
        )
        canvas[holes & (eroded == 0)] = color
    return canvas


def image_grid(
    images: Sequence[np.ndarray], nrow: int = 8, pad: int = 2, pad_value: int = 255, scale: int = 1
) -> np.ndarray:
    """Equal-sized images in rows of ``nrow`` (the last row filled with ``pad_value``), ``pad`` pixels
    around and between them (torchvision's ``make_grid`` layout), each enlarged ``scale`` times
    (nearest neighbour; for 32 x 32 GAN samples).

    Args:
        images: N (H, W, 3) BGR or (H, W) grayscale images of one size.

    Returns:
        (rows (s H + pad) + pad, nrow' (s W + pad) + pad, 3) uint8 BGR, nrow' = min(nrow, N).
    """
    if not len(images):
        raise ValueError("image_grid: no image")
    if nrow < 1 or pad < 0 or scale < 1:
        raise ValueError(f"image_grid: need nrow >= 1, pad >= 0, scale >= 1; got {nrow}, {pad}, {scale}")
    tiles = [to_bgr_uint8(image, "image_grid") for image in images]
    shapes = {tile.shape for tile in tiles}
    if len(shapes) != 1:
        raise ValueError(f"image_grid: the images must share one size, got {sorted(shapes)}")
    height, width = tiles[0].shape[0] * scale, tiles[0].shape[1] * scale
    columns = min(nrow, len(tiles))
    rows = -(-len(tiles) // columns)
    grid = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, 3), pad_value, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        top, left = pad + row * (height + pad), pad + column * (width + pad)
        grid[top : top + height, left : left + width] = tile.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid
