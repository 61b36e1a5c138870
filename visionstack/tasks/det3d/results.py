"""Result files of 3D detection, and scoring a saved results folder against a dataset's labels.

Two formats, one ``<frame_id>.txt`` per frame (an empty file for a frame without detections):

- **KITTI** (the benchmark's submission format): the 15 label columns and a 16th ``score`` (via
  :func:`.kitti.write_label`: geometry with 2 decimals, scores ``%.4f``), camera-frame boxes.
- **LiDAR-only**: ``class x y z dx dy dz yaw score`` per line (LiDAR boxes, bottom centre; via
  :func:`.kitti.write_lidar_label`, ``%.4f``), for data without calibration or images.

:func:`evaluate_folders` reads the GT of a KITTI layout (labels, calibration, and the points for
``num_points_in_gt`` in ``"lidar"`` mode) and a folder of KITTI result files and returns exactly the
keys :class:`.metrics.KittiMetric` returns (the same :func:`.metrics.evaluate_annos`) with the same values: the
metric scores its detections as their files give them back (:func:`saved_detections`).
:func:`evaluate_lidar_folders` does the same for a LiDAR-only layout (``points/``, ``labels/``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .boxes import anno_lidar_boxes, count_points_in_boxes
from .kitti import (
    label_lines,
    lidar_label_lines,
    parse_label_lines,
    parse_lidar_label_lines,
    read_calib,
    read_image_set,
    read_label,
    read_lidar_label,
    read_points,
    write_label,
    write_lidar_label,
)
from .metrics import DEFAULT_CLASSES, DEFAULT_LIMIT_RANGE, evaluate_annos

__all__ = [
    "evaluate_folders",
    "evaluate_lidar_folders",
    "read_results_folder",
    "saved_detections",
    "write_kitti_results",
    "write_lidar_results",
]


def write_kitti_results(out_dir: str | os.PathLike, frame_id: str, anno: dict[str, Any]) -> str:
    """Write ``<out_dir>/<frame_id>.txt`` (KITTI's 16 columns) and return its path."""
    path = os.path.join(os.fspath(out_dir), f"{frame_id}.txt")
    anno = dict(anno)
    anno.setdefault("score", np.ones(len(anno["name"])))
    write_label(path, anno)
    return path


def write_lidar_results(out_dir: str | os.PathLike, frame_id: str, anno: dict[str, Any]) -> str:
    """Write ``<out_dir>/<frame_id>.txt`` (``class x y z dx dy dz yaw score`` lines) and return its path."""
    path = os.path.join(os.fspath(out_dir), f"{frame_id}.txt")
    write_lidar_label(path, anno["name"], anno["lidar_boxes"], anno.get("score", np.ones(len(anno["name"]))))
    return path


def read_results_folder(
    pred_dir: str | os.PathLike, frame_ids: Sequence[str], lidar: bool = False
) -> list[dict]:
    """The detection annos of ``frame_ids`` from a results folder (``score`` always present).

    Raises:
        FileNotFoundError: a frame without its result file (named).
    """
    annos = []
    for frame_id in frame_ids:
        path = os.path.join(os.fspath(pred_dir), f"{frame_id}.txt")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no result file for frame {frame_id!r}: {path!r} does not exist")
        annos.append(_as_read(read_lidar_label(path) if lidar else read_label(path), lidar))
    return annos


def _as_read(anno: dict, lidar: bool) -> dict:
    """A parsed result file's annotation as the evaluation takes it (``score`` always present)."""
    anno.setdefault("score", np.zeros(len(anno["name"])))
    if lidar:
        anno["num_points_in_gt"] = np.full(len(anno["name"]), -1, dtype=np.int64)
    return anno


def _with_lidar_boxes(anno: dict, lidar2cam: Any) -> dict:
    """A camera-frame annotation with its ``lidar_boxes`` (converted through ``lidar2cam``)."""
    anno["lidar_boxes"] = anno_lidar_boxes(anno, lidar2cam)
    return anno


def saved_detections(anno: dict[str, Any], lidar2cam: Any = None) -> dict[str, np.ndarray]:
    """A detection annotation as its result file gives it back (the file's rounding; LiDAR boxes from the
    rounded camera boxes): what :class:`.metrics.KittiMetric` scores, so that ``test`` and the evaluation of
    the saved folder give the same numbers. ``lidar2cam`` None: the LiDAR-only format."""
    if lidar2cam is None:
        names, scores = anno["name"], anno.get("score", np.ones(len(anno["name"])))
        return _as_read(parse_lidar_label_lines(lidar_label_lines(names, anno["lidar_boxes"], scores)), True)
    anno = dict(anno)
    anno.setdefault("score", np.ones(len(anno["name"])))
    return _with_lidar_boxes(_as_read(parse_label_lines(label_lines(anno)), False), lidar2cam)


def _count_points(anno: dict, lidar_path: str) -> None:
    valid = anno["name"] != "DontCare"
    anno["num_points_in_gt"] = np.full(len(anno["name"]), -1, dtype=np.int64)
    if valid.any() and os.path.isfile(lidar_path):
        points = read_points(lidar_path, load_dim=4, use_dim=3)
        anno["num_points_in_gt"][valid] = count_points_in_boxes(points, anno["lidar_boxes"][valid])


def evaluate_folders(
    data_root: str | os.PathLike,
    split_file: str = "ImageSets/val.txt",
    pred_dir: str | os.PathLike = "results",
    classes: Sequence[str] = DEFAULT_CLASSES,
    metric: Sequence[str] = ("bbox", "bev", "3d"),
    ap_modes: Sequence[str] = ("AP11", "AP40"),
    difficulty_mode: str = "kitti",
    center_distance: bool = True,
    dontcare_all_metrics: bool = False,
    subset: str = "training",
    pcd_limit_range: Sequence[float] | None = DEFAULT_LIMIT_RANGE,
) -> tuple[str, dict[str, float]]:
    """Score a folder of KITTI result files against ``data_root``'s labels.

    Args:
        data_root: the KITTI layout (``<subset>/label_2``, ``<subset>/calib``, ``<subset>/velodyne``).
        split_file: the frame list, relative to ``data_root``.
        pred_dir: the results folder (one ``<frame_id>.txt`` per frame of the split).
        classes, metric, ap_modes, difficulty_mode, center_distance, dontcare_all_metrics,
            pcd_limit_range: as :class:`.metrics.KittiMetric`.
        subset: the folder holding the frames.

    Returns:
        ``(table, {key: value})``: the keys of :class:`.metrics.KittiMetric`.
    """
    root = os.fspath(data_root)
    frame_ids = read_image_set(os.path.join(root, split_file))
    dt_annos = read_results_folder(pred_dir, frame_ids)
    gt_annos = []
    for frame_id, dt in zip(frame_ids, dt_annos):
        calib = read_calib(os.path.join(root, subset, "calib", f"{frame_id}.txt"))
        gt = read_label(os.path.join(root, subset, "label_2", f"{frame_id}.txt"))
        for anno in (gt, dt):
            _with_lidar_boxes(anno, calib["lidar2cam"])
        if difficulty_mode == "lidar":
            _count_points(gt, os.path.join(root, subset, "velodyne", f"{frame_id}.bin"))
        gt_annos.append(gt)
    return evaluate_annos(
        gt_annos,
        dt_annos,
        classes,
        metric,
        ap_modes,
        difficulty_mode,
        center_distance,
        dontcare_all_metrics,
        pcd_limit_range,
    )


def evaluate_lidar_folders(
    data_root: str | os.PathLike,
    pred_dir: str | os.PathLike,
    classes: Sequence[str] = DEFAULT_CLASSES,
    frame_ids: Sequence[str] | None = None,
    ap_modes: Sequence[str] = ("AP11", "AP40"),
    center_distance: bool = True,
    pcd_limit_range: Sequence[float] | None = DEFAULT_LIMIT_RANGE,
) -> tuple[str, dict[str, float]]:
    """Score LiDAR-only result files against a LiDAR-only layout (``points/*.bin``, ``labels/*.txt``).

    The frames are ``frame_ids`` or every label file; ``difficulty_mode="lidar"``, BEV and 3D only.
    """
    root = os.fspath(data_root)
    if frame_ids is None:
        frame_ids = sorted(
            name[:-4] for name in os.listdir(os.path.join(root, "labels")) if name.endswith(".txt")
        )
    dt_annos = read_results_folder(pred_dir, frame_ids, lidar=True)
    gt_annos = []
    for frame_id in frame_ids:
        gt = read_lidar_label(os.path.join(root, "labels", f"{frame_id}.txt"))
        _count_points(gt, os.path.join(root, "points", f"{frame_id}.bin"))
        gt_annos.append(gt)
    return evaluate_annos(
        gt_annos, dt_annos, classes, ("bev", "3d"), ap_modes, "lidar", center_distance, False, pcd_limit_range
    )
