"""IoUMetric against a NumPy reference built from the confusion matrix of the kept pixels."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from visionstack.registry import METRICS
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.segmentation.metrics import IoUMetric, count_class_areas, metrics_from_areas

NUM_CLASSES = 6
CLASSES = ("sky", "road", "car", "absent", "pred_only", "gt_only")


def reference(preds: list[np.ndarray], labels: list[np.ndarray], num_classes: int, beta: float = 1.0) -> dict:
    """Per-class values (percent) from the confusion matrix of all kept pixels, with NumPy."""
    pred = np.concatenate([p.ravel() for p in preds]).astype(np.int64)
    label = np.concatenate([g.ravel() for g in labels]).astype(np.int64)
    keep = label != 255
    confusion = np.zeros((num_classes, num_classes), dtype=np.float64)
    np.add.at(confusion, (label[keep], pred[keep]), 1)
    tp, predicted, actual = np.diag(confusion), confusion.sum(0), confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, recall = tp / predicted, tp / actual
        return {
            "aAcc": 100 * tp.sum() / actual.sum(),
            "IoU": 100 * tp / (predicted + actual - tp),
            "Acc": 100 * recall,
            "Dice": 100 * 2 * tp / (predicted + actual),
            "Precision": 100 * precision,
            "Recall": 100 * recall,
            "Fscore": 100 * (1 + beta**2) * precision * recall / (beta**2 * precision + recall),
        }


def random_maps(seed: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(pred, label): classes 0-2 in both, 3 nowhere, 4 predicted only, 5 labelled only; ~15 % ignore."""
    rng = np.random.default_rng(seed)
    label = rng.choice([0, 1, 2, 5], size=(height, width), p=[0.4, 0.3, 0.2, 0.1]).astype(np.uint8)
    pred = label.copy()
    flip = rng.random((height, width)) < 0.35
    pred[flip] = rng.choice([0, 1, 2, 4], size=int(flip.sum()))
    pred[pred == 5] = 1  # class 5 is never predicted
    label[rng.random((height, width)) < 0.15] = 255
    return pred, label


def seg_sample(pred: np.ndarray, label: np.ndarray | None, **metainfo) -> DataSample:
    sample = DataSample(metainfo=metainfo)
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred.astype(np.int64))[None])
    if label is not None:
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(label.astype(np.int64))[None])
    return sample


def make_metric(**kwargs) -> IoUMetric:
    metric = IoUMetric(**kwargs)
    metric.dataset_meta = {"classes": CLASSES}
    return metric


def test_per_class_values_equal_the_confusion_matrix_reference():
    pred, label = random_maps(0, 37, 53)
    areas = count_class_areas(torch.from_numpy(pred), torch.from_numpy(label), NUM_CLASSES)
    values = metrics_from_areas(areas, ("mIoU", "mDice", "mFscore"))
    expected = reference([pred], [label], NUM_CLASSES)
    assert list(values) == ["aAcc", "IoU", "Acc", "Dice", "Fscore", "Precision", "Recall"]
    for name, value in values.items():
        np.testing.assert_allclose(value.numpy(), expected[name], rtol=0, atol=1e-10, err_msg=name)
    # class 3 (absent everywhere) has no IoU; class 4 (predicted only) has IoU 0 and no Acc
    assert values["IoU"][3].isnan() and values["IoU"][4] == 0 and values["Acc"][4].isnan()
    assert values["Precision"][5].isnan() and values["Recall"][5] == 0 and values["Fscore"][5].isnan()
    assert int(areas[3].sum()) == int((label != 255).sum())  # label areas count the kept pixels


def test_summary_keys_are_nan_means_over_several_batches():
    maps = [random_maps(seed, 20 + seed, 31 - seed) for seed in range(5)]
    metric = make_metric(iou_metrics=["mIoU", "mDice", "mFscore"])
    for batch in (maps[:2], maps[2:3], maps[3:]):  # uneven batches, images of different sizes
        metric.process({}, [seg_sample(pred, label) for pred, label in batch])
    assert len(metric.results) == 5
    result = metric.evaluate(5)
    expected = reference([p for p, _ in maps], [g for _, g in maps], NUM_CLASSES)
    assert list(result) == ["aAcc", "mIoU", "mAcc", "mDice", "mFscore", "mPrecision", "mRecall"]
    assert result["aAcc"] == pytest.approx(expected["aAcc"], abs=1e-10)
    for name in ("IoU", "Acc", "Dice", "Fscore", "Precision", "Recall"):
        assert result[f"m{name}"] == pytest.approx(np.nanmean(expected[name]), abs=1e-10), name
    # the pooled areas differ from an average of per-image scores
    per_image = np.nanmean([np.nanmean(reference([p], [g], NUM_CLASSES)["IoU"]) for p, g in maps])
    assert abs(result["mIoU"] - per_image) > 1e-6
    assert metric.results == []


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_fscore_weighs_recall_by_beta(beta):
    pred, label = random_maps(3, 40, 40)
    metric = make_metric(iou_metrics="mFscore", beta=beta)
    metric.process({}, [seg_sample(pred, label)])
    result = metric.evaluate(1)
    expected = reference([pred], [label], NUM_CLASSES, beta=beta)
    assert set(result) == {"aAcc", "mFscore", "mPrecision", "mRecall"}
    assert result["mFscore"] == pytest.approx(np.nanmean(expected["Fscore"]), abs=1e-10)
    f1 = np.nanmean(reference([pred], [label], NUM_CLASSES, beta=1.0)["Fscore"])
    assert result["mFscore"] != pytest.approx(f1, abs=1e-6)


