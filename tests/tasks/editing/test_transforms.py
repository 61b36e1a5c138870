"""Editing transforms: loading GTs and masks, seeded masks and noise, paired crops that stay aligned,
flips, degradations and packing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from visionstack.data.transforms import LoadImage
from visionstack.registry import TRANSFORMS
from visionstack.tasks.editing.degradations import add_gaussian_noise, gaussian_blur, imresize, jpeg_compress
from visionstack.tasks.editing.masks import random_mask
from visionstack.tasks.editing.transforms import (
    AddGaussianNoise,
    CopyValues,
    EditFlip,
    EditRandomCrop,
    GenerateMask,
    LoadEditAnnotations,
    LoadMask,
    MatlabDownsample,
    ModCrop,
    PackEditInputs,
    PairedRandomCrop,
    RandomBlur,
    RandomJPEG,
    RandomTransposeHW,
)


def _image(height=24, width=32, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _ramp(height: int, width: int) -> np.ndarray:
    """A float64 linear ramp, different per channel: bicubic reproduces it exactly away from the borders."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([1.5 * xx + 0.25 * yy, 0.5 * yy + 3.0, 2.0 * xx - yy], axis=-1)


# ---- loading ----------------------------------------------------------------------------------------
def test_load_edit_annotations_reads_the_gt(tmp_path, image_writer):
    gt = _image()
    path = image_writer(tmp_path / "gt" / "0001.png", gt)
    results = LoadEditAnnotations()({"gt_path": path})
    np.testing.assert_array_equal(results["gt"], gt)
    assert results["gt_shape"] == (24, 32)
    gray = LoadEditAnnotations(color_type="grayscale", to_float32=True)({"gt_path": path})["gt"]
    assert gray.shape == (24, 32) and gray.dtype == np.float32
    assert "gt" not in LoadEditAnnotations(gt=False)({"gt_path": path})


def test_load_edit_annotations_errors_name_the_file(tmp_path):
    missing = str(tmp_path / "nowhere.png")
    with pytest.raises(FileNotFoundError, match="nowhere.png"):
        LoadEditAnnotations()({"gt_path": missing})
    with pytest.raises(KeyError, match="gt_path.*CopyValues"):
        LoadEditAnnotations()({"img_path": "a.png"})
    with pytest.raises(ValueError, match="color_type"):
        LoadEditAnnotations(color_type="rgb")


def test_load_mask_png_npy_and_colour(tmp_path, image_writer):
    mask = (np.random.default_rng(1).random((24, 32)) < 0.3).astype(np.uint8)
    png = image_writer(tmp_path / "m.png", mask * 255)
    np.save(tmp_path / "m.npy", mask * 7)
    colour = np.zeros((24, 32, 3), np.uint8)
    colour[..., 2] = mask * 200  # hole only in the red channel
    colour_png = image_writer(tmp_path / "c.png", colour)
    img = _image()
    for path in (png, str(tmp_path / "m.npy"), colour_png):
        loaded = LoadMask()({"img": img, "mask_path": path})["mask"]
        assert loaded.dtype == np.uint8
        np.testing.assert_array_equal(loaded, mask)


def test_load_mask_errors_name_the_file_and_sizes(tmp_path, image_writer):
    path = image_writer(tmp_path / "small.png", np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match=r"small\.png.*\(10, 10\).*photo\.png.*\(24, 32\)"):
        LoadMask()({"img": _image(), "img_path": "photo.png", "mask_path": path})
    with pytest.raises(FileNotFoundError, match="gone.png"):
        LoadMask()({"img": _image(), "mask_path": str(tmp_path / "gone.png")})


def test_generate_mask_seed_fixes_the_mask_of_each_sample():
    transform = GenerateMask(mode="mixed", seed=10)
    img = np.zeros((64, 48, 3), np.uint8)
    first = transform({"img": img, "sample_idx": 3})["mask"]
    again = transform({"img": img, "sample_idx": 3})["mask"]
    other = transform({"img": img, "sample_idx": 4})["mask"]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, random_mask((64, 48), np.random.default_rng(13), mode="mixed"))
    assert not np.array_equal(first, other)
    assert first.shape == (64, 48) and first.dtype == np.uint8


