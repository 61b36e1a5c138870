"""COCO person keypoints (``person_keypoints_*.json``) as a top-down instance view or one record per image.

The annotation file is COCO's: ``images`` (``id, file_name, width, height``), ``annotations`` (``id, image_id,
category_id, bbox`` x y w h, ``area``, ``iscrowd``, ``num_keypoints``, ``keypoints`` as K x (x, y, v) with v = 0
unlabelled, 1 labelled but hidden, 2 visible) and ``categories`` (``keypoints``, ``skeleton``).

``data_mode="topdown"`` (the default) makes one record per person::

    {"img_path", "img_id", "id", "category_id", "ori_shape": (h, w),
     "bbox": (1, 4) float32 xyxy, "bbox_score": (1,) float32, "area": (1,) float32,
     "keypoints": (1, K, 2) float32, "keypoints_visible": (1, K) float32 (v > 0), "num_keypoints": int}

As MMPose does, a training view drops crowd annotations and people without a labelled keypoint, and clips boxes
to the image. With ``bbox_file`` (a COCO detection results JSON: ``image_id, bbox`` x y w h, ``score``; what
``visionstack test --out-format`` of a detector writes) the test view takes its people from a detector instead:
one record per detected box of score ``>= det_bbox_thr`` (no ground truth keypoints; the metric reads them from
``ann_file``). ``data_mode="bottomup"`` makes one record per image with every person stacked.

Keypoint coordinates are pixel indices (pixel ``i`` covers ``[i - 0.5, i + 0.5)``), as COCO, OpenCV's warps and
MMPose use them.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ...data.base_dataset import DatasetError
from ...data.datasets.coco import CocoDataset
from ...registry import DATASETS
from .metainfo import COCO_KEYPOINTS

__all__ = ["CocoKeypointsDataset"]

DATA_MODES = ("topdown", "bottomup")
# metainfo keys each record carries into the pipeline (flips, half-body crops, target weights)
PIPELINE_METAINFO = ("flip_indices", "upper_body_ids", "lower_body_ids", "joint_weights", "sigmas")


@DATASETS.register()
class CocoKeypointsDataset(CocoDataset):
    """COCO person keypoints (17 keypoints by default; the metainfo says how many, their flip pairs, OKS sigmas).

    Args:
        ann_file: the ``person_keypoints_*.json`` file (relative to ``data_root`` unless absolute).
        data_prefix: ``dict(img="val2017/")``: the image folder joined to each ``file_name``.
        data_mode: ``"topdown"`` (one record per person) or ``"bottomup"`` (one per image).
        bbox_file: detector results (COCO results JSON) whose person boxes replace the annotated ones (test).
        det_bbox_thr: the lowest detector score kept from ``bbox_file``.
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments (``metainfo``, ``pipeline``, ...).

    Raises:
        DatasetError: for a malformed file or annotation, naming the file and the annotation id.
    """

    METAINFO: ClassVar[dict] = COCO_KEYPOINTS

    def __init__(
        self,
        ann_file: str = "",
        data_prefix: Mapping[str, str] | None = None,
        data_mode: str = "topdown",
        bbox_file: str | None = None,
        det_bbox_thr: float = 0.0,
        **kwargs: Any,
    ) -> None:
        if data_mode not in DATA_MODES:
            raise ValueError(
                f"CocoKeypointsDataset: data_mode must be one of {DATA_MODES}, got {data_mode!r}"
            )
        self.data_mode = data_mode
        self.det_bbox_thr = float(det_bbox_thr)
        self.bbox_file = bbox_file
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, **kwargs)
        if self.bbox_file:
            self.bbox_file = self._join_root(os.fspath(self.bbox_file))
        if bbox_file and not self.test_mode:
            raise ValueError("CocoKeypointsDataset: bbox_file (detected people) is for test_mode=True only")
        if bbox_file and data_mode != "topdown":
            raise ValueError("CocoKeypointsDataset: bbox_file needs data_mode='topdown'")

    # ---- reading ---------------------------------------------------------------------------------
    def load_data_list(self) -> list[dict]:
        content = self._read_json()
        categories = content["categories"]
        self._select_categories(categories)
        self._check_keypoint_layout(categories)
        images: dict[Any, dict] = {}
        for position, image in enumerate(content["images"]):
            try:
                images[image["id"]] = {
                    "img_path": self._image_path(image["file_name"]),
                    "img_id": image["id"],
                    "ori_shape": (int(image["height"]), int(image["width"])),
                }
            except (KeyError, TypeError, ValueError) as error:
                self.report_bad_record(position, f"image entry {image!r:.120}: {error!r}", unit="image")
        if self.bbox_file:
            return self._detected_people(images)
        people_by_image: dict[Any, list[dict]] = defaultdict(list)
        for position, annotation in enumerate(content["annotations"]):
            image = images.get(annotation.get("image_id")) if isinstance(annotation, dict) else None
            if image is None:
                self.report_bad_record(
                    position,
                    f"annotation {annotation!r:.120} refers to an unknown image_id",
                    unit="annotation",
                )
                continue
            try:
                person = self._parse_person(annotation, image)
            except (KeyError, TypeError, ValueError) as error:
                self.report_bad_record(
                    position, f"annotation {annotation.get('id')!r}: {error}", unit="annotation"
                )
                continue
            if person is not None:
                people_by_image[annotation["image_id"]].append(person)
        if self.data_mode == "topdown":
            return [person for image_id in images for person in people_by_image.get(image_id, [])]
        return [
            self._image_record(image, people_by_image.get(image_id, [])) for image_id, image in images.items()
        ]

    def _image_path(self, file_name: str) -> str:
        folder = self.data_prefix.get("img_path", "")
        return os.path.join(folder, file_name) if folder else file_name

    def _check_keypoint_layout(self, categories: list[dict]) -> None:
        num_keypoints = int(self._metainfo.get("num_keypoints", 17))
        for category in categories:
            names = category.get("keypoints") if isinstance(category, dict) else None
            if names is not None and len(names) != num_keypoints:
                raise DatasetError(
                    f"annotation file {self.ann_file!r}: category {category.get('name')!r} has {len(names)} "
                    f"keypoints, the dataset metainfo {num_keypoints} (pass metainfo=dict(num_keypoints=..., "
                    "flip_indices=..., sigmas=...) for another layout)"
                )

    def _parse_person(self, annotation: Mapping[str, Any], image: Mapping[str, Any]) -> dict | None:
        """One annotation as a person record, or None when a training view drops it (crowd, no keypoint,
        degenerate box)."""
        num_keypoints = int(self._metainfo.get("num_keypoints", 17))
        if int(annotation.get("category_id", -1)) not in self.cat2label:
            return None
        raw = annotation.get("keypoints")
        if raw is None or len(raw) != 3 * num_keypoints:
            raise ValueError(f"`keypoints` must hold {3 * num_keypoints} numbers (x, y, v per keypoint)")
        values = np.asarray(raw, dtype=np.float32).reshape(1, num_keypoints, 3)
        if not np.isfinite(values).all():
            raise ValueError("`keypoints` holds a non-finite number")
        height, width = image["ori_shape"]
        x, y, w, h = (float(v) for v in annotation["bbox"])
        if w < 0 or h < 0:
            raise ValueError(f"bbox {annotation['bbox']!r} has a negative size")
        x1, y1 = max(0.0, x), max(0.0, y)
        x2, y2 = min(width - 1.0, x1 + max(0.0, w)), min(height - 1.0, y1 + max(0.0, h))
        crowd = bool(annotation.get("iscrowd", 0))
        labelled = int((values[0, :, 2] > 0).sum())
        if not self.test_mode and (crowd or labelled == 0 or x2 <= x1 or y2 <= y1):
            return None
        area = float(annotation.get("area", w * h))
        return {
            "img_path": image["img_path"],
            "img_id": image["img_id"],
            "id": annotation.get("id"),
            "category_id": int(annotation["category_id"]),
            "ori_shape": image["ori_shape"],
            "bbox": np.array([[x1, y1, x2, y2]], dtype=np.float32),
            "bbox_score": np.ones(1, dtype=np.float32),
            "area": np.array([area], dtype=np.float32),
            "keypoints": np.ascontiguousarray(values[..., :2]),
            "keypoints_visible": (values[..., 2] > 0).astype(np.float32),
            "num_keypoints": labelled,
            "iscrowd": int(crowd),
        }

    def _image_record(self, image: Mapping[str, Any], people: list[dict]) -> dict:
        num_keypoints = int(self._metainfo.get("num_keypoints", 17))
        record = dict(image)

        def stack(key: str, shape: tuple[int, ...]) -> np.ndarray:
            arrays = [person[key] for person in people]
            return np.concatenate(arrays) if arrays else np.zeros((0, *shape), dtype=np.float32)

        record.update(
            bbox=stack("bbox", (4,)),
            bbox_score=stack("bbox_score", ()),
            area=stack("area", ()),
            keypoints=stack("keypoints", (num_keypoints, 2)),
            keypoints_visible=stack("keypoints_visible", (num_keypoints,)),
            ids=[person["id"] for person in people],
        )
        return record

    def _detected_people(self, images: Mapping[Any, dict]) -> list[dict]:
        """Records of the detector's person boxes in ``bbox_file`` (keypoints unknown: zeros)."""
        try:
            with open(self.bbox_file, encoding="utf-8") as handle:
                detections = json.load(handle)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"CocoKeypointsDataset: bbox_file not found: {self.bbox_file!r}"
            ) from error
        except json.JSONDecodeError as error:
            raise DatasetError(f"bbox_file {self.bbox_file!r} is not valid JSON: {error}") from error
        if not isinstance(detections, list):
            raise DatasetError(f"bbox_file {self.bbox_file!r} must hold a list of COCO detection results")
        num_keypoints = int(self._metainfo.get("num_keypoints", 17))
        records = []
        for position, detection in enumerate(detections):
            try:
                image = images[detection["image_id"]]
                score = float(detection.get("score", 1.0))
                x, y, w, h = (float(v) for v in detection["bbox"])
                category = int(detection.get("category_id", self.cat_ids[0]))
            except (KeyError, TypeError, ValueError) as error:
                raise DatasetError(
                    f"bbox_file {self.bbox_file!r}, detection {position}: {error!r} (expected image_id of the "
                    "annotation file, bbox [x, y, w, h], score)"
                ) from error
            if score < self.det_bbox_thr or category not in self.cat2label or w <= 0 or h <= 0:
                continue
            records.append(
                {
                    "img_path": image["img_path"],
                    "img_id": image["img_id"],
                    "id": len(records),
                    "category_id": category,
                    "ori_shape": image["ori_shape"],
                    "bbox": np.array([[x, y, x + w, y + h]], dtype=np.float32),
                    "bbox_score": np.array([score], dtype=np.float32),
                    "area": np.array([w * h], dtype=np.float32),
                    "keypoints": np.zeros((1, num_keypoints, 2), dtype=np.float32),
                    "keypoints_visible": np.zeros((1, num_keypoints), dtype=np.float32),
                    "num_keypoints": 0,
                    "iscrowd": 0,
                }
            )
        return records

    def get_cat_ids(self, idx: int) -> list[int]:
        return [0]

    def get_data_info(self, idx: int) -> dict:
        """Record ``idx`` with the metainfo the pipeline needs (``flip_indices``, ``upper_body_ids``,
        ``joint_weights``, ``sigmas``) added."""
        info = super().get_data_info(idx)
        for key in PIPELINE_METAINFO:
            if key in self._metainfo:
                info[key] = self._metainfo[key]
        return info
