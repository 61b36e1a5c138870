"""A deterministic synthetic KITTI-layout 3D detection dataset: street scenes scanned by a simulated LiDAR.

Each frame is a straight road (random heading +-8 degrees, 2-5 lanes of 3.5 m, the sensor in a lane) with
cars in the lanes (forward on the right half, oncoming on the left), a few turning, parked cars at the kerb
and at angles on the pavement, sometimes a van, pedestrians on the pavements (some crossing), cyclists at
the road edges, and unlabelled clutter: building walls, poles, trees, hedges, bollards (false-positive
bait). Sizes are drawn around KITTI's class means (car l 3.9 w 1.6 h 1.56, pedestrian 0.8/0.6/1.73,
cyclist 1.76/0.6/1.73) with spread; objects never overlap (rotated-rectangle test with a margin). Hard
cases come naturally: distant sparse cars (up to ``max_distance + 15`` m for 12% of the cars), occlusion,
truncation at the image border, objects in the scanned sector outside the camera's view, vans, and
DontCare regions for unlabelled far cars.

The scan is :class:`~visionstack.tasks.det3d.lidar_sim.Scanner`'s front sector (default -55..55 degrees,
covering KITTI's camera, +-41 degrees, with a margin; about 20k points a frame after cropping to
``point_cloud_range``): the labels cover every object in that sector, including those outside the camera's
view (their 2D box is clipped to nothing and ``truncated`` is 1, so KITTI's evaluation ignores them while
training still sees them). Labels are exact: each drawn box is converted to the camera frame and rounded
to the label file's 2 decimals, and the points are cast from that rounded box (converted back), so
reading the label gives back the very box of the points. An object without any LiDAR
return is left out of the labels.

Layout (KITTI's, plus a LiDAR-only copy of the validation frames for ``LidarOnlyDataset``)::

    training/velodyne/000000.bin  training/label_2/000000.txt  training/calib/000000.txt
    training/image_2/000000.png   ImageSets/train.txt  ImageSets/val.txt  meta.json
    lidar_only/points/000800.bin  lidar_only/labels/000800.txt   (``class x y z dx dy dz yaw``)

The same arguments give byte-identical files (each frame draws from ``default_rng([seed, index])``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .boxes import (
    alpha_from_camera,
    box_corners,
    camera_box_corners,
    camera_to_lidar_boxes,
    lidar_to_camera_boxes,
)
from .kitti import extend_matrix, write_calib, write_label, write_lidar_label, write_points
from .lidar_sim import Ground, Scanner, Scene

__all__ = ["KITTI_CALIB", "IMAGE_SHAPE", "FrameObject", "make_frame", "write_synthetic_det3d", "synth_det3d"]

# KITTI training frame 000000's calibration (P2, R0_rect, Tr_velo_to_cam as published in its calib file).
KITTI_CALIB = {
    "P0": np.array([[707.0493, 0.0, 604.0814, 0.0], [0.0, 707.0493, 180.5066, 0.0], [0.0, 0.0, 1.0, 0.0]]),
    "P1": np.array(
        [[707.0493, 0.0, 604.0814, -379.7842], [0.0, 707.0493, 180.5066, 0.0], [0.0, 0.0, 1.0, 0.0]]
    ),
    "P2": np.array(
        [
            [707.0493, 0.0, 604.0814, 45.75831],
            [0.0, 707.0493, 180.5066, -0.3454157],
            [0.0, 0.0, 1.0, 0.004981016],
        ]
    ),
    "P3": np.array(
        [
            [707.0493, 0.0, 604.0814, -334.1081],
            [0.0, 707.0493, 180.5066, 2.33066],
            [0.0, 0.0, 1.0, 0.003201153],
        ]
    ),
    "R0_rect": np.array(
        [
            [0.9999128, 0.01009263, -0.008511932],
            [-0.01012729, 0.9999406, -0.004037671],
            [0.008470675, 0.004123522, 0.9999556],
        ]
    ),
    "Tr_velo_to_cam": np.array(
        [
            [0.006927964, -0.9999722, -0.002757829, -0.02457729],
            [-0.001162982, 0.002749836, -0.9999955, -0.06127237],
            [0.9999753, 0.006931141, -0.001143899, -0.3321029],
        ]
    ),
    "Tr_imu_to_velo": np.array(
        [
            [0.9999976, 0.0007553071, -0.002035826, -0.8086759],
            [-0.0007854027, 0.9998898, -0.01482298, 0.3195559],
            [0.002024406, 0.01482454, 0.9998881, -0.7997231],
        ]
    ),
}
IMAGE_SHAPE = (375, 1242)  # (h, w)
LIDAR2CAM = extend_matrix(KITTI_CALIB["R0_rect"]) @ extend_matrix(KITTI_CALIB["Tr_velo_to_cam"])
CAM2IMG = extend_matrix(KITTI_CALIB["P2"])

# name: (mean l, w, h), std of each (metres). Means from KITTI's statistics.
CLASS_SIZES = {
    "Car": ((3.9, 1.6, 1.56), (0.35, 0.09, 0.1)),
    "Van": ((5.1, 1.9, 2.2), (0.3, 0.1, 0.15)),
    "Pedestrian": ((0.8, 0.6, 1.73), (0.15, 0.08, 0.1)),
    "Cyclist": ((1.76, 0.6, 1.73), (0.12, 0.06, 0.08)),
}
COLLISION_MARGIN = 0.3  # metres kept free around every object's footprint


@dataclass(eq=False)
class FrameObject:
    """One object of a scene: ``name`` (a KITTI type, or "Clutter"), its LiDAR box, its parts, colour."""

    name: str
    box: np.ndarray
    parts: list[np.ndarray] = field(default_factory=list)
    reflectivity: list[float] = field(default_factory=list)
    color: tuple[int, int, int] = (128, 128, 128)


def _sub_box(
    box: np.ndarray, forward: float, length: float, width: float, z0: float, z1: float
) -> np.ndarray:
    """A part of ``box``: fractions of its length/width, offset ``forward`` (fraction of l), z0..z1 of h."""
    x, y, z, dx, dy, dz, yaw = box
    return np.array(
        [
            x + forward * dx * math.cos(yaw),
            y + forward * dx * math.sin(yaw),
            z + z0 * dz,
            length * dx,
            width * dy,
            (z1 - z0) * dz,
            yaw,
        ]
    )


def _object_parts(name: str, box: np.ndarray, rng: np.random.Generator) -> tuple[list, list]:
    """Parts (each inside ``box``) and their reflectivities: box-like shapes, not plain boxes."""
    paint = float(rng.uniform(0.15, 0.7))
    if name == "Car":  # a saloon: a long low bonnet, the cabin set back, a short boot higher than the bonnet
        parts = [
            _sub_box(box, 0.0, 1.0, 1.0, 0.17, 0.52),  # body above the ground clearance, bonnet height
            _sub_box(box, -0.12, 0.48, 0.88, 0.52, 1.0),  # cabin (glass), rearward: front and back differ
            _sub_box(box, -0.43, 0.14, 1.0, 0.52, 0.62),  # boot lid
            _sub_box(box, 0.32, 0.17, 1.0, 0.0, 0.17),  # front wheels
            _sub_box(box, -0.32, 0.17, 1.0, 0.0, 0.17),  # rear wheels
        ]
        return parts, [paint, 0.1, paint, 0.05, 0.05]
    if name == "Van":
        parts = [
            _sub_box(box, 0.0, 1.0, 1.0, 0.17, 0.5),  # body above the ground clearance
            _sub_box(box, -0.1, 0.78, 0.88, 0.5, 1.0),  # tall box behind a short bonnet
            _sub_box(box, 0.32, 0.17, 1.0, 0.0, 0.17),  # front wheels
            _sub_box(box, -0.32, 0.17, 1.0, 0.0, 0.17),  # rear wheels
        ]
        return parts, [paint, 0.1, 0.05, 0.05]
    if name == "Pedestrian":
        parts = [
            _sub_box(box, 0.0, 0.5, 0.5, 0.0, 0.47),  # legs
            _sub_box(box, 0.0, 0.4, 0.85, 0.47, 0.86),  # torso and arms
            _sub_box(box, 0.0, 0.3, 0.35, 0.87, 1.0),  # head
        ]
        return parts, [paint, paint, 0.3]
    if name == "Cyclist":
        parts = [
            _sub_box(box, 0.0, 1.0, 0.15, 0.0, 0.5),  # bicycle
            _sub_box(box, -0.05, 0.4, 0.75, 0.5, 0.86),  # rider
            _sub_box(box, 0.0, 0.2, 0.35, 0.87, 1.0),  # head
        ]
        return parts, [0.5, paint, 0.3]
    raise ValueError(f"_object_parts: unknown class {name!r}")


def _footprint(box: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """BEV corners (4, 2) of a LiDAR box grown by ``margin`` on every side."""
    x, y, _, dx, dy, _, yaw = box
    c, s = math.cos(yaw), math.sin(yaw)
    hx, hy = 0.5 * dx + margin, 0.5 * dy + margin
    local = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
    return local @ np.array([[c, s], [-s, c]]) + np.array([x, y])


def _collides(candidate: np.ndarray, placed: np.ndarray) -> bool:
    """Separating-axis test of a rectangle (4, 2) against rectangles (K, 4, 2): any overlap."""
    if len(placed) == 0:
        return False
    edges = np.concatenate(
        [
            np.broadcast_to(candidate[None, :2] - candidate[None, 1:3], (len(placed), 2, 2)),
            placed[:, :2] - placed[:, 1:3],
        ],
        axis=1,
    )  # (K, 4, 2): two edge directions of each rectangle
    axes = np.stack([-edges[..., 1], edges[..., 0]], axis=-1)
    proj_a = np.einsum("vd,kad->kav", candidate, axes)
    proj_b = np.einsum("kvd,kad->kav", placed, axes)
    separated = (proj_a.max(-1) < proj_b.min(-1)) | (proj_b.max(-1) < proj_a.min(-1))
    return bool((~separated.any(axis=1)).any())


class _Layout:
    """Places objects on the road without overlaps; converts road coordinates to the LiDAR frame."""

    def __init__(self, rng: np.random.Generator, ground: Ground, sector: tuple, pc_range: tuple) -> None:
        self.rng, self.ground, self.sector, self.pc_range = rng, ground, sector, pc_range
        self.objects: list[FrameObject] = []
        self.footprints = np.zeros((0, 4, 2))

    def to_lidar(self, along: float, lateral: float) -> tuple[float, float]:
        c, s = math.cos(self.ground.road_heading), math.sin(self.ground.road_heading)
        return along * c - lateral * s, self.ground.road_offset + along * s + lateral * c

    def try_place(self, name: str, along: float, lateral: float, yaw_road: float, dims=None, in_view=True):
        """Add an object at road coordinates (yaw relative to the road) unless it collides or is out of view."""
        if dims is None:
            mean, std = CLASS_SIZES[name]
            dims = np.clip(self.rng.normal(mean, std), np.array(mean) * 0.75, np.array(mean) * 1.3)
        x, y = self.to_lidar(along, lateral)
        x0, y0, _, x1, y1, _ = self.pc_range
        if not (x0 <= x < x1 and y0 <= y < y1 and x >= 3.0):
            return None
        azimuth, margin = math.atan2(y, x), math.radians(2.0)
        if in_view and not self.sector[0] + margin <= azimuth <= self.sector[1] - margin:
            return None
        yaw = yaw_road + self.ground.road_heading
        box = np.array([x, y, float(self.ground.z_at(np.float64(x), np.float64(y))), *dims, yaw])
        footprint = _footprint(box, COLLISION_MARGIN / 2)
        if _collides(footprint, self.footprints):
            return None
        self.footprints = np.concatenate([self.footprints, footprint[None]])
        obj = FrameObject(name, box)
        self.objects.append(obj)
        return obj


def _place_road_users(
    layout: _Layout, rng: np.random.Generator, max_distance: float, half_width: float
) -> None:
    lanes = np.arange(-half_width + 1.75, half_width - 1.0, 3.5)
    near = (4.0, max_distance)
    for _ in range(int(rng.integers(6, 14))):
        kind = rng.random()
        along = rng.uniform(*near) if rng.random() > 0.12 else rng.uniform(max_distance, max_distance + 15)
        if kind < 0.55:  # in a lane, along the traffic
            lateral = float(rng.choice(lanes)) + rng.normal(0, 0.25)
            yaw = (0.0 if lateral < 0 else math.pi) + rng.normal(0, 0.04)
        elif kind < 0.65:  # turning or changing lanes
            lateral = rng.uniform(-half_width + 1.5, half_width - 1.5)
            yaw = rng.choice([-1, 1]) * rng.uniform(0.3, 1.3) + rng.choice([0.0, math.pi])
        elif kind < 0.85:  # parked at the kerb
            side = rng.choice([-1, 1])
            lateral = side * (half_width - 1.0 - abs(rng.normal(0, 0.1)))
            yaw = rng.choice([0.0, math.pi]) + rng.normal(0, 0.05)
        else:  # parked at an angle on the pavement
            side = rng.choice([-1, 1])
            lateral = side * (half_width + rng.uniform(2.5, 4.0))
            yaw = side * rng.uniform(0.6, 1.57) + rng.choice([0.0, math.pi])
        layout.try_place("Car", along, lateral, yaw)
    if rng.random() < 0.4:
        lateral = float(rng.choice(lanes))
        layout.try_place("Van", rng.uniform(*near), lateral, 0.0 if lateral < 0 else math.pi)
    for _ in range(int(rng.integers(1, 7))):
        if rng.random() < 0.2:  # crossing
            lateral, yaw = rng.uniform(-half_width, half_width), rng.choice([-1, 1]) * math.pi / 2
        else:
            lateral, yaw = (
                rng.choice([-1, 1]) * (half_width + rng.uniform(0.6, 3.0)),
                rng.uniform(-math.pi, math.pi),
            )
        layout.try_place("Pedestrian", rng.uniform(*near), lateral, yaw + rng.normal(0, 0.2))
    for _ in range(int(rng.integers(0, 4))):
        side = rng.choice([-1, 1])
        lateral = side * (half_width - rng.uniform(0.5, 1.3))
        layout.try_place(
            "Cyclist", rng.uniform(*near), lateral, (0.0 if side < 0 else math.pi) + rng.normal(0, 0.1)
        )


def _place_clutter(layout: _Layout, rng: np.random.Generator, half_width: float, far: float) -> None:
    """Unlabelled objects: walls, poles, trees (trunk + crown), hedges and bollards on the pavements."""

    def clutter(along, lateral, dims, z0, reflectivity, color, yaw=0.0, extra=()):
        obj = layout.try_place(
            "Clutter", along, lateral, yaw, dims=np.array(dims, dtype=float), in_view=False
        )
        if obj is not None:
            obj.box[2] += z0
            obj.parts, obj.reflectivity, obj.color = (
                [obj.box.copy(), *extra],
                [reflectivity] * (1 + len(extra)),
                color,
            )

    for side in (-1, 1):
        along = rng.uniform(-5, 10)
        while along < far:  # building walls with gaps
            length = rng.uniform(6, 25)
            depth = rng.uniform(0.4, 8.0)
            lateral = side * (half_width + rng.uniform(5.5, 9.0) + depth / 2)
            clutter(
                along + length / 2,
                lateral,
                (length, depth, rng.uniform(2.5, 9)),
                0.0,
                rng.uniform(0.2, 0.5),
                (150, 160, 170),
            )
            along += length + rng.uniform(2, 15)
        along = rng.uniform(3, 15)
        while along < far:  # poles, trees, hedges, bollards at the kerb
            lateral = side * (half_width + rng.uniform(0.3, 5.0))
            kind = rng.random()
            if kind < 0.35:
                clutter(along, lateral, (0.25, 0.25, rng.uniform(3, 7)), 0.0, 0.6, (90, 90, 90))
            elif kind < 0.6:
                crown = rng.uniform(1.5, 3.5)
                trunk_height = rng.uniform(1.8, 3.0)
                obj = layout.try_place(
                    "Clutter",
                    along,
                    lateral,
                    0.0,
                    dims=np.array([crown, crown, trunk_height + crown]),
                    in_view=False,
                )
                if obj is not None:
                    x, y, z = obj.box[:3]
                    obj.parts = [
                        np.array([x, y, z, 0.35, 0.35, trunk_height, 0.0]),
                        np.array([x, y, z + trunk_height, crown, crown, crown * 0.8, 0.3]),
                    ]
                    obj.reflectivity, obj.color = [0.4, 0.35], (40, 120, 50)
            elif kind < 0.85:
                clutter(
                    along,
                    lateral,
                    (rng.uniform(1.5, 5.0), rng.uniform(0.6, 1.5), rng.uniform(0.5, 1.4)),
                    0.0,
                    0.3,
                    (40, 140, 60),
                )
            else:
                clutter(along, lateral, (0.3, 0.3, rng.uniform(0.8, 1.3)), 0.0, 0.5, (60, 60, 160))
            along += rng.uniform(4, 14)


def _random_ground(rng: np.random.Generator, height: float) -> tuple[Ground, float]:
    """A gently sloped, slightly bumpy road with 2-5 lanes, the sensor in one of them; (ground, half width)."""
    lanes = int(rng.integers(2, 6))
    half_width = 1.75 * lanes
    ego_lane = int(rng.integers(lanes))
    ground = Ground(
        height=-height,
        slope_x=float(rng.normal(0, 0.004)),
        slope_y=float(rng.normal(0, 0.004)),
        bump_amplitude=float(rng.uniform(0.0, 0.04)),
        bump_wavelength=float(rng.uniform(8, 20)),
        bump_phase=(float(rng.uniform(0, 6.283)), float(rng.uniform(0, 6.283))),
        road_heading=float(rng.uniform(-0.14, 0.14)),
        road_offset=float(half_width - 1.75 - 3.5 * ego_lane + rng.normal(0, 0.2)),
        road_half_width=half_width,
        asphalt=float(rng.uniform(0.08, 0.18)),
    )
    return ground, half_width


def _exact_labels(objects: list[FrameObject], rng: np.random.Generator) -> np.ndarray:
    """Round each labelled box as its KITTI label will be written, set it back, and build its parts.

    Returns the rounded camera boxes (N, 7) ``(x, y, z, l, h, w, ry)`` of ``objects``.
    """
    if not objects:
        return np.zeros((0, 7))
    cam = np.round(lidar_to_camera_boxes(np.stack([o.box for o in objects]), LIDAR2CAM), 2)
    lidar = camera_to_lidar_boxes(cam, LIDAR2CAM)
    for obj, box in zip(objects, lidar):
        obj.box = box
        obj.parts, obj.reflectivity = _object_parts(obj.name, box, rng)
        shade = rng.integers(40, 230, size=3)
        obj.color = tuple(int(v) for v in shade)
    return cam


def _project(points_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (..., 2) and depth (...) of camera-frame points through P2."""
    homogeneous = points_cam @ CAM2IMG[:3, :3].T + CAM2IMG[:3, 3]
    depth = homogeneous[..., 2]
    return homogeneous[..., :2] / np.maximum(depth, 1e-6)[..., None], depth


