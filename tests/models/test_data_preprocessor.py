"""DataPreprocessor: normalisation, BGR -> RGB and padding against NumPy; metainfo; augments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.models import DataPreprocessor
from visionstack.structures import DataSample, LabelData

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def uint8_images(*shapes: tuple[int, int, int], seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator) for shape in shapes]


def numpy_reference(images, mean, std, bgr_to_rgb, divisor, pad_value) -> np.ndarray:
    """Slow reference: per image float64 BGR->RGB, normalise, pad bottom/right, stack."""
    height = int(np.ceil(max(i.shape[1] for i in images) / divisor) * divisor)
    width = int(np.ceil(max(i.shape[2] for i in images) / divisor) * divisor)
    out = np.full((len(images), images[0].shape[0], height, width), pad_value, dtype=np.float64)
    for index, image in enumerate(images):
        data = image.numpy().astype(np.float64)
        if bgr_to_rgb:
            data = data[::-1]
        data = (data - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
        out[index, :, : data.shape[1], : data.shape[2]] = data
    return out


@pytest.mark.parametrize(("divisor", "pad_value"), [(1, 0.0), (8, 0.0), (32, -1.5)])
def test_matches_numpy_for_images_of_different_sizes(divisor, pad_value):
    images = uint8_images((3, 20, 30), (3, 27, 17), (3, 5, 9))
    preprocessor = DataPreprocessor(MEAN, STD, bgr_to_rgb=True, pad_size_divisor=divisor, pad_value=pad_value)
    out = preprocessor({"inputs": images, "data_samples": None})["inputs"]
    expected = numpy_reference(images, MEAN, STD, True, divisor, pad_value)
    assert out.dtype == torch.float32 and tuple(out.shape) == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_same_size_images_and_stacked_batches_give_the_same_result():
    images = uint8_images((3, 16, 16), (3, 16, 16))
    preprocessor = DataPreprocessor(MEAN, STD, bgr_to_rgb=True, pad_size_divisor=32)
    from_list = preprocessor({"inputs": images})["inputs"]
    from_stack = preprocessor({"inputs": torch.stack(images)})["inputs"]
    torch.testing.assert_close(from_list, from_stack)
    expected = numpy_reference(images, MEAN, STD, True, 32, 0.0)
    np.testing.assert_allclose(from_list.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_default_only_casts_and_stacks():
    images = uint8_images((1, 4, 4), (1, 4, 4))
    out = DataPreprocessor()({"inputs": images})["inputs"]
    torch.testing.assert_close(out, torch.stack(images).float())


def test_metainfo_records_the_batch_shape():
    samples = [DataSample(metainfo={"img_shape": (20, 30)}), DataSample(metainfo={"img_shape": (27, 17)})]
    out = DataPreprocessor(pad_size_divisor=16)({"inputs": uint8_images((3, 20, 30), (3, 27, 17)),
                                                 "data_samples": samples})
    for sample in out["data_samples"]:
        assert sample.batch_input_shape == (32, 32) and sample.pad_shape == (32, 32)
        assert "img_shape" in sample


def test_moves_to_the_module_device_and_keeps_normalisation_out_of_the_state_dict():
    preprocessor = DataPreprocessor(MEAN, STD)
    assert preprocessor.device == torch.device("cpu")
    assert preprocessor.state_dict() == {}
    out = preprocessor.to(torch.float64)({"inputs": uint8_images((3, 2, 2))})
    assert out["inputs"].device == preprocessor.device


class RecordingAugment:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, inputs, data_samples):
        self.calls += 1
        return inputs + 1, data_samples


def test_batch_augments_run_only_in_training_and_get_one_hot_scores():
    augment = RecordingAugment()
    preprocessor = DataPreprocessor(num_classes=4, batch_augments=[augment])
    images = uint8_images((3, 4, 4), (3, 4, 4))

    def batch():
        return {"inputs": images, "data_samples": [DataSample(gt_label=LabelData(label=torch.tensor([i])))
                                                   for i in (2, 0)]}

    evaluated = preprocessor(batch(), training=False)
    assert augment.calls == 0 and "score" not in evaluated["data_samples"][0].gt_label
    trained = preprocessor(batch(), training=True)
    assert augment.calls == 1
    torch.testing.assert_close(trained["inputs"], torch.stack(images).float() + 1)
    torch.testing.assert_close(trained["data_samples"][0].gt_label.score, torch.tensor([0.0, 0.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="need data_samples"):
        preprocessor({"inputs": images}, training=True)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="both mean and std"):
        DataPreprocessor(mean=MEAN)
    with pytest.raises(ValueError, match="needs 3-channel"):
        DataPreprocessor(bgr_to_rgb=True)({"inputs": uint8_images((1, 4, 4))})
    with pytest.raises(ValueError, match="mean/std have 3 channels"):
        DataPreprocessor(MEAN, STD)({"inputs": uint8_images((4, 4, 4))})
    with pytest.raises(ValueError, match=r"input 1 must be a \(C, H, W\)"):
        DataPreprocessor()({"inputs": [torch.zeros(3, 4, 4), torch.zeros(4, 4)]})
    with pytest.raises(TypeError, match="'inputs'"):
        DataPreprocessor()({"images": []})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_moves_inputs_and_samples_to_cuda():
    preprocessor = DataPreprocessor(MEAN, STD, bgr_to_rgb=True).cuda()
    samples = [DataSample(gt_label=LabelData(label=torch.tensor([1])))]
    out = preprocessor({"inputs": uint8_images((3, 8, 8)), "data_samples": samples})
    assert out["inputs"].is_cuda and out["data_samples"][0].gt_label.label.is_cuda
    expected = numpy_reference(uint8_images((3, 8, 8)), MEAN, STD, True, 1, 0.0)
    np.testing.assert_allclose(out["inputs"].cpu().numpy(), expected, rtol=1e-5, atol=1e-5)


def test_gt_sem_seg_is_padded_with_the_ignore_value_to_the_batch_size():
    from visionstack.structures import DataSample, PixelData

    small, large = DataSample(), DataSample()
    small.gt_sem_seg = PixelData(data=torch.ones(1, 3, 4, dtype=torch.long))
    large.gt_sem_seg = PixelData(data=torch.full((1, 5, 6), 2, dtype=torch.long))
    preprocessor = DataPreprocessor(pad_size_divisor=4)
    images = [torch.zeros(3, 3, 4, dtype=torch.uint8), torch.zeros(3, 5, 6, dtype=torch.uint8)]
    out = preprocessor({"inputs": images, "data_samples": [small, large]})
    assert out["inputs"].shape == (2, 3, 8, 8)
    for sample, (height, width), value in zip(out["data_samples"], ((3, 4), (5, 6)), (1, 2)):
        seg = sample.gt_sem_seg.data
        assert seg.shape == (1, 8, 8)
        assert (seg[:, :height, :width] == value).all()
        assert (seg[:, height:] == 255).all() and (seg[:, :, width:] == 255).all()
    assert DataPreprocessor(seg_pad_value=0).seg_pad_value == 0
