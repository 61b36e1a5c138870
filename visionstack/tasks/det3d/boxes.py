"""3D boxes: LiDAR <-> camera conversion, corners, points in boxes, projection to the image.

Conventions (MMDetection3D v1.x):

- LiDAR box (N, 7) ``(x, y, z, dx, dy, dz, yaw)``: (x, y, z) the BOTTOM centre in the LiDAR frame
  (x forward, y left, z up), dx the length along the heading, dy the width, dz the height, yaw
  counter-clockwise from +x about +z (heading vector ``(cos yaw, sin yaw)``).
- Camera box (N, 7) ``(x, y, z, l, h, w, ry)`` in the rectified camera frame (x right, y down,
  z forward), (x, y, z) the bottom centre, ry about the camera y axis (KITTI's ``rotation_y``: the
  heading is ``(cos ry, 0, -sin ry)``, so ry = 0 faces camera +x and ry = -pi/2 faces +z).
- ``lidar2cam`` (4, 4) = ``R0_rect @ Tr_velo_to_cam``; ``cam2img`` (4, 4) = P2; ``lidar2img`` =
  ``cam2img @ lidar2cam``.

The module imports no torch (the torch-free runtime uses it); :func:`limit_period`,
:func:`box_corners` and :func:`bev_corners` also accept tensors and return tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "alpha_from_camera",
    "bev_corners",
    "box_2d_from_camera_boxes",
    "box_corners",
    "camera_box_corners",
    "anno_lidar_boxes",
    "camera_to_lidar_boxes",
    "count_points_in_boxes",
    "lidar_to_camera_boxes",
    "limit_period",
    "points_in_boxes",
    "project_to_image",
]

# Corner order of :func:`box_corners` as (x, y, z) offsets in the box frame, in units of
# (dx/2, dy/2, dz) from the bottom centre: MMDetection3D's ``LiDARInstance3DBoxes.corners`` order.
# Corners 0-3 are the back face (x = -dx/2), 4-7 the front face (x = +dx/2).
_CORNER_SIGNS = np.array(
    [
        [-1, -1, 0],
        [-1, -1, 1],
        [-1, 1, 1],
        [-1, 1, 0],
        [1, -1, 0],
        [1, -1, 1],
        [1, 1, 1],
        [1, 1, 0],
    ],
    dtype=np.float64,
)
# Counter-clockwise (seen from above, +z) BEV corners in (dx/2, dy/2) units: rear-right,
# front-right, front-left, rear-left.
_BEV_SIGNS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch")


def limit_period(val: Any, offset: float = 0.5, period: float = 2 * np.pi) -> Any:
    """``val - floor(val / period + offset) * period``: with the defaults, angles in [-pi, pi).

    Args:
        val: angles (array, scalar or tensor).
        offset: where the period starts, as a fraction of it (0.5: centred on zero).
        period: the period.
    """
    if _is_tensor(val):
        import torch

        return val - torch.floor(val / period + offset) * period
    val = np.asarray(val)
    return val - np.floor(val / period + offset) * period


def _as_boxes(boxes: Any) -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 7:
        raise ValueError(f"boxes must be (N, 7+), got shape {array.shape}")
    return array


def _transform_points(points: np.ndarray, matrix: Any) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def lidar_to_camera_boxes(boxes: Any, lidar2cam: Any) -> np.ndarray:
    """LiDAR boxes (N, 7) -> camera boxes (N, 7) ``(x, y, z, l, h, w, ry)`` (float64).

    The bottom centre goes through ``lidar2cam`` (4, 4); ``(l, h, w) = (dx, dz, dy)``;
    ``ry = limit_period(-yaw - pi/2)``. As in MMDetection3D, the small tilt of ``R0_rect`` and
    ``Tr_velo_to_cam`` is not applied to the yaw (the frames are taken as aligned up to the axis swap).
    Extra columns beyond 7 are kept.
    """
    boxes = _as_boxes(boxes)
    out = boxes.copy()
    out[:, :3] = _transform_points(boxes[:, :3], lidar2cam)
    out[:, 3:6] = boxes[:, [3, 5, 4]]
    out[:, 6] = limit_period(-boxes[:, 6] - np.pi / 2)
    return out


def camera_to_lidar_boxes(boxes: Any, lidar2cam: Any) -> np.ndarray:
    """Camera boxes (N, 7) ``(x, y, z, l, h, w, ry)`` -> LiDAR boxes (N, 7) (float64).

    The bottom centre goes through ``inv(lidar2cam)``; ``(dx, dy, dz) = (l, w, h)``;
    ``yaw = limit_period(-ry - pi/2)`` (the inverse of :func:`lidar_to_camera_boxes`; the
    calibration tilt is likewise not applied to the angle).
    """
    boxes = _as_boxes(boxes)
    out = boxes.copy()
    cam2lidar = np.linalg.inv(np.asarray(lidar2cam, dtype=np.float64))
    out[:, :3] = _transform_points(boxes[:, :3], cam2lidar)
    out[:, 3:6] = boxes[:, [3, 5, 4]]
    out[:, 6] = limit_period(-boxes[:, 6] - np.pi / 2)
    return out


def anno_lidar_boxes(anno: Any, lidar2cam: Any) -> np.ndarray:
    """The LiDAR boxes (N, 7) of a KITTI annotation's camera fields (``location``, ``dimensions`` as (l, h, w),
    ``rotation_y``): :func:`camera_to_lidar_boxes` of them."""
    cam_boxes = np.concatenate(
        [
            np.asarray(anno["location"], dtype=np.float64).reshape(-1, 3),
            np.asarray(anno["dimensions"], dtype=np.float64).reshape(-1, 3),
            np.asarray(anno["rotation_y"], dtype=np.float64).reshape(-1, 1),
        ],
        axis=1,
    )
    return camera_to_lidar_boxes(cam_boxes, lidar2cam).reshape(-1, 7)


def box_corners(boxes: Any) -> Any:
    """The 8 corners (N, 8, 3) of LiDAR boxes (N, 7+) (NumPy array or tensor, same type back).

    Order (MMDetection3D's), with the box frame's x forward, y left, z up and z0 the bottom:
    0 (x0, y0, z0), 1 (x0, y0, z1), 2 (x0, y1, z1), 3 (x0, y1, z0), 4 (x1, y0, z0),
    5 (x1, y0, z1), 6 (x1, y1, z1), 7 (x1, y1, z0), where x0/x1 = -/+dx/2 (back/front) and
    y0/y1 = -/+dy/2 (right/left). Corners 4-7 are the front face.
    """
    if _is_tensor(boxes):
        import torch

        signs = torch.as_tensor(_CORNER_SIGNS, dtype=boxes.dtype, device=boxes.device)
        half = torch.stack([boxes[:, 3] / 2, boxes[:, 4] / 2, boxes[:, 5]], dim=-1)
        local = signs[None] * half[:, None, :]
        cos, sin = torch.cos(boxes[:, 6])[:, None], torch.sin(boxes[:, 6])[:, None]
        x = local[..., 0] * cos - local[..., 1] * sin + boxes[:, None, 0]
        y = local[..., 0] * sin + local[..., 1] * cos + boxes[:, None, 1]
        z = local[..., 2] + boxes[:, None, 2]
        return torch.stack([x, y, z], dim=-1)
    boxes = _as_boxes(boxes)
    half = np.stack([boxes[:, 3] / 2, boxes[:, 4] / 2, boxes[:, 5]], axis=-1)
    local = _CORNER_SIGNS[None] * half[:, None, :]
    cos, sin = np.cos(boxes[:, 6])[:, None], np.sin(boxes[:, 6])[:, None]
    x = local[..., 0] * cos - local[..., 1] * sin + boxes[:, None, 0]
    y = local[..., 0] * sin + local[..., 1] * cos + boxes[:, None, 1]
    z = local[..., 2] + boxes[:, None, 2]
    return np.stack([x, y, z], axis=-1)


def bev_corners(boxes: Any) -> Any:
    """The 4 bird's-eye-view corners (N, 4, 2) ``(x, y)`` of LiDAR boxes, counter-clockwise.

    Order: rear-right, front-right, front-left, rear-left (seen from above). Boxes may be (N, 5)
    ``(x, y, dx, dy, yaw)`` or (N, 7+) LiDAR boxes; NumPy array or tensor, same type back.
    """
    if boxes.shape[-1] == 5:
        cx, cy, dx, dy, yaw = (boxes[:, i] for i in range(5))
    else:
        cx, cy, dx, dy, yaw = (boxes[:, i] for i in (0, 1, 3, 4, 6))
    if _is_tensor(boxes):
        import torch

        signs = torch.as_tensor(_BEV_SIGNS, dtype=boxes.dtype, device=boxes.device)
        cos, sin, stack = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None], torch.stack
    else:
        boxes = np.asarray(boxes, dtype=np.float64)
        cx, cy, dx, dy, yaw = (np.asarray(v, dtype=np.float64) for v in (cx, cy, dx, dy, yaw))
        signs, cos, sin, stack = _BEV_SIGNS, np.cos(yaw)[:, None], np.sin(yaw)[:, None], np.stack
    lx = signs[None, :, 0] * dx[:, None] / 2
    ly = signs[None, :, 1] * dy[:, None] / 2
    x = lx * cos - ly * sin + cx[:, None]
    y = lx * sin + ly * cos + cy[:, None]
    return stack([x, y], -1)


def points_in_boxes(points: Any, boxes: Any) -> np.ndarray:
    """Which points lie in which LiDAR boxes: (N_points, N_boxes) bool.

    A point is inside when, in the box frame, ``|local_x| < dx/2`` and ``|local_y| < dy/2``
    (strict) and ``z <= point_z <= z + dz`` (MMCV's ``points_in_boxes_cpu`` rule).

    Args:
        points: (N_points, 3+) LiDAR points (only x, y, z are used).
        boxes: (N_boxes, 7) LiDAR boxes.
    """
    points = np.asarray(points, dtype=np.float64)[:, :3]
    boxes = _as_boxes(boxes) if len(boxes) else np.zeros((0, 7))
    inside = np.zeros((len(points), len(boxes)), dtype=bool)
    # Chunked over points so a 120k-point frame with many boxes stays small in memory.
    for start in range(0, len(points), 65536):
        chunk = points[start : start + 65536]
        shift = chunk[:, None, :2] - boxes[None, :, :2]
        cos, sin = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
        local_x = shift[..., 0] * cos + shift[..., 1] * sin
        local_y = -shift[..., 0] * sin + shift[..., 1] * cos
        dz = chunk[:, None, 2] - boxes[None, :, 2]
        inside[start : start + 65536] = (
            (np.abs(local_x) < boxes[:, 3] / 2)
            & (np.abs(local_y) < boxes[:, 4] / 2)
            & (dz >= 0)
            & (dz <= boxes[:, 5])
        )
    return inside


def count_points_in_boxes(points: Any, boxes: Any) -> np.ndarray:
    """The number of points in each LiDAR box: (N_boxes,) int64 (see :func:`points_in_boxes`)."""
    return points_in_boxes(points, boxes).sum(axis=0).astype(np.int64)


def project_to_image(points_xyz: Any, lidar2img: Any) -> tuple[np.ndarray, np.ndarray]:
    """Project 3D points through a (4, 4) or (3, 4) projection: pixels (N, 2) and depth (N,).

    ``(u, v) = (p0 / p2, p1 / p2)`` with ``p = lidar2img @ [x, y, z, 1]``; the depth is ``p2`` (in
    metres for KITTI's P2, whose last row is (0, 0, 1, 0)). Points behind the camera (depth <= 0)
    get mirrored pixels; callers test the depth. A depth of exactly 0 is replaced by 1e-9.
    Use the same function with ``cam2img`` for points already in the camera frame.
    """
    points = np.asarray(points_xyz, dtype=np.float64)[:, :3]
    matrix = np.asarray(lidar2img, dtype=np.float64)
    projected = points @ matrix[:3, :3].T + matrix[:3, 3]
    depth = projected[:, 2]
    safe = np.where(depth == 0, 1e-9, depth)
    return projected[:, :2] / safe[:, None], depth


def camera_box_corners(cam_boxes: Any) -> np.ndarray:
    """The 8 corners (N, 8, 3) of camera boxes ``(x, y, z, l, h, w, ry)`` in the camera frame.

    The same corner order as :func:`box_corners` for the same physical box (converted with
    :func:`lidar_to_camera_boxes`): in the box frame, local x along the heading (-/+ l/2), local
    "left" -/+ w/2, bottom (y) then top (y - h).
    """
    boxes = _as_boxes(cam_boxes)
    length, height, width, ry = boxes[:, 3], boxes[:, 4], boxes[:, 5], boxes[:, 6]
    signs = _CORNER_SIGNS
    # Box-frame offsets: forward f = sign_x * l/2, left s = sign_y * w/2, up u = sign_z * h.
    forward = signs[None, :, 0] * length[:, None] / 2
    left = signs[None, :, 1] * width[:, None] / 2
    up = signs[None, :, 2] * height[:, None]
    cos, sin = np.cos(ry)[:, None], np.sin(ry)[:, None]
    # Heading (forward) is (cos ry, 0, -sin ry); "left" (LiDAR +y turned by yaw) is (sin ry, 0, cos ry)
    # in the camera frame; up is -y.
    x = boxes[:, None, 0] + forward * cos + left * sin
    y = boxes[:, None, 1] - up
    z = boxes[:, None, 2] - forward * sin + left * cos
    return np.stack([x, y, z], axis=-1)


def box_2d_from_camera_boxes(cam_boxes: Any, cam2img: Any, img_shape: tuple[int, int]) -> np.ndarray:
    """2D boxes (N, 4) ``x1 y1 x2 y2`` in pixels: the projected 8 corners' min/max, clipped.

    MMDetection3D's way of giving a 3D detection its 2D box (``KittiMetric``): project the corners
    through ``cam2img`` (P2), take min and max, then clip x to [0, w] and y to [0, h].

    Args:
        cam_boxes: (N, 7) camera boxes.
        cam2img: (4, 4) or (3, 4) camera projection (P2).
        img_shape: (h, w) of the image.
    """
    corners = camera_box_corners(cam_boxes)
    if len(corners) == 0:
        return np.zeros((0, 4))
    pixels, _ = project_to_image(corners.reshape(-1, 3), cam2img)
    pixels = pixels.reshape(-1, 8, 2)
    height, width = img_shape[:2]
    box = np.concatenate([pixels.min(axis=1), pixels.max(axis=1)], axis=1)
    box[:, [0, 2]] = np.clip(box[:, [0, 2]], 0, width)
    box[:, [1, 3]] = np.clip(box[:, [1, 3]], 0, height)
    return box


def alpha_from_camera(cam_boxes: Any) -> np.ndarray:
    """KITTI's observation angle ``alpha = limit_period(ry - arctan2(x, z))`` (N,), in [-pi, pi).

    The devkit defines alpha as the object's yaw relative to the ray from the camera to its
    centre; MMDetection3D computes it as ``-arctan2(-y_lidar, x_lidar) + ry``, the same relation
    with ``x_cam ~ -y_lidar`` and ``z_cam ~ x_lidar``. An object straight ahead (x = 0) has
    ``alpha = ry``.
    """
    boxes = _as_boxes(cam_boxes)
    return limit_period(boxes[:, 6] - np.arctan2(boxes[:, 0], boxes[:, 2]))
