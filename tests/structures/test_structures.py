"""DataSample, InstanceData, PixelData, LabelData."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.structures import DataSample, InstanceData, LabelData, PixelData


def make_instances(n: int) -> InstanceData:
    return InstanceData(
        metainfo=dict(img_shape=(10, 20)),
        bboxes=torch.arange(n * 4, dtype=torch.float32).reshape(n, 4),
        labels=torch.arange(n),
        names=[f"obj{i}" for i in range(n)],
        masks=np.zeros((n, 10, 20), dtype=bool),
    )


def test_instance_indexing_keeps_fields_aligned():
    inst = make_instances(5)
    picked = inst[inst.labels % 2 == 0]
    assert len(picked) == 3
    assert picked.labels.tolist() == [0, 2, 4] and picked.names == ["obj0", "obj2", "obj4"]
    assert torch.equal(picked.bboxes, inst.bboxes[[0, 2, 4]])
    assert picked.masks.shape == (3, 10, 20)
    assert inst[1].labels.tolist() == [1] and inst[-1].names == ["obj4"]
    assert inst[torch.tensor([4, 0])].labels.tolist() == [4, 0]
    assert inst[1:3].metainfo == {"img_shape": (10, 20)}
    with pytest.raises(IndexError):
        inst[5]


def test_instance_length_is_enforced():
    inst = make_instances(3)
    with pytest.raises(ValueError, match="length 2"):
        inst.scores = torch.zeros(2)


def test_instance_cat():
    merged = InstanceData.cat([make_instances(2), make_instances(3)])
    assert len(merged) == 5 and merged.labels.tolist() == [0, 1, 0, 1, 2]
    assert merged.names[2:] == ["obj0", "obj1", "obj2"] and merged.masks.shape[0] == 5
    with pytest.raises(ValueError, match="fields"):
        InstanceData.cat([make_instances(1), InstanceData(labels=torch.zeros(1))])


def test_to_and_metainfo():
    sample = DataSample(metainfo=dict(img_path="a.png", ori_shape=(4, 5)))
    sample.gt_label = LabelData(label=torch.tensor([3]))
    sample.gt_instances = make_instances(2)
    moved = sample.to(torch.float64)
    assert moved.gt_instances.bboxes.dtype == torch.float64
    assert moved.gt_instances.labels.dtype == torch.float64
    assert moved.img_path == "a.png" and moved.metainfo == sample.metainfo
    assert sample.gt_instances.bboxes.dtype == torch.float32  # the original is untouched
    assert "gt_label" in sample and "img_path" in sample and sample.keys() == ["gt_instances", "gt_label"]
    with pytest.raises(AttributeError, match="metainfo"):
        sample.set_field("img_path", 1)
    plain = sample.to_dict()
    assert plain["gt_label"]["label"] == [3] and plain["ori_shape"] == [4, 5]


def test_pixel_data_checks_shapes():
    pixels = PixelData(sem_seg=torch.zeros(6, 7, dtype=torch.long))
    assert pixels.sem_seg.shape == (1, 6, 7) and pixels.shape == (6, 7)
    pixels.logits = torch.zeros(3, 6, 7)
    with pytest.raises(ValueError, match="size"):
        pixels.other = torch.zeros(1, 5, 7)


def test_label_onehot_round_trip():
    onehot = LabelData.label_to_onehot(torch.tensor([1, 3]), 5)
    assert onehot.tolist() == [0, 1, 0, 1, 0]
    assert LabelData.onehot_to_label(onehot).tolist() == [1, 3]