def test_generate_mask_without_seed_follows_the_global_state():
    transform = GenerateMask(mode="free_form", brush_width=(4, 8), hole_fraction=(0.1, 0.4))
    img = np.zeros((64, 64, 3), np.uint8)
    np.random.seed(0)
    a, b = transform({"img": img, "sample_idx": 0})["mask"], transform({"img": img, "sample_idx": 0})["mask"]
    np.random.seed(0)
    np.testing.assert_array_equal(a, transform({"img": img, "sample_idx": 0})["mask"])
    assert not np.array_equal(a, b) and 0.1 <= a.mean() <= 0.4
    with pytest.raises(ValueError, match="unknown mode"):
        GenerateMask(mode="rings")


# ---- copying and geometry ---------------------------------------------------------------------------------
def test_copy_values_copies_and_mod_crop_crops_top_left():
    img = _image(25, 31)
    results = CopyValues(src_keys=["img"], dst_keys=["gt"])({"img": img.copy()})
    np.testing.assert_array_equal(results["gt"], img)
    results["img"][0, 0] = 255 - results["img"][0, 0]  # the copy is not a view
    np.testing.assert_array_equal(results["gt"], img)
    assert results["gt_shape"] == (25, 31)
    cropped = ModCrop(scale=4)(results)
    np.testing.assert_array_equal(cropped["gt"], img[:24, :28])
    assert cropped["gt_shape"] == (24, 28)
    with pytest.raises(ValueError, match="1 src_keys for 2 dst_keys"):
        CopyValues(src_keys=["img"], dst_keys=["gt", "x"])


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_paired_random_crop_keeps_lq_and_gt_aligned(scale):
    """LQ = MATLAB bicubic of a linear ramp: each LQ pixel equals the mean of its scale x scale GT block
    (the antialiased kernel is symmetric and reproduces linear functions), wherever the crop falls."""
    gt = _ramp(24 * scale, 30 * scale)
    lq = imresize(gt, 1 / scale)
    transform = PairedRandomCrop(gt_patch_size=8 * scale, scale=scale)
    np.random.seed(scale)
    for _ in range(5):
        results = transform({"img": lq, "gt": gt})
        lq_patch, gt_patch = results["img"], results["gt"]
        assert lq_patch.shape == (8, 8, 3) and gt_patch.shape == (8 * scale, 8 * scale, 3)
        blocks = gt_patch.reshape(8, scale, 8, scale, 3).mean(axis=(1, 3))
        # away from the image border (the mirror padding bends the ramp there)
        top, left = (np.argwhere(np.all(lq == lq_patch[0, 0], axis=-1))[0]).tolist()
        interior = np.zeros((8, 8), bool)
        interior[
            max(0, 2 - top) : 8 - max(0, top + 10 - 24), max(0, 2 - left) : 8 - max(0, left + 10 - 30)
        ] = True
        np.testing.assert_allclose(lq_patch[interior], blocks[interior], atol=1e-9)
        # and the LQ crop up-sampled matches the GT crop away from the borders (a one-pixel misalignment
        # would be off by 1.5 * scale on the first channel)
        up = imresize(lq_patch, scale)
        assert np.abs(up - gt_patch)[scale * 2 : -scale * 2, scale * 2 : -scale * 2].max() < 1e-2


def test_paired_random_crop_errors_name_the_paths_and_shapes():
    results = {
        "img": _image(10, 10),
        "gt": _image(21, 20),
        "img_path": "lq/0001x2.png",
        "gt_path": "hr/0001.png",
    }
    with pytest.raises(ValueError, match=r"\(21, 20\).*\(10, 10\).*\(20, 20\).*0001x2\.png.*hr/0001\.png"):
        PairedRandomCrop(gt_patch_size=8, scale=2)(results)
    small = {"img": _image(3, 3), "gt": _image(6, 6), "img_path": "tiny.png"}
    with pytest.raises(ValueError, match="smaller.*tiny.png"):
        PairedRandomCrop(gt_patch_size=8, scale=2)(small)
    with pytest.raises(ValueError, match="multiple"):
        PairedRandomCrop(gt_patch_size=9, scale=2)


