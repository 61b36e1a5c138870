"""Rendering one word for the synthetic OCR data: glyph masks with tight polygons, warps, backgrounds.

Coordinates are pixels with pixel centres at integers (OpenCV's convention): the pixel ``(row y, col x)``
covers ``[x - 0.5, x + 0.5] x [y - 0.5, y + 0.5]``. A word is first drawn in its own frame as an alpha
mask (:class:`WordMask`) with PIL, either straight (:func:`render_straight`) or glyph by glyph along a
circular arc (:func:`render_arc`), and its polygon is computed from the ink itself, so it encloses every
pixel with non-zero alpha and nothing more than half a pixel around it (the arc's polygon is the annular
sector of the ink's angles and radii, its outer side pushed out so that the chords stay outside the arc).
A homography (:func:`word_homography`: rotation, stretch, shear, mild perspective) then maps mask and
polygon together (:func:`warp_word`); projective maps keep straight segments straight, so the warped
polygon still encloses the warped ink up to the bilinear fringe (< 1 px).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ...data.synthetic_shapes import textured_background

__all__ = [
    "WordMask",
    "composite",
    "contrasting_colour",
    "font_size_for_height",
    "load_font",
    "luminance",
    "min_area_quad",
    "order_clockwise",
    "render_arc",
    "render_straight",
    "scene_background",
    "warp_word",
    "word_homography",
]

_PAD = 3  # empty pixels around a word's ink in its own frame
_REFERENCE_SIZE = 100  # font size at which font_size_for_height measures a text


@dataclass
class WordMask:
    """A word in its own frame: ``alpha`` (H, W) float32 in [0, 1]; ``polygon`` (P, 2) float32 x y, clockwise
    from the top-left (4 points when straight, 2 x k along the top then back along the bottom when curved)."""

    alpha: np.ndarray
    polygon: np.ndarray
    curved: bool


@functools.lru_cache(maxsize=4096)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """``ImageFont.truetype(path, size)``, cached."""
    return ImageFont.truetype(path, size)


def font_size_for_height(text: str, font_path: str, height: float) -> int:
    """The font size whose glyph box of ``text`` (PIL ``getbbox``) is about ``height`` pixels tall."""
    left, top, right, bottom = load_font(font_path, _REFERENCE_SIZE).getbbox(text, anchor="ls")
    return max(4, round(height * _REFERENCE_SIZE / max(bottom - top, 1)))


def _draw(text: str, font: ImageFont.FreeTypeFont, stroke: int = 0) -> tuple[np.ndarray, float, float]:
    """``text`` drawn white on black with its baseline origin at the returned (x, y), ``_PAD`` pixels around."""
    left, top, right, bottom = font.getbbox(text, anchor="ls", stroke_width=stroke)
    width, height = right - left + 2 * _PAD, bottom - top + 2 * _PAD
    image = Image.new("L", (max(width, 1), max(height, 1)), 0)
    origin = (_PAD - left, _PAD - top)
    ImageDraw.Draw(image).text(
        origin, text, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255
    )
    return np.asarray(image, dtype=np.float32) / 255.0, float(origin[0]), float(origin[1])


def _ink_box(alpha: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inclusive pixel indices of the non-zero alpha; raises on an empty mask."""
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        raise ValueError("the rendered word has no ink")
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def render_straight(text: str, font_path: str, size: int, stroke: int = 0) -> WordMask:
    """``text`` on a straight baseline; the polygon is the ink's box (pixel edges), TL, TR, BR, BL."""
    alpha, _, _ = _draw(text, load_font(font_path, size), stroke)
    x0, y0, x1, y1 = _ink_box(alpha)
    polygon = np.array(
        [[x0 - 0.5, y0 - 0.5], [x1 + 0.5, y0 - 0.5], [x1 + 0.5, y1 + 0.5], [x0 - 0.5, y1 + 0.5]], np.float32
    )
    return WordMask(alpha, polygon, curved=False)


