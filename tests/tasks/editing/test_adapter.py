"""The editing adapters' own logic: runtime post-processing equal to the model's, tiled runtime forward, masks
found beside images, latents from files and names, the generator's inputs through the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.structures import DataSample, PixelData
from visionstack.tasks.adapter import get_adapter
from visionstack.tasks.editing.adapter import find_mask
from visionstack.tasks.editing.generation_inputs import (
    GenerationDataPreprocessor,
    LoadLatent,
    PackLatentInputs,
)
from visionstack.tasks.editing.latent import LatentPreprocessor, latent_for_path, seeded_latent
from visionstack.tasks.editing.models.data_preprocessor import EditDataPreprocessor
from visionstack.tasks.editing.runtime import MaskedImagePreprocessor, read_mask
from visionstack.tasks.editing.tiling import ReceptiveField


def _png(path, image):
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def test_runtime_postprocess_equals_the_models_8_bit_conversion():
    adapter = get_adapter("restoration")
    pre = EditDataPreprocessor(mean=[0, 0, 0], std=[255, 255, 255], bgr_to_rgb=True)
    generator = torch.Generator().manual_seed(0)
    # values straddling rounding ties and the clip limits
    output = torch.rand(1, 3, 6, 10, generator=generator) * 1.2 - 0.1
    output[0, 0, 0, :4] = torch.tensor([0.5, 1.5, 2.5, 254.5]) / 255
    expected = pre.to_image(output)[0].numpy()
    spec = {"mean": [0.0] * 3, "std": [255.0] * 3, "bgr_to_rgb": True, "scale": 2}
    meta = {"img_shape": (3, 5)}
    got = adapter.runtime_postprocess({"output": output[0].numpy()}, meta, spec)["pred_img"]["data"]
    np.testing.assert_array_equal(got, expected)


def test_runtime_tiles_equal_the_whole_image():
    adapter = get_adapter("restoration")
    kernel = np.random.default_rng(0).standard_normal((3, 3, 5, 5)).astype(np.float32)

    def net(batch: np.ndarray) -> np.ndarray:  # a 5x5 convolution with zero padding: radius 2
        padded = np.pad(batch, ((0, 0), (0, 0), (2, 2), (2, 2)))
        out = np.zeros_like(batch)
        for dy in range(5):
            for dx in range(5):
                window = padded[:, :, dy : dy + batch.shape[2], dx : dx + batch.shape[3]]
                out += np.einsum("oi,nihw->nohw", kernel[:, :, dy, dx], window)
        return out

    batch = np.random.default_rng(1).standard_normal((1, 3, 37, 45)).astype(np.float32)
    spec = {"tile": None, "receptive_field": {"radius": 2, "period": 1, "scale": 1, "global": False}}
    whole = adapter.runtime_forward(lambda b, metas: {"output": net(b)}, batch, [{}], spec)["output"]
    calls = []

    def run(part, metas):
        calls.append(part.shape)
        return {"output": net(part)}

    tiled = adapter.runtime_forward(run, batch, [{}], spec, tile=16)["output"]
    assert len(calls) > 4 and max(shape[-1] for shape in calls) < 45
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert ReceptiveField(radius=2).margin == 2


def test_masks_are_found_beside_the_images_or_where_given(tmp_path):
    image = _png(tmp_path / "val" / "images" / "0001.png", np.zeros((8, 8, 3), np.uint8))
    sibling = _png(tmp_path / "val" / "masks" / "0001.png", np.zeros((8, 8), np.uint8))
    assert find_mask(image) == sibling
    other = _png(tmp_path / "elsewhere" / "0001.png", np.zeros((8, 8), np.uint8))
    assert find_mask(image, tmp_path / "elsewhere") == other
    assert find_mask(image, other) == other
    lone = _png(tmp_path / "lone" / "cat.jpg", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match=r"cat.jpg: no mask found .*masks.*cat_mask.*--mask"):
        find_mask(lone)
    suffixed = _png(tmp_path / "lone" / "cat_mask.png", np.zeros((8, 8), np.uint8))
    assert find_mask(lone) == suffixed


def test_read_mask_takes_any_nonzero_channel_as_a_hole_and_checks_the_size(tmp_path):
    colour = np.zeros((4, 5, 3), np.uint8)
    colour[1, 2, 2] = 7
    path = _png(tmp_path / "m.png", colour)
    mask = read_mask(path)
    assert mask.dtype == np.uint8 and mask.sum() == 1 and mask[1, 2] == 1
    with pytest.raises(ValueError, match="m.png.*4x5 but its image is 6x5"):
        read_mask(path, (6, 5))


def test_masked_image_preprocessor_normalises_as_the_model_does(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    mask = (rng.random((9, 11)) > 0.5).astype(np.uint8) * 255
    path = _png(tmp_path / "images" / "a.png", image)
    _png(tmp_path / "masks" / "a.png", mask)
    spec = {"mean": [127.5] * 3, "std": [127.5] * 3, "bgr_to_rgb": True}
    runtime = MaskedImagePreprocessor(spec)
    array, meta = runtime.image(runtime.read(path))
    pre = EditDataPreprocessor(mean=[127.5] * 3, std=[127.5] * 3)
    expected = pre({"inputs": [torch.from_numpy(image.transpose(2, 0, 1).copy())]})["inputs"][0].numpy()
    np.testing.assert_allclose(array, expected, atol=1e-6)
    np.testing.assert_array_equal(meta["mask"][0], (mask > 0).astype(np.float32))


def test_latents_come_from_npy_files_or_the_file_name(tmp_path):
    vector = np.arange(6, dtype=np.float32)
    np.save(tmp_path / "z.npy", vector)
    np.testing.assert_array_equal(latent_for_path(tmp_path / "z.npy", 6), vector)
    with pytest.raises(ValueError, match="z.npy: a latent of 6 values, but the generator takes 5"):
        latent_for_path(tmp_path / "z.npy", 5)
    first = latent_for_path(tmp_path / "a" / "0001.png", 100)
    np.testing.assert_array_equal(
        first, latent_for_path(tmp_path / "b" / "0001.png", 100)
    )  # name, not folder
    assert not np.array_equal(first, latent_for_path(tmp_path / "a" / "0002.png", 100))
    assert first.dtype == np.float32 and abs(float(first.std()) - 1) < 0.3
    np.testing.assert_array_equal(seeded_latent(3, 4), seeded_latent(3, 4))
    runtime = LatentPreprocessor({"noise_size": 6})
    assert runtime.batch([runtime.image(runtime.read(tmp_path / "z.npy"))[0]] * 2).shape == (2, 6)


def test_latents_and_reals_go_through_the_pipeline_and_preprocessor(tmp_path):
    real = np.full((4, 4), 255, np.uint8)
    results = LoadLatent(noise_size=5)({"img_path": str(tmp_path / "7.png"), "img": real})
    packed = PackLatentInputs()(results)
    assert packed["inputs"].shape == (5,) and packed["data_samples"].gt_img.data.shape == (1, 4, 4)
    pre = GenerationDataPreprocessor()
    batch = pre({"inputs": [packed["inputs"]] * 3, "data_samples": [packed["data_samples"]] * 3})
    assert batch["inputs"].shape == (3, 5) and batch["inputs"].dtype == torch.float32
    np.testing.assert_array_equal(batch["inputs"][0].numpy(), latent_for_path(tmp_path / "7.png", 5))
    images = pre({"inputs": [torch.from_numpy(real[None].copy())]})["inputs"]
    assert images.shape == (1, 1, 4, 4) and float(images.max()) == 1.0  # 0..255 -> [-1, 1]


def test_the_inpainting_export_arguments_carry_the_masks():
    adapter = get_adapter("inpainting")
    sample = DataSample()
    sample.mask = PixelData(data=torch.tensor([[[0, 1], [1, 0]]], dtype=torch.uint8))
    image, mask = adapter.export_args(torch.zeros(1, 3, 2, 2), [sample])
    assert mask.shape == (1, 1, 2, 2) and mask.dtype == torch.float32 and float(mask.sum()) == 2
