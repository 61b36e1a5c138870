"""OpenMMLab data conventions (issue 20, item 4): COCO ``"ignore": 1``, skipping bad annotations one by
one, VOC's ``bbox_min_size`` and ``Compose`` built from transform config dicts.

The expected values were checked against MMDetection 3.3 (``CocoDataset``, ``VOCDataset``) and
pycocotools in the side virtualenv; nothing here imports OpenMMLab.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import math

import numpy as np
import pytest

from visionstack.data.base_dataset import DatasetError
from visionstack.data.datasets.coco import BAD_ANNOTATION_REASONS, CocoDataset, parse_coco_annotation
from visionstack.data.transforms.base import Compose, RandomApply, RandomChoice, TransformConfigError
from visionstack.data.transforms.geometric import RandomFlip, Resize
from visionstack.tasks.detection.datasets import VOCDataset, parse_voc_xml
from visionstack.tasks.detection.transforms import LoadAnnotations, PackDetInputs


def write_json(path, content) -> str:
    path.write_text(json.dumps(content))  # json writes NaN as the bare token, which json.load reads back
    return str(path)


# ---- COCO "ignore": 1 ---------------------------------------------------------------------------------
def ignore_content() -> dict:
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 100, "height": 80},
            {"id": 2, "file_name": "b.png", "width": 50, "height": 50},
        ],
        "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 3, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 7, "bbox": [40, 10, 20, 20], "area": 400, "iscrowd": 0,
             "ignore": 1},
            {"id": 3, "image_id": 1, "category_id": 7, "bbox": [40, 40, 20, 20], "area": 400, "iscrowd": 1,
             "ignore": 1},
            {"id": 4, "image_id": 1, "category_id": 7, "bbox": [60, 40, 20, 20], "area": 400, "iscrowd": 1},
            {"id": 5, "image_id": 2, "category_id": 3, "bbox": [5, 5, 10, 10], "area": 100, "iscrowd": 0,
             "ignore": 1},
            {"id": 6, "image_id": 2, "category_id": 3, "bbox": [5, 5, 0.5, 10], "area": 5, "iscrowd": 0},
        ],
    }  # fmt: skip


def test_coco_ignore_annotations_are_dropped_for_training_as_mmdetection(tmp_path):
    """MMDetection's CocoDataset drops ``ignore: 1`` before anything else (with or without iscrowd): on
    this file it gives image 1 exactly the two instances below and image 2 none."""
    dataset = CocoDataset(ann_file=write_json(tmp_path / "c.json", ignore_content()))
    first, second = dataset.get_data_info(0), dataset.get_data_info(1)
    assert first["instances"] == [
        {"bbox": [10.0, 10.0, 30.0, 30.0], "bbox_label": 0, "ignore_flag": 0},
        {"bbox": [60.0, 40.0, 80.0, 60.0], "bbox_label": 1, "ignore_flag": 1},  # iscrowd only: ignored region
    ]
    assert second["instances"] == []
    assert dataset.skipped_annotations == {"ignore": 3, "too_small": 1}
    assert parse_coco_annotation({"bbox": [1, 1, 5, 5], "area": 25, "ignore": 1}, 10, 10, 0) is None
    # never a positive: the packed training sample holds only the plain box and the crowd region
    packed = PackDetInputs()(LoadAnnotations()(dict(first, img=np.zeros((80, 100, 3), np.uint8))))
    sample = packed["data_samples"]
    assert sample.gt_instances.bboxes.tolist() == [[10.0, 10.0, 30.0, 30.0]]
    assert sample.ignored_instances.bboxes.tolist() == [[60.0, 40.0, 80.0, 60.0]]


@pytest.mark.parametrize("backend", ["pycocotools", "faster_coco_eval"])
def test_coco_metric_treats_ignore_as_pycocotools_does(tmp_path, backend):
    """pycocotools' COCOeval sets each ground truth's ``ignore`` from ``iscrowd`` alone, so an
    ``ignore: 1, iscrowd: 0`` box is an ordinary ground truth in evaluation: missing it halves recall."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from visionstack.structures import DataSample, InstanceData
    from visionstack.tasks.detection.metrics import CocoMetric

    content = ignore_content()
    path = write_json(tmp_path / "c.json", content)
    detections = [([10, 10, 30, 30], 0.9, 0), ([60, 40, 80, 60], 0.8, 1)]  # the plain box and the crowd
    metric = CocoMetric(ann_file=path, backend=backend)
    metric.dataset_meta = {"classes": ("cat", "dog"), "cat_ids": (3, 7)}
    for img_id, dets in ((1, detections), (2, [])):
        sample = DataSample(metainfo={"img_id": img_id, "ori_shape": (80, 100)})
        sample.pred_instances = InstanceData(
            bboxes=np.array([d[0] for d in dets], np.float32).reshape(-1, 4),
            scores=np.array([d[1] for d in dets], np.float32),
            labels=np.array([d[2] for d in dets], np.int64),
        )
        metric.process(None, [sample])
    values = metric.evaluate(2)

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(path)
        results = [
            {"image_id": 1, "category_id": (3, 7)[label], "bbox": [x1, y1, x2 - x1, y2 - y1], "score": score}
            for (x1, y1, x2, y2), score, label in detections
        ]
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(results)), "bbox")
        coco_eval.evaluate(), coco_eval.accumulate(), coco_eval.summarize()
    assert values["coco/bbox_mAP"] == pytest.approx(coco_eval.stats[0], abs=1e-6)
    assert values["coco/bbox_AR@100"] == pytest.approx(coco_eval.stats[8], abs=1e-6)
    # cat: 1 of its 3 gts found (the ignore-flagged box and the sub-pixel one, which training drops, are
    # ordinary gts here); dog: only the ignore-flagged box is a gt (the other is a crowd region): missed
    assert values["coco/bbox_AR@100"] == pytest.approx((1 / 3 + 0.0) / 2)