def render_arc(
    text: str, font_path: str, size: int, span: float, smile: bool, points_per_side: int = 7
) -> WordMask:
    """``text`` glyph by glyph along a circular arc whose baseline subtends ``span`` radians.

    ``smile=False`` bends the word over a circle below it (the middle highest), ``True`` under a circle above
    it. Each glyph is drawn upright on the tangent at its centre (arc length = the font's advances). The
    polygon has ``points_per_side`` points along the top, then as many back along the bottom.
    """
    font = load_font(font_path, size)
    advances = [font.getlength(char) for char in text]
    length = max(sum(advances), 1.0)
    radius = length / max(span, 1e-3)
    sign = -1.0 if smile else 1.0  # +1: centre below the text (frown), -1: centre above (smile)
    glyphs, matrices, start = [], [], -length / 2
    for char, advance in zip(text, advances):
        phi = (start + advance / 2) / radius
        start += advance
        glyph, origin_x, origin_y = _draw(char, font)
        if not glyph.any():
            continue
        tangent = np.array([math.cos(phi), sign * math.sin(phi)])
        down = np.array([-sign * math.sin(phi), math.cos(phi)])
        on_arc = radius * np.array([math.sin(phi), -sign * math.cos(phi)])  # baseline point, centre at 0
        linear = np.stack([tangent, down], axis=1)
        offset = on_arc - linear @ np.array([origin_x + advance / 2, origin_y])
        glyphs.append(glyph)
        matrices.append(np.concatenate([linear, offset[:, None]], axis=1))
    corners = [
        m[:, :2] @ np.array([[0, 0], [g.shape[1], 0], [0, g.shape[0]], [g.shape[1], g.shape[0]]]).T + m[:, 2:]
        for g, m in zip(glyphs, matrices)
    ]
    every = np.concatenate(corners, axis=1)
    low = np.floor(every.min(axis=1)) - _PAD
    width, height = (np.ceil(every.max(axis=1)) + _PAD - low).astype(int)
    alpha = np.zeros((height, width), np.float32)
    for glyph, matrix in zip(glyphs, matrices):
        shifted = matrix.copy()
        shifted[:, 2] -= low
        warped = cv2.warpAffine(glyph, shifted, (int(width), int(height)), flags=cv2.INTER_LINEAR)
        np.maximum(alpha, warped, out=alpha)
    centre = -low
    polygon = _arc_polygon(alpha, centre, sign, points_per_side)
    return WordMask(alpha, polygon, curved=True)


def _arc_polygon(alpha: np.ndarray, centre: np.ndarray, sign: float, points_per_side: int) -> np.ndarray:
    """The annular sector around the ink seen from the arc's ``centre``: top side left to right, bottom back."""
    ys, xs = np.nonzero(alpha)
    dx, dy = xs - centre[0], ys - centre[1]
    phi = np.arctan2(dx, -sign * dy)  # 0 at the middle of the word, growing to the right
    radius = np.hypot(dx, dy)
    half_diagonal = math.sqrt(0.5)  # a pixel square reaches this far from its centre
    inner = radius.min() - half_diagonal
    angle_pad = half_diagonal / max(inner, 1.0)
    first, last = phi.min() - angle_pad, phi.max() + angle_pad
    step = (last - first) / (points_per_side - 1)
    outer = (radius.max() + half_diagonal) / math.cos(step / 2)  # chords of the outer arc stay outside it
    angles = np.linspace(first, last, points_per_side)
    top_radius, bottom_radius = (outer, inner) if sign > 0 else (inner, outer)

    def side(r: float, phis: np.ndarray) -> np.ndarray:
        return np.stack([centre[0] + r * np.sin(phis), centre[1] - sign * r * np.cos(phis)], axis=1)

    return np.concatenate([side(top_radius, angles), side(bottom_radius, angles[::-1])]).astype(np.float32)


def word_homography(
    rng: np.random.Generator,
    polygon: np.ndarray,
    max_angle: float,
    perspective: float,
    stretch: tuple[float, float] = (1.0, 1.0),
    max_shear: float = 0.0,
) -> np.ndarray:
    """A 3x3 homography about the polygon's centre (which it sends to the origin).

    Horizontal ``stretch`` range, ``max_shear`` (x += shear * y, a slant), rotation uniform in
    ``±max_angle`` degrees (clockwise on screen for positive angles), then each corner of the word's box
    moved by up to ``perspective`` x its height (mild perspective).
    """
    centre = (polygon.min(axis=0) + polygon.max(axis=0)) / 2
    width, height = np.ptp(polygon, axis=0)
    box = np.array(
        [
            [-width / 2, -height / 2],
            [width / 2, -height / 2],
            [width / 2, height / 2],
            [-width / 2, height / 2],
        ]
    )
    moved = box + rng.uniform(-perspective, perspective, size=(4, 2)) * height
    projective = cv2.getPerspectiveTransform(box.astype(np.float32), moved.astype(np.float32))
    scale = rng.uniform(*stretch)
    shear = rng.uniform(-max_shear, max_shear)
    angle = math.radians(rng.uniform(-max_angle, max_angle))
    cos, sin = math.cos(angle), math.sin(angle)
    rotate = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
    affine = np.array([[scale, -shear, 0], [0, 1, 0], [0, 0, 1]])
    to_origin = np.array([[1, 0, -centre[0]], [0, 1, -centre[1]], [0, 0, 1]])
    return rotate @ projective @ affine @ to_origin


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(P, 2) points through a 3x3 homography."""
    mapped = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), matrix)
    return mapped.reshape(-1, 2).astype(np.float32)


def warp_word(word: WordMask, matrix: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The word's alpha (``shape`` (H, W) float32) and polygon under the 3x3 ``matrix``."""
    alpha = cv2.warpPerspective(word.alpha, matrix, (shape[1], shape[0]), flags=cv2.INTER_LINEAR)
    return np.clip(alpha, 0.0, 1.0), transform_points(matrix, word.polygon)


