"""Pinhole cameras and the screen-coordinate normalisation of VideoPose3D (NumPy only).

Conventions (the ones every file of the lifting package uses):

- **World frame**: millimetres, z up (Human3.6M's world frame is z-up too); the synthetic subjects stand on
  the plane z = 0.
- **Camera frame**: millimetres, OpenCV's axes: x to the right of the image, y down, z forward along the
  optical axis (depth). A world point ``X`` is ``R @ X + t`` in the camera frame (``R``: (3, 3) world ->
  camera rotation, ``t``: (3,) mm; the camera centre in the world is ``-R.T @ t``).
- **Pixels**: x to the right, y down, the origin at the top-left corner of the image; a camera-frame point
  ``(X, Y, Z)`` projects to ``(fx X / Z + cx, fy Y / Z + cy)`` (no lens distortion).
- **Normalised screen coordinates** (the lifters' 2D inputs): VideoPose3D's ``normalize_screen_coordinates``,
  ``x_n = 2 x / w - 1`` and ``y_n = 2 y / w - h / w``: the image width maps to [-1, 1] and the aspect ratio
  is kept (a 1000 x 1002 image gives y in about [-1, 1.004]).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "PinholeCamera",
    "image_coordinates",
    "look_at_rotation",
    "normalize_screen_coordinates",
]


def normalize_screen_coordinates(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """Pixels ``(..., 2)`` -> VideoPose3D's normalised screen coordinates: ``[x, y] / w * 2 - [1, h / w]``."""
    points = np.asarray(points)
    if points.shape[-1] != 2:
        raise ValueError(f"normalize_screen_coordinates: expected (..., 2) points, got shape {points.shape}")
    dtype = np.result_type(points.dtype, np.float32)
    offset = np.array([1.0, height / width], dtype=dtype)
    return (points.astype(dtype, copy=False) / dtype.type(width) * 2 - offset).astype(dtype)


def image_coordinates(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """The inverse of :func:`normalize_screen_coordinates`: normalised ``(..., 2)`` -> pixels."""
    points = np.asarray(points)
    if points.shape[-1] != 2:
        raise ValueError(f"image_coordinates: expected (..., 2) points, got shape {points.shape}")
    dtype = np.result_type(points.dtype, np.float32)
    offset = np.array([1.0, height / width], dtype=dtype)
    return ((points.astype(dtype, copy=False) + offset) * dtype.type(width) / 2).astype(dtype)


def look_at_rotation(
    center: Sequence[float], target: Sequence[float], up: Sequence[float] = (0, 0, 1)
) -> np.ndarray:
    """The (3, 3) world -> camera rotation of a camera at ``center`` looking at ``target`` (OpenCV axes:
    the camera's z is the viewing direction, its y points down, i.e. away from ``up``)."""
    forward = np.asarray(target, np.float64) - np.asarray(center, np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, np.float64))
    if np.linalg.norm(right) < 1e-9:
        raise ValueError("look_at_rotation: the viewing direction is parallel to `up`")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])  # rows: the camera axes in world coordinates


@dataclass(frozen=True)
class PinholeCamera:
    """A calibrated pinhole camera (see the module docstring for the frames and units).

    Args:
        name: the camera's id (``"cam_0"``).
        width, height: the image size in pixels.
        fx, fy: focal lengths in pixels.
        cx, cy: the principal point in pixels.
        rotation: (3, 3) world -> camera rotation.
        translation: (3,) mm, so that ``X_cam = rotation @ X_world + translation``.
    """

    name: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    rotation: np.ndarray
    translation: np.ndarray

    @classmethod
    def looking_at(
        cls,
        name: str,
        center: Sequence[float],
        target: Sequence[float],
        focal: float,
        size: tuple[int, int],
        principal_offset: tuple[float, float] = (0.0, 0.0),
    ) -> PinholeCamera:
        """A camera at world point ``center`` (mm) looking at ``target``; ``size`` is (w, h) in pixels."""
        rotation = look_at_rotation(center, target)
        translation = -rotation @ np.asarray(center, np.float64)
        width, height = size
        cx, cy = width / 2 + principal_offset[0], height / 2 + principal_offset[1]
        return cls(name, int(width), int(height), float(focal), float(focal), cx, cy, rotation, translation)

    @property
    def center(self) -> np.ndarray:
        """The camera centre in world coordinates (mm)."""
        return -self.rotation.T @ self.translation

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) mm -> camera frame (..., 3) mm."""
        return np.asarray(points, np.float64) @ self.rotation.T + self.translation

    def camera_to_world(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points (..., 3) mm -> world frame (..., 3) mm."""
        return (np.asarray(points, np.float64) - self.translation) @ self.rotation

    def project(self, points_camera: np.ndarray) -> np.ndarray:
        """Camera-frame points (..., 3) mm, in front of the camera -> pixels (..., 2)."""
        points = np.asarray(points_camera, np.float64)
        if np.any(points[..., 2] <= 0):
            raise ValueError(f"camera {self.name}: a point is behind the camera (z <= 0)")
        x = self.fx * points[..., 0] / points[..., 2] + self.cx
        y = self.fy * points[..., 1] / points[..., 2] + self.cy
        return np.stack([x, y], axis=-1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters: ``image_size`` [w, h], ``intrinsics`` [fx, fy, cx, cy], ``rotation`` (3x3),
        ``translation`` (mm), ``center`` (world mm)."""
        return {
            "image_size": [self.width, self.height],
            "intrinsics": [self.fx, self.fy, self.cx, self.cy],
            "rotation": self.rotation.tolist(),
            "translation": self.translation.tolist(),
            "center": self.center.tolist(),
        }

    @classmethod
    def from_dict(cls, name: str, params: Mapping[str, Any]) -> PinholeCamera:
        """The inverse of :meth:`to_dict` (``center`` is ignored: it follows from R and t)."""
        width, height = params["image_size"]
        fx, fy, cx, cy = params["intrinsics"]
        rotation = np.asarray(params["rotation"], np.float64).reshape(3, 3)
        translation = np.asarray(params["translation"], np.float64).reshape(3)
        return cls(
            name, int(width), int(height), float(fx), float(fy), float(cx), float(cy), rotation, translation
        )
