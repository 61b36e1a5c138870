"""Per-class metric values returned as keys (issue 20, item 4), each checked against a direct computation:
COCOeval run on one category at a time, the hand-computed VOC case, and a confusion-matrix reference."""

from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest
import torch

from visionstack.structures import DataSample, InstanceData, PixelData
from visionstack.tasks.detection.metrics import CocoMetric
from visionstack.tasks.detection.metrics.voc_metric import VOCMetric
from visionstack.tasks.segmentation.metrics import IoUMetric

# ---- COCO ------------------------------------------------------------------------------------------------
CLASSES = ("person", "traffic light", "dog")
CAT_IDS = (1, 10, 18)


def coco_set(tmp_path) -> tuple[str, list[DataSample]]:
    """Six images; small, medium and large boxes; jittered detections with misses and false positives.
    ``dog`` has no small box, so its ``APs`` is COCOeval's -1."""
    rng = np.random.default_rng(0)
    images, annotations, samples = [], [], []
    for img_id in range(1, 7):
        images.append({"id": img_id, "file_name": f"{img_id}.png", "width": 200, "height": 160})
        boxes, labels = [], []
        for label, sizes in ((0, (8, 20, 70)), (1, (12, 40)), (2, (45, 100))):
            for size in sizes:
                x, y = rng.uniform(0, 200 - size), rng.uniform(0, 160 - size * 0.6)
                boxes.append([x, y, x + size, y + size * 0.6])
                labels.append(label)
        for box, label in zip(boxes, labels):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append(
                {"id": len(annotations) + 1, "image_id": img_id, "category_id": CAT_IDS[label],
                 "bbox": [box[0], box[1], w, h], "area": w * h, "iscrowd": 0}
            )  # fmt: skip
        keep = rng.random(len(boxes)) < 0.8
        det = np.array(boxes)[keep] + rng.normal(0, 2.0, (int(keep.sum()), 4))
        det = np.concatenate([det, [[5, 5, 60, 50]]])  # a false positive
        sample = DataSample(metainfo={"img_id": img_id, "ori_shape": (160, 200)})
        sample.pred_instances = InstanceData(
            bboxes=torch.tensor(det, dtype=torch.float32),
            scores=torch.tensor(rng.uniform(0.1, 1.0, len(det)), dtype=torch.float32),
            labels=torch.tensor(list(np.array(labels)[keep]) + [img_id % 3], dtype=torch.long),
        )
        samples.append(sample)
    categories = [{"id": cat_id, "name": name} for cat_id, name in zip(CAT_IDS, CLASSES)]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return str(path), samples


