"""3D detection datasets: KITTI's raw layout, and LiDAR-only folders (data without images).

No ``.pkl`` info files: the frame ids come from the image-set file (KITTI) or the point folder,
and each frame's small text files (calibration, labels) are parsed once when the record list is
built. Records (what the pipeline receives)::

    lidar_path, img_path (= lidar_path: the input file, what ``infer`` and ``export --verify`` read),
    cam_img_path (the camera image, None when missing), sample_idx (int: the frame id), frame_id ("000123"),
    lidar2cam, cam2img, lidar2img ((4, 4) float64), img_shape ((h, w) from the image header,
    (375, 1242) without an image), gt_bboxes_3d ((N, 7) float32 LiDAR boxes: every labelled object
    but DontCare), gt_labels_3d ((N,) int64: the index in ``classes``, -1 for other types),
    eval_ann_info (test mode only: the KITTI evaluation annotation of :mod:`.kitti`, with
    ``num_points_in_gt`` counted in the full point cloud when the sample is fetched (not at init;
    DontCare keeps -1), plus ``lidar_boxes`` (N, 7): every object's LiDAR box, for the
    centre-distance metrics; DontCare rows hold the converted -1000 placeholders).

``LidarOnlyDataset`` records have no camera keys and an ``eval_ann_info`` of ``name``,
``lidar_boxes`` (N, 7) and ``num_points_in_gt``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ...data.base_dataset import BaseDataset
from ...registry import DATASETS
from ...utils.image_io import image_header_size
from .boxes import anno_lidar_boxes, count_points_in_boxes
from .kitti import empty_anno, read_calib, read_image_set, read_label, read_lidar_label, read_points

__all__ = ["KITTI_METAINFO", "KittiDataset", "LidarOnlyDataset"]

# MMDetection3D's KITTI config order; palette (B, G, R).
KITTI_METAINFO: dict = {
    "classes": ("Pedestrian", "Cyclist", "Car"),
    "palette": [(60, 20, 220), (0, 165, 255), (255, 144, 30)],
}
KITTI_IMAGE_SHAPE = (375, 1242)  # (h, w) of most KITTI frames: the fallback without an image
_KITTI_PREFIX = {
    "pts": "training/velodyne",
    "img": "training/image_2",
    "label": "training/label_2",
    "calib": "training/calib",
}
_NO_LABELS = {"name": np.zeros(0, dtype="<U16"), "lidar_boxes": np.zeros((0, 7))}


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


class _Det3DDataset(BaseDataset):
    """Shared parts: label ids, the empty-GT filter, ``sample_idx`` from the frame id, lazy point counts."""

    def __init__(
        self,
        data_root: str,
        ann_file: str,
        data_prefix: Mapping[str, str],
        metainfo: Mapping[str, Any] | None,
        pipeline: Sequence[Any],
        test_mode: bool,
        filter_empty_gt: bool,
        with_label: bool,
        load_dim: int,
        **kwargs: Any,
    ) -> None:
        self.filter_empty_gt = filter_empty_gt
        self.with_label = with_label
        self.load_dim = load_dim
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            metainfo=metainfo,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs,
        )

    def class_ids(self, names: np.ndarray) -> np.ndarray:
        """(N,) int64 label of each type name: its index in ``classes``, -1 when not one of them."""
        classes = list(self._metainfo["classes"])
        return np.array([classes.index(n) if n in classes else -1 for n in names], dtype=np.int64)

    def filter_data(self, data_list: list[dict]) -> list[dict]:
        """Training with ``filter_empty_gt``: drop frames without a box of the classes."""
        if self.test_mode or not self.filter_empty_gt:
            return data_list
        return [info for info in data_list if (info["gt_labels_3d"] >= 0).any()]

    def _file(self, key: str, frame_id: str, suffix: str) -> str:
        return os.path.join(self.data_prefix[key], frame_id + suffix)

    def _require(self, index: int, path: str, what: str) -> bool:
        if os.path.isfile(path):
            return True
        self.report_bad_record(index, f"the {what} file {path!r} does not exist", unit="frame")
        return False

    def get_data_info(self, idx: int) -> dict:
        """The record with ``sample_idx`` = the frame id (an int when it is a number) and, in test
        mode, ``eval_ann_info`` with the points in each GT box counted."""
        info = super().get_data_info(idx)
        frame_id = info["frame_id"]
        info["sample_idx"] = int(frame_id) if frame_id.isdigit() else info["sample_idx"]
        anno = info.pop("ann_info")
        if self.test_mode:
            info["eval_ann_info"] = self._count_points(info["lidar_path"], anno)
        return info

    def _count_points(self, lidar_path: str, anno: dict) -> dict:
        boxes = anno.get("lidar_boxes")
        if boxes is None:
            return anno
        valid = anno["name"] != "DontCare"  # DontCare regions keep -1 (unknown)
        if valid.any():
            points = read_points(lidar_path, load_dim=self.load_dim, use_dim=3)
            anno["num_points_in_gt"][valid] = count_points_in_boxes(points, boxes[valid])
        return anno


@DATASETS.register()
class KittiDataset(_Det3DDataset):
    """KITTI's object benchmark in its raw layout (``ImageSets``, ``training/velodyne`` ...).

    Args:
        data_root: the KITTI root (holding ``ImageSets/`` and ``training/``).
        ann_file: the image-set file listing the frame ids, relative to ``data_root``.
        data_prefix: folders, relative to ``data_root``: ``pts`` (``.bin``), ``img`` (``.png``),
            ``label`` and ``calib`` (``.txt``). Missing keys take the ``training/`` defaults.
        metainfo: overrides ``METAINFO`` (``classes`` (Pedestrian, Cyclist, Car), ``palette``).
        pipeline: the transforms.
        test_mode: evaluation: no filtering, records carry ``eval_ann_info``.
        filter_empty_gt: (training) drop frames without a box of the classes.
        with_label: read ``label_2`` (False for the test split: no GT).
        box_type_3d: only ``"LiDAR"`` (boxes are given in the LiDAR frame).
        load_dim: values per point in the ``.bin`` files (for the point counts).
        **kwargs: other :class:`~visionstack.data.BaseDataset` arguments (``indices``,
            ``skip_bad_samples``, ``lazy_init`` ...).

    Raises:
        DatasetError: a missing point, calibration or label file, or one that does not parse (the
            message names the file); with ``skip_bad_samples=True`` the frame is skipped and counted.
    """

    METAINFO: ClassVar[dict] = KITTI_METAINFO

    def __init__(
        self,
        data_root: str,
        ann_file: str = "ImageSets/train.txt",
        data_prefix: Mapping[str, str] | None = None,
        metainfo: Mapping[str, Any] | None = None,
        pipeline: Sequence[Any] = (),
        test_mode: bool = False,
        filter_empty_gt: bool = True,
        with_label: bool = True,
        box_type_3d: str = "LiDAR",
        load_dim: int = 4,
        **kwargs: Any,
    ) -> None:
        if box_type_3d != "LiDAR":
            raise ValueError(f"KittiDataset: box_type_3d must be 'LiDAR', got {box_type_3d!r}")
        super().__init__(
            data_root,
            ann_file,
            {**_KITTI_PREFIX, **(data_prefix or {})},
            metainfo,
            pipeline,
            test_mode,
            filter_empty_gt,
            with_label,
            load_dim,
            **kwargs,
        )

    def load_data_list(self) -> list[dict]:
        """One record per frame id of the image-set file (see the module docstring)."""
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f"KittiDataset: the image-set file {self.ann_file!r} does not exist")
        records = []
        for index, frame_id in enumerate(read_image_set(self.ann_file)):
            try:
                record = self._frame_record(index, frame_id)
            except (OSError, ValueError) as error:
                self.report_bad_record(index, f"{type(error).__name__}: {error}", unit="frame")
                continue
            if record is not None:
                records.append(record)
        return records

    def _frame_record(self, index: int, frame_id: str) -> dict | None:
        lidar_path = self._file("pts", frame_id, ".bin")
        calib_path = self._file("calib", frame_id, ".txt")
        label_path = self._file("label", frame_id, ".txt")
        if not (
            self._require(index, lidar_path, "point") and self._require(index, calib_path, "calibration")
        ):
            return None
        if self.with_label and not self._require(index, label_path, "label"):
            return None
        calib = read_calib(calib_path)
        cam_img_path: str | None = self._file("img", frame_id, ".png")
        if os.path.isfile(cam_img_path):
            img_shape = image_header_size(cam_img_path)
        else:
            cam_img_path, img_shape = None, KITTI_IMAGE_SHAPE
        anno = read_label(label_path) if self.with_label else empty_anno()
        anno["lidar_boxes"] = anno_lidar_boxes(anno, calib["lidar2cam"])
        keep = anno["name"] != "DontCare"
        return {
            "lidar_path": lidar_path,
            "img_path": lidar_path,
            "cam_img_path": cam_img_path,
            "frame_id": frame_id,
            "lidar2cam": calib["lidar2cam"],
            "cam2img": calib["cam2img"],
            "lidar2img": calib["lidar2img"],
            "img_shape": img_shape,
            "gt_bboxes_3d": anno["lidar_boxes"][keep].astype(np.float32),
            "gt_labels_3d": self.class_ids(anno["name"][keep]),
            "ann_info": anno,
        }


@DATASETS.register()
class LidarOnlyDataset(_Det3DDataset):
    """Point clouds with LiDAR box labels, no calibration and no images.

    Layout: ``<data_root>/points/<id>.bin`` (float32, ``load_dim`` values a point) and
    ``<data_root>/labels/<id>.txt`` with one box a line, ``class x y z dx dy dz yaw`` (LiDAR
    frame, bottom centre). Frame ids: the ``ann_file`` lines when given, else every ``.bin`` of the
    point folder in natural order.

    Args:
        data_root: the root folder.
        ann_file: optional file of frame ids (one a line), relative to ``data_root``.
        data_prefix: ``pts`` and ``label`` folders (default ``points`` and ``labels``).
        metainfo: overrides ``METAINFO`` (KITTI's classes and palette by default).
        pipeline, test_mode, filter_empty_gt, with_label, load_dim, **kwargs: as
            :class:`KittiDataset`.
    """

    METAINFO: ClassVar[dict] = KITTI_METAINFO

    def __init__(
        self,
        data_root: str,
        ann_file: str = "",
        data_prefix: Mapping[str, str] | None = None,
        metainfo: Mapping[str, Any] | None = None,
        pipeline: Sequence[Any] = (),
        test_mode: bool = False,
        filter_empty_gt: bool = True,
        with_label: bool = True,
        load_dim: int = 4,
        **kwargs: Any,
    ) -> None:
        prefix = {"pts": "points", "label": "labels", **(data_prefix or {})}
        super().__init__(
            data_root,
            ann_file,
            prefix,
            metainfo,
            pipeline,
            test_mode,
            filter_empty_gt,
            with_label,
            load_dim,
            **kwargs,
        )

    def source(self) -> str:
        if self.ann_file:
            return f"frame list {self.ann_file!r}"
        return f"LidarOnlyDataset folder {self.data_prefix['pts']!r}"

    def _frame_ids(self) -> list[str]:
        if self.ann_file:
            if not os.path.isfile(self.ann_file):
                raise FileNotFoundError(f"LidarOnlyDataset: the frame list {self.ann_file!r} does not exist")
            return read_image_set(self.ann_file)
        folder = self.data_prefix["pts"]
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"LidarOnlyDataset: the point folder {folder!r} does not exist")
        names = [name[:-4] for name in os.listdir(folder) if name.endswith(".bin")]
        return sorted(names, key=_natural_key)

    def load_data_list(self) -> list[dict]:
        """One record per frame (see the module docstring)."""
        records = []
        for index, frame_id in enumerate(self._frame_ids()):
            lidar_path = self._file("pts", frame_id, ".bin")
            label_path = self._file("label", frame_id, ".txt")
            if not self._require(index, lidar_path, "point"):
                continue
            if self.with_label and not self._require(index, label_path, "label"):
                continue
            try:
                labels = read_lidar_label(label_path) if self.with_label else _NO_LABELS
            except ValueError as error:
                self.report_bad_record(index, str(error), unit="frame")
                continue
            names, boxes = labels["name"], labels["lidar_boxes"]
            anno = {
                "name": names,
                "lidar_boxes": boxes,
                "num_points_in_gt": np.full(len(names), -1, dtype=np.int64),
            }
            keep = names != "DontCare"
            records.append(
                {
                    "lidar_path": lidar_path,
                    "img_path": lidar_path,
                    "frame_id": frame_id,
                    "gt_bboxes_3d": boxes[keep].astype(np.float32),
                    "gt_labels_3d": self.class_ids(names[keep]),
                    "ann_info": anno,
                }
            )
        return records
