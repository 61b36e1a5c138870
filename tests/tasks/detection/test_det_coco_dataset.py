"""CocoDataset on a hand-written COCO file: sparse ids, crowd, empty images, polygon and RLE masks."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest

from visionstack.data.base_dataset import DatasetError
from visionstack.data.datasets.coco import CocoDataset
from visionstack.data.transforms import LoadImage
from visionstack.structures.masks import BitmapMasks
from visionstack.tasks.detection.transforms import LoadAnnotations, PackDetInputs


def rle_mask() -> np.ndarray:
    mask = np.zeros((80, 100), dtype=np.uint8)
    mask[10:30, 50:90] = 1  # 20 x 40 = 800 pixels
    return mask


def uncompressed_counts(mask: np.ndarray) -> list[int]:
    flat = mask.flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    return [0, *runs] if flat[0] else runs


def coco_content() -> dict:
    compressed = mask_utils.encode(np.asfortranarray(rle_mask()))
    crowd = np.zeros((60, 70), dtype=np.uint8)
    crowd[5:15, 5:25] = 1
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "height": 80, "width": 100},
            {"id": 2, "file_name": "empty.png", "height": 60, "width": 50},
            {"id": 3, "file_name": "crowd.png", "height": 60, "width": 70},
            {"id": 4, "file_name": "tiny.png", "height": 20, "width": 20},
        ],
        "categories": [
            {"id": 90, "name": "toothbrush"},
            {"id": 1, "name": "person"},
            {"id": 5, "name": "car"},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 5, "bbox": [10, 20, 30, 40], "area": 1200, "iscrowd": 0,
             "segmentation": [[10, 20, 40, 20, 40, 60, 10, 60]]},
            {"id": 2, "image_id": 1, "category_id": 90, "bbox": [50, 10, 40, 20], "area": 800, "iscrowd": 0,
             "segmentation": {"size": [80, 100], "counts": compressed["counts"].decode("ascii")}},
            {"id": 3, "image_id": 1, "category_id": 1, "bbox": [5, 5, 0.5, 10], "area": 5, "iscrowd": 0},
            {"id": 5, "image_id": 3, "category_id": 1, "bbox": [5, 5, 20, 10], "area": 200, "iscrowd": 1,
             "segmentation": {"size": [60, 70], "counts": uncompressed_counts(crowd)}},
            {"id": 6, "image_id": 3, "category_id": 1, "bbox": [30, 30, 10, 12], "area": 120, "iscrowd": 0,
             "segmentation": [[30, 30, 40, 30, 40, 42, 30, 42]]},
            {"id": 7, "image_id": 4, "category_id": 5, "bbox": [2, 2, 5, 5], "area": 25, "iscrowd": 0,
             "segmentation": [[2, 2, 7, 2, 7, 7, 2, 7]]},
        ],
    }  # fmt: skip


@pytest.fixture
def coco_root(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances.json").write_text(json.dumps(coco_content()))
    for image in coco_content()["images"]:
        img = np.full((image["height"], image["width"], 3), image["id"] * 20, dtype=np.uint8)
        (tmp_path / "images").mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / "images" / image["file_name"]), img)
    return tmp_path


def make(root, **kwargs) -> CocoDataset:
    return CocoDataset(
        data_root=str(root), ann_file="annotations/instances.json", data_prefix=dict(img="images/"), **kwargs
    )


def test_sparse_category_ids_map_to_sorted_contiguous_labels(coco_root):
    dataset = make(coco_root)
    assert dataset.metainfo["classes"] == ("person", "car", "toothbrush")
    assert dataset.metainfo["cat_ids"] == (1, 5, 90)
    assert dataset.cat2label == {1: 0, 5: 1, 90: 2}
    assert len(dataset) == 4
    first = dataset.get_data_info(0)
    assert first["img_path"] == str(coco_root / "images" / "a.png") and first["img_id"] == 1
    assert (first["height"], first["width"]) == (80, 100)
    # The 0.5-wide box is dropped, like MMDetection.
    assert [inst["bbox_label"] for inst in first["instances"]] == [1, 2]
    assert first["instances"][0]["bbox"] == [10, 20, 40, 60]
    assert first["instances"][1]["bbox"] == [50, 10, 90, 30]
    assert dataset.get_cat_ids(0) == [1, 2]


def test_crowd_becomes_ignore_and_empty_images_are_kept_without_filter(coco_root):
    dataset = make(coco_root)
    crowd_image = dataset.get_data_info(2)
    assert [inst["ignore_flag"] for inst in crowd_image["instances"]] == [1, 0]
    assert dataset.get_data_info(1)["instances"] == []


def test_filter_cfg(coco_root):
    filtered = make(coco_root, filter_cfg=dict(filter_empty_gt=True, min_size=32))
    assert [filtered.get_data_info(i)["img_id"] for i in range(len(filtered))] == [1, 3]
    only_empty = make(coco_root, filter_cfg=dict(filter_empty_gt=True))
    assert len(only_empty) == 3
    assert len(make(coco_root, filter_cfg=dict(filter_empty_gt=True, min_size=32), test_mode=True)) == 4


def test_classes_subset_keeps_their_order(coco_root):
    dataset = make(coco_root, metainfo=dict(classes=("toothbrush", "person")))
    assert dataset.metainfo["cat_ids"] == (90, 1)
    assert [inst["bbox_label"] for inst in dataset.get_data_info(0)["instances"]] == [0]
    assert dataset.get_data_info(3)["instances"] == []  # its only annotation is a car
    with pytest.raises(DatasetError, match="no categories named"):
        make(coco_root, metainfo=dict(classes=("zebra",)))


def test_masks_decode_polygon_compressed_and_uncompressed_rle(coco_root):
    dataset = make(coco_root, pipeline=[LoadImage(), LoadAnnotations(with_mask=True)])
    results = dataset[0]
    masks = results["gt_masks"]
    assert isinstance(masks, BitmapMasks) and masks.masks.shape == (2, 80, 100)
    np.testing.assert_array_equal(masks.masks[1], rle_mask())
    np.testing.assert_array_equal(masks.get_bboxes(), results["gt_bboxes"])
    np.testing.assert_array_equal(results["gt_bboxes_labels"], [1, 2])
    crowd = dataset[2]
    assert crowd["gt_ignore_flags"].tolist() == [True, False]
    assert crowd["gt_masks"].areas.tolist() == [200, 120]
    packed = PackDetInputs()(crowd)
    sample = packed["data_samples"]
    assert sample.img_id == 3 and tuple(packed["inputs"].shape) == (3, 60, 70)
    assert sample.gt_instances.labels.tolist() == [0] and sample.ignored_instances.labels.tolist() == [0]


def test_malformed_records_name_file_and_image_id(coco_root):
    content = coco_content()
    content["annotations"][4]["bbox"] = "wide"
    (coco_root / "annotations" / "instances.json").write_text(json.dumps(content))
    with pytest.raises(DatasetError, match=r"instances\.json.*image id 3.*bbox"):
        make(coco_root)
    skipping = make(coco_root, skip_bad_samples=True)
    assert len(skipping) == 3 and skipping.bad_sample_count == 1
    content["annotations"][4]["bbox"] = [1, 1, 5, 5]
    content["annotations"][4]["category_id"] = 7
    (coco_root / "annotations" / "instances.json").write_text(json.dumps(content))
    with pytest.raises(DatasetError, match="image id 3.*category_id 7"):
        make(coco_root)
    del content["images"][0]["height"]
    (coco_root / "annotations" / "instances.json").write_text(json.dumps(content))
    with pytest.raises(DatasetError, match="image id 1: missing key 'height'"):
        make(coco_root)


def test_unknown_image_and_not_coco_file(coco_root):
    content = coco_content()
    content["annotations"][0]["image_id"] = 99
    (coco_root / "annotations" / "instances.json").write_text(json.dumps(content))
    with pytest.raises(DatasetError, match="unknown image_id"):
        make(coco_root)
    (coco_root / "annotations" / "instances.json").write_text(json.dumps({"images": []}))
    with pytest.raises(DatasetError, match="not a COCO instances file"):
        make(coco_root)


@pytest.mark.parametrize(
    ("bbox", "reason"), [([200, 5, 10, 10], "entirely outside"), ([10, 5, -4, 10], "negative size")]
)
def test_a_bad_box_is_an_error_naming_file_and_image_or_is_skipped_and_counted(coco_root, bbox, reason):
    path = coco_root / "annotations" / "instances.json"
    coco = json.loads(path.read_text())
    coco["annotations"].append(
        {"id": 99, "image_id": 1, "category_id": 1, "bbox": bbox, "area": 100, "iscrowd": 0}
    )
    path.write_text(json.dumps(coco))
    with pytest.raises(DatasetError, match=rf"instances\.json.*image id 1: annotation 99 .*{reason}"):
        make(coco_root).get_data_info(0)
    skipping = make(coco_root, skip_bad_samples=True)
    assert skipping.bad_sample_count == 1 and len(skipping) == 3


def test_hand_written_file_trains_one_iteration_and_evaluates(coco_root):
    """The hand-written file (crowd, empty image, polygon + both RLE kinds, ids 90/1/5) drives Mask R-CNN
    for one training iteration, then box and mask evaluation, whose numbers equal COCOeval run directly."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from visionstack.config import Config
    from visionstack.engine import Runner

    ann_file = str(coco_root / "annotations" / "instances.json")
    cfg = Config.fromfile("configs/detection/mask_rcnn_r18_fpn_synth.py")
    dataset = dict(
        data_root=str(coco_root) + "/", ann_file="annotations/instances.json", data_prefix=dict(img="images/")
    )
    cfg["train_dataloader"]["dataset"].update(dataset, filter_cfg=dict(filter_empty_gt=True, min_size=1))
    cfg["val_dataloader"]["dataset"].update(dataset)
    for key in ("train_dataloader", "val_dataloader"):
        cfg[key].update(batch_size=2, num_workers=0, persistent_workers=False)
    prefix = coco_root / "results"
    cfg["val_evaluator"] = dict(
        type="CocoMetric", ann_file=ann_file, metric=("bbox", "segm"), outfile_prefix=str(prefix)
    )
    cfg["model"]["rpn_head"]["test_proposal_cfg"].update(nms_pre=50, max_per_img=50)
    cfg["model"]["roi_head"]["bbox_head"]["num_classes"] = 3
    cfg["model"]["roi_head"]["mask_head"]["num_classes"] = 3
    cfg["model"]["roi_head"]["test_cfg"]["score_thr"] = (
        0.0  # untrained scores are low: keep detections to score
    )
    cfg.update(
        work_dir=str(coco_root / "work"),
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=1, val_interval=100),
        param_scheduler=[],
        default_hooks=dict(checkpoint=dict(interval=100, save_best=None), logger=dict(interval=1)),
    )
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    metrics = runner.val()

    # COCOeval needs a segmentation on every annotation; CocoMetric gives the one without (id 3) its box
    content = coco_content()
    for ann in content["annotations"]:
        if "segmentation" not in ann:
            x, y, w, h = ann["bbox"]
            ann["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    (coco_root / "filled.json").write_text(json.dumps(content))
    coco = COCO(str(coco_root / "filled.json"))
    assert len(runner.val_dataloader.dataset) == 4  # the empty image is kept for evaluation
    for kind in ("bbox", "segm"):
        results = json.loads((coco_root / f"results.{kind}.json").read_text())
        assert results and {r["category_id"] for r in results} <= {
            1,
            5,
            90,
        }  # labels mapped back to sparse ids
        evaluation = COCOeval(coco, coco.loadRes(str(coco_root / f"results.{kind}.json")), kind)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
        assert metrics[f"coco/{kind}_mAP"] == pytest.approx(evaluation.stats[0], abs=1e-6)
        assert metrics[f"coco/{kind}_mAP_50"] == pytest.approx(evaluation.stats[1], abs=1e-6)
