"""COCO-format instance annotations (detection and instance segmentation).

The annotation file is COCO's ``instances_*.json``: ``images`` (``id, file_name, height, width``),
``annotations`` (``id, image_id, category_id, bbox`` as x y w h, ``area``, ``iscrowd``,
``segmentation`` as polygons or RLE) and ``categories`` (``id, name``). Every image becomes one record::

    {"img_path", "img_id", "height", "width",
     "instances": [{"bbox": [x1, y1, x2, y2], "bbox_label": int, "ignore_flag": 0 | 1, "mask": ...}]}

COCO's sparse category ids (1..90 for COCO itself) map to contiguous labels 0..C-1 in sorted id
order; ``metainfo["classes"]`` holds their names and ``metainfo["cat_ids"]`` the ids, so metrics can
map labels back. Crowd regions (``iscrowd=1``) are kept with ``ignore_flag=1``. ``mask`` is the raw
``segmentation`` (a list of flat polygons, or an RLE dict with compressed string or uncompressed list
``counts``); ``LoadAnnotations`` decodes it.

Annotations left out, as MMDetection's ``CocoDataset`` leaves them out (counted per reason in
``CocoDataset.skipped_annotations``):

- ``"ignore": 1`` (a convention of some COCO-style files): dropped before any other check, so it is
  neither a positive nor a crowd region in training (reason ``ignore``). Evaluation against the
  annotation file is pycocotools' and ignores the key: ``COCOeval`` overwrites ``ignore`` with
  ``iscrowd``, so such a box is an ordinary ground truth there (only ``iscrowd`` makes a region ignored);
- ``area <= 0`` or a width or height below one pixel (reason ``too_small``).

A malformed annotation — a category id that is not among the file's categories, a box that is not
four finite numbers, of negative size or entirely outside the image, a bad ``segmentation`` — is an
error naming the file, the image and the annotation; with ``skip_bad_samples`` the whole image is
skipped and counted; with ``skip_bad_annotations`` just that annotation is skipped (the image is kept)
and counted under its reason (:data:`BAD_ANNOTATION_REASONS`), with one warning per reason.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any, ClassVar

from ...registry import DATASETS
from ..base_dataset import BaseDataset, DatasetError

__all__ = ["BAD_ANNOTATION_REASONS", "BadAnnotation", "CocoDataset", "parse_coco_annotation"]

logger = logging.getLogger(__name__)

# why skip_bad_annotations=True left an annotation out (the keys of CocoDataset.skipped_annotations,
# besides the MMDetection drops ``ignore`` and ``too_small`` that happen in every mode)
BAD_ANNOTATION_REASONS = (
    "unknown_image_id",
    "unknown_category_id",
    "bbox_not_finite_xywh",
    "bbox_negative_size",
    "bbox_outside_image",
    "bad_segmentation",
)


class BadAnnotation(ValueError):
    """A malformed COCO annotation; ``reason`` is one of :data:`BAD_ANNOTATION_REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_coco_annotation(
    annotation: Mapping[str, Any], image_width: int, image_height: int, label: int
) -> dict | None:
    """One COCO annotation as an instance dict, or None when MMDetection would drop it
    (``"ignore": 1``, ``area <= 0``, width or height below one pixel).

    Args:
        annotation: the raw annotation (``bbox`` x y w h, ``area``, ``iscrowd``, ``segmentation``).
        image_width: the image width, to drop boxes outside the image.
        image_height: the image height.
        label: the contiguous label of its category.

    Raises:
        BadAnnotation: (a ValueError) when ``bbox`` is not four finite numbers, has a negative size or
            lies entirely outside the image, or ``segmentation`` has the wrong type.
    """
    if annotation.get("ignore", False):
        return None  # MMDetection drops these before looking at anything else
    bbox = annotation.get("bbox")
    if (
        not isinstance(bbox, (list, tuple))
        or len(bbox) != 4
        or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in bbox)
    ):
        raise BadAnnotation(
            "bbox_not_finite_xywh",
            f"annotation {annotation.get('id')!r} has bbox {bbox!r}; expected [x, y, w, h] finite numbers",
        )
    x, y, w, h = (float(v) for v in bbox)
    if w < 0 or h < 0:  # malformed, not merely tiny: say so (the skip options count it instead)
        raise BadAnnotation(
            "bbox_negative_size", f"annotation {annotation.get('id')!r} has bbox {bbox!r} of negative size"
        )
    overlap_w = max(0.0, min(x + w, image_width) - max(x, 0.0))
    overlap_h = max(0.0, min(y + h, image_height) - max(y, 0.0))
    if w >= 1 and h >= 1 and overlap_w * overlap_h == 0:
        raise BadAnnotation(
            "bbox_outside_image",
            f"annotation {annotation.get('id')!r} has bbox {bbox!r} entirely outside the "
            f"{image_width}x{image_height} image",
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
                raise BadAnnotation(
                    "bad_segmentation",
                    f"annotation {annotation.get('id')!r}: an RLE segmentation needs `counts` and `size`",
                )
        elif not isinstance(segmentation, list) or not all(isinstance(p, list) for p in segmentation):
            raise BadAnnotation(
                "bad_segmentation",
                f"annotation {annotation.get('id')!r}: segmentation must be a list of polygons or an RLE dict, "
                f"got {type(segmentation).__name__}",
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
        skip_bad_annotations: skip a malformed annotation (unknown image or category id, bad box or
            segmentation) on its own and keep its image, instead of raising (or, with
            ``skip_bad_samples``, skipping the whole image). ``skipped_annotations`` then counts them per
            reason (:data:`BAD_ANNOTATION_REASONS`) and one warning per reason names the file and an example.
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments.

    Attributes:
        skipped_annotations: reason -> number of annotations left out by the last load: ``ignore`` and
            ``too_small`` (MMDetection's drops, in every mode) and, with ``skip_bad_annotations``, the
            reasons of :data:`BAD_ANNOTATION_REASONS`.

    Raises:
        DatasetError: for a malformed file or record, naming the file and the image id.
    """

    METAINFO: ClassVar[dict] = {}

    def __init__(
        self,
        ann_file: str = "",
        data_prefix: Mapping[str, str] | None = None,
        skip_bad_annotations: bool = False,
        **kwargs: Any,
    ) -> None:
        prefixes = dict(data_prefix or {})
        if "img" in prefixes:
            prefixes["img_path"] = prefixes.pop("img")
        self.cat_ids: tuple[int, ...] = ()
        self.cat2label: dict[int, int] = {}
        self.skip_bad_annotations = skip_bad_annotations
        self.skipped_annotations: dict[str, int] = {}
        self._skip_examples: dict[str, str] = {}
        super().__init__(ann_file=ann_file, data_prefix=prefixes or None, **kwargs)

    def load_data_list(self) -> list[dict]:
        """Read the JSON, map categories to labels, and build one record per image."""
        content = self._read_json()
        self._select_categories(content["categories"])
        skipped: Counter[str] = Counter()
        self._skip_examples = {}
        image_ids = {image.get("id") for image in content["images"] if isinstance(image, dict)}
        annotations_by_image: dict[Any, list[dict]] = defaultdict(list)
        for position, annotation in enumerate(content["annotations"]):
            image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
            if image_id not in image_ids:
                message = f"annotation {annotation!r:.120} refers to an unknown image_id"
                if self.skip_bad_annotations:
                    self._count_skip(skipped, "unknown_image_id", f"annotation {position}: {message}")
                else:
                    self.report_bad_record(position, message, unit="annotation")
                continue
            annotations_by_image[image_id].append(annotation)
        records = []
        for position, image in enumerate(content["images"]):
            record = self._parse_image(position, image, annotations_by_image, skipped)
            if record is not None:
                records.append(record)
        self.skipped_annotations = dict(skipped)
        self._log_skipped()
        return records

    def _count_skip(self, skipped: Counter, reason: str, message: str) -> None:
        skipped[reason] += 1
        self._skip_examples.setdefault(reason, message)
        logger.debug("%s: skipping a bad annotation: %s", self.source(), message)

    def _log_skipped(self) -> None:
        """One warning per reason of the malformed annotations skipped (the MMDetection drops stay quiet)."""
        for reason in BAD_ANNOTATION_REASONS:
            if self.skipped_annotations.get(reason):
                logger.warning(
                    "%s: skipped %d annotation(s) (%s), e.g. %s",
                    self.source(),
                    self.skipped_annotations[reason],
                    reason,
                    self._skip_examples[reason],
                )

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
        self, position: int, image: Any, annotations_by_image: Mapping[Any, list], skipped: Counter
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
                "instances": self._parse_instances(
                    annotations_by_image.get(image_id, []), width, height, image_id, skipped
                ),
            }
        except (KeyError, TypeError, ValueError) as error:
            detail = f"missing key {error}" if isinstance(error, KeyError) else str(error)
            self.report_bad_record(image_id if image_id is not None else position, detail, unit="image id")
            return None
        return record

    def _parse_instances(
        self, annotations: list[dict], width: int, height: int, image_id: Any, skipped: Counter
    ) -> list[dict]:
        """The instances of one image; a malformed annotation raises, or is counted and skipped."""
        instances = []
        for annotation in annotations:
            if annotation.get("ignore", False):  # before any check, as MMDetection
                skipped["ignore"] += 1
                continue
            try:
                category_id = annotation.get("category_id")
                if category_id not in self._file_cat_ids:
                    raise BadAnnotation(
                        "unknown_category_id",
                        f"annotation {annotation.get('id')!r} has category_id {category_id!r}, "
                        "which is not among the file's categories",
                    )
                if category_id not in self.cat2label:  # a category left out by metainfo['classes']
                    continue
                instance = parse_coco_annotation(annotation, width, height, self.cat2label[category_id])
            except BadAnnotation as error:
                if not self.skip_bad_annotations:
                    raise BadAnnotation(
                        error.reason, f"{error} (skip_bad_annotations=True skips just this annotation)"
                    ) from error
                self._count_skip(skipped, error.reason, f"image id {image_id!r}: {error}")
                continue
            if instance is None:
                skipped["too_small"] += 1
            else:
                instances.append(instance)
        return instances
