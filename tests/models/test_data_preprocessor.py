"""DataPreprocessor (image-only): normalisation, BGR -> RGB and padding against NumPy; metainfo; dict inputs
and clips; the task keys it no longer takes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.models import DataPreprocessor
from visionstack.structures import DataSample, LabelData, PixelData

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
    out = DataPreprocessor(pad_size_divisor=16)(
        {"inputs": uint8_images((3, 20, 30), (3, 27, 17)), "data_samples": samples}
    )
    for sample in out["data_samples"]:
        assert sample.batch_input_shape == (32, 32) and sample.pad_shape == (32, 32)
        assert "img_shape" in sample


def test_moves_to_the_module_device_and_keeps_normalisation_out_of_the_state_dict():
    preprocessor = DataPreprocessor(MEAN, STD)
    assert preprocessor.device == torch.device("cpu")
    assert preprocessor.state_dict() == {}
    out = preprocessor.to(torch.float64)({"inputs": uint8_images((3, 2, 2))})
    assert out["inputs"].device == preprocessor.device


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


def test_pad_min_size_is_a_lower_bound_rounded_to_the_divisor():
    images = uint8_images((3, 10, 12), (3, 14, 9))
    out = DataPreprocessor(pad_size_divisor=8, pad_min_size=(20, 17))({"inputs": images})["inputs"]
    assert out.shape == (2, 3, 24, 24)  # (w, h) = (20, 17) -> 24 x 24; the images alone give 16 x 16
    out = DataPreprocessor(pad_min_size=(4, 4))({"inputs": images})["inputs"]
    assert out.shape == (2, 3, 14, 12)
    with pytest.raises(ValueError, match="pad_min_size"):
        DataPreprocessor(pad_min_size=(0, 4))


def test_clips_are_normalised_per_channel_and_padded_on_height_and_width():
    clips = [
        torch.randint(0, 256, (4, 3, 6, 9), dtype=torch.uint8),
        torch.randint(0, 256, (4, 3, 8, 5), dtype=torch.uint8),
    ]
    out = DataPreprocessor(MEAN, STD, bgr_to_rgb=True, pad_value=-7.0)({"inputs": clips})["inputs"]
    assert out.shape == (2, 4, 3, 8, 9)
    for index, clip in enumerate(clips):
        frames = [numpy_reference([frame], MEAN, STD, True, 1, 0.0)[0] for frame in clip]
        height, width = clip.shape[-2:]
        np.testing.assert_allclose(
            out[index, :, :, :height, :width].numpy(), np.stack(frames), rtol=1e-5, atol=1e-5
        )
        assert (out[index, ..., height:, :] == -7.0).all() and (out[index, ..., width:] == -7.0).all()
    stacked = DataPreprocessor(MEAN, STD)({"inputs": torch.stack([clips[0], clips[0]])})["inputs"]
    assert stacked.shape == (2, 4, 3, 6, 9)
    with pytest.raises(ValueError, match="only the last two"):
        DataPreprocessor()({"inputs": [torch.zeros(4, 3, 6, 6), torch.zeros(5, 3, 7, 6)]})


def test_dict_inputs_normalise_image_entries_and_move_the_others():
    images = uint8_images((3, 20, 30), (3, 27, 17))
    points = [torch.randn(100, 4), torch.randn(80, 4)]
    samples = [DataSample(), DataSample()]
    preprocessor = DataPreprocessor(MEAN, STD, bgr_to_rgb=True, pad_size_divisor=8)
    out = preprocessor(
        {
            "inputs": {"imgs": images, "points": points, "meta": {"ids": (torch.tensor(3),)}},
            "data_samples": samples,
        }
    )
    assert set(out["inputs"]) == {"imgs", "points", "meta"}
    expected = numpy_reference(images, MEAN, STD, True, 8, 0.0)
    np.testing.assert_allclose(out["inputs"]["imgs"].numpy(), expected, rtol=1e-5, atol=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(out["inputs"]["points"], points))  # moved, not changed
    assert isinstance(out["inputs"]["meta"]["ids"], tuple)
    assert all(sample.batch_input_shape == (32, 32) for sample in out["data_samples"])
    # the same images without the dict give the same batch
    torch.testing.assert_close(
        out["inputs"]["imgs"], preprocessor({"inputs": images})["inputs"], rtol=0, atol=0
    )
    # image_keys names the image entries; a dict without images only moves
    out = DataPreprocessor(image_keys=("left", "right"))(
        {"inputs": {"left": images, "right": images, "imgs": points}}
    )
    assert out["inputs"]["left"].shape == out["inputs"]["right"].shape == (2, 3, 27, 30)
    assert out["inputs"]["imgs"] is not None and isinstance(out["inputs"]["imgs"], list)
    only_points = DataPreprocessor()(
        {"inputs": {"points": points}, "data_samples": [DataSample(), DataSample()]}
    )
    assert all("batch_input_shape" not in sample for sample in only_points["data_samples"])


@pytest.mark.parametrize(
    ("key", "value", "suggested"),
    [
        ("num_classes", 10, "ClsDataPreprocessor"),
        ("batch_augments", [], "ClsDataPreprocessor"),
        ("seg_pad_value", 255, "SegDataPreProcessor"),
    ],
)
def test_task_keys_on_the_base_fail_naming_the_task_preprocessor(key, value, suggested):
    with pytest.raises(TypeError, match=f"{key}=.*type='{suggested}'"):
        DataPreprocessor(**{key: value})


def test_a_config_with_classification_keys_on_the_base_fails_naming_the_class():
    from visionstack.registry import MODELS, build

    config = dict(
        type="ImageClassifier",
        backbone=dict(type="ResNet", depth=18, stem="cifar"),
        data_preprocessor=dict(
            type="DataPreprocessor",
            num_classes=10,
            batch_augments=[dict(type="Mixup", alpha=0.2, num_classes=10)],
        ),
    )
    with pytest.raises(
        TypeError, match="data_preprocessor.*use the task's preprocessor, type='ClsDataPreprocessor'"
    ):
        build(config, MODELS)


def test_a_label_map_the_base_cannot_pad_is_an_error_naming_the_seg_preprocessor():
    small, large = DataSample(), DataSample()
    small.gt_sem_seg = PixelData(data=torch.ones(1, 3, 4, dtype=torch.long))
    large.gt_sem_seg = PixelData(data=torch.ones(1, 5, 6, dtype=torch.long))
    images = [torch.zeros(3, 3, 4, dtype=torch.uint8), torch.zeros(3, 5, 6, dtype=torch.uint8)]
    with pytest.raises(ValueError, match="type='SegDataPreProcessor'"):
        DataPreprocessor()({"inputs": images, "data_samples": [small, large]})
    same = [
        DataSample(gt_sem_seg=PixelData(data=torch.ones(1, 5, 6))) for _ in range(2)
    ]  # nothing to pad: fine
    DataPreprocessor()({"inputs": [images[1], images[1]], "data_samples": same})