# ---- skipping bad annotations one by one ------------------------------------------------------------
BAD = {
    "unknown_category_id": {"category_id": 77},
    "bbox_not_finite_xywh": {"bbox": [1, 2, 3]},
    "bbox_negative_size": {"bbox": [10, 5, -4, 10]},
    "bbox_outside_image": {"bbox": [200, 5, 10, 10]},
    "bad_segmentation": {"segmentation": "polygon?"},
}


def bad_content() -> dict:
    content = ignore_content()
    content["annotations"] = content["annotations"][:1]  # image 1: one good box
    base = {"image_id": 1, "category_id": 3, "bbox": [12, 12, 8, 8], "area": 64, "iscrowd": 0}
    for offset, change in enumerate(BAD.values()):
        content["annotations"].append({**base, "id": 10 + offset, **change})
    content["annotations"] += [
        {**base, "id": 20, "bbox": [12, math.nan, 8, 8]},  # NaN: not finite
        {**base, "id": 21, "image_id": 99},  # an image that is not in the file
        {**base, "id": 22, "bbox": [5, 5, 0, 8]},  # zero width: dropped in every mode, as MMDetection
        {**base, "id": 23, "image_id": 2, "bbox": [1, 1, 10, 10]},
    ]
    return content


MESSAGES = {  # annotation id -> what the error says about it
    10: "category_id 77, which is not among the file's categories",
    11: r"bbox \[1, 2, 3\]; expected \[x, y, w, h\] finite numbers",
    12: "of negative size",
    13: "entirely outside the 100x80 image",
    14: "segmentation must be a list of polygons or an RLE dict",
    20: r"bbox \[12, nan, 8, 8\]; expected \[x, y, w, h\] finite numbers",
}


@pytest.mark.parametrize("annotation_id", sorted(MESSAGES))
def test_a_bad_annotation_is_an_error_naming_file_image_and_annotation(tmp_path, annotation_id):
    content = ignore_content()
    content["annotations"] = [a for a in bad_content()["annotations"] if a["id"] in (1, annotation_id)]
    path = write_json(tmp_path / "c.json", content)
    message = MESSAGES[annotation_id]
    with pytest.raises(
        DatasetError,
        match=rf"c\.json', image id 1: annotation {annotation_id}\b.*{message}.*skip_bad_annotations=True",
    ):
        CocoDataset(ann_file=path)