def order_clockwise(points: np.ndarray, first_near: np.ndarray) -> np.ndarray:
    """(4, 2) corners clockwise on screen (y down), starting with the corner nearest ``first_near``."""
    centre = points.mean(axis=0)
    ordered = points[np.argsort(np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0]))]
    first = int(np.argmin(np.linalg.norm(ordered - first_near, axis=1)))
    return np.roll(ordered, -first, axis=0).astype(np.float32)


def min_area_quad(polygon: np.ndarray) -> np.ndarray:
    """``cv2.minAreaRect`` of a polygon as (4, 2) corners clockwise from the one nearest ``polygon[0]``."""
    box = cv2.boxPoints(cv2.minAreaRect(polygon.astype(np.float32)))
    return order_clockwise(box, polygon[0])


def luminance(bgr: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of BGR values (..., 3) in 0-255."""
    return bgr[..., 0] * 0.114 + bgr[..., 1] * 0.587 + bgr[..., 2] * 0.299


def contrasting_colour(
    rng: np.random.Generator, background: np.ndarray, low: float, high: float
) -> np.ndarray:
    """A random BGR colour (3,) float32 whose luma differs from ``background``'s by ``low``-``high``."""
    base = luminance(np.asarray(background, np.float64))
    target_gap = rng.uniform(low, high)
    darker = base - target_gap >= 0 and (base + target_gap > 255 or rng.random() < 0.5)
    target = base - target_gap if darker else base + target_gap
    colour = rng.uniform(0, 255, size=3)
    # move the random hue's luma onto the target, keeping some saturation
    for _ in range(4):
        colour = np.clip(colour + (target - luminance(colour)), 0, 255)
    return colour.astype(np.float32)


def composite(image: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    """Blend ``colour`` over the float32 (H, W, 3) ``image`` in place with ``alpha`` (H, W)."""
    image += alpha[..., None] * (colour - image)


@functools.lru_cache(maxsize=1)
def _photo_textures() -> tuple[np.ndarray, ...]:
    """scikit-image's brick, grass and gravel (grey, float32), or none when scikit-image is not installed."""
    try:
        from skimage import data
    except ImportError:
        return ()
    textures = []
    for name in ("brick", "grass", "gravel"):
        try:
            textures.append(np.asarray(getattr(data, name)(), np.float32))
        except Exception:  # a missing data file: keep the procedural textures only
            continue
    return tuple(textures)


def _photo_patch(rng: np.random.Generator, texture: np.ndarray, height: int, width: int) -> np.ndarray:
    """A tinted (H, W, 3) float32 patch of a grey photo texture, rescaled 0.5-1.5x and tiled when small."""
    scale = rng.uniform(0.5, 1.5)
    source = cv2.resize(texture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    reps = (math.ceil(height / source.shape[0]) + 1, math.ceil(width / source.shape[1]) + 1)
    tiled = np.tile(source, reps)
    y, x = int(rng.integers(tiled.shape[0] - height + 1)), int(rng.integers(tiled.shape[1] - width + 1))
    grey = tiled[y : y + height, x : x + width]
    tint = rng.uniform(0.5, 1.2, size=3).astype(np.float32)
    return grey[..., None] * tint


def _blobs(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Soft ellipses of a few colours over a base colour, (H, W, 3) float32."""
    image = np.empty((height, width, 3), np.float32)
    image[:] = rng.uniform(0, 255, size=3)
    for _ in range(int(rng.integers(3, 9))):
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        axes = (int(rng.integers(4, max(5, width // 2))), int(rng.integers(4, max(5, height // 2))))
        cv2.ellipse(
            image, centre, axes, float(rng.uniform(0, 180)), 0, 360, rng.uniform(0, 255, 3).tolist(), -1
        )
    sigma = max(1.0, min(height, width) * rng.uniform(0.02, 0.08))
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)


def scene_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An (H, W, 3) float32 BGR background: noise, gradient or stripes (the shared shapes' textures), soft
    blobs, or a photo texture (brick, grass, gravel; procedural only without scikit-image), its contrast pulled
    to 25-70 % around its mean so that text on it stays legible."""
    photos = _photo_textures()
    kind = int(rng.integers(3 + bool(photos)))
    if kind == 0:
        image = textured_background(rng, height, width).astype(np.float32)
    elif kind == 1:
        image = _blobs(rng, height, width)
    elif kind == 2:
        image = textured_background(rng, height, width).astype(np.float32)
        image = 0.6 * image + 0.4 * _blobs(rng, height, width)
    else:
        image = _photo_patch(rng, photos[int(rng.integers(len(photos)))], height, width)
    mean = image.reshape(-1, 3).mean(axis=0)
    return np.clip(mean + rng.uniform(0.25, 0.7) * (image - mean), 0, 255).astype(np.float32)
