"""Procedural textures for synthetic restoration and inpainting data (NumPy + OpenCV, seeded by ``rng``).

Two kinds of function:

* *fields*, ``(H, W) float32`` in [0, 1]: :func:`value_noise`, :func:`perlin_noise`, :func:`pink_noise`
  (1/f^beta spectrum, the power law of natural images, Field 1987), :func:`stripes`,
  :func:`checkerboard`, :func:`grid_lines`, :func:`gradient`; :func:`colorize` maps a field to colours
  along a random palette;
* *pictures*, ``(H, W, 3) uint8`` BGR: :func:`blobs`, :func:`bricks`, :func:`text_strokes`.

:func:`random_texture` draws one of :data:`TEXTURE_KINDS` as a BGR picture. Every random choice comes
from the ``numpy.random.Generator`` passed in, so the same generator state gives the same bytes.
Sharp patterns (stripes, checkerboards, grids, bricks) are anti-aliased: edges are about one pixel wide,
so they stay meaningful after bicubic down-sampling (aliasing-prone high frequencies are what a
super-resolution model must learn to restore).
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable

import cv2
import numpy as np

__all__ = [
    "TEXTURE_KINDS",
    "blobs",
    "bricks",
    "checkerboard",
    "colorize",
    "gradient",
    "grid_lines",
    "perlin_noise",
    "pink_noise",
    "random_texture",
    "stripes",
    "text_strokes",
    "value_noise",
]

Shape = tuple[int, int]


def _normalise(field: np.ndarray) -> np.ndarray:
    """Stretch to [0, 1] (a constant field becomes 0.5)."""
    low, high = float(field.min()), float(field.max())
    if high - low < 1e-12:
        return np.full(field.shape, 0.5, dtype=np.float32)
    return ((field - low) / (high - low)).astype(np.float32)


def _coordinates(shape: Shape, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates rotated by ``angle`` radians: (u along the angle, v across it), (H, W) each."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    cos, sin = math.cos(angle), math.sin(angle)
    return xs * cos + ys * sin, -xs * sin + ys * cos


def _smooth_square(phase: np.ndarray, period: float) -> np.ndarray:
    """A square wave of ``phase`` (in pixels) in [-1, 1] with ~1-pixel anti-aliased edges."""
    return np.clip(np.sin(2 * np.pi * phase / period) * period / math.pi, -1.0, 1.0)


def _fractal(
    shape: Shape, octave: Callable[[int], np.ndarray], octaves: int, persistence: float
) -> np.ndarray:
    """``sum_i persistence**i * octave(i)`` over ``octaves`` octaves (drawn in order), normalised to [0, 1]."""
    total = np.zeros(shape, dtype=np.float64)
    amplitude = 1.0
    for index in range(octaves):
        total += amplitude * octave(index)
        amplitude *= persistence
    return _normalise(total)


def value_noise(
    shape: Shape, rng: np.random.Generator, cell: float = 16.0, octaves: int = 4, persistence: float = 0.5
) -> np.ndarray:
    """Fractal value noise: random lattice values, bicubic-interpolated, summed over octaves.

    Args:
        shape: (H, W) of the field.
        cell: lattice spacing of the coarsest octave, pixels; each octave halves it.
        octaves: number of octaves.
        persistence: amplitude ratio between successive octaves.

    Returns:
        (H, W) float32 in [0, 1].
    """
    height, width = shape

    def octave(index: int) -> np.ndarray:
        spacing = max(cell / 2**index, 1.0)
        rows, cols = math.ceil(height / spacing) + 3, math.ceil(width / spacing) + 3
        lattice = rng.random((rows, cols))
        big = cv2.resize(
            lattice, (round(cols * spacing), round(rows * spacing)), interpolation=cv2.INTER_CUBIC
        )
        top = int(rng.integers(0, big.shape[0] - height + 1))
        left = int(rng.integers(0, big.shape[1] - width + 1))
        return big[top : top + height, left : left + width]

    return _fractal(shape, octave, octaves, persistence)


def perlin_noise(
    shape: Shape, rng: np.random.Generator, period: float = 32.0, octaves: int = 3, persistence: float = 0.5
) -> np.ndarray:
    """Perlin's gradient noise (random unit gradients on a lattice, quintic fade; Perlin 2002), over octaves.

    Args:
        shape: (H, W) of the field.
        period: lattice spacing of the coarsest octave, pixels; each octave halves it.
        octaves: number of octaves.
        persistence: amplitude ratio between successive octaves.

    Returns:
        (H, W) float32 in [0, 1].
    """
    height, width = shape

    def octave(index: int) -> np.ndarray:
        spacing = max(period / 2**index, 2.0)
        ys = (np.arange(height) + rng.random()) / spacing
        xs = (np.arange(width) + rng.random()) / spacing
        angles = rng.random((int(ys[-1]) + 2, int(xs[-1]) + 2)) * 2 * np.pi
        grad_y, grad_x = np.sin(angles), np.cos(angles)
        y0, x0 = np.floor(ys).astype(int)[:, None], np.floor(xs).astype(int)[None, :]
        fy, fx = (ys[:, None] - y0), (xs[None, :] - x0)

        def corner(dy: int, dx: int) -> np.ndarray:
            return grad_y[y0 + dy, x0 + dx] * (fy - dy) + grad_x[y0 + dy, x0 + dx] * (fx - dx)

        fade_y = fy**3 * (fy * (fy * 6 - 15) + 10)
        fade_x = fx**3 * (fx * (fx * 6 - 15) + 10)
        top = corner(0, 0) + fade_x * (corner(0, 1) - corner(0, 0))
        bottom = corner(1, 0) + fade_x * (corner(1, 1) - corner(1, 0))
        return top + fade_y * (bottom - top)

    return _fractal(shape, octave, octaves, persistence)


def pink_noise(shape: Shape, rng: np.random.Generator, exponent: float = 1.0) -> np.ndarray:
    """Noise with a 1/f^exponent amplitude spectrum (exponent 1: the statistics of natural images).

    Returns:
        (H, W) float32 in [0, 1] (a 0.5 %/99.5 % percentile stretch, clipped).
    """
    white = rng.standard_normal(shape)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    radius = np.sqrt(fy**2 + fx**2)
    radius[0, 0] = 1.0
    spectrum = np.fft.rfft2(white) / radius**exponent
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=shape)
    low, high = np.percentile(field, [0.5, 99.5])
    return np.clip((field - low) / max(high - low, 1e-12), 0.0, 1.0).astype(np.float32)


def stripes(
    shape: Shape, rng: np.random.Generator, period: float = 8.0, angle: float = 0.0, square: bool = False
) -> np.ndarray:
    """Parallel stripes at ``angle`` radians, sinusoidal or (``square``) anti-aliased hard-edged.

    Returns:
        (H, W) float32 in [0, 1].
    """
    u, _ = _coordinates(shape, angle)
    phase = u + rng.random() * period
    wave = _smooth_square(phase, period) if square else np.sin(2 * np.pi * phase / period)
    return (0.5 + 0.5 * wave).astype(np.float32)


def checkerboard(shape: Shape, rng: np.random.Generator, cell: float = 8.0, angle: float = 0.0) -> np.ndarray:
    """A checkerboard of ``cell``-pixel squares rotated by ``angle`` radians, anti-aliased.

    Returns:
        (H, W) float32 in [0, 1].
    """
    u, v = _coordinates(shape, angle)
    offset_u, offset_v = rng.random(2) * 2 * cell
    board = _smooth_square(u + offset_u, 2 * cell) * _smooth_square(v + offset_v, 2 * cell)
    return (0.5 + 0.5 * board).astype(np.float32)


def grid_lines(
    shape: Shape, rng: np.random.Generator, cell: float = 12.0, width: float = 1.5, angle: float = 0.0
) -> np.ndarray:
    """Thin lines every ``cell`` pixels in both directions (1 on the lines), anti-aliased.

    Returns:
        (H, W) float32 in [0, 1].
    """
    u, v = _coordinates(shape, angle)
    offsets = rng.random(2) * cell
    lines = np.zeros(shape, dtype=np.float64)
    for coordinate, offset in ((u, offsets[0]), (v, offsets[1])):
        distance = np.abs((coordinate + offset + cell / 2) % cell - cell / 2)
        lines = np.maximum(lines, np.clip(width / 2 + 0.5 - distance, 0.0, 1.0))
    return lines.astype(np.float32)


def gradient(shape: Shape, rng: np.random.Generator, radial: bool | None = None) -> np.ndarray:
    """A smooth linear (random direction) or radial (random centre) ramp.

    Args:
        radial: the kind; None draws it.

    Returns:
        (H, W) float32 in [0, 1].
    """
    radial = bool(rng.random() < 0.5) if radial is None else radial
    if radial:
        ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
        cy, cx = rng.random() * shape[0], rng.random() * shape[1]
        return _normalise(np.hypot(ys - cy, xs - cx))
    u, _ = _coordinates(shape, rng.random() * 2 * np.pi)
    return _normalise(u)


def _random_colours(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` BGR colours (float64 0..255) with distinct lightness, from a random hue family."""
    hue = rng.random() * 180
    colours = []
    for lightness in np.sort(rng.random(count)):
        hsv = np.array([[[(hue + rng.normal(0, 20)) % 180, rng.uniform(40, 220), 30 + 200 * lightness]]])
        colours.append(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)[0, 0].astype(np.float64))
    return np.stack(colours)