def cocoeval_of_one_category(path: str, samples: list[DataSample], cat_id: int) -> np.ndarray:
    """COCOeval's twelve ``stats`` with ``params.catIds = [cat_id]``: the direct per-class computation."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    results = []
    for sample in samples:
        pred = sample.pred_instances
        for (x1, y1, x2, y2), score, label in zip(
            pred.bboxes.tolist(), pred.scores.tolist(), pred.labels.tolist()
        ):
            results.append(
                {"image_id": sample.img_id, "category_id": CAT_IDS[label], "bbox": [x1, y1, x2 - x1, y2 - y1],
                 "score": score}
            )  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(path)
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(results)), "bbox")
        coco_eval.params.catIds = [cat_id]
        coco_eval.evaluate(), coco_eval.accumulate(), coco_eval.summarize()
    return coco_eval.stats


def run(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


@pytest.mark.parametrize("backend", ["pycocotools", "faster_coco_eval"])
def test_coco_classwise_returns_every_table_column_per_class(tmp_path, backend):
    path, samples = coco_set(tmp_path)
    plain = CocoMetric(ann_file=path, backend=backend)
    plain.dataset_meta = {"classes": CLASSES, "cat_ids": CAT_IDS}
    metric = CocoMetric(ann_file=path, classwise=True, backend=backend)
    metric.dataset_meta = {"classes": CLASSES, "cat_ids": CAT_IDS}
    base, values = run(plain, samples), run(metric, samples)
    assert {k: values[k] for k in base} == base  # the existing keys are unchanged
    stems = ("AP", "AP50", "AP75", "APs", "APm", "APl")  # MMDetection's table: mAP, mAP_50 ... mAP_l
    assert len(values) == len(base) + len(stems) * len(CLASSES)
    for cat_id, name in zip(CAT_IDS, CLASSES):
        stats = cocoeval_of_one_category(path, samples, cat_id)
        for stem, expected in zip(stems, stats[:6]):
            assert values[f"coco/bbox_{stem}_{name.replace(' ', '_')}"] == pytest.approx(expected, abs=1e-6)
    assert values["coco/bbox_APs_dog"] == -1.0 and values["coco/bbox_AP_dog"] > 0
    per_class = [values[f"coco/bbox_AP_{n.replace(' ', '_')}"] for n in CLASSES]
    assert np.mean(per_class) == pytest.approx(values["coco/bbox_mAP"], abs=1e-6)


def test_coco_classwise_without_thresholds_050_075_leaves_those_columns_out(tmp_path):
    path, samples = coco_set(tmp_path)
    metric = CocoMetric(ann_file=path, classwise=True, iou_thrs=[0.6, 0.7])
    metric.dataset_meta = {"classes": CLASSES, "cat_ids": CAT_IDS}
    values = run(metric, samples)
    assert "coco/bbox_AP_person" in values and "coco/bbox_APl_person" in values
    assert not any(key.startswith(("coco/bbox_AP50_", "coco/bbox_AP75_")) for key in values)


# ---- VOC -------------------------------------------------------------------------------------------------
def voc_sample(gt_boxes, gt_labels, det_boxes, det_scores, det_labels) -> DataSample:
    data = DataSample(metainfo={"img_id": 0, "ori_shape": (100, 100)})
    data.gt_instances = InstanceData(
        bboxes=torch.tensor(gt_boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(gt_labels, dtype=torch.long),
    )
    data.pred_instances = InstanceData(
        bboxes=torch.tensor(det_boxes, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(det_scores, dtype=torch.float32),
        labels=torch.tensor(det_labels, dtype=torch.long),
    )
    return data


# class "dining table": 3 gts, detections ranked TP, FP, TP, FP (duplicate): recall 1/3, 1/3, 2/3, 2/3,
# precision 1, 1/2, 2/3, 1/2 -> area AP = 1/3 + 1/3 * 2/3. class "dog": found exactly -> AP 1.
# class "cat": no ground truth, one detection -> no key (it is not in the mean either).
TABLE_GTS = [[0, 0, 9, 9], [20, 20, 29, 29], [40, 40, 49, 49]]
TABLE_DETS = [[0, 0, 9, 9], [70, 70, 79, 79], [20, 20, 29, 29], [1, 1, 9, 9]]
TABLE_AP = 1 / 3 + 1 / 3 * 2 / 3


def test_voc_classwise_returns_the_ap_of_each_class_with_ground_truth():
    sample = voc_sample(
        TABLE_GTS + [[60, 0, 90, 30]],
        [0, 0, 0, 1],
        TABLE_DETS + [[60, 0, 90, 30], [50, 50, 60, 60]],
        [0.9, 0.8, 0.7, 0.6, 0.95, 0.5],
        [0, 0, 0, 0, 1, 2],
    )
    metric = VOCMetric(classwise=True, iou_thrs=[0.5, 0.75])
    metric.dataset_meta = {"classes": ("dining table", "dog", "cat")}
    values = run(metric, [sample])
    assert values["pascal_voc/AP50_dining_table"] == pytest.approx(TABLE_AP)
    assert values["pascal_voc/AP50_dog"] == pytest.approx(1.0)
    assert values["pascal_voc/AP75_dog"] == pytest.approx(1.0)
    assert "pascal_voc/AP50_cat" not in values
    assert values["pascal_voc/AP50"] == pytest.approx((TABLE_AP + 1.0) / 2)
    plain = VOCMetric(iou_thrs=[0.5, 0.75])
    plain.dataset_meta = {"classes": ("dining table", "dog", "cat")}
    base = run(plain, [sample])
    assert {k: values[k] for k in base} == base and len(values) == len(base) + 4
    scaled = VOCMetric(classwise=True, scale_ranges=[(0, 15), (15, 100)])
    scaled.dataset_meta = {"classes": ("dining table", "dog", "cat")}
    values = run(scaled, [sample])
    assert values["pascal_voc/AP50_0-15_dining_table"] == pytest.approx(TABLE_AP)
    assert values["pascal_voc/AP50_15-100_dog"] == pytest.approx(1.0)
    assert "pascal_voc/AP50_0-15_dog" not in values  # its box is 31 x 31: no gt in that range


# ---- segmentation ---------------------------------------------------------------------------------------
SEG_CLASSES = ("sky", "road", "traffic sign", "absent")


def confusion_reference(preds, labels, num_classes) -> dict[str, np.ndarray]:
    pred = np.concatenate([p.ravel() for p in preds]).astype(np.int64)
    label = np.concatenate([g.ravel() for g in labels]).astype(np.int64)
    keep = label != 255
    confusion = np.zeros((num_classes, num_classes))
    np.add.at(confusion, (label[keep], pred[keep]), 1)
    tp, predicted, actual = np.diag(confusion), confusion.sum(0), confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, recall = tp / predicted, tp / actual
        return {
            "IoU": 100 * tp / (predicted + actual - tp),
            "Acc": 100 * recall,
            "Dice": 100 * 2 * tp / (predicted + actual),
            "Fscore": 100 * 2 * precision * recall / (precision + recall),
            "Precision": 100 * precision,
            "Recall": 100 * recall,
        }


def test_segmentation_classwise_returns_the_table_per_class():
    rng = np.random.default_rng(1)
    preds, labels, samples = [], [], []
    for _ in range(3):
        label = rng.choice([0, 1, 2, 255], size=(12, 16), p=[0.4, 0.3, 0.2, 0.1])
        pred = np.where(rng.random((12, 16)) < 0.3, rng.integers(0, 3, (12, 16)), label)
        pred[pred == 255] = 0
        sample = DataSample()
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(label)[None])
        preds.append(pred), labels.append(label), samples.append(sample)
    families = ("mIoU", "mDice", "mFscore")
    plain = IoUMetric(iou_metrics=families)
    plain.dataset_meta = {"classes": SEG_CLASSES}
    metric = IoUMetric(iou_metrics=families, classwise=True)
    metric.dataset_meta = {"classes": SEG_CLASSES}
    base, values = run(plain, samples), run(metric, samples)
    assert {k: values[k] for k in base} == pytest.approx(base)  # the summary keys are unchanged
    expected = confusion_reference(preds, labels, len(SEG_CLASSES))
    assert len(values) == len(base) + len(expected) * len(SEG_CLASSES)
    for column, per_class in expected.items():
        for name, value in zip(SEG_CLASSES, per_class):
            key = f"{column}_{name.replace(' ', '_')}"
            assert values[key] == pytest.approx(value, abs=1e-9, nan_ok=True)
    assert np.isnan(values["IoU_absent"])  # nowhere in labels or predictions, as in the table
    assert np.nanmean([values[f"IoU_{n.replace(' ', '_')}"] for n in SEG_CLASSES]) == pytest.approx(
        values["mIoU"]
    )
    unnamed = IoUMetric(classwise=True, num_classes=3)  # no class names: the index
    assert set(run(unnamed, samples[:1])) == {
        "aAcc",
        "mIoU",
        "mAcc",
        "IoU_0",
        "IoU_1",
        "IoU_2",
        "Acc_0",
        "Acc_1",
        "Acc_2",
    }
