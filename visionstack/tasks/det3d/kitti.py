"""KITTI's raw files: calibration, labels (the evaluation annotation), point clouds, image sets.

Layout of the object benchmark (``training/`` and ``testing/``)::

    ImageSets/train.txt        one frame id per line (000000 ...)
    training/velodyne/<id>.bin float32 x y z intensity, 4 values a point
    training/image_2/<id>.png  the left colour camera
    training/calib/<id>.txt    P0..P3 (3x4), R0_rect (3x3), Tr_velo_to_cam, Tr_imu_to_velo (3x4)
    training/label_2/<id>.txt  type truncated occluded alpha x1 y1 x2 y2 h w l x y z ry [score]

A label file's dimensions are ``h w l``; the annotation returned here stores them as
``(l, h, w)`` (MMDetection3D's ``get_label_anno``). Also the LiDAR-only label format of data
without calibration (``class x y z dx dy dz yaw [score]``). NumPy only; errors name the file and the line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "CALIB_KEYS",
    "KITTI_TYPES",
    "empty_anno",
    "extend_matrix",
    "label_lines",
    "lidar_label_lines",
    "parse_label_lines",
    "parse_lidar_label_lines",
    "read_calib",
    "read_image_set",
    "read_label",
    "read_lidar_label",
    "read_points",
    "write_calib",
    "write_label",
    "write_lidar_label",
    "write_points",
]

KITTI_TYPES = (
    "Car",
    "Van",
    "Truck",
    "Pedestrian",
    "Person_sitting",
    "Cyclist",
    "Tram",
    "Misc",
    "DontCare",
)
# The calibration entries, their shapes, in the order of KITTI's files.
CALIB_KEYS = {
    "P0": (3, 4),
    "P1": (3, 4),
    "P2": (3, 4),
    "P3": (3, 4),
    "R0_rect": (3, 3),
    "Tr_velo_to_cam": (3, 4),
    "Tr_imu_to_velo": (3, 4),
}


def extend_matrix(matrix: Any) -> np.ndarray:
    """A (3, 3) or (3, 4) matrix as (4, 4): zero padding, last row ``(0, 0, 0, 1)``."""
    matrix = np.asarray(matrix, dtype=np.float64)
    out = np.eye(4)
    out[: matrix.shape[0], : matrix.shape[1]] = matrix
    return out


def read_calib(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a KITTI calibration file.

    Returns:
        ``P0`` .. ``P3`` (3, 4), ``R0_rect`` (3, 3), ``Tr_velo_to_cam`` (3, 4), ``Tr_imu_to_velo``
        (3, 4) (float64, as in the file), and the (4, 4) ``lidar2cam = R0_rect @ Tr_velo_to_cam``,
        ``cam2img = P2`` and ``lidar2img = cam2img @ lidar2cam``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line that does not parse or has the wrong number of values, or a missing entry
            (the message names the file and the line).
    """
    path = os.fspath(path)
    calib: dict[str, np.ndarray] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            key, sep, rest = line.partition(":")
            key = key.strip()
            if not sep:
                raise ValueError(f"{path}, line {number}: expected 'KEY: numbers', got {line.strip()!r}")
            try:
                values = np.array([float(v) for v in rest.split()], dtype=np.float64)
            except ValueError as error:
                raise ValueError(f"{path}, line {number}: {key}: {error}") from error
            shape = CALIB_KEYS.get(key)
            if shape is None:
                calib[key] = values  # an unknown entry is kept as it is
                continue
            if values.size != shape[0] * shape[1]:
                raise ValueError(
                    f"{path}, line {number}: {key} needs {shape[0] * shape[1]} numbers, got {values.size}"
                )
            calib[key] = values.reshape(shape)
    missing = [key for key in ("P2", "R0_rect", "Tr_velo_to_cam") if key not in calib]
    if missing:
        raise ValueError(f"{path}: calibration entries {missing} are missing")
    calib["lidar2cam"] = extend_matrix(calib["R0_rect"]) @ extend_matrix(calib["Tr_velo_to_cam"])
    calib["cam2img"] = extend_matrix(calib["P2"])
    calib["lidar2img"] = calib["cam2img"] @ calib["lidar2cam"]
    return calib


