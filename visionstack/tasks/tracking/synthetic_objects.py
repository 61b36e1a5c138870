"""The synthetic tracking objects: per-identity appearance and how each class is drawn inside its box.

Three classes, recognisable by shape: a pedestrian (head with hair, torso with arms, two walking legs), a car
(body, cabin with windows, two wheels, a headlight on the side it drives to) and a bicycle (two wheels, a
frame, a rider with a helmet and pedalling legs). Every identity has its own colours (clothes, skin, hair,
paint) and a clothing / paint pattern (plain, stripes, two-tone, band), so a re-identification net can tell
identities apart; the shading breathes a little over time and legs move, a mild per-frame change.

Every part lies inside the object's box ``(x1, y1, x2, y2)`` (0-based pixels), which is the ground-truth box.
Drawing uses OpenCV with 4 fractional bits, so sub-pixel motion is smooth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["CLASS_SIZES", "Appearance", "draw_object", "random_appearance"]

# (width range in pixels at perspective scale 1, width / height range); pedestrian, car, bicycle
CLASS_SIZES = (((15.0, 22.0), (0.35, 0.45)), ((44.0, 64.0), (1.8, 2.2)), ((26.0, 34.0), (0.9, 1.1)))
PATTERNS = ("plain", "stripes", "two_tone", "band")
_SKIN = ((80, 110, 160), (110, 150, 200), (140, 180, 225), (60, 85, 120), (120, 160, 210))
_SHIFT = 4  # fractional bits of OpenCV drawing coordinates
_SCALE = 1 << _SHIFT
Color = tuple[float, float, float]


@dataclass
class Appearance:
    """One identity's look: colours (BGR), pattern, shading rhythm."""

    primary: Color
    secondary: Color
    accent: Color
    skin: Color
    pattern: str
    shade_period: float  # frames
    shade_phase: float


def _vivid(rng: np.random.Generator) -> Color:
    hsv = np.array([[[rng.integers(0, 180), rng.integers(90, 256), rng.integers(70, 250)]]], dtype=np.uint8)
    return tuple(float(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def random_appearance(rng: np.random.Generator) -> Appearance:
    """Draw an identity's colours and pattern."""
    return Appearance(
        primary=_vivid(rng),
        secondary=_vivid(rng),
        accent=_vivid(rng),
        skin=tuple(float(v) for v in _SKIN[int(rng.integers(len(_SKIN)))]),
        pattern=PATTERNS[int(rng.integers(len(PATTERNS)))],
        shade_period=float(rng.uniform(20, 60)),
        shade_phase=float(rng.uniform(0, 2 * math.pi)),
    )


def _shade(color: Color, factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255.0, max(0.0, c * factor))) for c in color)


def _points(*xy: float) -> np.ndarray:
    return np.round(np.asarray(xy, dtype=np.float64).reshape(-1, 2) * _SCALE).astype(np.int32)


def _quad(img: np.ndarray, x1: float, y1: float, x2: float, y2: float, color: tuple[int, int, int]) -> None:
    cv2.fillConvexPoly(img, _points(x1, y1, x2, y1, x2, y2, x1, y2), color, cv2.LINE_AA, _SHIFT)


def _disc(
    img: np.ndarray, x: float, y: float, radius: float, color: tuple[int, int, int], thickness: int = -1
) -> None:
    center = (int(round(x * _SCALE)), int(round(y * _SCALE)))
    cv2.circle(img, center, max(int(round(radius * _SCALE)), 1), color, thickness, cv2.LINE_AA, _SHIFT)


def _line(img: np.ndarray, a: tuple[float, float], b: tuple[float, float], color, thickness: int) -> None:
    cv2.line(img, tuple(_points(*a)[0]), tuple(_points(*b)[0]), color, max(thickness, 1), cv2.LINE_AA, _SHIFT)


