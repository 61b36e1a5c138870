"""COCO-format instance annotations (detection and instance segmentation).

The annotation file is COCO's ``instances_*.json``: ``images`` (``id, file_name, height, width``),
``annotations`` (``id, image_id, category_id, bbox`` as x y w h, ``area``, ``iscrowd``,
``segmentation`` as polygons or RLE) and ``categories`` (``id, name``). Every image becomes one record::

    {"img_path", "img_id", "height", "width",
     "instances": [{"bbox": [x1, y1, x2, y2], "bbox_label": int, "ignore_flag": 0 | 1, "mask": ...}]}

COCO's sparse category ids (1..90 for COCO itself) map to contiguous labels 0..C-1 in sorted id
order; ``metainfo["classes"]`` holds their names and ``metainfo["cat_ids"]`` the ids, so metrics can
map labels back. Crowd regions (``iscrowd=1``) are kept with ``ignore_flag=1``. Like MMDetection,
an annotation is dropped when ``area <= 0`` or its width or height is below one pixel; a box of
negative size or entirely outside the image is an error (or, with ``skip_bad_samples``, a
skipped and counted record). ``mask`` is the raw ``segmentation`` (a list of flat polygons, or an RLE dict
with compressed string or uncompressed list ``counts``); ``LoadAnnotations`` decodes it.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, ClassVar

from ...registry import DATASETS
from ..base_dataset import BaseDataset, DatasetError

__all__ = ["CocoDataset", "parse_coco_annotation"]


def parse_coco_annotation(
    annotation: Mapping[str, Any], image_width: int, image_height: int, label: int
) -> dict | None:
    """One COCO annotation as an instance dict, or None when MMDetection would drop it.

    Args:
        annotation: the raw annotation (``bbox`` x y w h, ``area``, ``iscrowd``, ``segmentation``).
        image_width: the image width, to drop boxes outside the image.
        image_height: the image height.
        label: the contiguous label of its category.

    Raises:
        ValueError: when ``bbox`` is not four numbers, has a negative size or lies entirely outside
            the image, or ``segmentation`` has the wrong type.
    """
    bbox = annotation.get("bbox")
    if (
        not isinstance(bbox, (list, tuple))
        or len(bbox) != 4
        or not all(isinstance(v, (int, float)) for v in bbox)
    ):
        raise ValueError(
            f"annotation {annotation.get('id')!r} has bbox {bbox!r}; expected [x, y, w, h] numbers"
        )
    x, y, w, h = (float(v) for v in bbox)
    if w < 0 or h < 0:  # malformed, not merely tiny: say so (skip_bad_samples counts it instead)
        raise ValueError(f"annotation {annotation.get('id')!r} has bbox {bbox!r} of negative size")
    overlap_w = max(0.0, min(x + w, image_width) - max(x, 0.0))
    overlap_h = max(0.0, min(y + h, image_height) - max(y, 0.0))
    if w >= 1 and h >= 1 and overlap_w * overlap_h == 0:
        raise ValueError(
            f"annotation {annotation.get('id')!r} has bbox {bbox!r} entirely outside the "
            f"{image_width}x{image_height} image"
        )
    if float(annotation.get("area", w * h)) <= 0 or w < 1 or h < 1:
        return None  # degenerate boxes are dropped, as MMDetection does
    instance: dict[str, Any] = {
        "bbox": [x, y, x + w, y + h],
        "bbox_label": int(label),
        "ignore_flag": 1 if annotation.get("iscrowd", 0) else 0,
    }
    segmentation = annotation.get("segmentation")
    if segmentation is not None and segmentation != []:
        if isinstance(segmentation, dict):
            if "counts" not in segmentation or "size" not in segmentation:
                raise ValueError(
                    f"annotation {annotation.get('id')!r}: an RLE segmentation needs `counts` and `size`"
                )
        elif not isinstance(segmentation, list) or not all(isinstance(p, list) for p in segmentation):
            raise ValueError(
                f"annotation {annotation.get('id')!r}: segmentation must be a list of polygons or an RLE dict, "
                f"got {type(segmentation).__name__}"
            )
        instance["mask"] = segmentation
    return instance


@DATASETS.register()
class CocoDataset(BaseDataset):
    """A dataset in COCO's instances JSON format.

    Args:
        ann_file: the ``instances_*.json`` file (relative to ``data_root`` unless absolute).
        data_prefix: ``dict(img="train2017/")``: the image folder, joined to each ``file_name``
            (``img_path`` is accepted as the key too).
        metainfo: ``dict(classes=(...))`` keeps only the categories with these names (labels follow
            this order); by default every category of the file, in sorted id order.
        filter_cfg: ``dict(filter_empty_gt=True, min_size=32)`` drops training images without a
            non-ignored instance and images smaller than ``min_size`` (never in test mode).
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments.

    Raises:
        DatasetError: for a malformed file or record, naming the file and the image id.
    """

    METAINFO: ClassVar[dict] = {}

    def __init__(
        self, ann_file: str = "", data_prefix: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        prefixes = dict(data_prefix or {})
        if "img" in prefixes:
            prefixes["img_path"] = prefixes.pop("img")
        self.cat_ids: tuple[int, ...] = ()
        self.cat2label: dict[int, int] = {}
        super().__init__(ann_file=ann_file, data_prefix=prefixes or None, **kwargs)

    def load_data_list(self) -> list[dict]:
        """Read the JSON, map categories to labels, and build one record per image."""
        content = self._read_json()
        self._select_categories(content["categories"])
        image_ids = {image.get("id") for image in content["images"] if isinstance(image, dict)}
        annotations_by_image: dict[Any, list[dict]] = defaultdict(list)
        for position, annotation in enumerate(content["annotations"]):
            image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
            if image_id not in image_ids:
                self.report_bad_record(
                    position,
                    f"annotation {annotation!r:.120} refers to an unknown image_id",
                    unit="annotation",
                )
                continue
            annotations_by_image[image_id].append(annotation)
        records = []
        for position, image in enumerate(content["images"]):
            record = self._parse_image(position, image, annotations_by_image)
            if record is not None:
                records.append(record)
        return records

    def _read_json(self) -> dict:
        if not self.ann_file:
            raise ValueError("CocoDataset: pass ann_file= (a COCO instances JSON)")
        try:
            with open(self.ann_file, encoding="utf-8") as handle:
                content = json.load(handle)
        except FileNotFoundError as error:
            raise FileNotFoundError(f"CocoDataset: annotation file not found: {self.ann_file!r}") from error
        except json.JSONDecodeError as error:
            raise DatasetError(f"annotation file {self.ann_file!r} is not valid JSON: {error}") from error
        missing = [
            key for key in ("images", "annotations", "categories") if not isinstance(content.get(key), list)
        ]
        if not isinstance(content, dict) or missing:
            raise DatasetError(
                f"annotation file {self.ann_file!r} is not a COCO instances file: missing list(s) {missing}"
            )
        return content

    def _select_categories(self, categories: list[dict]) -> None:
        """Labels 0..C-1 in sorted category-id order, restricted to ``metainfo['classes']`` when given."""
        try:
            names_by_id = {int(category["id"]): str(category["name"]) for category in categories}
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetError(
                f"annotation file {self.ann_file!r}: every category needs an integer `id` and a `name` ({error!r})"
            ) from error
        self._file_cat_ids = set(names_by_id)
        wanted = self._metainfo.get("classes")
        if wanted is None:
            cat_ids = sorted(names_by_id)
        else:
            ids_by_name = {name: cat_id for cat_id, name in names_by_id.items()}
            unknown = [name for name in wanted if name not in ids_by_name]
            if unknown:
                raise DatasetError(
                    f"annotation file {self.ann_file!r} has no categories named {unknown}; "
                    f"its categories: {sorted(ids_by_name)}"
                )
            cat_ids = [ids_by_name[name] for name in wanted]
        self.cat_ids = tuple(cat_ids)
        self.cat2label = {cat_id: label for label, cat_id in enumerate(cat_ids)}
        self._metainfo["classes"] = tuple(names_by_id[cat_id] for cat_id in cat_ids)
        self._metainfo["cat_ids"] = self.cat_ids

    def _parse_image(
        self, position: int, image: Any, annotations_by_image: Mapping[Any, list]
    ) -> dict | None:
        """The record of one image, or None (after reporting) when the image or an annotation is malformed."""
        image_id = image.get("id") if isinstance(image, dict) else None
        try:
            if image_id is None:
                raise ValueError(f"image entry {position} has no `id`")
            width, height = int(image["width"]), int(image["height"])
            folder = self.data_prefix.get("img_path", "")
            record = {
                "img_path": os.path.join(folder, image["file_name"]) if folder else image["file_name"],
                "img_id": image_id,
                "height": height,
                "width": width,
                "instances": self._parse_instances(annotations_by_image.get(image_id, []), width, height),
            }
        except (KeyError, TypeError, ValueError) as error:
            detail = f"missing key {error}" if isinstance(error, KeyError) else str(error)
            self.report_bad_record(image_id if image_id is not None else position, detail, unit="image id")
            return None
        return record

    def _parse_instances(self, annotations: list[dict], width: int, height: int) -> list[dict]:
        instances = []
        for annotation in annotations:
            category_id = annotation.get("category_id")
            if category_id not in self._file_cat_ids:
                raise ValueError(
                    f"annotation {annotation.get('id')!r} has category_id {category_id!r}, "
                    "which is not among the file's categories"
                )
            if category_id not in self.cat2label:  # a category left out by metainfo['classes']
                continue
            instance = parse_coco_annotation(annotation, width, height, self.cat2label[category_id])
            if instance is not None:
                instances.append(instance)
        return instances