def test_nan_to_num_counts_empty_classes_in_the_means():
    pred, label = random_maps(1, 30, 30)
    metric = make_metric(iou_metrics=["mIoU", "mDice"], nan_to_num=0)
    metric.process({}, [seg_sample(pred, label)])
    result = metric.evaluate(1)
    expected = reference([pred], [label], NUM_CLASSES)
    assert result["mIoU"] == pytest.approx(np.nan_to_num(expected["IoU"]).mean(), abs=1e-10)
    assert result["mAcc"] == pytest.approx(np.nan_to_num(expected["Acc"]).mean(), abs=1e-10)
    assert result["mIoU"] < np.nanmean(expected["IoU"])  # the absent class now counts as 0


def test_a_perfect_prediction_scores_100_and_ignore_pixels_do_not_count():
    label = np.array([[0, 0, 1], [2, 255, 1]], dtype=np.uint8)
    pred = np.array([[0, 0, 1], [2, 3, 1]], dtype=np.uint8)  # the wrong class sits under the ignore pixel
    metric = IoUMetric(num_classes=4, iou_metrics=("mIoU", "mDice", "mFscore"))
    metric.process({}, [seg_sample(pred, label)])
    result = metric.evaluate(1)
    assert all(value == pytest.approx(100.0) for value in result.values()), result


def test_ground_truth_is_read_from_disk_with_reduce_zero_label_when_sizes_differ(tmp_path):
    rng = np.random.default_rng(7)
    raw = rng.integers(0, NUM_CLASSES + 1, size=(24, 30)).astype(np.uint8)  # 0 = "other", k = class k - 1
    raw[:3] = 255
    path = tmp_path / "map.png"
    Image.fromarray(raw).save(path)
    reduced = np.where((raw == 0) | (raw == 255), 255, raw.astype(np.int64) - 1)
    pred = rng.integers(0, NUM_CLASSES, size=(24, 30))
    padded = np.full((32, 32), 255, dtype=np.int64)  # the packed map, resized and padded: unusable
    metric = make_metric(iou_metrics=["mIoU"])
    metric.process({}, [seg_sample(pred, padded, seg_map_path=str(path), reduce_zero_label=True)])
    result = metric.evaluate(1)
    expected = reference([pred], [reduced], NUM_CLASSES)
    assert result["mIoU"] == pytest.approx(np.nanmean(expected["IoU"]), abs=1e-10)
    assert result["aAcc"] == pytest.approx(expected["aAcc"], abs=1e-10)

    # without gt_sem_seg the file is read too; unshifted, its label 6 is no class of six
    with pytest.raises(ValueError, match=r"map\.png\): label values \[6\] are outside 0\.\.5"):
        make_metric().process({}, [seg_sample(pred, None, seg_map_path=str(path))])


def test_errors_name_the_sample_and_the_fix(tmp_path):
    pred = np.zeros((4, 5), dtype=np.int64)
    with pytest.raises(ValueError, match=r"8x6 but the prediction .* is 5x4"):
        path = tmp_path / "big.png"
        Image.fromarray(np.zeros((6, 8), dtype=np.uint8)).save(path)
        make_metric().process({}, [seg_sample(pred, np.zeros((6, 8)), seg_map_path=str(path))])
    with pytest.raises(ValueError, match=r"no seg_map_path"):
        make_metric().process({}, [seg_sample(pred, np.zeros((6, 8)), img_path="a.jpg")])
    with pytest.raises(KeyError, match=r"data_samples\[0\] has no pred_sem_seg"):
        make_metric().process({}, [DataSample()])
    with pytest.raises(ValueError, match=r"\(a\.jpg\): prediction values \[9\]"):
        make_metric().process({}, [seg_sample(np.full((4, 5), 9), np.zeros((4, 5)), img_path="a.jpg")])
    with pytest.raises(ValueError, match=r"class count is unknown"):
        IoUMetric().process({}, [seg_sample(pred, pred)])
    with pytest.raises(ValueError, match=r"subset of \('mIoU', 'mDice', 'mFscore'\), got 'IoU'"):
        IoUMetric(iou_metrics="IoU")


def test_class_count_falls_back_to_the_logits_and_the_table_is_logged():
    pred, label = random_maps(2, 16, 16)
    sample = seg_sample(pred, label)
    sample.seg_logits = PixelData(data=torch.zeros(NUM_CLASSES, 16, 16))
    metric = IoUMetric()
    metric.process({}, [sample])
    assert metric.results[0].shape == (4, NUM_CLASSES)

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    module_logger = logging.getLogger("visionstack.tasks.segmentation.metrics")
    module_logger.addHandler(handler)
    old_level = module_logger.level
    module_logger.setLevel(logging.INFO)
    try:
        metric.dataset_meta = {"classes": CLASSES}
        result = metric.evaluate(1)
    finally:
        module_logger.removeHandler(handler)
        module_logger.setLevel(old_level)
    table = "\n".join(record.getMessage() for record in records)
    iou = reference([pred], [label], NUM_CLASSES)["IoU"]
    assert "gt_only" in table and "IoU" in table and f"{iou[0]:.2f}" in table and "nan" in table
    assert set(result) == {"aAcc", "mIoU", "mAcc"}  # per-class values are printed, not returned


def test_built_from_the_registry_with_a_prefix():
    metric = METRICS.build(dict(type="IoUMetric", prefix="val", num_classes=NUM_CLASSES))
    pred, label = random_maps(4, 10, 12)
    metric.process({}, [seg_sample(pred, label)])
    assert set(metric.evaluate(1)) == {"val/aAcc", "val/mIoU", "val/mAcc"}
