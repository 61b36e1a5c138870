"""Pascal VOC: XML annotations listed by an image-set file.

Layout (VOCdevkit)::

    <data_root>/<sub_data_root>/ImageSets/Main/<split>.txt   one image id per line
    <data_root>/<sub_data_root>/Annotations/<id>.xml         size and objects
    <data_root>/<sub_data_root>/JPEGImages/<id>.jpg

VOC boxes are 1-based inclusive pixel indices; an object covering columns ``xmin..xmax`` spans
the continuous interval ``[xmin - 1, xmax]`` in our 0-based pixel coordinates, so 1 is subtracted
from ``xmin`` and ``ymin`` only. ``difficult`` objects are kept with ``ignore_flag=1``.

``filter_cfg=dict(bbox_min_size=N)`` (MMDetection's ``XMLDataset`` option, e.g. ``bbox_min_size=32``
in its ``voc0712`` config) marks training objects narrower or lower than N pixels as ignored
(``ignore_flag=1``): they are kept, like difficult ones, not dropped. The size is measured as
MMDetection measures it, on the XML's own numbers truncated to integers: ``int(xmax) - int(xmin)``
(one less than the object's width in pixels). Like every ``filter_cfg`` key it has no effect in test mode
(where MMDetection refuses the option).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from typing import Any, ClassVar

import cv2

from ...data.base_dataset import BaseDataset
from ...registry import DATASETS

__all__ = ["VOC_CLASSES", "VOCDataset", "parse_voc_xml"]

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)  # fmt: skip


def _number(node: ElementTree.Element, tag: str, xml_path: str) -> float:
    child = node.find(tag)
    if child is None or child.text is None:
        raise ValueError(f"{xml_path}: <{node.tag}> has no <{tag}>")
    return float(child.text)


def parse_voc_xml(xml_path: str, label_of: Mapping[str, int], bbox_min_size: float | None = None) -> dict:
    """Read one VOC XML file.

    Args:
        xml_path: the annotation file.
        label_of: class name -> label; objects of other classes are skipped.
        bbox_min_size: mark objects with ``int(xmax) - int(xmin)`` or ``int(ymax) - int(ymin)`` below
            it as ignored (module docstring); None marks none.

    Returns:
        ``{"width", "height", "instances"}`` (width/height None when ``<size>`` is missing or zero),
        instances ``{"bbox": [x1, y1, x2, y2] (0-based, continuous), "bbox_label", "ignore_flag"}``.
    """
    root = ElementTree.parse(xml_path).getroot()
    size = root.find("size")
    width = height = None
    if size is not None:
        width, height = int(_number(size, "width", xml_path)), int(_number(size, "height", xml_path))
    instances = []
    for obj in root.findall("object"):
        name_node = obj.find("name")
        if name_node is None or name_node.text is None:
            raise ValueError(f"{xml_path}: an <object> has no <name>")
        name = name_node.text.strip()
        if name not in label_of:
            continue
        box = obj.find("bndbox")
        if box is None:
            raise ValueError(f"{xml_path}: object {name!r} has no <bndbox>")
        x1, y1, x2, y2 = (_number(box, tag, xml_path) for tag in ("xmin", "ymin", "xmax", "ymax"))
        difficult = obj.find("difficult")
        is_difficult = difficult is not None and difficult.text is not None and int(difficult.text) == 1
        too_small = bbox_min_size is not None and min(int(x2) - int(x1), int(y2) - int(y1)) < bbox_min_size
        instances.append(
            {
                "bbox": [x1 - 1.0, y1 - 1.0, x2, y2],
                "bbox_label": int(label_of[name]),
                "ignore_flag": 1 if is_difficult or too_small else 0,
            }
        )
    return {"width": width or None, "height": height or None, "instances": instances}


@DATASETS.register()
class VOCDataset(BaseDataset):
    """Pascal VOC detection (the 20 classes) from an image-set file and XML annotations.

    Args:
        ann_file: the image-set file, e.g. ``VOC2007/ImageSets/Main/trainval.txt`` (relative to ``data_root``).
        data_prefix: ``dict(sub_data_root="VOC2007/")``: the folder holding ``Annotations`` and
            ``JPEGImages``; by default the folder three levels above ``ann_file``.
        img_subdir: image folder name inside ``sub_data_root``.
        ann_subdir: XML folder name inside ``sub_data_root``.
        img_suffix: the image file extension.
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments; ``filter_cfg`` also takes
            ``bbox_min_size`` (module docstring).
    """

    METAINFO: ClassVar[dict] = {"classes": VOC_CLASSES}
    FILTER_KEYS: ClassVar[tuple[str, ...]] = (*BaseDataset.FILTER_KEYS, "bbox_min_size")

    def __init__(
        self,
        ann_file: str = "",
        data_prefix: Mapping[str, str] | None = None,
        img_subdir: str = "JPEGImages",
        ann_subdir: str = "Annotations",
        img_suffix: str = ".jpg",
        **kwargs: Any,
    ) -> None:
        self.img_subdir = img_subdir
        self.ann_subdir = ann_subdir
        self.img_suffix = img_suffix
        super().__init__(ann_file=ann_file, data_prefix=dict(data_prefix or {}), **kwargs)

    def _sub_root(self) -> str:
        if self.data_prefix.get("sub_data_root"):
            return self.data_prefix["sub_data_root"]
        return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(self.ann_file))))

    def load_data_list(self) -> list[dict]:
        """One record per listed image id: ``img_path, img_id, xml_path, width, height, instances``."""
        if not self.ann_file:
            raise ValueError("VOCDataset: pass ann_file= (an ImageSets/Main/<split>.txt file)")
        try:
            with open(self.ann_file, encoding="utf-8") as handle:
                image_ids = [line.split()[0] for line in handle if line.strip()]
        except FileNotFoundError as error:
            raise FileNotFoundError(f"VOCDataset: image-set file not found: {self.ann_file!r}") from error
        sub_root = self._sub_root()
        label_of = {name: label for label, name in enumerate(self._metainfo["classes"])}
        bbox_min_size = None if self.test_mode else (self.filter_cfg or {}).get("bbox_min_size")
        records = []
        for line_number, image_id in enumerate(image_ids, start=1):
            img_path = os.path.join(sub_root, self.img_subdir, image_id + self.img_suffix)
            xml_path = os.path.join(sub_root, self.ann_subdir, image_id + ".xml")
            try:
                parsed = parse_voc_xml(xml_path, label_of, bbox_min_size)
                if parsed["width"] is None or parsed["height"] is None:
                    parsed["height"], parsed["width"] = _image_size(img_path)
            except (OSError, ValueError, ElementTree.ParseError) as error:
                self.report_bad_record(line_number, f"image id {image_id!r}: {error}", unit="line")
                continue
            records.append({"img_path": img_path, "img_id": image_id, "xml_path": xml_path, **parsed})
        return records


def _image_size(img_path: str) -> tuple[int, int]:
    """(h, w) of an image, for XML files without a usable ``<size>``."""
    img = cv2.imread(img_path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise OSError(f"the XML has no <size> and the image {img_path!r} cannot be read")
    return int(img.shape[0]), int(img.shape[1])