def colorize(field: np.ndarray, rng: np.random.Generator, colours: int = 3) -> np.ndarray:
    """Map a [0, 1] field to BGR along a piecewise-linear palette of ``colours`` random colours.

    Returns:
        (H, W, 3) uint8 BGR.
    """
    palette = _random_colours(rng, colours)
    position = np.clip(field.astype(np.float64), 0.0, 1.0) * (colours - 1)
    index = np.minimum(position.astype(int), colours - 2)
    fraction = (position - index)[..., None]
    image = palette[index] * (1 - fraction) + palette[index + 1] * fraction
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def blobs(shape: Shape, rng: np.random.Generator, count: int | None = None) -> np.ndarray:
    """Overlapping filled ellipses of random colours on a value-noise background (anti-aliased edges).

    Args:
        count: number of ellipses (None: 6 to 24).

    Returns:
        (H, W, 3) uint8 BGR.
    """
    height, width = shape
    image = np.ascontiguousarray(colorize(value_noise(shape, rng, cell=max(shape) / 4, octaves=2), rng, 2))
    count = int(rng.integers(6, 25)) if count is None else count
    shift = 4  # sub-pixel precision of cv2's drawing: coordinates in 1/16 px
    for _ in range(count):
        centre = (int(rng.random() * width * 16), int(rng.random() * height * 16))
        axes = tuple(int(rng.uniform(0.03, 0.25) * max(shape) * 16) for _ in range(2))
        colour = tuple(float(c) for c in rng.integers(0, 256, 3))
        angle = float(rng.random() * 180)
        cv2.ellipse(image, centre, axes, angle, 0, 360, colour, -1, cv2.LINE_AA, shift)
    return image


