"""VOCDataset on a tiny hand-written VOCdevkit tree."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visionstack.data.base_dataset import DatasetError
from visionstack.tasks.detection.datasets import VOC_CLASSES, VOCDataset

XML_WITH_SIZE = """<annotation>
  <size><width>50</width><height>40</height><depth>3</depth></size>
  <object><name>dog</name><difficult>0</difficult>
    <bndbox><xmin>1</xmin><ymin>2</ymin><xmax>20</xmax><ymax>30</ymax></bndbox></object>
  <object><name>person</name><difficult>1</difficult>
    <bndbox><xmin>10.5</xmin><ymin>5</ymin><xmax>49</xmax><ymax>40</ymax></bndbox></object>
  <object><name>unicorn</name>
    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>
</annotation>"""

XML_WITHOUT_SIZE = """<annotation>
  <object><name>car</name><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>8</xmax><ymax>9</ymax></bndbox></object>
</annotation>"""


@pytest.fixture
def voc_root(tmp_path):
    root = tmp_path / "VOCdevkit" / "VOC2007"
    for folder in ("ImageSets/Main", "Annotations", "JPEGImages"):
        (root / folder).mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("000001\n000002\n")
    (root / "Annotations" / "000001.xml").write_text(XML_WITH_SIZE)
    (root / "Annotations" / "000002.xml").write_text(XML_WITHOUT_SIZE)
    cv2.imwrite(str(root / "JPEGImages" / "000001.jpg"), np.zeros((40, 50, 3), np.uint8))
    cv2.imwrite(str(root / "JPEGImages" / "000002.jpg"), np.zeros((12, 16, 3), np.uint8))
    return tmp_path / "VOCdevkit"


def test_voc_records(voc_root):
    dataset = VOCDataset(
        data_root=str(voc_root),
        ann_file="VOC2007/ImageSets/Main/train.txt",
        data_prefix=dict(sub_data_root="VOC2007/"),
    )
    assert dataset.metainfo["classes"] == VOC_CLASSES and len(VOC_CLASSES) == 20
    first = dataset.get_data_info(0)
    assert first["img_path"] == str(voc_root / "VOC2007" / "JPEGImages" / "000001.jpg")
    assert (first["width"], first["height"]) == (50, 40)
    # 1-based inclusive pixel indices -> 0-based continuous: subtract 1 from xmin, ymin only.
    assert [inst["bbox"] for inst in first["instances"]] == [[0, 1, 20, 30], [9.5, 4, 49, 40]]
    assert [inst["bbox_label"] for inst in first["instances"]] == [
        VOC_CLASSES.index("dog"),
        VOC_CLASSES.index("person"),
    ]
    assert [inst["ignore_flag"] for inst in first["instances"]] == [0, 1]
    second = dataset.get_data_info(1)
    assert (second["height"], second["width"]) == (12, 16)  # read from the image
    assert second["instances"][0]["bbox"] == [2, 3, 8, 9]


def test_voc_default_sub_root_and_filter(voc_root):
    dataset = VOCDataset(
        data_root=str(voc_root), ann_file="VOC2007/ImageSets/Main/train.txt", filter_cfg=dict(min_size=20)
    )
    assert len(dataset) == 1 and dataset.get_data_info(0)["img_id"] == "000001"


def test_voc_bad_xml_names_the_line_and_id(voc_root):
    (voc_root / "VOC2007" / "Annotations" / "000002.xml").write_text("<annotation><object>")
    with pytest.raises(DatasetError, match="line 2: image id '000002'"):
        VOCDataset(data_root=str(voc_root), ann_file="VOC2007/ImageSets/Main/train.txt")
    skipping = VOCDataset(
        data_root=str(voc_root), ann_file="VOC2007/ImageSets/Main/train.txt", skip_bad_samples=True
    )
    assert len(skipping) == 1 and skipping.bad_sample_count == 1