def write_calib(path: str | os.PathLike, calib: Mapping[str, Any]) -> None:
    """Write a KITTI calibration file (``KEY: values`` with ``%.12e``).

    Values with at most 13 significant digits (KITTI's files have 7) read back exactly.

    Entries of :data:`CALIB_KEYS` absent from ``calib`` are written as zeros (P0, P1, P3,
    Tr_imu_to_velo are unused by the detectors); the derived 4x4 matrices are not written.
    """
    lines = []
    for key, shape in CALIB_KEYS.items():
        values = np.asarray(calib.get(key, np.zeros(shape)), dtype=np.float64)
        if values.size != shape[0] * shape[1]:
            values = values[: shape[0], : shape[1]]  # a 4x4 form of the matrix
        lines.append(f"{key}: " + " ".join(f"{v:.12e}" for v in values.reshape(-1)))
    with open(os.fspath(path), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def empty_anno(with_score: bool = False) -> dict[str, np.ndarray]:
    """An annotation with no object (the arrays with the right shapes and dtypes)."""
    anno = {
        "name": np.zeros(0, dtype="<U16"),
        "truncated": np.zeros(0),
        "occluded": np.zeros(0, dtype=np.int64),
        "alpha": np.zeros(0),
        "bbox": np.zeros((0, 4)),
        "dimensions": np.zeros((0, 3)),
        "location": np.zeros((0, 3)),
        "rotation_y": np.zeros(0),
        "num_points_in_gt": np.zeros(0, dtype=np.int64),
    }
    if with_score:
        anno["score"] = np.zeros(0)
    return anno


def read_label(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a KITTI label (or result) file into the evaluation annotation.

    Returns:
        ``name`` (N,) str, ``truncated`` (N,), ``occluded`` (N,) int64, ``alpha`` (N,), ``bbox``
        (N, 4) x1 y1 x2 y2 pixels, ``dimensions`` (N, 3) **(l, h, w)**, ``location`` (N, 3) camera
        bottom centre, ``rotation_y`` (N,), ``num_points_in_gt`` (N,) all -1 (unknown: the dataset
        counts them), and ``score`` (N,) when every line has a 16th column.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line with neither 15 nor 16 values, or a value that does not parse (the
            message names the file and the line).
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as handle:
        return parse_label_lines(handle.read().splitlines(), path)


def parse_label_lines(lines: Sequence[str], path: str = "<label>") -> dict[str, np.ndarray]:
    """:func:`read_label` of the lines of a label file (``path`` names it in errors)."""
    rows: list[list[str]] = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (15, 16):
            raise ValueError(f"{path}, line {number}: expected 15 or 16 values, got {len(fields)}")
        try:
            [float(v) for v in fields[1:]]
        except ValueError as error:
            raise ValueError(f"{path}, line {number}: {error}") from error
        rows.append(fields)
    with_score = bool(rows) and all(len(row) == 16 for row in rows)
    if not rows:
        return empty_anno()
    numbers = np.array([[float(v) for v in row[1:15]] for row in rows], dtype=np.float64)
    anno = {
        "name": np.array([row[0] for row in rows]),
        "truncated": numbers[:, 0],
        "occluded": numbers[:, 1].astype(np.int64),
        "alpha": numbers[:, 2],
        "bbox": numbers[:, 3:7],
        "dimensions": numbers[:, [9, 7, 8]],  # file h w l -> (l, h, w)
        "location": numbers[:, 10:13],
        "rotation_y": numbers[:, 13],
        "num_points_in_gt": np.full(len(rows), -1, dtype=np.int64),
    }
    if with_score:
        anno["score"] = np.array([float(row[15]) for row in rows])
    return anno


def label_lines(anno: Mapping[str, Any]) -> list[str]:
    """The lines of a KITTI label file of an annotation (15 columns, or 16 when ``score`` is present).

    Geometry with 2 decimals like the real files, ``occluded`` as an integer, ``score`` ``%.4f``;
    ``dimensions`` are taken as (l, h, w) and written ``h w l``. No objects: an empty file.
    """
    names = np.asarray(anno["name"]).reshape(-1)
    scores = anno.get("score")
    lines = []
    for i, name in enumerate(names):
        length, height, width = np.asarray(anno["dimensions"][i], dtype=np.float64)
        geometry = [
            *np.asarray(anno["bbox"][i], dtype=np.float64),
            height,
            width,
            length,
            *np.asarray(anno["location"][i], dtype=np.float64),
            float(anno["rotation_y"][i]),
        ]
        fields = [
            str(name),
            f"{float(anno['truncated'][i]):.2f}",
            f"{int(anno['occluded'][i])}",
            f"{float(anno['alpha'][i]):.2f}",
            *(f"{v:.2f}" for v in geometry),
        ]
        if scores is not None:
            fields.append(f"{float(scores[i]):.4f}")
        lines.append(" ".join(fields))
    return lines


def write_label(path: str | os.PathLike, anno: Mapping[str, Any]) -> None:
    """Write an annotation as a KITTI label file (:func:`label_lines`)."""
    lines = label_lines(anno)
    with open(os.fspath(path), "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))


def read_points(path: str | os.PathLike, load_dim: int = 4, use_dim: int | Sequence[int] = 4) -> np.ndarray:
    """Read a float32 ``.bin`` point cloud: (N, use_dim) float32.

    Args:
        path: the file.
        load_dim: values stored per point (4 for KITTI: x y z intensity).
        use_dim: the first ``use_dim`` values, or these column indices.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file size is not a multiple of ``4 * load_dim`` bytes (names file and size).
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size % (4 * load_dim):
        raise ValueError(
            f"point file {path!r} has {size} bytes, not a multiple of 4 * load_dim = {4 * load_dim} "
            "(truncated, or a different load_dim)"
        )
    points = np.fromfile(path, dtype=np.float32).reshape(-1, load_dim)
    columns = list(range(use_dim)) if isinstance(use_dim, (int, np.integer)) else list(use_dim)
    return np.ascontiguousarray(points[:, columns])


def write_points(path: str | os.PathLike, points: Any) -> None:
    """Write (N, C) points as a float32 ``.bin`` file (row-major, no header)."""
    np.ascontiguousarray(np.asarray(points, dtype=np.float32)).tofile(os.fspath(path))


def read_image_set(path: str | os.PathLike) -> list[str]:
    """The frame ids of an image-set file (``ImageSets/train.txt``): one per non-empty line, as strings."""
    path = os.fspath(path)
    ids = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            token = line.strip()
            if not token:
                continue
            if len(token.split()) != 1:
                raise ValueError(f"{path}, line {number}: expected one frame id, got {token!r}")
            ids.append(token)
    return ids


def read_lidar_label(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a LiDAR-only label file: one box a line, ``class x y z dx dy dz yaw [score]``.

    The format of data without calibration or images (:class:`LidarOnlyDataset`, and the
    LiDAR-only result files with a 9th ``score`` column). Boxes are LiDAR boxes (bottom centre).

    Returns:
        ``name`` (N,) str, ``lidar_boxes`` (N, 7) float64, and ``score`` (N,) when every line has 9
        values.

    Raises:
        ValueError: a line with neither 8 nor 9 values or a value that does not parse (names the
            file and the line).
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as handle:
        return parse_lidar_label_lines(handle.read().splitlines(), path)


def parse_lidar_label_lines(lines: Sequence[str], path: str = "<label>") -> dict[str, np.ndarray]:
    """:func:`read_lidar_label` of the lines of a LiDAR-only label file (``path`` names it in errors)."""
    names, rows = [], []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (8, 9):
            raise ValueError(
                f"{path}, line {number}: expected 'class x y z dx dy dz yaw [score]' (8 or 9 values), "
                f"got {len(fields)}"
            )
        try:
            rows.append([float(v) for v in fields[1:]])
        except ValueError as error:
            raise ValueError(f"{path}, line {number}: {error}") from error
        names.append(fields[0])
    anno = {
        "name": np.array(names, dtype=str) if names else np.zeros(0, dtype="<U16"),
        "lidar_boxes": np.array([row[:7] for row in rows], dtype=np.float64).reshape(-1, 7),
    }
    if rows and all(len(row) == 8 for row in rows):
        anno["score"] = np.array([row[7] for row in rows], dtype=np.float64)
    return anno


def lidar_label_lines(names: Sequence[str], boxes: Any, scores: Any = None, decimals: int = 4) -> list[str]:
    """LiDAR boxes (N, 7) as ``class x y z dx dy dz yaw [score]`` lines (``decimals`` places; scores ``%.4f``)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 7)
    lines = []
    for i, name in enumerate(names):
        fields = [str(name), *(f"{v:.{decimals}f}" for v in boxes[i])]
        if scores is not None:
            fields.append(f"{float(scores[i]):.4f}")
        lines.append(" ".join(fields))
    return lines


def write_lidar_label(
    path: str | os.PathLike, names: Sequence[str], boxes: Any, scores: Any = None, decimals: int = 4
) -> None:
    """Write LiDAR boxes (N, 7) as a LiDAR-only label file (:func:`lidar_label_lines`)."""
    lines = lidar_label_lines(names, boxes, scores, decimals)
    with open(os.fspath(path), "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