def test_skip_bad_annotations_keeps_the_image_and_counts_per_reason(tmp_path, caplog):
    path = write_json(tmp_path / "c.json", bad_content())
    with pytest.raises(DatasetError, match="unknown image_id"):
        CocoDataset(ann_file=path)
    with caplog.at_level(logging.WARNING, logger="visionstack"):
        dataset = CocoDataset(ann_file=path, skip_bad_annotations=True)
    assert len(dataset) == 2 and dataset.bad_sample_count == 0
    assert [inst["bbox"] for inst in dataset.get_data_info(0)["instances"]] == [[10.0, 10.0, 30.0, 30.0]]
    assert [inst["bbox"] for inst in dataset.get_data_info(1)["instances"]] == [[1.0, 1.0, 11.0, 11.0]]
    expected = {reason: 1 for reason in BAD_ANNOTATION_REASONS}
    expected.update(bbox_not_finite_xywh=2, too_small=1)
    assert dataset.skipped_annotations == expected
    warnings = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(warnings) == len(BAD_ANNOTATION_REASONS)  # one per reason, each naming the file and an example
    assert all("c.json" in w for w in warnings)
    assert any("bbox_outside_image" in w and "image id 1: annotation 13" in w for w in warnings)


def test_skip_bad_samples_alone_still_drops_the_whole_image(tmp_path):
    content = bad_content()
    content["annotations"] = [a for a in content["annotations"] if a["id"] != 21]
    dataset = CocoDataset(ann_file=write_json(tmp_path / "c.json", content), skip_bad_samples=True)
    assert len(dataset) == 1 and dataset.get_data_info(0)["img_id"] == 2 and dataset.bad_sample_count == 1


# ---- VOC bbox_min_size ----------------------------------------------------------------------------------
VOC_XML = """<annotation><size><width>200</width><height>200</height></size>
<object><name>dog</name><difficult>0</difficult>
  <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>33</xmax><ymax>40</ymax></bndbox></object>
<object><name>dog</name><difficult>0</difficult>
  <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>32</xmax><ymax>40</ymax></bndbox></object>
<object><name>cat</name><difficult>0</difficult>
  <bndbox><xmin>10.7</xmin><ymin>1</ymin><xmax>42.2</xmax><ymax>40</ymax></bndbox></object>
<object><name>cat</name><difficult>0</difficult>
  <bndbox><xmin>10</xmin><ymin>10</ymin><xmax>100</xmax><ymax>41</ymax></bndbox></object>
<object><name>cat</name><difficult>1</difficult>
  <bndbox><xmin>10</xmin><ymin>10</ymin><xmax>100</xmax><ymax>100</ymax></bndbox></object>
</annotation>"""


@pytest.fixture
def voc_root(tmp_path):
    root = tmp_path / "VOC2007"
    for folder in ("ImageSets/Main", "Annotations", "JPEGImages"):
        (root / folder).mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("000001\n")
    (root / "Annotations" / "000001.xml").write_text(VOC_XML)
    return tmp_path


def voc(root, **kwargs) -> VOCDataset:
    return VOCDataset(
        data_root=str(root), ann_file="VOC2007/ImageSets/Main/train.txt",
        data_prefix=dict(sub_data_root=str(root / "VOC2007")), **kwargs,
    )  # fmt: skip