def test_paired_random_crop_crops_a_gt_sized_mask_with_the_gt():
    gt = np.arange(16 * 16 * 3, dtype=np.float64).reshape(16, 16, 3)
    mask = (np.arange(256).reshape(16, 16) % 7 == 0).astype(np.uint8)
    np.random.seed(1)
    results = PairedRandomCrop(gt_patch_size=8, scale=2)({"img": gt[::2, ::2], "gt": gt, "mask": mask})
    top, left = np.argwhere(gt[..., 0] == results["gt"][0, 0, 0])[0]
    np.testing.assert_array_equal(results["mask"], mask[top : top + 8, left : left + 8])


def test_edit_flip_and_transpose_move_every_key_together():
    img, gt = _image(6, 8), _image(12, 16, seed=1)
    mask = (img[..., 0] > 128).astype(np.uint8)
    flipped = EditFlip(keys=["img", "gt", "mask"], flip_ratio=1.0)({"img": img, "gt": gt, "mask": mask})
    np.testing.assert_array_equal(flipped["img"], img[:, ::-1])
    np.testing.assert_array_equal(flipped["gt"], gt[:, ::-1])
    np.testing.assert_array_equal(flipped["mask"], mask[:, ::-1])
    assert flipped["flip"] and flipped["flip_direction"] == "horizontal"
    vertical = EditFlip(keys="img", flip_ratio=1.0, direction="vertical")({"img": img})
    np.testing.assert_array_equal(vertical["img"], img[::-1])
    kept = EditFlip(keys=["img"], flip_ratio=0.0)({"img": img})
    assert kept["img"] is img and not kept["flip"]

    transposed = RandomTransposeHW(keys=["img", "gt"], transpose_ratio=1.0)({"img": img, "gt": gt})
    np.testing.assert_array_equal(transposed["img"], img.transpose(1, 0, 2))
    assert (
        transposed["img_shape"] == (8, 6) and transposed["gt_shape"] == (16, 12) and transposed["transpose"]
    )


def test_flip_ratio_is_a_probability():
    np.random.seed(0)
    flips = [EditFlip(keys=["img"], flip_ratio=0.3)({"img": _image(2, 2)})["flip"] for _ in range(400)]
    assert 0.22 < np.mean(flips) < 0.38


def test_edit_random_crop_takes_the_same_window_everywhere():
    coords = np.stack(np.mgrid[0:20, 0:30], axis=-1)  # (20, 30, 2): each pixel holds its (y, x)
    results = {"img": coords.astype(np.uint8), "gt": coords.astype(np.float32), "mask": coords[..., 0].copy()}
    np.random.seed(2)
    out = EditRandomCrop(keys=["img", "gt", "mask"], crop_size=(8, 12))(results)
    left, top, right, bottom = out["crop_bbox"]
    assert (bottom - top, right - left) == (8, 12)
    np.testing.assert_array_equal(out["img"], coords[top:bottom, left:right])
    np.testing.assert_array_equal(out["gt"], coords[top:bottom, left:right])
    np.testing.assert_array_equal(out["mask"], coords[top:bottom, left:right, 0])
    assert out["img_shape"] == (8, 12) and out["gt_shape"] == (8, 12)
    with pytest.raises(ValueError, match="smaller"):
        EditRandomCrop(keys=["img"], crop_size=32)({"img": _image(20, 30)})
    with pytest.raises(ValueError, match="differ in size"):
        EditRandomCrop(keys=["img", "gt"], crop_size=4)({"img": _image(20, 30), "gt": _image(10, 15)})


# ---- degradations ----------------------------------------------------------------------------------------
def test_matlab_downsample_is_imresize_of_the_mod_cropped_image():
    img = _image(26, 31)
    results = MatlabDownsample(scale=3)({"img": img})
    np.testing.assert_array_equal(results["img"], imresize(img[:24, :30], 1 / 3))
    assert results["img"].shape == (8, 10, 3) and results["img_shape"] == (8, 10)
    assert results["img"].dtype == np.uint8