def _patterned(
    img: np.ndarray, box: tuple[float, float, float, float], look: Appearance, factor: float
) -> None:
    """A rectangle in the identity's primary colour with its pattern in the secondary colour."""
    x1, y1, x2, y2 = box
    _quad(img, x1, y1, x2, y2, _shade(look.primary, factor))
    second = _shade(look.secondary, factor)
    height = y2 - y1
    if look.pattern == "stripes":
        for k in range(3):
            top = y1 + height * (0.12 + 0.3 * k)
            _quad(img, x1, top, x2, top + height * 0.13, second)
    elif look.pattern == "two_tone":
        _quad(img, x1, y1 + height * 0.5, x2, y2, second)
    elif look.pattern == "band":
        _quad(img, x1, y1 + height * 0.35, x2, y1 + height * 0.6, second)


def _pedestrian(img, box, look: Appearance, factor: float, phase: float, facing: int) -> None:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    cx = 0.5 * (x1 + x2)
    radius = min(0.3 * w, 0.085 * h)
    head_y = y1 + radius
    skin, hair = _shade(look.skin, factor), _shade(look.accent, 0.45 * factor)
    swing = math.sin(phase)
    # legs: walking, drawn first so the torso covers their tops
    hip, knee_room = y1 + 0.55 * h, 0.12 * w * swing
    pants = _shade(look.secondary, 0.6 * factor)
    for side, offset in ((-1, knee_room), (1, -knee_room)):
        left = cx + side * 0.2 * w - 0.13 * w + offset
        _quad(img, left, hip, left + 0.26 * w, y2 - 0.04 * h, pants)
        _quad(
            img,
            left - 0.02 * w + (0.06 * w if facing > 0 else 0),
            y2 - 0.05 * h,
            left + 0.28 * w,
            y2,
            (30, 30, 35),
        )
    # arms at the box's sides, swinging against the legs
    sleeve = _shade(look.primary, 0.8 * factor)
    for side in (-1, 1):
        top = head_y + radius + 0.02 * h
        lift = 0.03 * h * swing * side
        outer = x1 if side < 0 else x2 - 0.17 * w
        _quad(img, outer, top, outer + 0.17 * w, top + 0.3 * h + lift, sleeve)
        _disc(img, outer + 0.085 * w, top + 0.3 * h + lift, 0.08 * w, skin)
    _patterned(img, (x1 + 0.15 * w, head_y + radius + 0.01 * h, x2 - 0.15 * w, hip + 0.03 * h), look, factor)
    _disc(img, cx, head_y + 0.02 * h, radius, skin)
    cv2.ellipse(img, tuple(_points(cx, head_y)[0]), tuple(_points(radius, radius)[0]), 0, 180, 360, hair, -1,
                cv2.LINE_AA, _SHIFT)  # fmt: skip


def _car(img, box, look: Appearance, factor: float, phase: float, facing: int) -> None:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    paint, dark = _shade(look.primary, factor), _shade(look.primary, 0.6 * factor)
    wheel_r = 0.2 * h
    # cabin (trapezoid) leaning towards the back
    front = 1 if facing > 0 else -1
    cx = 0.5 * (x1 + x2) - front * 0.06 * w
    top, base = y1, y1 + 0.45 * h
    cabin = _points(cx - 0.26 * w, top, cx + 0.22 * w, top, cx + 0.34 * w, base, cx - 0.36 * w, base)
    if front < 0:
        cabin = _points(cx - 0.22 * w, top, cx + 0.26 * w, top, cx + 0.36 * w, base, cx - 0.34 * w, base)
    cv2.fillConvexPoly(img, cabin, dark, cv2.LINE_AA, _SHIFT)
    glass = _shade((200, 170, 120), 0.9 + 0.2 * (factor - 1))
    for lo, hi in ((-0.24, -0.03), (0.02, 0.21)):
        _quad(img, cx + lo * w, top + 0.12 * h, cx + hi * w, base - 0.02 * h, glass)
    # body with rounded ends, the identity's pattern as a stripe or lower half
    body = (x1, y1 + 0.42 * h, x2, y2 - wheel_r)
    _quad(img, x1 + 0.03 * w, body[1], x2 - 0.03 * w, body[3], paint)
    _quad(img, x1, body[1] + 0.06 * h, x2, body[3] - 0.02 * h, paint)
    second = _shade(look.secondary, factor)
    if look.pattern in ("stripes", "band"):
        _quad(img, x1, body[1] + 0.14 * h, x2, body[1] + 0.22 * h, second)
    elif look.pattern == "two_tone":
        _quad(img, x1 + 0.02 * w, body[1] + 0.2 * h, x2 - 0.02 * w, body[3], second)
    light_x = x2 - 0.06 * w if front > 0 else x1
    _quad(img, light_x, body[1] + 0.06 * h, light_x + 0.06 * w, body[1] + 0.16 * h, (120, 230, 250))
    for hub in (x1 + 0.22 * w, x2 - 0.22 * w):
        _disc(img, hub, y2 - wheel_r, wheel_r, (25, 25, 25))
        _disc(img, hub, y2 - wheel_r, 0.45 * wheel_r, (150, 150, 150))