def _boxes_2d(cam_boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clipped 2D boxes (N, 4) and truncation (N,) = 1 - clipped area / projected area (1: out of view)."""
    pixels, depth = _project(camera_box_corners(cam_boxes))
    full = np.concatenate([pixels.min(axis=1), pixels.max(axis=1)], axis=1)
    height, width = IMAGE_SHAPE
    clipped = full.copy()
    clipped[:, [0, 2]] = np.clip(full[:, [0, 2]], 0, width)
    clipped[:, [1, 3]] = np.clip(full[:, [1, 3]], 0, height)
    area = lambda b: np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)  # noqa: E731
    truncated = 1.0 - area(clipped) / np.maximum(area(full), 1e-9)
    truncated[(depth <= 0.1).any(axis=1)] = 1.0
    return clipped, np.clip(truncated, 0.0, 1.0)


def _occlusion_level(visible_fraction: np.ndarray) -> np.ndarray:
    """KITTI's occlusion state from the visible fraction of LiDAR rays: 0 >= 0.8, 1 >= 0.5, 2 below."""
    return np.where(visible_fraction >= 0.8, 0, np.where(visible_fraction >= 0.5, 1, 2)).astype(np.int64)


def _annotation(
    labelled: list[FrameObject], cam: np.ndarray, visible: np.ndarray, dontcare: list[np.ndarray]
) -> dict:
    """The KITTI annotation of the labelled objects plus DontCare 2D regions (KITTI's -1/-1000/-10 fill)."""
    boxes_2d, truncated = _boxes_2d(cam) if len(cam) else (np.zeros((0, 4)), np.zeros(0))
    num_dc = len(dontcare)
    return {
        "name": np.array([o.name for o in labelled] + ["DontCare"] * num_dc, dtype="<U16"),
        "truncated": np.concatenate([np.round(truncated, 2), -np.ones(num_dc)]),
        "occluded": np.concatenate([_occlusion_level(visible), -np.ones(num_dc, dtype=np.int64)]),
        "alpha": np.concatenate([alpha_from_camera(cam) if len(cam) else np.zeros(0), -10 * np.ones(num_dc)]),
        "bbox": np.concatenate([boxes_2d, np.array(dontcare).reshape(-1, 4)]),
        "dimensions": np.concatenate([cam[:, 3:6], -np.ones((num_dc, 3))]),
        "location": np.concatenate([cam[:, :3], -1000 * np.ones((num_dc, 3))]),
        "rotation_y": np.concatenate([cam[:, 6], -10 * np.ones(num_dc)]),
    }


def make_frame(
    rng: np.random.Generator,
    scanner: Scanner,
    point_cloud_range: tuple = (0, -40, -3, 70.4, 40, 1),
    max_distance: float = 45.0,
) -> dict:
    """One synthetic frame: ``points`` float32 (N, 4), ``anno`` (KITTI label), ``lidar_boxes`` (N, 7) of the
    labelled objects (the boxes the points were cast from), ``objects`` (all, clutter included), and
    ``num_points`` per labelled object."""
    ground, half_width = _random_ground(rng, scanner.height)
    sector = (float(scanner.azimuths[0]), float(scanner.azimuths[-1]))
    layout = _Layout(rng, ground, sector, tuple(point_cloud_range))
    _place_road_users(layout, rng, max_distance, half_width)
    dontcare_obj = None
    if rng.random() < 0.3:  # an unlabelled far car: a DontCare region in the label
        lateral = float(rng.uniform(-half_width + 1.5, half_width - 1.5))
        dontcare_obj = layout.try_place(
            "Car", rng.uniform(max_distance + 18, max_distance + 30), lateral, 0.0
        )
    labelled = [o for o in layout.objects]
    _place_clutter(layout, rng, half_width, min(point_cloud_range[3], scanner.max_range))
    cam = _exact_labels(labelled, rng)

    parts, owners, reflectivity = [], [], []
    for index, obj in enumerate(layout.objects):
        parts += obj.parts
        owners += [index] * len(obj.parts)
        reflectivity += obj.reflectivity
    scene = Scene(
        np.array(parts).reshape(-1, 7), np.array(owners), np.array(reflectivity), ground, len(layout.objects)
    )
    points, part, hits = scanner.scan(scene, rng, return_hits=True)
    x0, y0, z0, x1, y1, z1 = point_cloud_range
    inside = (
        (points[:, 0] >= x0)
        & (points[:, 0] < x1)
        & (points[:, 1] >= y0)
        & (points[:, 1] < y1)
        & (points[:, 2] >= z0)
        & (points[:, 2] < z1)
    )
    points, part = points[inside], part[inside]
    owner_of_point = np.where(part >= 0, scene.part_object[np.maximum(part, 0)], -1)
    counts = np.bincount(owner_of_point[owner_of_point >= 0], minlength=len(layout.objects))

    index = {id(o): i for i, o in enumerate(layout.objects)}
    keep = [i for i, o in enumerate(labelled) if o is not dontcare_obj and counts[index[id(o)]] > 0]
    visible = hits.visible_fraction()[[index[id(labelled[i])] for i in keep]]
    dontcare = []
    if dontcare_obj is not None and counts[index[id(dontcare_obj)]] > 0:
        dc_cam = cam[[i for i, o in enumerate(labelled) if o is dontcare_obj]]
        box_2d, truncated = _boxes_2d(dc_cam)
        if truncated[0] < 1.0:
            dontcare.append(np.round(box_2d[0], 2))
    anno = _annotation([labelled[i] for i in keep], cam[keep].reshape(-1, 7), visible, dontcare)
    return {
        "points": points,
        "anno": anno,
        "lidar_boxes": np.array([labelled[i].box for i in keep]).reshape(-1, 7),
        "num_points": np.array([counts[index[id(labelled[i])]] for i in keep], dtype=np.int64),
        "objects": layout.objects,
        "ground": ground,
    }


# The 6 faces of a box as corner indices of :func:`boxes.box_corners` (cyclic order) and their outward
# normals in the box frame: back, front, right, left, bottom, top.
_FACE_CORNERS = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 5, 4], [3, 2, 6, 7], [0, 3, 7, 4], [1, 2, 6, 5]])
_FACE_NORMALS = np.array(
    [[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]], dtype=np.float64
)


