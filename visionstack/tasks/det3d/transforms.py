"""Point-cloud transforms (MMDetection3D's names and arguments): loading, global and per-object
augmentation, ground-truth sampling, range and class filters, packing.

Results keys: ``points`` float32 (N, C) (x, y, z, intensity, ...), ``gt_bboxes_3d`` float32 (K, 7) LiDAR
boxes ``(x, y, z, dx, dy, dz, yaw)`` with (x, y, z) the bottom centre, ``gt_labels_3d`` int64 (K,) (-1 for
classes outside the config's). Geometric transforms move points and boxes together and record what they
did (``pcd_rotation`` in rad, ``pcd_scale_factor``, ``pcd_trans``, ``pcd_horizontal_flip``,
``pcd_vertical_flip``). Randomness comes from ``numpy.random`` (the engine seeds each worker).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ...data.transforms.base import BaseTransform
from ...registry import TRANSFORMS
from ...structures import DataSample, InstanceData
from .boxes import bev_corners, limit_period, points_in_boxes
from .gt_database import DataBaseSampler, box_collision_test
from .kitti import read_points

__all__ = [
    "GlobalRotScaleTrans",
    "LoadAnnotations3D",
    "LoadPointsFromFile",
    "ObjectNameFilter",
    "ObjectNoise",
    "ObjectRangeFilter",
    "ObjectSample",
    "PACK3D_META_KEYS",
    "Pack3DDetInputs",
    "PointShuffle",
    "PointsRangeFilter",
    "RandomFlip3D",
]

PACK3D_META_KEYS = (
    "lidar_path",
    "img_path",
    "cam_img_path",
    "sample_idx",
    "frame_id",
    "lidar2cam",
    "cam2img",
    "img_shape",
    "eval_ann_info",
    "box_type_3d",
    "pcd_rotation",
    "pcd_scale_factor",
    "pcd_horizontal_flip",
    "pcd_vertical_flip",
    "pcd_trans",
)
_BOX_KEYS = ("gt_bboxes_3d", "gt_labels_3d")  # per-object arrays the filters index together


def _rotate_xy(xyz: np.ndarray, angle: float) -> np.ndarray:
    """(N, 2+) coordinates rotated counter-clockwise by ``angle`` about the z axis (x, y only)."""
    cos, sin = np.cos(angle), np.sin(angle)
    out = xyz.copy()
    out[:, 0] = xyz[:, 0] * cos - xyz[:, 1] * sin
    out[:, 1] = xyz[:, 0] * sin + xyz[:, 1] * cos
    return out


def _keep_objects(results: dict, mask: np.ndarray) -> None:
    for key in _BOX_KEYS:
        if key in results:
            results[key] = results[key][mask]


@TRANSFORMS.register()
class LoadPointsFromFile(BaseTransform):
    """Read ``results["lidar_path"]`` (or ``img_path``, for inference on a bare ``.bin``) into ``points``.

    Args:
        coord_type: the frame of the points; only ``"LIDAR"`` is supported.
        load_dim: float32 values stored per point (4 for KITTI).
        use_dim: keep the first ``use_dim`` values, or these column indices.
        backend_args: accepted for MMDetection3D configs; must be None (local files only).
    """

    def __init__(
        self,
        coord_type: str = "LIDAR",
        load_dim: int = 4,
        use_dim: int | Sequence[int] = 4,
        backend_args: Mapping[str, Any] | None = None,
    ) -> None:
        if backend_args is not None:
            raise ValueError(
                f"LoadPointsFromFile: only local files are read; backend_args must be None, got {backend_args}"
            )
        if coord_type != "LIDAR":
            raise ValueError(f"LoadPointsFromFile: only coord_type='LIDAR' is supported, got {coord_type!r}")
        use = range(use_dim) if isinstance(use_dim, int) else use_dim
        if max(use) >= load_dim:
            raise ValueError(
                f"LoadPointsFromFile: use_dim {use_dim} needs more than load_dim={load_dim} values"
            )
        self.coord_type, self.load_dim, self.use_dim = coord_type, load_dim, use_dim
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results.get("lidar_path") or results.get("img_path")
        if path is None:
            raise KeyError(f"LoadPointsFromFile: the results have no `lidar_path` (keys: {sorted(results)})")
        results["points"] = read_points(os.fspath(path), load_dim=self.load_dim, use_dim=self.use_dim)
        results.setdefault("lidar_path", os.fspath(path))
        return results


@TRANSFORMS.register()
class LoadAnnotations3D(BaseTransform):
    """Check the record's boxes and labels and give them the pipeline's dtypes (float32 (K, 7), int64 (K,)).

    Args:
        with_bbox_3d: require ``gt_bboxes_3d``.
        with_label_3d: require ``gt_labels_3d``.
    """

    def __init__(self, with_bbox_3d: bool = True, with_label_3d: bool = True) -> None:
        self.with_bbox_3d, self.with_label_3d = with_bbox_3d, with_label_3d

    def transform(self, results: dict) -> dict:
        for key, wanted in (("gt_bboxes_3d", self.with_bbox_3d), ("gt_labels_3d", self.with_label_3d)):
            if wanted and key not in results:
                raise KeyError(
                    f"LoadAnnotations3D: the results have no `{key}` (keys: {sorted(results)}); "
                    "a test-mode record without annotations needs with_bbox_3d=False, with_label_3d=False"
                )
        if self.with_bbox_3d:
            boxes = np.asarray(results["gt_bboxes_3d"], dtype=np.float32)
            if boxes.size % 7:
                raise ValueError(f"LoadAnnotations3D: gt_bboxes_3d must be (K, 7), got shape {boxes.shape}")
            results["gt_bboxes_3d"] = boxes.reshape(-1, 7)
        if self.with_label_3d:
            results["gt_labels_3d"] = np.asarray(results["gt_labels_3d"], dtype=np.int64).reshape(-1)
        return results


@TRANSFORMS.register()
class GlobalRotScaleTrans(BaseTransform):
    """Rotate about z, scale and translate the whole scene (points and boxes), in that order.

    Rotation by ``a`` is counter-clockwise seen from above: xy -> R(a) xy and yaw -> yaw + a. Scaling by
    ``s`` multiplies x, y, z and the box sizes. The translation is drawn from N(0, translation_std) per axis.

    Args:
        rot_range: [min, max] angle (rad), uniform; a number r means [-r, r].
        scale_ratio_range: [min, max] scale factor, uniform.
        translation_std: standard deviations (m) of the x, y, z translation.
    """

    def __init__(
        self,
        rot_range: Sequence[float] | float = (-0.78539816, 0.78539816),
        scale_ratio_range: Sequence[float] = (0.95, 1.05),
        translation_std: Sequence[float] | float = (0, 0, 0),
    ) -> None:
        if np.isscalar(rot_range):
            rot_range = (-abs(float(rot_range)), abs(float(rot_range)))
        if np.isscalar(translation_std):
            translation_std = (float(translation_std),) * 3
        self.rot_range, self.scale_ratio_range = list(rot_range), list(scale_ratio_range)
        self.translation_std = list(translation_std)

    def transform(self, results: dict) -> dict:
        angle = float(np.random.uniform(*self.rot_range))
        scale = float(np.random.uniform(*self.scale_ratio_range))
        trans = np.random.normal(scale=self.translation_std, size=3).astype(np.float32)
        points = results["points"].copy()
        points[:, :3] = _rotate_xy(points[:, :3], angle) * scale + trans
        results["points"] = points.astype(np.float32)
        if "gt_bboxes_3d" in results:
            boxes = results["gt_bboxes_3d"].astype(np.float64)
            boxes[:, :3] = _rotate_xy(boxes[:, :3], angle) * scale + trans
            boxes[:, 3:6] *= scale
            boxes[:, 6] = limit_period(boxes[:, 6] + angle)
            results["gt_bboxes_3d"] = boxes.astype(np.float32)
        results.update(pcd_rotation=angle, pcd_scale_factor=scale, pcd_trans=trans)
        return results


@TRANSFORMS.register()
class RandomFlip3D(BaseTransform):
    """Mirror the scene in the bird's-eye view.

    Horizontal (MMDetection3D's "horizontal" for LiDAR): y -> -y, yaw -> -yaw. Vertical: x -> -x,
    yaw -> pi - yaw. Horizontal is applied first. Yaws stay in [-pi, pi).

    Args:
        flip_ratio_bev_horizontal: probability of the horizontal flip.
        flip_ratio_bev_vertical: probability of the vertical flip.
    """

    def __init__(self, flip_ratio_bev_horizontal: float = 0.5, flip_ratio_bev_vertical: float = 0.0) -> None:
        for value in (flip_ratio_bev_horizontal, flip_ratio_bev_vertical):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"RandomFlip3D: flip ratios must be in [0, 1], got {value}")
        self.flip_ratio_bev_horizontal = flip_ratio_bev_horizontal
        self.flip_ratio_bev_vertical = flip_ratio_bev_vertical

    def transform(self, results: dict) -> dict:
        horizontal = bool(np.random.rand() < self.flip_ratio_bev_horizontal)
        vertical = bool(np.random.rand() < self.flip_ratio_bev_vertical)
        for flip, axis, yaw_of in ((horizontal, 1, lambda yaw: -yaw), (vertical, 0, lambda yaw: np.pi - yaw)):
            if not flip:
                continue
            points = results["points"].copy()
            points[:, axis] = -points[:, axis]
            results["points"] = points
            if "gt_bboxes_3d" in results:
                boxes = results["gt_bboxes_3d"].copy()
                boxes[:, axis] = -boxes[:, axis]
                boxes[:, 6] = limit_period(yaw_of(boxes[:, 6].astype(np.float64)))
                results["gt_bboxes_3d"] = boxes.astype(np.float32)
        results.update(pcd_horizontal_flip=horizontal, pcd_vertical_flip=vertical)
        return results


@TRANSFORMS.register()
class PointsRangeFilter(BaseTransform):
    """Keep the points strictly inside ``point_cloud_range`` ``[x0, y0, z0, x1, y1, z1]`` (MMDetection3D's rule)."""

    def __init__(self, point_cloud_range: Sequence[float]) -> None:
        if len(point_cloud_range) != 6:
            raise ValueError(f"PointsRangeFilter: point_cloud_range needs 6 values, got {point_cloud_range}")
        self.point_cloud_range = [float(v) for v in point_cloud_range]

    def transform(self, results: dict) -> dict:
        points, low, high = results["points"], self.point_cloud_range[:3], self.point_cloud_range[3:]
        keep = ((points[:, :3] > low) & (points[:, :3] < high)).all(1)
        results["points"] = points[keep]
        return results


@TRANSFORMS.register()
class ObjectRangeFilter(BaseTransform):
    """Keep the boxes whose BEV centre is strictly inside the range's x, y limits; limit yaws to [-pi, pi).

    Args:
        point_cloud_range: ``[x0, y0, z0, x1, y1, z1]`` (z is not tested, as MMDetection3D).
    """

    def __init__(self, point_cloud_range: Sequence[float]) -> None:
        if len(point_cloud_range) != 6:
            raise ValueError(f"ObjectRangeFilter: point_cloud_range needs 6 values, got {point_cloud_range}")
        self.point_cloud_range = [float(v) for v in point_cloud_range]

    def transform(self, results: dict) -> dict:
        boxes = results["gt_bboxes_3d"]
        x0, y0, _, x1, y1, _ = self.point_cloud_range
        keep = (boxes[:, 0] > x0) & (boxes[:, 1] > y0) & (boxes[:, 0] < x1) & (boxes[:, 1] < y1)
        _keep_objects(results, keep)
        boxes = results["gt_bboxes_3d"].copy()
        boxes[:, 6] = limit_period(boxes[:, 6].astype(np.float64))
        results["gt_bboxes_3d"] = boxes.astype(np.float32)
        return results


@TRANSFORMS.register()
class ObjectNameFilter(BaseTransform):
    """Keep the objects whose label is one of ``classes`` (labels 0 .. len(classes) - 1; drops -1)."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes = list(classes)

    def transform(self, results: dict) -> dict:
        labels = results["gt_labels_3d"]
        _keep_objects(results, (labels >= 0) & (labels < len(self.classes)))
        return results


@TRANSFORMS.register()
class PointShuffle(BaseTransform):
    """Shuffle the order of the points (voxelisation keeps the first points of a full voxel)."""

    def transform(self, results: dict) -> dict:
        results["points"] = results["points"][np.random.permutation(len(results["points"]))]
        return results


@TRANSFORMS.register()
class ObjectNoise(BaseTransform):
    """Move each object and its points: a rotation about the sensor's z axis, one about the box's bottom
    centre, then a translation.

    Per object, in order, up to ``num_try`` candidates (global angle ~ U(global_rot_range), local angle ~
    U(rot_range), translation ~ N(0, translation_std)) are tried; the first whose BEV box overlaps no other
    box (the others as already moved) is applied, else the object stays. A point of box centre ``c`` moves
    to ``R(g + a) (p - c) + R(g) c + t`` and the yaw grows by ``g + a`` (counter-clockwise rotations, the
    LiDAR convention; MMDetection3D's ``noise_per_object_v3_`` draws the same noise but its global rotation
    follows the legacy yaw convention). A point inside several boxes moves with the first.

    Args:
        translation_std: standard deviations (m) of the x, y, z translation.
        global_rot_range: [min, max] rotation (rad) of the object's position about the sensor.
        rot_range: [min, max] rotation (rad) about the box's own z axis.
        num_try: candidates per object.
    """

    def __init__(
        self,
        translation_std: Sequence[float] = (0.25, 0.25, 0.25),
        global_rot_range: Sequence[float] = (0.0, 0.0),
        rot_range: Sequence[float] = (-0.15707963267, 0.15707963267),
        num_try: int = 100,
    ) -> None:
        self.translation_std, self.global_rot_range = list(translation_std), list(global_rot_range)
        self.rot_range, self.num_try = list(rot_range), num_try

    def transform(self, results: dict) -> dict:
        boxes = results["gt_bboxes_3d"].astype(np.float64)
        num = len(boxes)
        if num == 0:
            return results
        shifts = np.random.normal(scale=self.translation_std, size=(num, self.num_try, 3))
        global_turns = np.random.uniform(*self.global_rot_range, size=(num, self.num_try))
        turns = np.random.uniform(*self.rot_range, size=(num, self.num_try))
        moved, corners = boxes.copy(), bev_corners(boxes)
        chosen = np.full(num, -1)  # the accepted candidate of each object
        for i in range(num):
            candidates = boxes[i][None].repeat(self.num_try, 0)
            cos, sin = np.cos(global_turns[i]), np.sin(global_turns[i])
            candidates[:, 0] = cos * boxes[i, 0] - sin * boxes[i, 1]
            candidates[:, 1] = sin * boxes[i, 0] + cos * boxes[i, 1]
            candidates[:, :3] += shifts[i]
            candidates[:, 6] += global_turns[i] + turns[i]
            free = ~box_collision_test(bev_corners(candidates), np.delete(corners, i, axis=0)).any(1)
            if free.any():
                chosen[i] = int(np.argmax(free))
                moved[i] = candidates[chosen[i]]
                corners[i] = bev_corners(moved[i : i + 1])[0]
        points = results["points"].copy()
        inside = points_in_boxes(points, boxes)
        owner = np.where(inside.any(1), inside.argmax(1), -1)
        for i in np.flatnonzero(chosen >= 0):
            mask = owner == i
            angle = global_turns[i, chosen[i]] + turns[i, chosen[i]]
            local = points[mask, :3].astype(np.float64) - boxes[i, :3]
            points[mask, :3] = _rotate_xy(local, angle) + moved[i, :3]
        moved[:, 6] = limit_period(moved[:, 6])
        results["points"], results["gt_bboxes_3d"] = points, moved.astype(np.float32)
        return results


@TRANSFORMS.register()
class ObjectSample(BaseTransform):
    """Paste objects of the ground-truth database into the frame (SECOND's GT sampling).

    The sampler draws objects whose BEV boxes collide neither with the frame's boxes nor with each other;
    the frame's points inside the pasted boxes are removed and the objects' points put first (as
    MMDetection3D), their boxes and labels appended.

    Args:
        db_sampler: a built :class:`~.gt_database.DataBaseSampler` or its keyword arguments, e.g.
            ``dict(data_root=root, info_path="kitti_dbinfos_train.json", rate=1.0, prepare=dict(
            filter_by_difficulty=[-1], filter_by_min_points=dict(Car=5)), sample_groups=dict(Car=15),
            classes=("Pedestrian", "Cyclist", "Car"), points_loader=dict(type="LoadPointsFromFile"))``.
    """

    def __init__(self, db_sampler: DataBaseSampler | Mapping[str, Any]) -> None:
        if isinstance(db_sampler, Mapping):
            db_sampler = DataBaseSampler(**{k: v for k, v in db_sampler.items() if k != "type"})
        self.db_sampler = db_sampler

    def transform(self, results: dict) -> dict:
        boxes, labels = results["gt_bboxes_3d"], results["gt_labels_3d"]
        sampled = self.db_sampler.sample_all(boxes, labels)
        if sampled is None:
            return results
        points = results["points"]
        points = points[~points_in_boxes(points, sampled["gt_bboxes_3d"]).any(1)]
        sampled_points = sampled["points"][:, : points.shape[1]]
        results["points"] = np.concatenate([sampled_points, points]).astype(np.float32)
        results["gt_bboxes_3d"] = np.concatenate([boxes, sampled["gt_bboxes_3d"]]).astype(np.float32)
        results["gt_labels_3d"] = np.concatenate([labels, sampled["gt_labels_3d"]]).astype(np.int64)
        return results


@TRANSFORMS.register()
class Pack3DDetInputs(BaseTransform):
    """Make ``{"inputs": {"points": float32 (N, C) tensor}, "data_samples": DataSample}``.

    The sample holds ``gt_instances_3d = InstanceData(bboxes_3d=float32 (K, 7), labels_3d=int64 (K,))``
    (empty when the results have no boxes) and the ``meta_keys`` present as metainfo, with
    ``box_type_3d="LiDAR"``.

    Args:
        keys: the results keys to pack among ``points``, ``gt_bboxes_3d``, ``gt_labels_3d``.
        meta_keys: results keys copied into the metainfo (missing ones skipped).
    """

    def __init__(
        self,
        keys: Sequence[str] = ("points", "gt_bboxes_3d", "gt_labels_3d"),
        meta_keys: Sequence[str] = PACK3D_META_KEYS,
    ) -> None:
        unknown = set(keys) - {"points", "gt_bboxes_3d", "gt_labels_3d"}
        if unknown:
            raise ValueError(f"Pack3DDetInputs: unknown keys {sorted(unknown)}")
        self.keys, self.meta_keys = list(keys), list(meta_keys)

    def transform(self, results: dict) -> dict:
        if "points" not in results:
            raise KeyError(f"Pack3DDetInputs: the results have no `points` (keys: {sorted(results)})")
        metainfo = {key: results[key] for key in self.meta_keys if key in results}
        metainfo.setdefault("box_type_3d", "LiDAR")
        sample = DataSample(metainfo=metainfo)
        boxes = results.get("gt_bboxes_3d") if "gt_bboxes_3d" in self.keys else None
        labels = results.get("gt_labels_3d") if "gt_labels_3d" in self.keys else None
        if labels is None and boxes is not None:
            labels = np.full(len(boxes), -1)  # boxes packed without their labels
        sample.gt_instances_3d = InstanceData(
            bboxes_3d=torch.from_numpy(
                np.asarray(boxes if boxes is not None else (), np.float32).reshape(-1, 7)
            ),
            labels_3d=torch.from_numpy(
                np.asarray(labels if labels is not None else (), np.int64).reshape(-1)
            ),
        )
        points = torch.from_numpy(np.ascontiguousarray(results["points"], dtype=np.float32))
        return {"inputs": {"points": points}, "data_samples": sample}
