"""The command line on detection: infer (records + drawn PNGs), data browse (plain and Mosaic/MixUp
pipelines), test --coco-out (a results file pycocotools loads), on a tiny FCOS and tiny synthetic data."""

from __future__ import annotations

import contextlib
import io
import json

import cv2
import numpy as np
import pytest
import torch

from visionstack.cli import main
from visionstack.config import Config
from visionstack.engine.randomness import set_random_seed
from visionstack.registry import DATASETS, MODELS, build
from visionstack.structures import InstanceData
from visionstack.structures.masks import rle_to_bitmap
from visionstack.tasks.detection.drawing import draw_detections
from visionstack.tasks.detection.records import detection_records as records_from_arrays
from visionstack.tasks.detection.synthetic import SHAPE_CLASSES, write_synthetic_detection

CONFIG = """
from visionstack.testing import TinyConvBackbone

data_root = "{root}/"
model = dict(
    type="SingleStageDetector",
    data_preprocessor=dict(type="DetDataPreprocessor", mean=[128.0] * 3, std=[64.0] * 3, pad_size_divisor=32),
    backbone=dict(type=TinyConvBackbone),
    neck=dict(type="FPN", in_channels=[24, 32, 48], out_channels=16, num_outs=3),
    bbox_head=dict(
        type="FCOSHead", num_classes=5, in_channels=16, stacked_convs=1, feat_channels=16, strides=[8, 16, 32],
        regress_ranges=[(-1, 32), (32, 64), (64, 1e8)],
        # keep every candidate: random weights score ~0.01 and the files need some detections
        test_cfg=dict(nms_pre=50, score_thr=0.0, nms_iou_thr=0.5, max_per_img=7),
    ),
)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="Resize", scale=(80, 60), keep_ratio=False),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(64, 64), keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]
train_dataloader = dict(
    batch_size=2,
    dataset=dict(type="CocoDataset", data_root=data_root, ann_file="annotations/instances_train.json",
                 data_prefix=dict(img="train/"), pipeline=train_pipeline),
)
test_dataloader = dict(
    batch_size=2,
    dataset=dict(type="CocoDataset", data_root=data_root, ann_file="annotations/instances_val.json",
                 data_prefix=dict(img="val/"), test_mode=True, pipeline=test_pipeline),
)
test_evaluator = dict(type="CocoMetric", ann_file=data_root + "annotations/instances_val.json", metric="bbox")
test_cfg = dict()
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=1)
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.01))
"""

MOSAIC_CONFIG = """
_base_ = "tiny_fcos.py"
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type="MultiImageMixDataset",
        dataset=dict(
            type="CocoDataset", data_root="{root}/", ann_file="annotations/instances_train.json",
            data_prefix=dict(img="train/"),
            pipeline=[dict(type="LoadImage"), dict(type="LoadAnnotations", with_bbox=True, with_mask=True)],
        ),
        pipeline=[
            dict(type="Mosaic", img_scale=(48, 48), pad_val=114.0),
            dict(type="MixUp", img_scale=(96, 96), ratio_range=(1.0, 1.0), pad_val=114.0),
            dict(type="PackDetInputs"),
        ],
    ),
)
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Synthetic data (4 train, 2 val images of 48-72 px), the tiny configs, and a random-weights checkpoint."""
    root = tmp_path_factory.mktemp("cli_det")
    write_synthetic_detection(root / "data", num_train=4, num_val=2, image_size=(48, 72), seed=3)
    config = root / "tiny_fcos.py"
    config.write_text(CONFIG.format(root=(root / "data").as_posix()))
    (root / "mosaic.py").write_text(MOSAIC_CONFIG.format(root=(root / "data").as_posix()))
    torch.manual_seed(0)
    model = build(Config.fromfile(config)["model"], MODELS)
    checkpoint = root / "random.pth"
    # as the Runner writes it: the class names travel in meta.dataset_meta
    torch.save(
        {"state_dict": model.state_dict(), "meta": {"dataset_meta": {"classes": SHAPE_CLASSES}}}, checkpoint
    )
    return root, config, checkpoint


def test_infer_writes_detection_records_and_drawn_images(workspace, capsys):
    root, config, checkpoint = workspace
    images = sorted((root / "data" / "val").glob("*.png"))
    out = root / "infer"
    args = ["infer", str(config), str(checkpoint), *map(str, images), "--out-dir", str(out)]
    assert main([*args, "--score-thr", "0"]) == 0
    records = json.loads((out / "predictions.json").read_text())
    assert [r["img_path"] for r in records] == [str(p) for p in images]
    for record, image_path in zip(records, images):
        height, width = cv2.imread(str(image_path)).shape[:2]
        detections = record["detections"]
        assert len(detections) == 7 and "pred_instances" not in record
        assert [d["score"] for d in detections] == sorted((d["score"] for d in detections), reverse=True)
        for item in detections:
            assert set(item) == {"bbox", "score", "label", "class"}
            x1, y1, x2, y2 = item["bbox"]
            assert 0 <= x1 <= x2 <= width and 0 <= y1 <= y2 <= height  # original image pixels
            assert item["class"] == SHAPE_CLASSES[item["label"]] and 0 <= item["score"] <= 1
        drawn = cv2.imread(str(out / f"{image_path.stem}_pred.png"))
        assert drawn.shape == (height, width, 3)
        assert (drawn != cv2.imread(str(image_path))).any()  # score_thr 0: every box is drawn
    table = capsys.readouterr().out
    assert "detections (score >= 0)" in table and f"{records[0]['detections'][0]['class']} " in table