def bricks(
    shape: Shape, rng: np.random.Generator, brick: tuple[int, int] | None = None, mortar: int | None = None
) -> np.ndarray:
    """A running-bond brick wall: rows offset by half a brick, per-brick colour jitter, grainy surface.

    Args:
        brick: (height, width) of a brick in pixels (None: drawn, 8-24 px high, 2-3 times as wide).
        mortar: mortar joint width in pixels (None: 1-3).

    Returns:
        (H, W, 3) uint8 BGR.
    """
    height, width = shape
    brick_h = int(rng.integers(8, 25)) if brick is None else brick[0]
    brick_w = int(brick_h * rng.uniform(2.0, 3.0)) if brick is None else brick[1]
    mortar = int(rng.integers(1, 4)) if mortar is None else mortar
    base = rng.uniform([20, 40, 110], [90, 110, 200])  # brick-red to brown, BGR
    mortar_colour = rng.uniform(150, 220) * np.array([1.0, 1.0, 1.0]) * rng.uniform(0.9, 1.1, 3)
    image = np.empty((height, width, 3), dtype=np.float64)
    image[:] = mortar_colour
    offset_y, offset_x = int(rng.integers(0, brick_h)), int(rng.integers(0, brick_w))
    for row, top in enumerate(range(-offset_y, height, brick_h)):
        shift = offset_x + (brick_w // 2 if row % 2 else 0)
        for left in range(-shift, width, brick_w):
            y0, y1 = max(top + mortar, 0), min(top + brick_h, height)
            x0, x1 = max(left + mortar, 0), min(left + brick_w, width)
            if y1 > y0 and x1 > x0:
                image[y0:y1, x0:x1] = base * rng.uniform(0.75, 1.2)
    grain = (value_noise(shape, rng, cell=4.0, octaves=2) - 0.5)[..., None] * 40
    image = cv2.GaussianBlur(image + grain, (3, 3), 0.6)  # soft joint edges, like a photographed wall
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


_HERSHEY_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)
_TEXT_CHARACTERS = string.ascii_letters + string.digits


