"""Segmentation datasets on tiny on-disk copies of each layout, PackSegInputs, and the MMSeg-style pipelines."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from visionstack.data.base_dataset import DatasetError
from visionstack.registry import DATASETS, TRANSFORMS, build
from visionstack.structures import DataSample
from visionstack.tasks.segmentation.datasets import (
    ADE20K_CLASSES,
    CITYSCAPES_CLASSES,
    VOC_SEG_CLASSES,
    VOC_SEG_PALETTE,
    ADE20KDataset,
    BaseSegDataset,
    CityscapesDataset,
    PascalVOCDataset,
    SynthSegDataset,
    voc_colormap,
)
from visionstack.tasks.segmentation.synthetic import SEG_CLASSES, SEG_PALETTE, write_synthetic_segmentation
from visionstack.tasks.segmentation.transforms import PackSegInputs


def write_pair(img_path, map_path, label: np.ndarray, palette: list | None = None) -> None:
    """An image whose blue channel encodes the label (so alignment can be checked) and its map."""
    os.makedirs(os.path.dirname(img_path), exist_ok=True)
    os.makedirs(os.path.dirname(map_path), exist_ok=True)
    img = np.dstack([label, np.full_like(label, 50), np.full_like(label, 90)]).astype(np.uint8)
    ext = os.path.splitext(str(img_path))[1]
    params = [cv2.IMWRITE_JPEG_QUALITY, 100] if ext == ".jpg" else []
    assert cv2.imwrite(str(img_path), img, params)
    if palette is None:
        assert cv2.imwrite(str(map_path), label.astype(np.uint8))
    else:
        image = Image.fromarray(label.astype(np.uint8), mode="P")
        image.putpalette([value for color in palette for value in color])
        image.save(str(map_path))


def label_of(value: int, shape=(6, 8)) -> np.ndarray:
    label = np.full(shape, value, dtype=np.uint8)
    label[0, :3] = 255
    label[-1, -2:] = 0
    return label


PLAIN = dict(img_suffix=".png", seg_map_suffix="_map.png")


def load(dataset, index: int) -> dict:
    return build(dict(type="LoadAnnotations"), TRANSFORMS)(
        build(dict(type="LoadImage"), TRANSFORMS)(dataset.get_data_info(index))
    )


# ---- BaseSegDataset -----------------------------------------------------------------------------------
@pytest.fixture
def plain_root(tmp_path):
    for name, value in (("b", 2), ("a", 1), ("sub/c", 3)):
        # PNG images (lossless, so the image's blue channel equals the map); the maps end in "_map.png"
        write_pair(tmp_path / "img" / f"{name}.png", tmp_path / "ann" / f"{name}_map.png", label_of(value))
    (tmp_path / "img" / "readme.txt").write_text("not an image")
    return tmp_path


def test_plain_layout_records_are_sorted_and_paired(plain_root):
    dataset = BaseSegDataset(
        data_root=str(plain_root), data_prefix=dict(img_path="img", seg_map_path="ann"), **PLAIN
    )
    assert len(dataset) == 3
    names = [os.path.relpath(dataset.get_data_info(i)["img_path"], plain_root / "img") for i in range(3)]
    assert names == ["a.png", "b.png", os.path.join("sub", "c.png")]
    info = dataset.get_data_info(2)
    assert info["seg_map_path"] == str(plain_root / "ann" / "sub" / "c_map.png")
    assert info["reduce_zero_label"] is False and info["seg_fields"] == [] and info["sample_idx"] == 2
    assert "label_map" not in info
    for index, value in enumerate((1, 2, 3)):
        results = load(dataset, index)
        np.testing.assert_array_equal(results["gt_seg_map"], label_of(value))
        np.testing.assert_allclose(
            results["img"][..., 0], results["gt_seg_map"], atol=3
        )  # the map fits the image
    assert dataset.metainfo["palette"] is None and "classes" not in dataset.metainfo


def test_missing_map_names_the_image(plain_root):
    os.remove(plain_root / "ann" / "b_map.png")
    with pytest.raises(DatasetError, match=r"label map .*b_map\.png.* of image .*b\.png"):
        BaseSegDataset(
            data_root=str(plain_root), data_prefix=dict(img_path="img", seg_map_path="ann"), **PLAIN
        )
    skipping = BaseSegDataset(
        data_root=str(plain_root),
        data_prefix=dict(img_path="img", seg_map_path="ann"),
        **PLAIN,
        skip_bad_samples=True,
    )
    assert len(skipping) == 2 and skipping.bad_sample_count == 1


def test_folders_and_split_file_errors(plain_root):
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        BaseSegDataset(data_root=str(plain_root), data_prefix=dict(img_path="nope", seg_map_path="ann"))
    with pytest.raises(DatasetError, match=r"no image ending with '\.bmp'"):
        BaseSegDataset(
            data_root=str(plain_root),
            data_prefix=dict(img_path="img", seg_map_path="ann"),
            **dict(PLAIN, img_suffix=".bmp"),
        )
    with pytest.raises(FileNotFoundError, match="split file not found"):
        BaseSegDataset(
            data_root=str(plain_root),
            data_prefix=dict(img_path="img", seg_map_path="ann"),
            **PLAIN,
            ann_file="missing.txt",
        )


def test_split_file_and_unlabelled_images(plain_root):
    (plain_root / "split.txt").write_text("sub/c\n\nb\n")
    dataset = BaseSegDataset(
        data_root=str(plain_root),
        data_prefix=dict(img_path="img", seg_map_path="ann"),
        **PLAIN,
        ann_file="split.txt",
    )
    assert [dataset.get_data_info(i)["img_path"] for i in range(2)] == [
        os.path.join(str(plain_root), "img", "sub/c.png"),
        os.path.join(str(plain_root), "img", "b.png"),
    ]
    (plain_root / "split.txt").write_text("a\nzzz\n")
    with pytest.raises(DatasetError, match=r"split\.txt.*line 2: image .*zzz\.png"):
        BaseSegDataset(
            data_root=str(plain_root),
            data_prefix=dict(img_path="img", seg_map_path="ann"),
            **PLAIN,
            ann_file="split.txt",
        )
    unlabelled = BaseSegDataset(data_root=str(plain_root), data_prefix=dict(img_path="img"), **PLAIN)
    assert len(unlabelled) == 3 and "seg_map_path" not in unlabelled.get_data_info(0)


# ---- ADE20K -------------------------------------------------------------------------------------------
def test_ade20k_layout_reduces_zero_label(tmp_path):
    root = tmp_path / "ADEChallengeData2016"
    raw = np.array([[0, 1, 2, 150], [150, 0, 7, 7]], dtype=np.uint8)
    for name in ("ADE_train_00000002", "ADE_train_00000001"):
        write_pair(
            root / "images" / "training" / f"{name}.jpg",
            root / "annotations" / "training" / f"{name}.png",
            raw,
        )
    dataset = build(
        dict(
            type="ADE20KDataset",
            data_root=str(root),
            data_prefix=dict(img_path="images/training", seg_map_path="annotations/training"),
        ),
        DATASETS,
    )
    assert isinstance(dataset, ADE20KDataset) and len(dataset) == 2
    assert dataset.get_data_info(0)["img_path"].endswith("ADE_train_00000001.jpg")
    assert dataset.get_data_info(0)["reduce_zero_label"] is True
    assert dataset.metainfo["classes"] == ADE20K_CLASSES and len(ADE20K_CLASSES) == 150
    assert len(dataset.metainfo["palette"]) == 150 and dataset.metainfo["reduce_zero_label"] is True
    expected = np.array([[255, 0, 1, 149], [149, 255, 6, 6]], dtype=np.uint8)
    np.testing.assert_array_equal(load(dataset, 0)["gt_seg_map"], expected)


# ---- Cityscapes ---------------------------------------------------------------------------------------
def test_cityscapes_layout_with_city_folders(tmp_path):
    root = tmp_path / "cityscapes"
    entries = [
        ("bremen", "bremen_000000_000019", 5),
        ("aachen", "aachen_000001_000019", 18),
        ("aachen", "aachen_000000_000019", 0),
    ]
    for city, stem, value in entries:
        write_pair(
            root / "leftImg8bit" / "train" / city / f"{stem}_leftImg8bit.png",
            root / "gtFine" / "train" / city / f"{stem}_gtFine_labelTrainIds.png",
            label_of(value),
        )
        # the other Cityscapes files next to them must not be picked up
        cv2.imwrite(str(root / "gtFine" / "train" / city / f"{stem}_gtFine_labelIds.png"), label_of(33))
        cv2.imwrite(
            str(root / "gtFine" / "train" / city / f"{stem}_gtFine_color.png"), np.zeros((6, 8, 3), np.uint8)
        )
    dataset = CityscapesDataset(
        data_root=str(root), data_prefix=dict(img_path="leftImg8bit/train", seg_map_path="gtFine/train")
    )
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [os.path.basename(info["img_path"]) for info in infos] == [
        "aachen_000000_000019_leftImg8bit.png",
        "aachen_000001_000019_leftImg8bit.png",
        "bremen_000000_000019_leftImg8bit.png",
    ]
    assert infos[2]["seg_map_path"] == str(
        root / "gtFine/train/bremen/bremen_000000_000019_gtFine_labelTrainIds.png"
    )
    assert dataset.metainfo["classes"] == CITYSCAPES_CLASSES and len(dataset.metainfo["palette"]) == 19
    np.testing.assert_array_equal(load(dataset, 1)["gt_seg_map"], label_of(18))
    assert infos[0]["reduce_zero_label"] is False


# ---- Pascal VOC ---------------------------------------------------------------------------------------
def test_pascal_voc_layout_with_palette_maps(tmp_path):
    root = tmp_path / "VOCdevkit" / "VOC2012"
    label = np.array([[0, 0, 15, 15], [255, 255, 15, 1], [0, 20, 20, 1]], dtype=np.uint8)
    for name in ("2007_000032", "2007_000033", "2007_000039"):
        write_pair(
            root / "JPEGImages" / f"{name}.jpg",
            root / "SegmentationClass" / f"{name}.png",
            label,
            voc_colormap(),
        )
    split = root / "ImageSets" / "Segmentation" / "train.txt"
    split.parent.mkdir(parents=True)
    split.write_text("2007_000039\n2007_000032\n")
    dataset = PascalVOCDataset(data_root=str(root), ann_file="ImageSets/Segmentation/train.txt")
    assert [os.path.basename(dataset.get_data_info(i)["img_path"]) for i in range(len(dataset))] == [
        "2007_000039.jpg",
        "2007_000032.jpg",
    ]
    with Image.open(dataset.get_data_info(0)["seg_map_path"]) as image:
        assert image.mode == "P" and image.getpalette()[15 * 3 : 15 * 3 + 3] == [192, 128, 128]  # "person"
    np.testing.assert_array_equal(load(dataset, 0)["gt_seg_map"], label)  # indices, not colours
    assert dataset.metainfo["classes"] == VOC_SEG_CLASSES and len(VOC_SEG_CLASSES) == 21
    assert VOC_SEG_PALETTE[:3] == [[0, 0, 0], [128, 0, 0], [0, 128, 0]] and VOC_SEG_PALETTE[20] == [
        0,
        64,
        128,
    ]
    with pytest.raises(ValueError, match="ann_file"):
        PascalVOCDataset(data_root=str(root))


def test_class_subset_maps_the_others_to_ignore(tmp_path):
    root = tmp_path / "VOC2012"
    label = np.array([[0, 15, 7, 255]], dtype=np.uint8)
    write_pair(root / "JPEGImages" / "x.jpg", root / "SegmentationClass" / "x.png", label, voc_colormap())
    (root / "list.txt").write_text("x\n")
    dataset = PascalVOCDataset(
        data_root=str(root), ann_file="list.txt", metainfo=dict(classes=("person", "car"))
    )
    assert dataset.metainfo["classes"] == ("person", "car")
    assert dataset.metainfo["palette"] == [VOC_SEG_PALETTE[15], VOC_SEG_PALETTE[7]]
    np.testing.assert_array_equal(load(dataset, 0)["gt_seg_map"], [[255, 0, 1, 255]])
    with pytest.raises(DatasetError, match=r"\['zebra'\] are not classes"):
        PascalVOCDataset(data_root=str(root), ann_file="list.txt", metainfo=dict(classes=("person", "zebra")))


# ---- synthetic ----------------------------------------------------------------------------------------
def test_synth_dataset_reads_the_generated_layout(tmp_path):
    write_synthetic_segmentation(tmp_path, num_train=3, num_val=2, image_size=32, seed=1)
    train = SynthSegDataset(
        data_root=str(tmp_path), data_prefix=dict(img_path="img_dir/train", seg_map_path="ann_dir/train")
    )
    val = SynthSegDataset(
        data_root=str(tmp_path), data_prefix=dict(img_path="img_dir/val", seg_map_path="ann_dir/val")
    )
    assert len(train) == 3 and len(val) == 2
    assert train.metainfo["classes"] == SEG_CLASSES and train.metainfo["palette"] == SEG_PALETTE
    results = load(train, 2)
    assert results["gt_seg_map"].shape == (32, 32) and results["gt_seg_map"].max() < len(SEG_CLASSES)
    (tmp_path / "meta.json").write_text('{"classes": ["a", "b"], "palette": [[0, 0, 0], [1, 1, 1]]}')
    with pytest.raises(DatasetError, match=r"meta\.json.*lists classes"):
        SynthSegDataset(
            data_root=str(tmp_path), data_prefix=dict(img_path="img_dir/val", seg_map_path="ann_dir/val")
        )


# ---- PackSegInputs and pipelines ---------------------------------------------------------------------
def test_pack_seg_inputs():
    seg = np.array([[1, 2, 255], [0, 0, 3]], dtype=np.uint8)
    results = {
        "img": np.arange(18, dtype=np.uint8).reshape(2, 3, 3),
        "gt_seg_map": seg,
        "img_path": "a.jpg",
        "seg_map_path": "a.png",
        "ori_shape": (2, 3),
        "img_shape": (2, 3),
        "reduce_zero_label": False,
        "sample_idx": 4,
    }
    packed = PackSegInputs()(results)
    assert packed["inputs"].dtype == torch.uint8 and tuple(packed["inputs"].shape) == (3, 2, 3)
    assert packed["inputs"][2, 1, 0].item() == results["img"][1, 0, 2]  # channel-first, BGR kept
    sample = packed["data_samples"]
    assert isinstance(sample, DataSample)
    data = sample.gt_sem_seg.data
    assert data.dtype == torch.int64 and tuple(data.shape) == (1, 2, 3)
    assert data[0].tolist() == seg.tolist()
    assert sample.img_path == "a.jpg" and sample.seg_map_path == "a.png" and sample.reduce_zero_label is False
    assert "flip" not in sample.metainfo and "sample_idx" not in sample.metainfo
    unlabelled = PackSegInputs()({"img": results["img"], "img_path": "b.jpg"})
    assert "gt_sem_seg" not in unlabelled["data_samples"]
    with pytest.raises(KeyError, match="put LoadImage first"):
        PackSegInputs()({"gt_seg_map": seg})
    with pytest.raises(ValueError, match=r"must be \(H, W\)"):
        PackSegInputs()({"img": results["img"], "gt_seg_map": seg[None]})


def test_train_and_test_pipelines_keep_map_and_image_aligned(plain_root):
    train_pipeline = [
        dict(type="LoadImage"),
        dict(type="LoadAnnotations"),
        dict(type="RandomResize", scale=(16, 12), ratio_range=(0.5, 2.0), keep_ratio=True),
        dict(type="RandomCrop", crop_size=(8, 6), cat_max_ratio=0.75),
        dict(type="RandomFlip", prob=0.5),
        dict(type="PhotoMetricDistortion"),
        dict(type="PackSegInputs"),
    ]
    dataset = BaseSegDataset(
        data_root=str(plain_root),
        data_prefix=dict(img_path="img", seg_map_path="ann"),
        **PLAIN,
        pipeline=[build(step, TRANSFORMS) for step in train_pipeline],
    )
    for seed in range(5):
        np.random.seed(seed)
        packed = dataset[seed % 3]
        seg = packed["data_samples"].gt_sem_seg.data
        assert tuple(seg.shape[1:]) == tuple(packed["inputs"].shape[1:]) == packed["data_samples"].img_shape
        assert set(seg.unique().tolist()) <= {0, 1, 2, 3, 255}
    test_pipeline = [
        dict(type="LoadImage"),
        dict(type="Resize", scale=(16, 12), keep_ratio=True),
        dict(type="LoadAnnotations"),
        dict(type="PackSegInputs"),
    ]
    test_set = BaseSegDataset(
        data_root=str(plain_root),
        data_prefix=dict(img_path="img", seg_map_path="ann"),
        **PLAIN,
        pipeline=[build(step, TRANSFORMS) for step in test_pipeline],
        test_mode=True,
    )
    packed = test_set[0]
    assert tuple(packed["inputs"].shape[1:]) == (12, 16)  # 6x8 scaled by 2
    assert tuple(packed["data_samples"].gt_sem_seg.data.shape) == (1, 6, 8)  # the map stays at ori_shape
    assert packed["data_samples"].ori_shape == (6, 8) and packed["data_samples"].scale_factor == (2.0, 2.0)
