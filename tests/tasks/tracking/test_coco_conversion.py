"""MOT sequences -> COCO video annotations (the detector's training data)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from visionstack.data.datasets.coco import CocoDataset
from visionstack.tasks.tracking.coco_conversion import mot_to_coco
from visionstack.tasks.tracking.mot_format import SequenceInfo, write_gt, write_seqinfo


@pytest.fixture
def split(tmp_path):
    """One 3-frame MOT17-like sequence: pedestrians (one not to consider, one barely visible), a distractor
    (class 7, static person) and a car (class 3), one box past the left border."""
    import cv2

    seq = tmp_path / "train" / "SEQ-01"
    (seq / "img1").mkdir(parents=True)
    for frame in (1, 2, 3):
        cv2.imwrite(str(seq / "img1" / f"{frame:06d}.jpg"), np.zeros((100, 200, 3), np.uint8))
    write_seqinfo(seq, SequenceInfo("SEQ-01", 10.0, 3, 200, 100))
    frames = np.array([1, 1, 1, 1, 2, 2, 3])
    ids = np.array([1, 2, 3, 4, 1, 5, 1])
    boxes = np.array([[-10, 10, 30, 90], [50, 10, 70, 60], [80, 10, 100, 60], [120, 40, 180, 70],
                      [5, 10, 45, 90], [60, 20, 80, 70], [20, 10, 60, 90]], dtype=float)  # fmt: skip
    classes = np.array([1, 1, 7, 3, 1, 1, 1])
    visibility = np.array([0.75, 1.0, 1.0, 1.0, 1.0, 0.1, 1.0])
    consider = np.array([1, 0, 1, 1, 1, 1, 1])
    write_gt(seq / "gt" / "gt.txt", frames, ids, boxes, classes, visibility, consider)
    return tmp_path / "train"


def test_pedestrians_with_ignored_boxes_as_crowds(split, tmp_path):
    out = tmp_path / "annotations" / "train_cocoformat.json"
    counts = mot_to_coco(split, out, class_ids=(1,))
    content = json.loads(out.read_text())
    assert counts == {"images": 3, "annotations": 6, "instances": 4}  # the car is left out
    assert [image["file_name"] for image in content["images"]][0] == "train/SEQ-01/img1/000001.jpg"
    assert [image["frame_id"] for image in content["images"]] == [0, 1, 2]
    by_mot_id = {(a["image_id"], a["mot_instance_id"]): a for a in content["annotations"]}
    assert by_mot_id[(1, 1)]["bbox"] == [0.0, 10.0, 30.0, 80.0]  # clipped to the image
    assert by_mot_id[(1, 1)]["iscrowd"] == 0
    assert by_mot_id[(1, 2)]["iscrowd"] == 1  # not to be considered
    assert by_mot_id[(1, 3)]["iscrowd"] == 1 and by_mot_id[(1, 3)]["category_id"] == 1  # a distractor
    assert by_mot_id[(2, 5)]["iscrowd"] == 1  # 10 % visible
    assert by_mot_id[(1, 1)]["instance_id"] == by_mot_id[(3, 1)]["instance_id"]
    # the project's COCO reader takes it: crowds become ignored boxes
    dataset = CocoDataset(
        ann_file=str(out), data_root=str(tmp_path), data_prefix=dict(img=""), test_mode=True
    )
    assert len(dataset) == 3 and dataset.metainfo["classes"] == ("pedestrian",)


def test_several_classes(split, tmp_path):
    out = tmp_path / "multi.json"
    mot_to_coco(split, out, class_ids=(1, 3), class_names=("pedestrian", "car"))
    content = json.loads(out.read_text())
    assert [c["id"] for c in content["categories"]] == [1, 3]
    assert sum(a["category_id"] == 3 for a in content["annotations"]) == 1