def _bicycle(img, box, look: Appearance, factor: float, phase: float, facing: int) -> None:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    radius = 0.22 * w
    thick = max(1, int(round(0.07 * w)))
    back, ahead = (x1 + radius + 0.02 * w, x2 - radius - 0.02 * w)[:: 1 if facing > 0 else -1]
    hub_y = y2 - radius - 0.02 * h
    for hub in (back, ahead):
        _disc(img, hub, hub_y, radius, (30, 30, 30), thick)
    frame_color = _shade(look.secondary, factor)
    seat = (back + 0.35 * (ahead - back), hub_y - 0.45 * h * 0.6)
    crank = (0.5 * (back + ahead), hub_y)
    bar = (ahead - 0.1 * (ahead - back), seat[1] - 0.04 * h)
    for a, b in ((back, seat), (seat, crank), (crank, back), (seat, bar), (bar, ahead), (crank, bar)):
        a = (a, hub_y) if isinstance(a, float) else a
        b = (b, hub_y) if isinstance(b, float) else b
        _line(img, a, b, frame_color, thick)
    # rider: legs pedalling, torso leaning to the handlebar, head with helmet at the box top
    pants = _shade(look.secondary, 0.55 * factor)
    for sign in (1, -1):
        pedal = (crank[0] + sign * 0.1 * w * math.cos(phase), crank[1] + sign * 0.1 * w * math.sin(phase))
        _line(img, seat, pedal, pants, max(1, int(round(0.09 * w))))
    head_r = 0.11 * h
    head = (seat[0] + 0.45 * (bar[0] - seat[0]), y1 + head_r)
    shoulder = (head[0], head[1] + head_r)
    torso = _points(seat[0] - 0.08 * w, seat[1], seat[0] + 0.08 * w, seat[1],
                    shoulder[0] + 0.1 * w, shoulder[1], shoulder[0] - 0.1 * w, shoulder[1])  # fmt: skip
    cv2.fillConvexPoly(img, torso, _shade(look.primary, factor), cv2.LINE_AA, _SHIFT)
    _line(img, shoulder, bar, _shade(look.primary, 0.8 * factor), max(1, int(round(0.06 * w))))
    _disc(img, head[0], head[1], head_r, _shade(look.skin, factor))
    cv2.ellipse(img, tuple(_points(*head)[0]), tuple(_points(head_r * 1.1, head_r * 1.1)[0]), 0, 180, 360,
                _shade(look.accent, factor), -1, cv2.LINE_AA, _SHIFT)  # fmt: skip


_DRAWERS = (_pedestrian, _car, _bicycle)


def draw_object(
    img: np.ndarray, label: int, box: np.ndarray, look: Appearance, frame: int, phase: float, facing: int
) -> None:
    """Draw one object of class ``label`` (0 pedestrian, 1 car, 2 bicycle) filling ``box`` (xyxy, 0-based).

    Args:
        img: (H, W, 3) uint8 BGR image, drawn into in place.
        label: the class index into ``SYNTH_CLASSES``.
        box: (4,) the object's box; parts outside the image are clipped by OpenCV.
        look: the identity's appearance.
        frame: the frame number (drives the shading rhythm).
        phase: the walking / pedalling phase in radians.
        facing: +1 moving right, -1 moving left.
    """
    factor = 1.0 + 0.1 * math.sin(2 * math.pi * frame / look.shade_period + look.shade_phase)
    _DRAWERS[label](img, tuple(float(v) for v in box), look, factor, phase, facing)