def detection_records(instances, class_names=None):
    masks = instances.get("masks")
    fields = (instances.bboxes, instances.scores, instances.labels)
    return records_from_arrays(
        *(f.numpy() for f in fields), None if masks is None else masks.numpy(), class_names
    )


def test_detection_records_encode_masks_as_coco_rle():
    masks = torch.zeros(2, 20, 30, dtype=torch.bool)
    masks[0, 2:5, 3:9] = True
    masks[1, 10:20, 0:30] = True
    instances = InstanceData(
        bboxes=torch.tensor([[3.0, 2.0, 9.0, 5.0], [0.0, 10.0, 30.0, 20.0]]),
        scores=torch.tensor([0.25, 0.75]),
        labels=torch.tensor([4, 0]),
        masks=masks,
    )
    records = detection_records(instances, SHAPE_CLASSES)
    assert [r["class"] for r in records] == ["circle", "cross"]  # best score first
    for record, expected in zip(records, (masks[1], masks[0])):
        rle = record["mask"]
        assert rle["size"] == [20, 30] and isinstance(rle["counts"], str)
        np.testing.assert_array_equal(rle_to_bitmap(rle, 20, 30), expected.numpy().astype(np.uint8))
    json.dumps(records)  # JSON-ready
    del instances.masks
    assert "mask" not in detection_records(instances)[0]


def _packed_samples(config, count: int) -> list[dict]:
    """What browse draws: the config's train dataset items, under browse's seed."""
    set_random_seed(0)
    dataset = build(Config.fromfile(config)["train_dataloader"]["dataset"], DATASETS)
    return [dataset[i] for i in range(count)]


@pytest.mark.parametrize("name", ["tiny_fcos.py", "mosaic.py"])
def test_data_browse_draws_the_packed_inputs_with_their_boxes(workspace, name, capsys):
    root, _, _ = workspace
    config, out = root / name, root / f"browse_{name}"
    assert main(["data", "browse", str(config), "--out-dir", str(out), "--num", "3"]) == 0
    assert "3 samples of train_dataloader drawn" in capsys.readouterr().out
    pngs = sorted(out.glob("*.png"))
    assert [p.name.split("_")[0] for p in pngs] == ["0", "1", "2"]
    for png, packed in zip(pngs, _packed_samples(config, 3)):
        image = packed["inputs"].permute(1, 2, 0).numpy()
        drawn = cv2.imread(str(png))
        assert png.stem.endswith(packed["data_samples"].img_path.rsplit("/", 1)[-1][:-4])
        assert drawn.shape == image.shape == ((60, 80, 3) if name == "tiny_fcos.py" else (96, 96, 3))
        gt = packed["data_samples"].gt_instances
        assert len(gt) > 0 and "masks" in gt
        np.testing.assert_array_equal(drawn, draw_detections(image, gt, SHAPE_CLASSES))
        for x1, _, x2, y2 in np.round(gt.bboxes.numpy()).astype(int):  # every box's bottom edge is drawn
            edge = slice(max(x1, 0), min(x2, image.shape[1]))
            row = min(y2, image.shape[0]) - 1
            assert (drawn[row, edge] != image[row, edge]).any(axis=1).mean() > 0.5
        assert (drawn != image).any(axis=2).mean() < 0.95  # the picture is still visible


def test_test_coco_out_writes_results_pycocotools_loads(workspace, capsys):
    from pycocotools.coco import COCO

    root, config, checkpoint = workspace
    prefix = root / "results" / "tiny"
    args = ["test", str(config), str(checkpoint), "--work-dir", str(root / "work"), "--coco-out", str(prefix)]
    assert main(args) == 0
    assert f"COCO bbox results written to {prefix}.bbox.json" in capsys.readouterr().out
    assert not (root / "results" / "tiny.segm.json").exists()
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(root / "data" / "annotations" / "instances_val.json"))
        results = gt.loadRes(f"{prefix}.bbox.json")
    assert len(results.getAnnIds()) == 2 * 7 and set(results.getImgIds()) == set(gt.getImgIds())
    assert {ann["category_id"] for ann in results.anns.values()} <= set(gt.getCatIds())


def test_test_coco_out_without_coco_metric_is_a_clear_error(workspace, capsys):
    root, config, checkpoint = workspace
    args = ["test", str(config), str(checkpoint), "--coco-out", str(root / "x"), "--set"]
    code = main([*args, "test_evaluator={'type': 'VOCMetric'}"])
    err = capsys.readouterr().err
    assert code == 2 and "has no CocoMetric (it has: VOCMetric)" in err


def test_data_browse_writes_the_label_of_classification_samples(tmp_path):
    config = tmp_path / "toy.py"
    config.write_text(
        'train_dataloader = dict(batch_size=2, dataset=dict(type="ToyDataset", num_samples=4, image_size=8))\n'
    )
    assert main(["data", "browse", str(config), "--out-dir", str(tmp_path / "out"), "--num", "9"]) == 0
    pngs = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in pngs] == [f"{i}_sample.png" for i in range(4)]  # no img_path: "sample"
    drawn = cv2.imread(str(pngs[0]))
    assert drawn.shape == (224, 224, 3)  # small images are enlarged so that the label reads
    assert (drawn[:20, :60] > 200).any() and not (drawn[150:, 150:] > 200).any()  # white text top-left only
