"""The ground-truth database: every labelled object's points cut out once, pasted into other frames.

SECOND (Yan et al., 2018, section 3.4) augments a frame by pasting objects of other frames into it.
:func:`create_gt_database` (MMDetection3D's ``create_groundtruth_database``) writes each object's points,
relative to its box's bottom centre, to ``<out_dir>/<frame>_<class>_<i>.bin`` and a JSON index per class;
:class:`DataBaseSampler` (what ``ObjectSample`` builds) draws objects from it without BEV collisions.

Command line: ``python -m visionstack.tasks.det3d.gt_database DATA_ROOT [--classes Car Pedestrian]``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ...registry import TRANSFORMS, build
from .boxes import anno_lidar_boxes, bev_corners, points_in_boxes
from .kitti import KITTI_TYPES, read_calib, read_image_set, read_label, read_points, write_points

__all__ = [
    "DataBaseSampler",
    "box_collision_test",
    "create_gt_database",
    "kitti_difficulty",
    "main",
    "read_lidar_label",
]

# KITTI's difficulty levels (devkit): min 2D box height (px), max occlusion level, max truncation.
_MIN_HEIGHT = (40, 25, 25)
_MAX_OCCLUSION = (0, 1, 2)
_MAX_TRUNCATION = (0.15, 0.3, 0.5)


def box_collision_test(corners_a: np.ndarray, corners_b: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    """Which BEV rectangles overlap: (N, M) bool, by the separating axis theorem.

    Two convex polygons are disjoint exactly when their projections on one of their edge normals are
    disjoint; a rectangle has two distinct normals, so four axes decide a pair. Rectangles that only
    touch (overlap of at most ``eps`` metres on some axis) do not collide.

    Args:
        corners_a: (N, 4, 2) corners of convex quadrilaterals in order (e.g. ``bev_corners``).
        corners_b: (M, 4, 2) the same.
    """
    a = np.asarray(corners_a, dtype=np.float64).reshape(-1, 4, 2)
    b = np.asarray(corners_b, dtype=np.float64).reshape(-1, 4, 2)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=bool)

    def normals(corners: np.ndarray) -> np.ndarray:  # (K, 2, 2): normals of edges 0-1 and 1-2
        edges = corners[:, 1:3] - corners[:, 0:2]
        return np.stack([-edges[..., 1], edges[..., 0]], -1)

    axes = np.concatenate(
        [
            np.broadcast_to(normals(a)[:, None], (len(a), len(b), 2, 2)),
            np.broadcast_to(normals(b)[None], (len(a), len(b), 2, 2)),
        ],
        axis=2,
    )  # (N, M, 4, 2)
    axes = axes / np.maximum(np.linalg.norm(axes, axis=-1, keepdims=True), 1e-12)
    proj_a = np.einsum("nmkd,npd->nmkp", axes, a)  # (N, M, 4 axes, 4 corners)
    proj_b = np.einsum("nmkd,mpd->nmkp", axes, b)
    overlap = np.minimum(proj_a.max(-1), proj_b.max(-1)) - np.maximum(proj_a.min(-1), proj_b.min(-1))
    return (overlap > eps).all(-1)


def kitti_difficulty(anno: Mapping[str, Any]) -> np.ndarray:
    """KITTI difficulty per object (0 easy, 1 moderate, 2 hard, -1 none), as MMDetection3D's converter.

    An object is easy when its 2D box is taller than 40 px, fully visible (occluded 0) and truncated at
    most 0.15; moderate 25 px / 1 / 0.3; hard 25 px / 2 / 0.5.
    """
    height = np.asarray(anno["bbox"], dtype=np.float64).reshape(-1, 4) @ np.array([0, -1, 0, 1.0])
    occluded = np.asarray(anno["occluded"]).reshape(-1)
    truncated = np.asarray(anno["truncated"], dtype=np.float64).reshape(-1)
    difficulty = np.full(len(height), -1, dtype=np.int64)
    for level in (2, 1, 0):  # the easiest level an object meets wins
        meets = (
            (height > _MIN_HEIGHT[level])
            & (occluded <= _MAX_OCCLUSION[level])
            & (truncated <= _MAX_TRUNCATION[level])
        )
        difficulty[meets] = level
    return difficulty


def read_lidar_label(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A LiDAR-only label file (``class x y z dx dy dz yaw`` per line): names (N,) and boxes (N, 7).

    Raises:
        ValueError: a line without 8 values or with a value that does not parse (names file and line).
    """
    names, boxes = [], []
    with open(os.fspath(path), encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            tokens = line.split()
            if not tokens:
                continue
            try:
                if len(tokens) != 8:
                    raise ValueError(f"expected 8 values (class x y z dx dy dz yaw), got {len(tokens)}")
                boxes.append([float(v) for v in tokens[1:]])
            except ValueError as error:
                raise ValueError(f"{os.fspath(path)}, line {number}: {error}") from error
            names.append(tokens[0])
    return np.asarray(names, dtype=str), np.asarray(boxes, dtype=np.float64).reshape(-1, 7)


def _kitti_frames(data_root: str, ann_file: str, load_dim: int):
    """Yield (frame_id, points, names, LiDAR boxes, difficulty) of the KITTI layout's split."""
    for frame_id in read_image_set(os.path.join(data_root, ann_file)):
        anno = read_label(os.path.join(data_root, "training", "label_2", f"{frame_id}.txt"))
        calib = read_calib(os.path.join(data_root, "training", "calib", f"{frame_id}.txt"))
        keep = np.asarray(anno["name"]) != "DontCare"
        boxes = anno_lidar_boxes(anno, calib["lidar2cam"])[keep]
        points = read_points(
            os.path.join(data_root, "training", "velodyne", f"{frame_id}.bin"),
            load_dim=load_dim,
            use_dim=load_dim,
        )
        yield frame_id, points, np.asarray(anno["name"])[keep], boxes, kitti_difficulty(anno)[keep]


def _lidar_only_frames(data_root: str, load_dim: int):
    """Yield the frames of a LiDAR-only folder (``points/*.bin``, ``labels/*.txt``); difficulty 0."""
    label_dir = os.path.join(data_root, "labels")
    for frame_id in sorted(name[:-4] for name in os.listdir(label_dir) if name.endswith(".txt")):
        names, boxes = read_lidar_label(os.path.join(label_dir, f"{frame_id}.txt"))
        points = read_points(
            os.path.join(data_root, "points", f"{frame_id}.bin"), load_dim=load_dim, use_dim=load_dim
        )
        yield frame_id, points, names, boxes, np.zeros(len(names), dtype=np.int64)


def create_gt_database(
    data_root: str | os.PathLike,
    ann_file: str = "ImageSets/train.txt",
    out_dir: str = "kitti_gt_database",
    info_path: str = "kitti_dbinfos_train.json",
    classes: Sequence[str] | None = None,
    dataset: str = "kitti",
    load_dim: int = 4,
) -> dict[str, list[dict[str, Any]]]:
    """Write every object's points and the per-class JSON index (MMDetection3D's ``create_groundtruth_database``).

    For each object of the split (DontCare excluded) whose class is in ``classes``, the points inside its
    LiDAR box (:func:`~.boxes.points_in_boxes`), with x, y, z made relative to the box's bottom centre,
    go to ``<out_dir>/<frame>_<class>_<i>.bin`` (``i`` the object's index among the frame's non-DontCare
    objects). The index maps each class to a list of infos: ``name``, ``path`` (relative to ``data_root``),
    ``image_idx`` (the frame id as an int when it is one), ``frame_id``, ``gt_idx``, ``box3d_lidar`` (7
    floats), ``num_points_in_gt``, ``difficulty`` (:func:`kitti_difficulty`; 0 for LiDAR-only data),
    ``group_id`` (unique per object).

    Args:
        data_root: the dataset folder; ``out_dir`` and ``info_path`` are relative to it unless absolute.
        ann_file: the split's image-set file (``dataset="kitti"``).
        classes: the classes to store; None stores every class found.
        dataset: ``"kitti"`` (the KITTI layout) or ``"lidar_only"`` (``points/*.bin`` + ``labels/*.txt``
            with LiDAR boxes; every frame is used).
        load_dim: values per point in the ``.bin`` files.

    Returns:
        The index written to ``info_path``.
    """
    data_root = os.fspath(data_root)
    if dataset == "kitti":
        frames = _kitti_frames(data_root, ann_file, load_dim)
    elif dataset == "lidar_only":
        frames = _lidar_only_frames(data_root, load_dim)
    else:
        raise ValueError(f"create_gt_database: dataset must be 'kitti' or 'lidar_only', got {dataset!r}")
    os.makedirs(os.path.join(data_root, out_dir), exist_ok=True)
    infos: dict[str, list[dict[str, Any]]] = {name: [] for name in classes or ()}
    group_id = 0
    for frame_id, points, names, boxes, difficulty in frames:
        inside = points_in_boxes(points, boxes)
        for i, name in enumerate(names):
            if classes is not None and name not in classes:
                continue
            object_points = points[inside[:, i]].copy()
            object_points[:, :3] -= boxes[i, :3].astype(np.float32)
            filename = f"{frame_id}_{name}_{i}.bin"
            write_points(os.path.join(data_root, out_dir, filename), object_points)
            info = {
                "name": str(name),
                "path": os.path.join(out_dir, filename),
                "image_idx": int(frame_id) if frame_id.isdigit() else frame_id,
                "frame_id": frame_id,
                "gt_idx": i,
                "box3d_lidar": [float(v) for v in boxes[i]],
                "num_points_in_gt": int(len(object_points)),
                "difficulty": int(difficulty[i]),
                "group_id": group_id,
            }
            infos.setdefault(str(name), []).append(info)
            group_id += 1
    with open(os.path.join(data_root, info_path), "w", encoding="utf-8") as handle:
        json.dump(infos, handle, indent=1)
    return infos


class _ClassSampler:
    """Draws items of one class without replacement from a shuffled order, reshuffled when exhausted
    (MMDetection3D's ``BatchSampler``: a draw that reaches the end returns the rest, then reshuffles)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self._reset()

    def _reset(self) -> None:
        self.order = np.random.permutation(len(self.items))
        self.position = 0

    def sample(self, num: int) -> list[dict[str, Any]]:
        if self.position + num >= len(self.order):
            chosen = self.order[self.position :]
            self._reset()
        else:
            chosen = self.order[self.position : self.position + num]
            self.position += num
        return [self.items[i] for i in chosen]


@TRANSFORMS.register()
class DataBaseSampler:
    """Samples ground-truth objects from the database to paste into a frame (what ``ObjectSample`` uses).

    Args:
        info_path: the JSON index of :func:`create_gt_database` (relative to ``data_root`` unless absolute).
        data_root: the dataset folder; the infos' ``path`` are relative to it.
        rate: fraction of the missing objects to sample (``round(rate * (group count - objects present))``).
        prepare: filters applied once: ``filter_by_difficulty`` (difficulties to drop, e.g. ``[-1]``) and
            ``filter_by_min_points`` (``{class: minimum number of points}``).
        sample_groups: ``{class: wanted number of objects of that class per frame}``.
        classes: the class names in label order (``label = classes.index(name)``).
        points_loader: a built loader ``{"lidar_path": path} -> {"points": ...}`` (``LoadPointsFromFile``)
            or its config; None reads 4-value float32 files.
    """

    def __init__(
        self,
        info_path: str,
        data_root: str,
        rate: float = 1.0,
        prepare: Mapping[str, Any] | None = None,
        sample_groups: Mapping[str, int] | None = None,
        classes: Sequence[str] = ("Pedestrian", "Cyclist", "Car"),
        points_loader: Callable[[dict], dict] | Mapping[str, Any] | None = None,
    ) -> None:
        self.info_path, self.data_root, self.rate = info_path, os.fspath(data_root), rate
        self.prepare, self.classes = dict(prepare or {}), tuple(classes)
        self.sample_groups = dict(sample_groups or {})
        unknown = [name for name in self.sample_groups if name not in self.classes]
        if unknown:
            raise ValueError(f"DataBaseSampler: sample_groups names {unknown} not in classes {self.classes}")
        self.points_loader = (
            build(points_loader, TRANSFORMS) if isinstance(points_loader, Mapping) else points_loader
        )
        with open(os.path.join(self.data_root, info_path), encoding="utf-8") as handle:
            db_infos = json.load(handle)
        self.db_infos = self._filter(db_infos)
        self.samplers = {name: _ClassSampler(self.db_infos.get(name, [])) for name in self.sample_groups}

    def _filter(self, db_infos: dict[str, list[dict]]) -> dict[str, list[dict]]:
        removed = set(self.prepare.get("filter_by_difficulty", ()))
        min_points = self.prepare.get("filter_by_min_points", {})
        return {
            name: [
                info
                for info in infos
                if info["difficulty"] not in removed and info["num_points_in_gt"] >= min_points.get(name, 0)
            ]
            for name, infos in db_infos.items()
        }

    def load_points(self, info: Mapping[str, Any]) -> np.ndarray:
        """The object's points moved back to its box (float32 (P, C))."""
        path = os.path.join(self.data_root, info["path"])
        if self.points_loader is None:
            points = read_points(path, load_dim=4, use_dim=4)
        else:
            points = np.asarray(self.points_loader({"lidar_path": path})["points"], dtype=np.float32)
        points = points.copy()
        points[:, :3] += np.asarray(info["box3d_lidar"][:3], dtype=np.float32)
        return points

    def sample_all(self, gt_bboxes: np.ndarray, gt_labels: np.ndarray) -> dict[str, np.ndarray] | None:
        """Sample objects that collide neither with ``gt_bboxes`` nor with each other.

        Per class of ``sample_groups`` in order, ``round(rate * (group count - present))`` candidates are
        drawn; each is kept when its BEV rectangle overlaps no existing box and no box kept before it
        (a greedy pass; MMDetection3D also rejects a candidate that overlaps a later rejected one).

        Args:
            gt_bboxes: (N, 7) LiDAR boxes of the frame.
            gt_labels: (N,) their labels.

        Returns:
            None when nothing was sampled, else ``gt_bboxes_3d`` (K, 7) float32, ``gt_labels_3d`` (K,)
            int64, ``points`` (P, C) float32 (the objects' points in the frame) and ``group_ids`` (K,).
        """
        gt_bboxes = np.asarray(gt_bboxes, dtype=np.float64).reshape(-1, 7)
        gt_labels = np.asarray(gt_labels).reshape(-1)
        avoid = bev_corners(gt_bboxes)
        sampled: list[dict[str, Any]] = []
        for name, wanted in self.sample_groups.items():
            label = self.classes.index(name)
            num = int(np.round(self.rate * (wanted - np.sum(gt_labels == label))))
            if num <= 0 or not self.samplers[name].items:
                continue
            for info in self.samplers[name].sample(num):
                corners = bev_corners(np.asarray([info["box3d_lidar"]], dtype=np.float64))
                if not box_collision_test(corners, avoid).any():
                    sampled.append(info)
                    avoid = np.concatenate([avoid, corners])
        if not sampled:
            return None
        return {
            "gt_bboxes_3d": np.asarray([info["box3d_lidar"] for info in sampled], dtype=np.float32),
            "gt_labels_3d": np.asarray(
                [self.classes.index(info["name"]) for info in sampled], dtype=np.int64
            ),
            "points": np.concatenate([self.load_points(info) for info in sampled]).astype(np.float32),
            "group_ids": np.asarray([info["group_id"] for info in sampled], dtype=np.int64),
        }

    def __repr__(self) -> str:
        counts = {name: len(infos) for name, infos in self.db_infos.items()}
        return (
            f"DataBaseSampler(info_path={self.info_path!r}, data_root={self.data_root!r}, rate={self.rate}, "
            f"sample_groups={self.sample_groups}, objects={counts})"
        )


def main(argv: Sequence[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """``python -m visionstack.tasks.det3d.gt_database DATA_ROOT``: build the database, print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_root")
    parser.add_argument("--ann-file", default="ImageSets/train.txt")
    parser.add_argument("--out-dir", default="kitti_gt_database")
    parser.add_argument("--info-path", default="kitti_dbinfos_train.json")
    parser.add_argument(
        "--classes", nargs="+", default=None, help=f"default: all found (KITTI: {KITTI_TYPES})"
    )
    parser.add_argument("--dataset", choices=("kitti", "lidar_only"), default="kitti")
    args = parser.parse_args(argv)
    infos = create_gt_database(
        args.data_root, args.ann_file, args.out_dir, args.info_path, args.classes, args.dataset
    )
    for name, items in infos.items():
        print(f"{name}: {len(items)} objects")
    print(f"index: {os.path.join(args.data_root, args.info_path)}")
    return infos


if __name__ == "__main__":
    main()
