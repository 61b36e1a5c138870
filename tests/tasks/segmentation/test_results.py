"""Segmentation result files: the label-map PNGs IoUMetric(output_dir=...) writes during test, scored by
evaluate_files against the dataset's ann_dir, give exactly the in-process numbers (the areas are integer
pixel counts, summed the same way, so no tolerance is needed)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from visionstack.data.transforms.annotations import read_seg_map
from visionstack.registry import METRICS, TRANSFORMS, build
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.segmentation.datasets import BaseSegDataset
from visionstack.tasks.segmentation.metrics import IoUMetric
from visionstack.tasks.segmentation.results import evaluate_files, ground_truth_maps, save_label_map
from visionstack.tasks.segmentation.synthetic import SEG_CLASSES, write_synthetic_segmentation

FAMILIES = ["mIoU", "mDice", "mFscore"]
TEST_PIPELINE = [dict(type="LoadImage"), dict(type="LoadAnnotations"), dict(type="PackSegInputs")]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> dict:
    return write_synthetic_segmentation(
        tmp_path_factory.mktemp("seg"), num_train=0, num_val=6, image_size=32, seed=2
    )


def predicted_samples(synth: dict, reduce_zero_label: bool, seed: int = 0) -> tuple[list, tuple]:
    """The dataset's packed samples with predictions: the ground truth with a third of the pixels
    replaced by random classes (and, for a reduced dataset, a class that never occurs)."""
    classes = tuple(SEG_CLASSES[1:] if reduce_zero_label else SEG_CLASSES)
    dataset = BaseSegDataset(
        data_prefix=dict(img_path=synth["val"]["img_dir"], seg_map_path=synth["val"]["ann_dir"]),
        reduce_zero_label=reduce_zero_label,
        metainfo=dict(classes=classes),
        pipeline=[build(t, TRANSFORMS) for t in TEST_PIPELINE],
        test_mode=True,
    )
    rng = np.random.default_rng(seed)
    samples = []
    for index in range(len(dataset)):
        sample = dataset[index]["data_samples"]
        label = sample.gt_sem_seg.data[0].clone()
        noise = torch.from_numpy(rng.integers(0, len(classes), label.shape))
        pred = torch.where(torch.from_numpy(rng.random(label.shape) < 0.33) | (label == 255), noise, label)
        sample.pred_sem_seg = PixelData(data=pred[None])
        samples.append(sample)
    return samples, classes


def run_test(metric: IoUMetric, samples: list, classes: tuple, batch_size: int = 4) -> dict:
    metric.dataset_meta = {"classes": classes}
    for start in range(0, len(samples), batch_size):
        metric.process(None, samples[start : start + batch_size])
    return metric.evaluate(len(samples))


@pytest.mark.parametrize("reduce_zero_label", [False, True])
def test_written_maps_score_the_same(synth, tmp_path, reduce_zero_label):
    samples, classes = predicted_samples(synth, reduce_zero_label)
    cfg = dict(type="IoUMetric", iou_metrics=FAMILIES, output_dir=str(tmp_path / "pred"))
    in_process = run_test(build(cfg, METRICS), samples, classes)
    written = sorted(p.name for p in (tmp_path / "pred").iterdir())
    assert written == [f"{index:06d}.png" for index in range(6)]
    first = read_seg_map(tmp_path / "pred" / "000000.png")
    assert first.dtype == np.uint8
    assert np.array_equal(first, samples[0].pred_sem_seg.data[0].numpy() + int(reduce_zero_label))
    offline = evaluate_files(
        synth["val"]["ann_dir"],
        tmp_path / "pred",
        metrics={**cfg, "output_dir": str(tmp_path / "elsewhere")},
        classes=classes,
        reduce_zero_label=reduce_zero_label,
    )
    assert offline == in_process
    assert set(offline) == {"aAcc", "mIoU", "mAcc", "mDice", "mFscore", "mPrecision", "mRecall"}
    assert 30 < offline["mIoU"] < 95
    assert not (tmp_path / "elsewhere").exists()


def test_default_metric_and_num_classes(synth, tmp_path):
    samples, classes = predicted_samples(synth, False, seed=1)
    in_process = run_test(IoUMetric(output_dir=tmp_path), samples, classes)
    assert evaluate_files(synth["val"]["ann_dir"], tmp_path, num_classes=len(classes)) == in_process


def test_format_only_writes_maps_and_no_numbers(synth, tmp_path):
    samples, classes = predicted_samples(synth, False)
    for sample in samples:
        del sample.gt_sem_seg  # a test server's images have no ground truth
    assert run_test(IoUMetric(output_dir=tmp_path, format_only=True), samples, classes) == {}
    assert len(list(tmp_path.glob("*.png"))) == 6
    with pytest.raises(ValueError, match="set output_dir"):
        IoUMetric(format_only=True)


def test_sixteen_bit_maps_round_trip(tmp_path):
    labels = np.array([[0, 255], [256, 1000]])
    assert read_seg_map(save_label_map(labels, tmp_path / "a.png")).tolist() == labels.tolist()
    assert Image.open(tmp_path / "a.png").mode.startswith("I")
    assert read_seg_map(save_label_map(torch.tensor([[[3, 255]]]), tmp_path / "b.png")).dtype == np.uint8
    with pytest.raises(ValueError, match="do not fit a grey PNG"):
        save_label_map(np.array([[-1]]), tmp_path / "c.png")


def test_prediction_names_follow_the_image_suffix(tmp_path):
    """Cityscapes: image ``a_leftImg8bit.png``, map ``city/a_gtFine.png`` -> prediction ``a_leftImg8bit.png``."""
    (tmp_path / "gt" / "city").mkdir(parents=True)
    save_label_map(np.zeros((2, 2)), tmp_path / "gt" / "city" / "a_gtFine.png")
    maps = ground_truth_maps(tmp_path / "gt", img_suffix="_leftImg8bit.png", seg_map_suffix="_gtFine.png")
    assert maps == {"a_leftImg8bit.png": tmp_path / "gt" / "city" / "a_gtFine.png"}


def test_writer_refuses_two_images_with_one_stem(tmp_path):
    metric = IoUMetric(output_dir=tmp_path, num_classes=2)
    samples = []
    for folder in ("x", "y"):
        sample = DataSample(metainfo={"img_path": f"{folder}/same.jpg"})
        sample.pred_sem_seg = PixelData(data=torch.zeros(1, 2, 2, dtype=torch.long))
        sample.gt_sem_seg = PixelData(data=torch.zeros(1, 2, 2, dtype=torch.long))
        samples.append(sample)
    with pytest.raises(ValueError, match="'x/same.jpg' and 'y/same.jpg' would both be written as"):
        metric.process(None, samples)


# ---- errors name the files at fault --------------------------------------------------------------------
@pytest.fixture
def written(synth, tmp_path) -> tuple[str, object, tuple]:
    samples, classes = predicted_samples(synth, False)
    run_test(IoUMetric(output_dir=tmp_path / "pred"), samples, classes)
    return synth["val"]["ann_dir"], tmp_path / "pred", classes


def test_missing_prediction_is_named(written):
    gt, pred, classes = written
    (pred / "000003.png").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"no prediction .*000003\.png' for the label map .*000003\.png'"
    ):
        evaluate_files(gt, pred, classes=classes)


def test_extra_prediction_is_named(written):
    gt, pred, classes = written
    shutil.copy(pred / "000001.png", pred / "stray.png")
    with pytest.raises(ValueError, match=r"1 prediction\(s\) in .* have no ground truth .*\['stray.png'\]"):
        evaluate_files(gt, pred, classes=classes)


def test_wrong_size_and_wrong_label_are_named(written):
    gt, pred, classes = written
    save_label_map(np.zeros((5, 7)), pred / "000002.png")
    with pytest.raises(
        ValueError, match=r"prediction .*000002\.png' is 7x5 but the label map .*000002\.png' is 32x32"
    ):
        evaluate_files(gt, pred, classes=classes)
    save_label_map(np.full((32, 32), 40), pred / "000002.png")
    with pytest.raises(ValueError, match=r"prediction values \[40\] are outside 0\.\.7.*000002\.png"):
        evaluate_files(gt, pred, classes=classes)


def test_class_count_and_metric_type_are_required(written, tmp_path):
    gt, pred, _ = written
    with pytest.raises(ValueError, match="give classes or num_classes"):
        evaluate_files(gt, pred)
    with pytest.raises(ValueError, match="Accuracy cannot read them"):
        evaluate_files(gt, pred, metrics=dict(type="Accuracy"), num_classes=8)
    with pytest.raises(ValueError, match="contradicts the config's IoUMetric ignore_index"):
        evaluate_files(gt, pred, metrics=dict(type="IoUMetric"), num_classes=8, ignore_index=0)
    with pytest.raises(FileNotFoundError, match="no label map ending with '.bmp'"):
        evaluate_files(gt, pred, num_classes=8, seg_map_suffix=".bmp")
