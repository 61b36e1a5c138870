"""Shapes and textures the synthetic writers of several tasks draw (data layer: any task may use them).

``UNIT_OUTLINES``: the vertices of the five shape classes at unit radius (the detection writer's objects, the
pose writer's occluders); ``textured_background``: noise, a gradient or stripes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = [
    "CIRCLE_VERTICES",
    "SHAPE_CLASSES",
    "UNIT_AREAS",
    "UNIT_OUTLINES",
    "polygon_area",
    "textured_background",
]

SHAPE_CLASSES = ("circle", "square", "triangle", "star", "cross")
CIRCLE_VERTICES = 48


def _unit_outline(name: str) -> np.ndarray:
    """The shape's vertices at unit radius, (K, 2), counter-clockwise from angle 0."""
    if name == "circle":
        angles = np.linspace(0, 2 * math.pi, CIRCLE_VERTICES, endpoint=False)
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name in ("square", "triangle"):
        count = 4 if name == "square" else 3
        angles = np.arange(count) * 2 * math.pi / count + math.pi / 2
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name == "star":
        angles = np.arange(10) * math.pi / 5 - math.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    arm = 0.33  # cross: half-width of each arm
    return np.array(
        [(arm, -1), (arm, -arm), (1, -arm), (1, arm), (arm, arm), (arm, 1),
         (-arm, 1), (-arm, arm), (-1, arm), (-1, -arm), (-arm, -arm), (-arm, -1)],
        dtype=np.float64,
    )  # fmt: skip


def polygon_area(points: np.ndarray) -> float:
    """The area of a simple polygon (K, 2) (the shoelace formula)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


UNIT_OUTLINES = {name: _unit_outline(name) for name in SHAPE_CLASSES}
UNIT_AREAS = {name: polygon_area(outline) for name, outline in UNIT_OUTLINES.items()}


def textured_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An (H, W, 3) uint8 texture: noise around a colour, a linear gradient, or stripes."""
    kind = rng.integers(3)
    first, second = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    along = xs * math.cos(angle) + ys * math.sin(angle)
    if kind == 0:
        noise = rng.normal(0, rng.uniform(8, 30), size=(height, width, 3)).astype(np.float32)
        img = first + cv2.GaussianBlur(noise, (0, 0), sigmaX=rng.uniform(0.5, 2.0))
    elif kind == 1:
        t = (along - along.min()) / max(float(np.ptp(along)), 1.0)
        img = first + t[..., None] * (second - first)
    else:
        period = rng.uniform(6, 40)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * along / period)
        img = first + t[..., None] * (second - first)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
