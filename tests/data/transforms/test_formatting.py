from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.data import PackInputs, image_to_tensor, to_label_tensor
from visionstack.data.transforms.formatting import IMAGE_META_KEYS, PACK_META_KEYS, BasePackInputs
from visionstack.structures import DataSample, LabelData


def test_pack_inputs_makes_a_chw_uint8_tensor_and_a_data_sample(results):
    results["scale_factor"] = (1.0, 1.0)
    results["flip"] = False
    results["extra_key"] = "not packed"
    packed = PackInputs()(results)
    assert set(packed) == {"inputs", "data_samples"}
    inputs = packed["inputs"]
    assert inputs.dtype == torch.uint8 and tuple(inputs.shape) == (3, 24, 32)
    np.testing.assert_array_equal(inputs.numpy(), results["img"].transpose(2, 0, 1))
    assert inputs.data_ptr() == results["img"].ctypes.data  # a channel-first view: packing copies nothing
    sample = packed["data_samples"]
    assert isinstance(sample, DataSample) and isinstance(sample.gt_label, LabelData)
    assert sample.gt_label.label.dtype == torch.int64 and sample.gt_label.label.tolist() == [3]
    assert sample.img_shape == (24, 32) and sample.img_path == "noise.png" and sample.sample_idx == 0
    assert sample.scale_factor == (1.0, 1.0) and sample.flip is False
    assert "extra_key" not in sample and "flip_direction" not in sample


def test_pack_inputs_labels_scores_and_custom_meta_keys(results):
    results["gt_label"] = [1, 4]
    results["gt_score"] = [0.0, 0.5, 0.0, 0.0, 0.5]
    sample = PackInputs(meta_keys=("img_path",))(results)["data_samples"]
    assert sample.gt_label.label.tolist() == [1, 4]
    assert torch.allclose(sample.gt_label.score, torch.tensor([0.0, 0.5, 0.0, 0.0, 0.5]))
    assert sample.metainfo_keys() == ["img_path"]
    del results["gt_label"], results["gt_score"]
    assert "gt_label" not in PackInputs()(results)["data_samples"]


def test_pack_inputs_needs_an_image():
    with pytest.raises(KeyError, match="no `img`.*LoadImage"):
        PackInputs()({"img_path": "x.png"})


def test_tensor_helpers():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert tuple(image_to_tensor(gray).shape) == (1, 3, 4)
    float_image = np.zeros((2, 3, 3), dtype=np.float32)
    assert image_to_tensor(float_image).dtype == torch.float32
    with pytest.raises(ValueError, match="shape"):
        image_to_tensor(np.zeros(5))
    mirrored = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)[:, ::-1]  # negative strides: copied
    np.testing.assert_array_equal(image_to_tensor(mirrored).numpy(), mirrored.transpose(2, 0, 1))
    assert to_label_tensor(np.int64(2)).tolist() == [2]
    assert to_label_tensor(torch.tensor(5)).tolist() == [5]
    assert to_label_tensor(np.array([1, 2])).dtype == torch.int64


def test_a_task_packer_adds_only_its_annotations(results):
    class PackMeans(BasePackInputs):
        def pack_annotations(self, results: dict, sample: DataSample) -> None:
            sample.mean = float(results["img"].mean())

    packed = PackMeans(meta_keys=("img_path",))(results)
    assert packed["inputs"].shape == (3, 24, 32) and packed["data_samples"].metainfo_keys() == ["img_path"]
    assert packed["data_samples"].mean == pytest.approx(float(results["img"].mean()))
    with pytest.raises(KeyError, match=r"^.PackMeans: the results have no `img` .*; put LoadImage first.$"):
        PackMeans()({"img_path": "x.png"})
    assert PACK_META_KEYS == ("sample_idx", *IMAGE_META_KEYS)
