"""The command line on semantic segmentation: infer (class shares, label maps, overlays), data browse
(ground-truth maps in the palette), test (IoUMetric through the Runner), on a tiny EncoderDecoder and a
few painted images with label PNGs in the OpenMMLab 2.0 JSON layout."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from visionstack.cli import main
from visionstack.config import Config
from visionstack.engine.randomness import set_random_seed
from visionstack.inference import Inferencer
from visionstack.registry import DATASETS, MODELS, build
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.segmentation.drawing import draw_sem_seg
from visionstack.tasks.segmentation.metrics import IoUMetric
from visionstack.tasks.segmentation.records import seg_class_records
from visionstack.tasks.segmentation.synthetic import SEG_CLASSES

CLASSES = ("background", "box", "disc", "unused")
PALETTE = [[20, 20, 20], [230, 30, 30], [30, 200, 60], [40, 40, 240]]  # [R, G, B]
SIZES = ((40, 56), (48, 48), (36, 60), (52, 44))  # (h, w)

CONFIG = """
from visionstack.testing import TinyConvBackbone
from visionstack.tasks.segmentation.models import EncoderDecoder, FCNHead
from visionstack.tasks.segmentation.transforms import PackSegInputs

model = dict(
    type=EncoderDecoder,
    data_preprocessor=dict(type="SegDataPreProcessor", mean=[128.0] * 3, std=[64.0] * 3, size_divisor=32),
    backbone=dict(type=TinyConvBackbone, out_indices=(1, 2, 3)),
    decode_head=dict(type=FCNHead, in_channels=32, channels=8, num_classes=4, num_convs=1, in_index=-1),
)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations"),
    dict(type="Resize", scale=(64, 48), keep_ratio=False),
    dict(type=PackSegInputs),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(64, 64), keep_ratio=True),
    dict(type="LoadAnnotations"),
    dict(type=PackSegInputs),
]
dataset = dict(type="BaseDataset", ann_file="{root}/ann.json", metainfo=dict(classes={classes}, palette={palette}))
train_dataloader = dict(batch_size=2, dataset=dict(dataset, pipeline=train_pipeline))
test_dataloader = dict(batch_size=2, dataset=dict(dataset, test_mode=True, pipeline=test_pipeline))
test_evaluator = dict(type="IoUMetric", iou_metrics=["mIoU", "mDice"])
test_cfg = dict()
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=1)
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.01))
"""


def paint_sample(seed: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(BGR image, label map): a box (1) and a disc (2) on background (0), a 2-px ignore border (255)."""
    rng = np.random.default_rng(seed)
    label = np.zeros((height, width), dtype=np.uint8)
    x, y = int(rng.integers(2, width // 2)), int(rng.integers(2, height // 2))
    label[y : y + height // 3, x : x + width // 3] = 1
    yy, xx = np.mgrid[:height, :width]
    label[(yy - 2 * height // 3) ** 2 + (xx - 2 * width // 3) ** 2 < (min(height, width) // 5) ** 2] = 2
    label[:2], label[:, :2] = 255, 255
    colors = np.array(
        [PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[3]] + [[128, 128, 128]] * 252, dtype=np.int64
    )
    image = colors[label][..., ::-1] + rng.integers(-20, 21, size=(height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8), label


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Four painted images with label PNGs, the tiny config, and a random-weights checkpoint."""
    root = tmp_path_factory.mktemp("cli_seg")
    records = []
    for index, (height, width) in enumerate(SIZES):
        image, label = paint_sample(index, height, width)
        img_path, seg_path = root / f"img_{index}.jpg", root / f"img_{index}.png"
        cv2.imwrite(str(img_path), image)
        cv2.imwrite(str(seg_path), label)
        records.append({"img_path": str(img_path), "seg_map_path": str(seg_path), "reduce_zero_label": False})
    (root / "ann.json").write_text(json.dumps({"metainfo": {}, "data_list": records}))
    config = root / "tiny_seg.py"
    config.write_text(CONFIG.format(root=root.as_posix(), classes=CLASSES, palette=PALETTE))
    torch.manual_seed(0)
    model = build(Config.fromfile(config)["model"], MODELS)
    with torch.no_grad():  # a bias towards "box" and "disc" so that the prediction is not one class
        model.decode_head.conv_seg.bias.copy_(torch.tensor([0.0, 0.3, 0.3, -5.0]))
    checkpoint = root / "random.pth"
    meta = {"dataset_meta": {"classes": CLASSES, "palette": PALETTE}}  # as the Runner writes it
    torch.save({"state_dict": model.state_dict(), "meta": meta}, checkpoint)
    return root, config, checkpoint


def test_seg_class_records_sorts_by_area_and_skips_ignore():
    seg_map = torch.tensor([[[2, 2, 2, 0], [2, 1, 255, 255]]])
    records = seg_class_records(seg_map, ["a", "b", "c"])
    assert records == [
        {"label": 2, "class": "c", "pixels": 4, "fraction": 0.5},
        {"label": 0, "class": "a", "pixels": 1, "fraction": 0.125},
        {"label": 1, "class": "b", "pixels": 1, "fraction": 0.125},
    ]
    assert [r["class"] for r in seg_class_records(torch.tensor([[5, 5]]))] == ["5"]
    assert seg_class_records(torch.full((1, 3, 3), 255)) == []


def test_infer_writes_class_shares_label_maps_and_overlays(workspace, capsys):
    root, config, checkpoint = workspace
    images = sorted(root.glob("img_*.jpg"))
    out = root / "infer"
    assert main(["infer", str(config), str(checkpoint), *map(str, images), "--out-dir", str(out)]) == 0
    records = json.loads((out / "predictions.json").read_text())
    samples = Inferencer(Config.fromfile(config), checkpoint)(images)
    assert all("seg_logits" not in sample for sample in samples)  # dropped unless keep_logits
    with_logits = Inferencer(Config.fromfile(config), checkpoint, keep_logits=True)(images[:1])
    logits = with_logits[0].seg_logits.data
    assert logits.shape[0] == len(CLASSES) and logits.shape[1:] == samples[0].pred_sem_seg.shape
    np.testing.assert_array_equal(logits.argmax(0).numpy(), samples[0].pred_sem_seg.data[0].numpy())
    assert [r["img_path"] for r in records] == [str(p) for p in images]
    for record, sample, image_path in zip(records, samples, images):
        image = cv2.imread(str(image_path))
        height, width = image.shape[:2]
        assert set(record) == {"img_path", "classes_present"}  # the map goes to a PNG, not to JSON
        present = record["classes_present"]
        assert sum(item["pixels"] for item in present) == height * width
        assert [item["pixels"] for item in present] == sorted(
            (item["pixels"] for item in present), reverse=True
        )
        assert all(item["class"] == CLASSES[item["label"]] for item in present)
        assert pytest.approx(sum(item["fraction"] for item in present)) == 1.0

        labels = cv2.imread(str(out / f"{image_path.stem}_label.png"), cv2.IMREAD_UNCHANGED)
        assert labels.dtype == np.uint8 and labels.shape == (height, width)  # the original image size
        np.testing.assert_array_equal(labels, sample.pred_sem_seg.data[0].numpy())
        assert sorted(np.unique(labels).tolist()) == sorted(item["label"] for item in present)
        drawn = cv2.imread(str(out / f"{image_path.stem}_pred.png"))
        np.testing.assert_array_equal(drawn, draw_sem_seg(image, labels, PALETTE, CLASSES))
    assert any(len(r["classes_present"]) > 1 for r in records)
    table = capsys.readouterr().out
    top = records[0]["classes_present"][0]
    assert "share of pixels" in table and f"{top['class']}: {100 * top['fraction']:.1f}%" in table


def test_data_browse_draws_the_ground_truth_map_in_the_palette(workspace, capsys):
    root, config, _ = workspace
    out = root / "browse"
    assert main(["data", "browse", str(config), "--out-dir", str(out), "--num", "3"]) == 0
    assert "3 samples of train_dataloader drawn" in capsys.readouterr().out
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == [f"{i}_img_{i}.png" for i in range(3)]
    set_random_seed(0)
    dataset = build(Config.fromfile(config)["train_dataloader"]["dataset"], DATASETS)
    for index, png in enumerate(pngs):
        packed = dataset[index]
        image = packed["inputs"].permute(1, 2, 0).numpy()
        gt = packed["data_samples"].gt_sem_seg.data[0].numpy()
        drawn = cv2.imread(str(png))
        assert drawn.shape == image.shape == (48, 64, 3)  # the packed (resized) sample
        np.testing.assert_array_equal(drawn, draw_sem_seg(image, gt, PALETTE, CLASSES))
        unnamed = draw_sem_seg(image, gt, PALETTE, CLASSES, with_labels=False)
        np.testing.assert_array_equal(unnamed[gt == 255], image[gt == 255])  # the ignore border is unpainted
        assert (unnamed[gt == 1] != image[gt == 1]).any(axis=1).all()


def _expected_metrics(config, checkpoint, root) -> dict[str, float]:
    """IoUMetric on the Inferencer's predictions and the label files: what `test` must print."""
    images = sorted(root.glob("img_*.jpg"))
    metric = IoUMetric(iou_metrics=["mIoU", "mDice"])
    metric.dataset_meta = {"classes": CLASSES}
    for sample, image_path in zip(Inferencer(Config.fromfile(config), checkpoint)(images), images):
        label = cv2.imread(str(image_path.with_suffix(".png")), cv2.IMREAD_UNCHANGED)
        target = DataSample(
            pred_sem_seg=sample.pred_sem_seg, gt_sem_seg=PixelData(data=torch.from_numpy(label))
        )
        metric.process({}, [target])
    return metric.evaluate(len(images))


GT_FIRST_CONFIG = """
from visionstack.tasks.segmentation.transforms import PackSegInputs

_base_ = "tiny_seg.py"
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations"),
    dict(type="Resize", scale=(64, 64), keep_ratio=True),
    dict(type=PackSegInputs),
]
"""


@pytest.mark.parametrize("name", ["tiny_seg.py", "gt_first.py"])
def test_test_reports_iou_at_the_original_size(workspace, name, capsys):
    """gt_first.py loads the map before Resize, so the packed map is resized: the metric reads the file."""
    root, _, checkpoint = workspace
    config = root / name
    if name == "gt_first.py":
        config.write_text(GT_FIRST_CONFIG)
        set_random_seed(0)
        dataset = build(Config.fromfile(config)["test_dataloader"]["dataset"], DATASETS)
        assert dataset[0]["data_samples"].gt_sem_seg.shape != dataset[0]["data_samples"].ori_shape
    out = root / f"{name}.json"
    assert (
        main(["test", str(config), str(checkpoint), "--work-dir", str(root / "work"), "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    metrics = json.loads(out.read_text())
    expected = _expected_metrics(root / "tiny_seg.py", checkpoint, root)
    assert set(metrics) == {"aAcc", "mIoU", "mAcc", "mDice"}
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-9), key
        assert f"{key}: {value:.4f}" in printed
    assert 0 < metrics["mIoU"] < 100


def test_data_synth_segmentation_calls_the_generator(tmp_path, capsys):
    out = tmp_path / "synth"
    args = ["data", "synth", "segmentation", "--out", str(out), "--num-train", "3", "--num-val", "2"]
    assert main([*args, "--image-size", "40", "--seed", "1"]) == 0
    assert "synthetic segmentation dataset written to" in capsys.readouterr().out
    assert len(list((out / "img_dir" / "train").glob("*.jpg"))) == 3
    labels = sorted((out / "ann_dir" / "val").glob("*.png"))
    assert len(labels) == 2 and cv2.imread(str(labels[0]), cv2.IMREAD_UNCHANGED).shape == (40, 40)
    meta = json.loads((out / "meta.json").read_text())
    assert list(meta["classes"]) == list(SEG_CLASSES)


def test_image_size_is_refused_for_other_tasks(tmp_path, capsys):
    args = ["data", "synth", "detection", "--out", str(tmp_path), "--image-size", "40"]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "data synth detection: --image-size is for the" in error and "segmentation" in error
    assert "dataset only" in error


def test_export_verify_int8_and_onnxruntime_infer(workspace, capsys):
    """`export --verify --quantize int8`, then `infer --backend onnxruntime` writes the JSON and label
    maps of the PyTorch `infer`."""
    root, config, checkpoint = workspace
    export_dir = root / "export"
    assert (
        main(
            [
                "export",
                str(config),
                str(checkpoint),
                "--dynamic",
                "--verify",
                "--quantize",
                "int8",
                "--calibration-images",
                "2",
                "--out-dir",
                str(export_dir),
            ]
        )
        == 0
    )
    deploy = json.loads((export_dir / "deploy.json").read_text())
    assert deploy["task"] == "segmentation" and deploy["classes"] == list(CLASSES)
    assert deploy["palette"] == PALETTE
    report = json.loads((export_dir / "verify.json").read_text())
    assert report["fp32"]["max_input_diff"] == 0.0 and report["fp32"]["max_output_diff"] <= 1e-4
    fp32 = report["fp32"]["metrics"]
    assert fp32["pytorch"]["mIoU"] == pytest.approx(fp32["onnxruntime"]["mIoU"], abs=0.1)
    assert (export_dir / "model_int8.onnx").stat().st_size < (export_dir / "model.onnx").stat().st_size
    assert "mIoU" in report["int8"]["metrics"]["onnxruntime"]
    images = sorted(root.glob("img_*.jpg"))
    torch_out, ort_out = root / "infer_pt", root / "infer_ort"
    assert main(["infer", str(config), str(checkpoint), *map(str, images), "--out-dir", str(torch_out)]) == 0
    assert (
        main(
            [
                "infer",
                "--backend",
                "onnxruntime",
                str(export_dir),
                *map(str, images),
                "--out-dir",
                str(ort_out),
            ]
        )
        == 0
    )
    assert json.loads((ort_out / "predictions.json").read_text()) == json.loads(
        (torch_out / "predictions.json").read_text()
    )
    for image in images:
        np.testing.assert_array_equal(
            cv2.imread(str(ort_out / f"{image.stem}_label.png"), cv2.IMREAD_UNCHANGED),
            cv2.imread(str(torch_out / f"{image.stem}_label.png"), cv2.IMREAD_UNCHANGED),
        )
        assert (ort_out / f"{image.stem}_pred.png").is_file()
