"""Every task's data preprocessor gives, to the last bit, the batches of the pre-issue-12 preprocessors.

The references below are slow, explicit loops written from the old behaviour (one image at a time:
float32, BGR -> RGB, ``(x - mean) / std``, pad bottom/right with ``pad_value`` to the batch maximum
rounded up to the divisor (and at least the minimum size); label maps padded with ``seg_pad_value``;
masks padded with ``mask_pad_value``; classification: one-hot scores, then the batch augments).
Inputs and targets are compared with ``torch.equal`` on random batches.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from visionstack.models import DataPreprocessor, RandomBatchAugment
from visionstack.structures import BitmapMasks, DataSample, InstanceData, LabelData, PixelData, PolygonMasks
from visionstack.tasks.classification.batch_augments import CutMix, Mixup
from visionstack.tasks.classification.data_preprocessor import ClsDataPreprocessor
from visionstack.tasks.detection.models.data_preprocessor import DetDataPreprocessor
from visionstack.tasks.segmentation.models.data_preprocessor import SegDataPreProcessor

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
SEEDS = range(6)


def padded_shape(shapes, divisor, min_size=None) -> tuple[int, int]:
    height = math.ceil(max(h for h, _ in shapes) / divisor) * divisor
    width = math.ceil(max(w for _, w in shapes) / divisor) * divisor
    if min_size is not None:
        width = max(width, math.ceil(min_size[0] / divisor) * divisor)
        height = max(height, math.ceil(min_size[1] / divisor) * divisor)
    return height, width


def reference_images(images, mean, std, bgr_to_rgb, divisor, pad_value, min_size=None) -> torch.Tensor:
    """The old image path, one image at a time."""
    height, width = padded_shape([tuple(image.shape[-2:]) for image in images], divisor, min_size)
    out = torch.full((len(images), images[0].shape[0], height, width), float(pad_value), dtype=torch.float32)
    mean_t = None if mean is None else torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
    std_t = None if std is None else torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
    for index, image in enumerate(images):
        pixels = image.float()
        if bgr_to_rgb:
            pixels = pixels[[2, 1, 0]]
        if mean_t is not None:
            pixels = (pixels - mean_t) / std_t
        out[index, :, : pixels.shape[1], : pixels.shape[2]] = pixels
    return out


def random_batch(seed: int, same_size: bool, channels: int = 3):
    """Four random images (uint8, or float32 0-255 for odd seeds) and the drawn options."""
    generator = torch.Generator().manual_seed(seed)
    shapes = (
        [(32, 32)] * 4
        if same_size
        else [tuple(torch.randint(5, 41, (2,), generator=generator).tolist()) for _ in range(4)]
    )
    images = [
        torch.randint(0, 256, (channels, h, w), dtype=torch.uint8, generator=generator) for h, w in shapes
    ]
    if seed % 2:
        images = [image.float() for image in images]
    options = dict(bgr_to_rgb=bool(seed % 3), divisor=(1, 8, 32)[seed % 3], pad_value=(0.0, -1.5)[seed % 2])
    return images, shapes, generator, options


def as_inputs(images, stacked: bool):
    return torch.stack(images) if stacked else list(images)


CASES = [
    (seed, same, stacked)
    for seed in SEEDS
    for same in (True, False)
    for stacked in (False, True)
    if same or not stacked
]


@pytest.mark.parametrize(("seed", "same_size", "stacked"), CASES)
def test_base_batches_equal_the_reference(seed, same_size, stacked):
    images, _, _, opt = random_batch(seed, same_size)
    preprocessor = DataPreprocessor(
        MEAN, STD, bgr_to_rgb=opt["bgr_to_rgb"], pad_size_divisor=opt["divisor"], pad_value=opt["pad_value"]
    )
    out = preprocessor({"inputs": as_inputs(images, stacked), "data_samples": None}, training=True)["inputs"]
    assert torch.equal(
        out, reference_images(images, MEAN, STD, opt["bgr_to_rgb"], opt["divisor"], opt["pad_value"])
    )
    plain = DataPreprocessor()({"inputs": as_inputs(images, stacked)})["inputs"]
    assert torch.equal(plain, reference_images(images, None, None, False, 1, 0.0))


@pytest.mark.parametrize(("seed", "same_size", "stacked"), CASES)
def test_classification_batches_and_targets_equal_the_reference(seed, same_size, stacked):
    images, _, generator, opt = random_batch(seed, same_size)
    num_classes = 5
    labels = torch.randint(0, num_classes, (len(images),), generator=generator)

    def samples() -> list[DataSample]:
        return [DataSample(gt_label=LabelData(label=label.view(1))) for label in labels]

    def augments() -> list:
        return [RandomBatchAugment([Mixup(0.8, num_classes), CutMix(1.0, num_classes)], probs=[0.4, 0.4])]

    preprocessor = ClsDataPreprocessor(
        MEAN,
        STD,
        bgr_to_rgb=opt["bgr_to_rgb"],
        pad_size_divisor=opt["divisor"],
        pad_value=opt["pad_value"],
        num_classes=num_classes,
        batch_augments=augments(),
    )
    reference_batch = reference_images(images, MEAN, STD, opt["bgr_to_rgb"], opt["divisor"], opt["pad_value"])
    for training in (False, True):
        torch.manual_seed(seed)
        out = preprocessor(
            {"inputs": as_inputs(images, stacked), "data_samples": samples()}, training=training
        )
        torch.manual_seed(seed)
        expected_samples = samples()
        expected = reference_batch.clone()
        if training:  # the old order: one-hot scores of every sample, then the augments
            for sample in expected_samples:
                score = torch.zeros(num_classes)
                score[sample.gt_label.label] = 1.0
                sample.gt_label.score = score
            for augment in augments():
                expected, expected_samples = augment(expected, expected_samples)
        assert torch.equal(out["inputs"], expected)
        for got, want in zip(out["data_samples"], expected_samples):
            assert got.batch_input_shape == got.pad_shape == tuple(expected.shape[-2:])
            assert ("score" in got.gt_label) == training
            if training:
                assert torch.equal(got.gt_label.score, want.gt_label.score)


@pytest.mark.parametrize(("seed", "same_size", "stacked"), CASES)
def test_segmentation_batches_and_label_maps_equal_the_reference(seed, same_size, stacked):
    images, shapes, generator, opt = random_batch(seed, same_size)
    maps = [torch.randint(0, 6, (1, h, w), generator=generator) for h, w in shapes]
    size = (36, 20) if seed % 2 else None
    divisor = (None, 8, 16)[seed % 3]
    preprocessor = SegDataPreProcessor(
        MEAN,
        STD,
        bgr_to_rgb=opt["bgr_to_rgb"],
        size=size,
        size_divisor=divisor,
        pad_val=opt["pad_value"],
        seg_pad_val=255,
    )
    samples = [DataSample(gt_sem_seg=PixelData(data=seg.clone())) for seg in maps]
    out = preprocessor({"inputs": as_inputs(images, stacked), "data_samples": samples}, training=True)
    expected = reference_images(images, MEAN, STD, opt["bgr_to_rgb"], divisor or 1, opt["pad_value"], size)
    assert torch.equal(out["inputs"], expected)
    height, width = expected.shape[-2:]
    for sample, seg in zip(out["data_samples"], maps):
        padded = torch.full((1, height, width), 255, dtype=seg.dtype)
        padded[:, : seg.shape[1], : seg.shape[2]] = seg
        assert torch.equal(sample.gt_sem_seg.data, padded)
        assert sample.batch_input_shape == (height, width)


@pytest.mark.parametrize(("seed", "same_size", "stacked"), CASES)
def test_detection_batches_and_masks_equal_the_reference(seed, same_size, stacked):
    images, shapes, generator, opt = random_batch(seed, same_size)
    bitmaps = [
        torch.randint(0, 2, (3, h, w), generator=generator, dtype=torch.uint8).numpy() for h, w in shapes
    ]

    def samples() -> list[DataSample]:
        out = []
        for index, ((h, w), bitmap) in enumerate(zip(shapes, bitmaps)):
            if index == 1:  # polygons are rasterised before padding
                masks = PolygonMasks([[np.array([1.0, 1.0, w - 2.0, 1.0, w / 2.0, h - 2.0])]], h, w)
            else:
                masks = BitmapMasks(bitmap, h, w)
            out.append(DataSample(gt_instances=InstanceData(masks=masks, bboxes=torch.zeros(len(masks), 4))))
        return out

    recorded = []

    def record(inputs, data_samples):
        recorded.append(inputs.clone())
        return inputs * 2, data_samples

    preprocessor = DetDataPreprocessor(
        MEAN,
        STD,
        bgr_to_rgb=opt["bgr_to_rgb"],
        pad_size_divisor=opt["divisor"],
        pad_value=opt["pad_value"],
        pad_mask=True,
        mask_pad_value=0,
        batch_augments=[record],
    )
    expected = reference_images(images, MEAN, STD, opt["bgr_to_rgb"], opt["divisor"], opt["pad_value"])
    height, width = expected.shape[-2:]
    for training in (False, True):
        out = preprocessor(
            {"inputs": as_inputs(images, stacked), "data_samples": samples()}, training=training
        )
        assert torch.equal(out["inputs"], expected * 2 if training else expected)
        for sample, reference in zip(out["data_samples"], samples()):
            masks = reference.gt_instances.masks
            bitmap = masks.to_bitmap().masks if isinstance(masks, PolygonMasks) else masks.masks
            padded = np.zeros((len(bitmap), height, width), dtype=np.uint8)
            padded[:, : bitmap.shape[1], : bitmap.shape[2]] = bitmap
            got = sample.gt_instances.masks
            assert isinstance(got, BitmapMasks) and np.array_equal(got.masks, padded)
            assert sample.batch_input_shape == sample.pad_shape == (height, width)
    assert len(recorded) == 1 and torch.equal(recorded[0], expected)  # augments ran once, on the padded batch