def text_strokes(shape: Shape, rng: np.random.Generator, lines: int | None = None) -> np.ndarray:
    """Lines of random characters in OpenCV's Hershey fonts (thin strokes, like printed text), anti-aliased.

    Args:
        lines: number of text lines (None: about one per 20 px of height).

    Returns:
        (H, W, 3) uint8 BGR.
    """
    height, width = shape
    paper = rng.uniform(170, 255, 3)
    ink = rng.uniform(0, 90, 3)
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = np.rint(paper).astype(np.uint8)
    lines = max(1, height // 20) if lines is None else lines
    for line in range(lines):
        font = _HERSHEY_FONTS[int(rng.integers(len(_HERSHEY_FONTS)))]
        scale = float(rng.uniform(0.3, 1.2))
        text = "".join(rng.choice(list(_TEXT_CHARACTERS), size=int(rng.integers(4, 30))))
        origin = (
            int(rng.integers(-10, max(width // 4, 1))),
            int((line + rng.uniform(0.6, 1.0)) * height / lines),
        )
        thickness = int(rng.integers(1, 3))
        cv2.putText(image, text, origin, font, scale, tuple(float(c) for c in ink), thickness, cv2.LINE_AA)
    return image


def _field_picture(make: Callable[[Shape, np.random.Generator], np.ndarray]) -> Callable:
    return lambda shape, rng: colorize(make(shape, rng), rng, int(rng.integers(2, 5)))


def _random_angle(rng: np.random.Generator) -> float:
    return float(rng.random() * np.pi)


TEXTURE_KINDS: dict[str, Callable[[Shape, np.random.Generator], np.ndarray]] = {
    "value_noise": _field_picture(lambda s, r: value_noise(s, r, cell=float(r.uniform(6, 40)))),
    "perlin": _field_picture(lambda s, r: perlin_noise(s, r, period=float(r.uniform(12, 64)))),
    "pink_noise": _field_picture(lambda s, r: pink_noise(s, r, exponent=float(r.uniform(0.8, 1.6)))),
    "stripes": _field_picture(
        lambda s, r: stripes(s, r, float(r.uniform(3, 24)), _random_angle(r), square=bool(r.random() < 0.5))
    ),
    "checkerboard": _field_picture(
        lambda s, r: checkerboard(s, r, float(r.uniform(3, 24)), _random_angle(r))
    ),
    "grid": _field_picture(
        lambda s, r: grid_lines(s, r, float(r.uniform(6, 24)), float(r.uniform(1, 3)), _random_angle(r))
    ),
    "gradient": _field_picture(gradient),
    "blobs": blobs,
    "bricks": bricks,
    "text": text_strokes,
}
"""The texture kinds of :func:`random_texture`: name -> ``f(shape, rng) -> (H, W, 3) uint8 BGR``."""


def random_texture(shape: Shape, rng: np.random.Generator, kind: str | None = None) -> tuple[np.ndarray, str]:
    """One texture picture of a random (or the given) kind.

    Args:
        shape: (H, W).
        kind: a key of :data:`TEXTURE_KINDS`; None draws one uniformly.

    Returns:
        ((H, W, 3) uint8 BGR image, the kind's name).
    """
    names = list(TEXTURE_KINDS)
    if kind is None:
        kind = names[int(rng.integers(len(names)))]
    if kind not in TEXTURE_KINDS:
        raise ValueError(f"random_texture: unknown kind {kind!r}; choose one of {names}")
    return TEXTURE_KINDS[kind]((int(shape[0]), int(shape[1])), rng), kind
