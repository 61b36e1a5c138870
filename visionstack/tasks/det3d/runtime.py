"""The deploy runtime's preprocessing of a point-cloud detector (NumPy only; no PyTorch).

``deploy.json``'s ``preprocess`` (written by :func:`points_spec` at export) holds what the test pipeline and the
data preprocessor do to a point cloud before the network: the columns read from the ``.bin`` file
(``LoadPointsFromFile``'s ``load_dim``/``use_dim``), the range filter (``PointsRangeFilter``) and the hard
voxelisation (``voxel_size``, ``point_cloud_range``, ``max_num_points`` and the test ``max_voxels``). The
runtime repeats them with the NumPy twins of the PyTorch code, so both backends feed the graph the same pillars.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...registry import ConfigError
from .kitti import read_points
from .ops.voxelize_np import hard_voxelize_numpy

__all__ = ["PointCloudPreprocessor", "points_in_range", "points_spec", "select_dims"]

# test-pipeline steps that change nothing the runtime must repeat
PASSIVE_STEPS = ("LoadAnnotations3D", "Pack3DDetInputs", "ObjectNameFilter", "ObjectRangeFilter")


def select_dims(points: np.ndarray, use_dim: int | Sequence[int]) -> np.ndarray:
    """The columns ``use_dim`` (a count: the first ones; or a list of indices) of (N, load_dim) points."""
    if isinstance(use_dim, int):
        return points[:, :use_dim]
    return points[:, list(use_dim)]


def points_in_range(points: np.ndarray, point_range: Sequence[float]) -> np.ndarray:
    """Whether each point lies strictly inside ``(x0, y0, z0, x1, y1, z1)`` (``PointsRangeFilter``'s rule)."""
    x0, y0, z0, x1, y1, z1 = (float(v) for v in point_range)
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    return (x > x0) & (y > y0) & (z > z0) & (x < x1) & (y < y1) & (z < z1)


def _test_pipeline(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    pipeline = cfg.get("infer_pipeline")
    if not pipeline:
        for key in ("test_dataloader", "val_dataloader"):
            pipeline = ((cfg.get(key) or {}).get("dataset") or {}).get("pipeline")
            if pipeline:
                break
    if not pipeline:
        raise ConfigError("export: the config has no test_dataloader.dataset.pipeline")
    return [dict(step) for step in pipeline]


def points_spec(cfg: Mapping[str, Any], voxel_layer: Mapping[str, Any]) -> dict[str, Any]:
    """deploy.json's ``preprocess`` of a point-cloud detector, from its test pipeline and its data
    preprocessor's ``voxel_layer``.

    Raises:
        ConfigError: the pipeline holds a step the runtime cannot repeat (named), or no ``LoadPointsFromFile``.
    """
    spec: dict[str, Any] = {"kind": "points", "range_filter": None}
    for index, step in enumerate(_test_pipeline(cfg)):
        kind = step.get("type")
        if kind == "LoadPointsFromFile":
            spec["load_dim"] = int(step.get("load_dim", 4))
            use_dim = step.get("use_dim", spec["load_dim"])
            spec["use_dim"] = use_dim if isinstance(use_dim, int) else [int(v) for v in use_dim]
        elif kind == "PointsRangeFilter":
            spec["range_filter"] = [float(v) for v in step["point_cloud_range"]]
        elif kind not in PASSIVE_STEPS:
            raise ConfigError(
                f"export: test pipeline step {index} ({kind}) changes the points in a way the deploy runtime "
                f"does not repeat; it repeats LoadPointsFromFile and PointsRangeFilter"
            )
    if "load_dim" not in spec:
        raise ConfigError("export: the test pipeline has no LoadPointsFromFile")
    max_voxels = voxel_layer.get("max_voxels", 20000)
    spec.update(
        voxel_size=[float(v) for v in voxel_layer["voxel_size"]],
        point_cloud_range=[float(v) for v in voxel_layer["point_cloud_range"]],
        max_num_points=int(voxel_layer["max_num_points"]),
        max_voxels=int(max_voxels[1] if isinstance(max_voxels, (list, tuple)) else max_voxels),
    )
    return spec


class PointCloudPreprocessor:
    """A ``.bin`` point cloud -> the graph's ``voxels`` (and, through the metainfo, ``num_points`` and ``coors``).

    Args:
        spec: deploy.json's ``preprocess`` (:func:`points_spec`).
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = dict(spec)

    def read(self, path: str | os.PathLike) -> np.ndarray:
        points = read_points(path, load_dim=int(self.spec["load_dim"]), use_dim=int(self.spec["load_dim"]))
        return np.ascontiguousarray(select_dims(points, self.spec["use_dim"]), dtype=np.float32)

    def points(self, points: np.ndarray) -> np.ndarray:
        """The points the voxeliser sees (after the pipeline's range filter)."""
        points = np.asarray(points, np.float32)
        if self.spec.get("range_filter") is not None:
            points = points[points_in_range(points, self.spec["range_filter"])]
        return points

    def image(self, points: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """``(voxels (M, P, C), metainfo)``; the metainfo holds the graph's ``num_points`` (M,) and ``coors``
        (M, 2) (grid y, x) as float32, and the number of points read."""
        kept = self.points(points)
        voxels, coors, num_points = hard_voxelize_numpy(
            kept,
            self.spec["voxel_size"],
            self.spec["point_cloud_range"],
            self.spec["max_num_points"],
            self.spec["max_voxels"],
        )
        meta = {
            "num_points": num_points.astype(np.float32),
            "coors": coors[:, 1:3].astype(np.float32),
            "num_input_points": int(len(points)),
            "ori_shape": None,
            "img_shape": None,
            "scale_factor": (1.0, 1.0),
        }
        return np.ascontiguousarray(voxels, dtype=np.float32), meta

    def batch(self, arrays: list[np.ndarray]) -> np.ndarray:
        """(M_i, P, C) voxels -> one (B, max M, P, C) array, zero rows after each cloud's own voxels."""
        count = max(array.shape[0] for array in arrays)
        out = np.zeros((len(arrays), count, *arrays[0].shape[1:]), np.float32)
        for index, array in enumerate(arrays):
            out[index, : array.shape[0]] = array
        return out