def test_voc_bbox_min_size_marks_small_objects_ignored_as_mmdetection(voc_root):
    """MMDetection 3.3 (filter_cfg=dict(bbox_min_size=32)) gives this file ignore flags 0, 1, 0, 1, 1:
    widths int(xmax) - int(xmin) = 32, 31, 32, 90 and heights 39, 39, 39, 31, 90; small boxes are kept."""
    dataset = voc(voc_root, filter_cfg=dict(bbox_min_size=32))
    instances = dataset.get_data_info(0)["instances"]
    assert [inst["ignore_flag"] for inst in instances] == [0, 1, 0, 1, 1]
    assert [inst["bbox"] for inst in instances][:2] == [[0.0, 0.0, 33.0, 40.0], [0.0, 0.0, 32.0, 40.0]]
    without = voc(voc_root).get_data_info(0)["instances"]
    assert [inst["ignore_flag"] for inst in without] == [0, 0, 0, 0, 1]  # difficult only
    assert [inst["bbox"] for inst in without] == [inst["bbox"] for inst in instances]
    # no effect in test mode (filter_cfg never applies there; MMDetection refuses the option there)
    tested = voc(voc_root, filter_cfg=dict(bbox_min_size=32), test_mode=True).get_data_info(0)["instances"]
    assert [inst["ignore_flag"] for inst in tested] == [0, 0, 0, 0, 1]
    label_of = {"dog": 0, "cat": 1}
    parsed = parse_voc_xml(str(voc_root / "VOC2007" / "Annotations" / "000001.xml"), label_of, 33)
    assert [inst["ignore_flag"] for inst in parsed["instances"]] == [1, 1, 1, 1, 1]
    # an image whose objects are all ignored is dropped by filter_empty_gt
    assert len(voc(voc_root, filter_cfg=dict(bbox_min_size=33, filter_empty_gt=True))) == 0


def test_bbox_min_size_is_a_voc_filter_key_only(voc_root, tmp_path):
    with pytest.raises(ValueError, match="unknown filter_cfg key.*bbox_min_siz"):
        voc(voc_root, filter_cfg=dict(bbox_min_siz=32))
    with pytest.raises(ValueError, match="unknown filter_cfg key.*bbox_min_size"):
        CocoDataset(
            ann_file=write_json(tmp_path / "c.json", ignore_content()), filter_cfg=dict(bbox_min_size=3)
        )


# ---- Compose from config dicts ----------------------------------------------------------------------
def test_compose_builds_transform_config_dicts_mixed_with_built_transforms():
    pipeline = Compose(
        [dict(type="Resize", scale=(64, 48)), RandomFlip(prob=1.0), dict(type="RandomFlip", prob=0.0)]
    )
    assert isinstance(pipeline.transforms[0], Resize) and pipeline.transforms[0].scale == (64, 48)
    assert isinstance(pipeline.transforms[2], RandomFlip) and pipeline.transforms[2].prob == 0.0
    img = np.arange(10 * 20 * 3, dtype=np.uint8).reshape(10, 20, 3)
    out = pipeline({"img": img.copy(), "img_shape": (10, 20)})
    reference = Compose([Resize(scale=(64, 48)), RandomFlip(prob=1.0)])(
        {"img": img.copy(), "img_shape": (10, 20)}
    )
    assert out["img_shape"] == (48, 64) and np.array_equal(out["img"], reference["img"])
    single = Compose(dict(type="Resize", scale=8))  # one dict: a pipeline of one, as MMCV's Compose
    assert len(single) == 1 and single({"img": img, "img_shape": (10, 20)})["img_shape"] == (8, 8)
    assert len(RandomApply(dict(type="RandomFlip", prob=1.0), prob=1.0).transforms) == 1
    assert isinstance(
        RandomChoice([dict(type="RandomFlip"), [dict(type="Resize", scale=4)]]).transforms[1].transforms[0],
        Resize,
    )


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        (
            dict(type="Resise", scale=4),
            r"transforms\[1\] is a dict that could not be built: \{'type': 'Resise'.*Resize",
        ),
        (dict(type="Resize", scael=4), r"transforms\[1\] .*has no argument 'scael'"),
        (dict(type="Resize"), r"transforms\[1\] .*exactly one of `scale` and `scale_factor`"),
        (dict(scale=4), r"transforms\[1\] is a dict without `type`"),
    ],
)
def test_compose_names_the_bad_entry(entry, match):
    with pytest.raises(TransformConfigError, match=match) as caught:
        Compose([RandomFlip(), entry])
    assert isinstance(caught.value, TypeError)  # as before dicts were accepted
    with pytest.raises(TypeError, match=r"transforms\[0\] is a int, not a callable"):
        Compose([3])