def test_add_gaussian_noise_seed_fixes_the_noise_of_each_sample():
    img = _image()
    transform = AddGaussianNoise(sigma=25, seed=100)
    noisy = transform({"img": img, "sample_idx": 7})["img"]
    assert noisy.dtype == np.float32
    np.testing.assert_array_equal(noisy, add_gaussian_noise(img, 25.0, np.random.default_rng(107)))
    np.testing.assert_array_equal(noisy, transform({"img": img, "sample_idx": 7})["img"])
    assert not np.array_equal(noisy, transform({"img": img, "sample_idx": 8})["img"])
    unseeded = AddGaussianNoise(sigma=(5, 50))
    assert not np.array_equal(unseeded({"img": img})["img"], unseeded({"img": img})["img"])


def test_random_blur_and_jpeg_record_what_they_drew():
    img = _image(20, 20)
    np.random.seed(3)
    blurred = RandomBlur(sigma_range=(0.5, 2.0))({"img": img})
    assert 0.5 <= blurred["blur_sigma"] <= 2.0
    np.testing.assert_array_equal(blurred["img"], gaussian_blur(img, blurred["blur_sigma"]))
    compressed = RandomJPEG(quality_range=(40, 60))({"img": img})
    assert 40 <= compressed["jpeg_quality"] <= 60
    np.testing.assert_array_equal(compressed["img"], jpeg_compress(img, compressed["jpeg_quality"]))


# ---- packing and the whole pipeline ------------------------------------------------------------------------
def test_pack_edit_inputs_layout():
    img = _image(6, 8)
    gt = _image(12, 16, seed=1)
    mask = (gt[..., 0] > 100).astype(np.uint8)
    results = {"img": img, "gt": gt, "mask": mask, "img_path": "a.png", "gt_path": "b.png", "sample_idx": 2}
    packed = PackEditInputs()(results)
    inputs, sample = packed["inputs"], packed["data_samples"]
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 6, 8)
    np.testing.assert_array_equal(inputs.numpy(), img.transpose(2, 0, 1))
    np.testing.assert_array_equal(sample.gt_img.data.numpy(), gt.transpose(2, 0, 1))
    assert sample.mask.data.shape == (1, 12, 16) and sample.mask.data.dtype == torch.uint8
    assert sample.img_path == "a.png" and sample.gt_path == "b.png" and sample.sample_idx == 2

    noisy = {"img": img.astype(np.float64) - 300.0, "gt": img[..., 0].astype(np.float32) + 0.5}
    packed = PackEditInputs()(noisy)
    assert packed["inputs"].dtype == torch.float32 and packed["inputs"].min() < 0  # not clipped
    gt_img = packed["data_samples"].gt_img.data
    assert gt_img.shape == (1, 6, 8) and gt_img.dtype == torch.uint8
    np.testing.assert_array_equal(gt_img[0].numpy(), img[..., 0].astype(np.int64) + 1)  # x.5 rounds up
    assert PackEditInputs()({"img": img[..., 0]})["inputs"].shape == (1, 6, 8)


def test_a_super_resolution_pipeline_built_from_configs(tmp_path, image_writer):
    path = image_writer(tmp_path / "0001.png", _image(50, 45))
    configs = [
        dict(type="CopyValues", src_keys=["img"], dst_keys=["gt"]),
        dict(type="ModCrop", scale=4, key="gt"),
        dict(type="MatlabDownsample", scale=4),
        dict(type="PairedRandomCrop", gt_patch_size=32, scale=4),
        dict(type="EditFlip", keys=["img", "gt"], flip_ratio=0.5),
        dict(type="RandomTransposeHW", keys=["img", "gt"]),
        dict(type="PackEditInputs"),
    ]
    pipeline = [LoadImage(), *(TRANSFORMS.build(config) for config in configs)]
    results = {"img_path": path, "sample_idx": 0}
    np.random.seed(0)
    for transform in pipeline:
        results = transform(results)
    assert results["inputs"].shape == (3, 8, 8)
    assert results["data_samples"].gt_img.data.shape == (3, 32, 32)
    # the GT patch is a crop of the original image
    gt = results["data_samples"].gt_img.data.permute(1, 2, 0).numpy()
    original = cv2.imread(path)
    candidates = [gt, gt[:, ::-1], gt.transpose(1, 0, 2), gt.transpose(1, 0, 2)[:, ::-1]]
    found = [cv2.matchTemplate(original, np.ascontiguousarray(c), cv2.TM_SQDIFF).min() for c in candidates]
    assert min(found) == 0
