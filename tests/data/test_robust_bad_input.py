"""Bad input: missing, empty, truncated and non-image files, and bad boxes, fail naming the file and
record, or with skip_bad_samples are replaced, counted, and logged per epoch over the workers."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from visionstack.data import BaseDataset
from visionstack.data.base_dataset import DatasetError
from visionstack.data.transforms.loading import LoadImage
from visionstack.engine import build_dataloader
from visionstack.engine.data_loading import bad_sample_count


@pytest.fixture()
def image_folder(tmp_path):
    good = np.random.default_rng(0).integers(0, 255, (12, 10, 3), dtype=np.uint8)
    for index in range(6):
        cv2.imwrite(str(tmp_path / f"good{index}.png"), good)
    (tmp_path / "empty.png").write_bytes(b"")
    encoded = (tmp_path / "good0.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(encoded[: len(encoded) // 3])
    (tmp_path / "text.png").write_text("not an image")
    return tmp_path


def _dataset(folder, names, **kwargs):
    records = [{"img_path": name, "gt_label": 0} for name in names]
    ann = folder / "ann.json"
    ann.write_text(json.dumps({"metainfo": {"classes": ["a"]}, "data_list": records}))
    return BaseDataset(
        ann_file=str(ann), data_prefix=dict(img_path=str(folder)), pipeline=[LoadImage()], **kwargs
    )


@pytest.mark.parametrize("name", ["missing.png", "empty.png", "truncated.png", "text.png"])
def test_bad_image_file_raises_naming_file_and_record(image_folder, name):
    dataset = _dataset(image_folder, ["good0.png", name])
    with pytest.raises(DatasetError, match=rf"ann.json.*record 1.*{name}"):
        dataset[1]


def test_bad_boxes_raise_naming_record_or_are_skipped(tmp_path):
    records = [
        {
            "img_path": "a.png",
            "width": 10,
            "height": 10,
            "instances": [{"bbox": [1, 1, 5, 5], "bbox_label": 0}],
        },
        {
            "img_path": "b.png",
            "width": 10,
            "height": 10,
            "instances": [{"bbox": [1, 1, 12, 5], "bbox_label": 0}],
        },
        {
            "img_path": "c.png",
            "width": 10,
            "height": 10,
            "instances": [{"bbox": [6, 1, 2, 5], "bbox_label": 0}],
        },
    ]
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"data_list": records}))
    with pytest.raises(DatasetError, match=r"ann.json.*record 1.*outside the 10x10 image"):
        BaseDataset(ann_file=str(ann))
    dataset = BaseDataset(ann_file=str(ann), skip_bad_samples=True)
    assert len(dataset) == 1 and dataset.bad_sample_count == 2
    assert "negative size" in dataset.bad_samples[1][1]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_skipped_samples_are_replaced_and_counted_over_workers(image_folder, num_workers):
    names = [f"good{i}.png" for i in range(6)] + ["missing.png", "empty.png", "truncated.png", "text.png"]
    dataset_cfg = dict(
        type="BaseDataset",
        ann_file=str(image_folder / "ann.json"),
        data_prefix=dict(img_path=str(image_folder)),
        pipeline=[LoadImage()],
        skip_bad_samples=True,
    )
    _dataset(image_folder, names)  # writes ann.json
    loader = build_dataloader(
        dict(
            batch_size=5,
            num_workers=num_workers,
            dataset=dataset_cfg,
            sampler=dict(type="DefaultSampler", shuffle=False),
            collate_fn=lambda batch: batch,
        ),
        seed=0,
    )
    samples = [sample for batch in loader for sample in batch]
    assert len(samples) == 10 and all("good" in s["img_path"] for s in samples)
    assert bad_sample_count(loader) >= 4  # every bad record met at least once (replacements may be bad too)