def render_image(objects: list[FrameObject], ground: Ground) -> np.ndarray:
    """A cheap camera view (BGR uint8, IMAGE_SHAPE): sky, ground, road, and the parts' faces far to near.

    Faces turned towards the camera are painted with ``cv2.fillPoly`` in decreasing distance (painter's
    algorithm), shaded by the angle to the camera; faces reaching behind the camera are skipped.
    """
    height, width = IMAGE_SHAPE
    image = np.empty((height, width, 3), dtype=np.uint8)
    horizon = int(np.clip(_project(np.array([0.0, 0.0, 1000.0]))[0][1], 1, height))
    sky = np.linspace(230, 170, horizon)[:, None, None] * np.array([1.0, 0.85, 0.6])[None, None]
    image[:horizon] = sky.astype(np.uint8)
    image[horizon:] = (95, 100, 100)
    along = np.linspace(1.0, 120.0, 40)
    road = np.array(
        [ground_point(ground, a, ground.road_half_width) for a in along]
        + [ground_point(ground, a, -ground.road_half_width) for a in along[::-1]]
    )
    pixels, _ = _project(road @ LIDAR2CAM[:3, :3].T + LIDAR2CAM[:3, 3])
    cv2.fillPoly(image, [np.clip(pixels, -1e4, 1e4).astype(np.int32)], (70, 70, 70))
    parts = [part for obj in objects for part in obj.parts]
    if not parts:
        return image
    colors = np.array([obj.color for obj in objects for _ in obj.parts], dtype=np.float64)
    parts = np.array(parts)
    faces = box_corners(parts)[:, _FACE_CORNERS]  # (M, 6, 4, 3)
    c, s = np.cos(parts[:, 6])[:, None], np.sin(parts[:, 6])[:, None]
    normals = np.stack(
        [
            c * _FACE_NORMALS[:, 0] - s * _FACE_NORMALS[:, 1],
            s * _FACE_NORMALS[:, 0] + c * _FACE_NORMALS[:, 1],
            np.broadcast_to(_FACE_NORMALS[:, 2], c.shape[:1] + (6,)),
        ],
        axis=-1,
    )  # (M, 6, 3)
    camera_centre = -LIDAR2CAM[:3, :3].T @ LIDAR2CAM[:3, 3]
    to_camera = camera_centre - faces.mean(axis=2)
    distance = np.linalg.norm(to_camera, axis=-1)
    facing = (normals * to_camera).sum(-1) / distance
    cam_points = faces @ LIDAR2CAM[:3, :3].T + LIDAR2CAM[:3, 3]
    drawable = (facing > 0) & (cam_points[..., 2] > 0.3).all(axis=-1)
    pixels, _ = _project(cam_points)
    pixels = np.clip(pixels, -1e4, 1e4).astype(np.int32)
    part_index, face_index = np.nonzero(drawable)
    order = np.argsort(-distance[part_index, face_index], kind="stable")
    for p, f in zip(part_index[order], face_index[order]):
        color = colors[p] * (0.55 + 0.45 * facing[p, f])
        cv2.fillPoly(image, [pixels[p, f]], tuple(int(v) for v in color))
    return image


def ground_point(ground: Ground, along: float, lateral: float) -> np.ndarray:
    """The LiDAR point on the ground at road coordinates (along, lateral)."""
    c, s = math.cos(ground.road_heading), math.sin(ground.road_heading)
    x, y = along * c - lateral * s, ground.road_offset + along * s + lateral * c
    return np.array([x, y, float(ground.z_at(np.float64(x), np.float64(y)))])


def write_synthetic_det3d(
    out_dir: str | os.PathLike,
    seed: int = 0,
    num_train: int = 800,
    num_val: int = 200,
    point_cloud_range: tuple = (0, -40, -3, 70.4, 40, 1),
    max_distance: float = 45.0,
    horizontal_fov: tuple[float, float] = (-55.0, 55.0),
    azimuth_step_deg: float = 0.3,
    with_images: bool = True,
) -> dict:
    """Write the synthetic KITTI-layout dataset (module docstring) and return its ``meta.json`` content.

    Args:
        out_dir: the data root.
        seed: frame ``i`` draws from ``np.random.default_rng([seed, i])``.
        num_train, num_val: frames of each split (ids ``000000..`` then the validation ids after them).
        point_cloud_range: ``(x0, y0, z0, x1, y1, z1)``: object centres are placed inside it and points
            outside it are dropped.
        max_distance: most objects are placed up to this distance along the road (12% of the cars up to
            15 m farther, DontCare cars 18-30 m farther).
        horizontal_fov, azimuth_step_deg: the scanned sector and column spacing (degrees). 0.3 degrees
            (an HDL-64E spinning at about 17 Hz) keeps a frame near 21k points and 1,000 frames under 40 s
            of one core (images included).
        with_images: also render ``image_2`` (the camera view; skip it to save time).
    """
    out = Path(out_dir)
    folders = {k: out / "training" / k for k in ("velodyne", "label_2", "calib", "image_2")}
    folders["points"], folders["labels"] = out / "lidar_only" / "points", out / "lidar_only" / "labels"
    for name, folder in folders.items():
        if name != "image_2" or with_images:
            folder.mkdir(parents=True, exist_ok=True)
    (out / "ImageSets").mkdir(parents=True, exist_ok=True)
    scanner = Scanner(horizontal_fov=horizontal_fov, azimuth_step_deg=azimuth_step_deg, max_range=80.0)
    splits = {"train": range(num_train), "val": range(num_train, num_train + num_val)}
    counts = {split: {} for split in splits}
    points_per_frame = []
    for split, ids in splits.items():
        for i in ids:
            frame_id = f"{i:06d}"
            frame = make_frame(np.random.default_rng([seed, i]), scanner, point_cloud_range, max_distance)
            write_points(folders["velodyne"] / f"{frame_id}.bin", frame["points"])
            write_label(folders["label_2"] / f"{frame_id}.txt", frame["anno"])
            write_calib(folders["calib"] / f"{frame_id}.txt", KITTI_CALIB)
            if with_images:
                image = render_image(frame["objects"], frame["ground"])
                cv2.imwrite(
                    str(folders["image_2"] / f"{frame_id}.png"), image, [cv2.IMWRITE_PNG_COMPRESSION, 1]
                )
            names = frame["anno"]["name"]
            for name in names:
                counts[split][str(name)] = counts[split].get(str(name), 0) + 1
            points_per_frame.append(len(frame["points"]))
            if split == "val":
                write_points(folders["points"] / f"{frame_id}.bin", frame["points"])
                labelled = names[names != "DontCare"]
                write_lidar_label(
                    folders["labels"] / f"{frame_id}.txt", labelled, frame["lidar_boxes"], decimals=6
                )
        (out / "ImageSets" / f"{split}.txt").write_text("".join(f"{i:06d}\n" for i in ids), encoding="utf-8")
    meta = {
        "generator": "visionstack.tasks.det3d.synthetic.write_synthetic_det3d",
        "seed": seed,
        "num_train": num_train,
        "num_val": num_val,
        "point_cloud_range": list(point_cloud_range),
        "max_distance": max_distance,
        "horizontal_fov": list(horizontal_fov),
        "azimuth_step_deg": azimuth_step_deg,
        "beams": len(scanner.elevations),
        "image_shape": list(IMAGE_SHAPE),
        "counts": counts,
        "mean_points_per_frame": float(np.mean(points_per_frame)) if points_per_frame else 0.0,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return meta


def synth_det3d(
    out: Path,
    seed: int = 0,
    num_train: int = 800,
    num_val: int = 200,
    max_distance: float = 45.0,
    with_images: bool = True,
) -> dict:
    """The ``visionstack data synth det3d --out DIR`` entry point: :func:`write_synthetic_det3d`, then the
    ground-truth database of the training split for the three KITTI classes (``kitti_gt_database/``,
    ``kitti_dbinfos_train.json``: what the configs' ``ObjectSample`` reads). Returns the counts."""
    from .gt_database import create_gt_database

    meta = write_synthetic_det3d(
        out,
        seed=seed,
        num_train=num_train,
        num_val=num_val,
        max_distance=max_distance,
        with_images=with_images,
    )
    database = create_gt_database(out, classes=("Pedestrian", "Cyclist", "Car"))
    summary = {key: value for key, value in meta.items() if not isinstance(value, (list, dict))}
    summary.update({f"database_{name}": len(infos) for name, infos in database.items()})
    summary.update(
        {
            f"{split}_{name}": count
            for split, counts in meta["counts"].items()
            for name, count in counts.items()
        }
    )
    return summary
