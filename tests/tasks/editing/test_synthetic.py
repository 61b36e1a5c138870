"""Synthetic editing data: layouts, byte determinism, provenance, held-out sources kept out; textures."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from visionstack.tasks.editing.degradations import imresize, round_to_uint8
from visionstack.tasks.editing.synthetic import (
    HELD_OUT_SOURCES,
    TRAINING_SOURCES,
    load_source,
    write_synthetic_generation,
    write_synthetic_inpainting,
    write_synthetic_restoration,
)
from visionstack.tasks.editing.textures import (
    TEXTURE_KINDS,
    checkerboard,
    colorize,
    perlin_noise,
    pink_noise,
    random_texture,
    stripes,
    value_noise,
)
from visionstack.utils.image_io import read_image

TINY_TRAIN = ("camera", "coins", "immunohistochemistry", "gravel")
RESTORATION = dict(num_train=10, patch_size=48, scales=(2, 3, 4), training_sources=TINY_TRAIN)


def _tree_bytes(root) -> dict[str, bytes]:
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, root)] = handle.read()
    return files


@pytest.fixture(scope="module")
def restoration(tmp_path_factory):
    root = tmp_path_factory.mktemp("restoration")
    meta = write_synthetic_restoration(root, **RESTORATION)
    return root, meta


def test_restoration_is_byte_deterministic(restoration, tmp_path):
    root, _ = restoration
    write_synthetic_restoration(tmp_path, **RESTORATION)
    first, second = _tree_bytes(root), _tree_bytes(tmp_path)
    assert sorted(first) == sorted(second) and len(first) == 10 * 4 + 5 * 5 + 1  # + the sigma-25 noisy inputs
    assert all(first[name] == second[name] for name in first)
    other = tmp_path / "other"
    write_synthetic_restoration(other, **{**RESTORATION, "seed": 1})
    assert _tree_bytes(other)["DIV2K_train_HR/0002.png"] != first["DIV2K_train_HR/0002.png"]


def test_restoration_layout_and_bicubic_lr(restoration):
    root, meta = restoration
    for index in range(1, 11):
        hr = read_image(root / "DIV2K_train_HR" / f"{index:04d}.png")
        assert hr.shape == (48, 48, 3)
        for scale in (2, 3, 4):
            lr = read_image(root / "DIV2K_train_LR_bicubic" / f"X{scale}" / f"{index:04d}x{scale}.png")
            np.testing.assert_array_equal(lr, imresize(hr, scale=1.0 / scale))
    assert [entry["file"] for entry in meta["held_out"]] == [f"{name}.png" for name in HELD_OUT_SOURCES]
    for name in HELD_OUT_SOURCES:
        gt = read_image(root / "Set5" / "GTmod12" / f"{name}.png")
        assert gt.shape[0] % 12 == 0 and gt.shape[1] % 12 == 0 and max(gt.shape[:2]) <= 240
        for scale in (2, 3, 4):
            lr = read_image(root / "Set5" / f"LRbicx{scale}" / f"{name}.png")
            np.testing.assert_array_equal(lr, imresize(gt, scale=1.0 / scale))
        noisy = read_image(root / "Set5" / "noisy_sigma25" / f"{name}.png").astype(np.float64)
        residual = (noisy - gt)[(gt > 60) & (gt < 195)]  # away from the clipping at 0 and 255
        assert abs(residual.mean()) < 1.0 and 24.0 < residual.std() < 26.0
    with open(root / "meta.json", encoding="utf-8") as handle:
        assert json.load(handle) == meta


def test_textures_are_spread_evenly(restoration):
    _, meta = restoration
    kinds = [entry["kind"] for entry in meta["train"]]
    # floor((i + 1) * 0.3) > floor(i * 0.3) for i = 3, 6, 9
    assert [i for i, kind in enumerate(kinds) if kind == "texture"] == [3, 6, 9]


def _photo_from_record(record: dict, size: int) -> np.ndarray:
    """Rebuild a training crop from its meta.json record (before the colour cast)."""
    top, left, side = record["window"]
    crop = load_source(record["source"])[top : top + side, left : left + side]
    if side != size:
        crop = imresize(crop, output_shape=(size, size))
    return np.ascontiguousarray(crop[:: -1 if record["vflip"] else 1, :: -1 if record["hflip"] else 1])


def test_meta_records_the_exact_provenance_of_every_photo(restoration):
    root, meta = restoration
    photos = [entry for entry in meta["train"] if entry["kind"] == "photo"]
    assert len(photos) == 7
    for entry in photos:
        assert entry["source"] in TINY_TRAIN
        expected = _photo_from_record(entry, 48)
        if entry["gains"] is not None:  # grey sources get a colour cast
            expected = round_to_uint8(expected * np.array(entry["gains"]))
        np.testing.assert_array_equal(read_image(root / "DIV2K_train_HR" / entry["file"]), expected)


def _window_sums(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Sums of every ``height`` x ``width`` window ('valid' positions), from an integral image."""
    integral = np.pad(image, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return (
        integral[height:, width:]
        - integral[:-height, width:]
        - integral[height:, :-width]
        + integral[:-height, :-width]
    )


def _best_match(photo: np.ndarray, patch: np.ndarray, scale: float) -> float:
    """Highest normalised correlation of ``patch`` (grey) anywhere in ``photo`` shrunk by ``scale``.

    Computed here rather than with TM_CCOEFF_NORMED, whose float32 division returns 1 on flat windows;
    windows of the photo with a grey-level standard deviation below 2 count as no match."""
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float64)
    size = (round(grey.shape[1] / scale), round(grey.shape[0] / scale))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    template = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).astype(np.float64)
    template -= template.mean()
    height, width = template.shape
    covariance = cv2.matchTemplate(small.astype(np.float32), template.astype(np.float32), cv2.TM_CCORR)
    sums = [_window_sums(small**power, height, width) for power in (1, 2)]
    spread = np.sqrt(np.maximum(sums[1] - sums[0] ** 2 / (height * width), 0.0))  # sqrt(n) * window std
    ncc = np.where(spread > 2 * np.sqrt(height * width), covariance / np.maximum(spread, 1e-9), 0.0)
    return float(ncc.max() / np.linalg.norm(template))


def test_no_training_image_is_a_crop_of_a_held_out_photo(restoration):
    _, meta = restoration
    assert not set(meta["training_sources"]) & set(meta["held_out_sources"])
    for entry in meta["train"]:
        if entry["kind"] != "photo":
            continue
        top, left, side = entry["window"]
        patch = np.ascontiguousarray(_photo_from_record({**entry, "hflip": False, "vflip": False}, 48))
        if cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).std() < 4:
            continue  # a flat patch correlates with nothing
        scale = side / 48
        # the check finds the crop in its own source ...
        assert _best_match(load_source(entry["source"]), patch, scale) > 0.9
        # ... and in no held-out photo
        for name in HELD_OUT_SOURCES:
            assert _best_match(load_source(name), patch, scale) < 0.75, (entry, name)


def test_held_out_aliases_are_refused():
    # skimage's cat is chelsea, byte for byte: it must never train while chelsea is held out
    np.testing.assert_array_equal(load_source("cat"), load_source("chelsea"))
    with pytest.raises(ValueError, match="show held-out photos"):
        write_synthetic_restoration("unused", training_sources=("camera", "cat"))
    with pytest.raises(ValueError, match="show held-out photos"):
        write_synthetic_inpainting("unused", training_sources=("motorcycle_right",))
    assert not set(TRAINING_SOURCES) & set(HELD_OUT_SOURCES)
    assert load_source("camera").shape == (512, 512, 3) and not load_source("camera").flags.writeable


def test_restoration_rejects_patch_sizes_the_scales_do_not_divide():
    with pytest.raises(ValueError, match="not a multiple of the scales \\[4\\]"):
        write_synthetic_restoration("unused", patch_size=30, scales=(2, 3, 4))


def test_inpainting_layout_masks_and_determinism(tmp_path):
    kwargs = dict(num_train=4, image_size=32, num_val=6, training_sources=TINY_TRAIN)
    meta = write_synthetic_inpainting(tmp_path / "a", **kwargs)
    write_synthetic_inpainting(tmp_path / "b", **kwargs)
    first, second = _tree_bytes(tmp_path / "a"), _tree_bytes(tmp_path / "b")
    assert first == second and len(first) == 4 + 6 + 6 + 1
    assert [entry["source"] for entry in meta["val"]] == [*HELD_OUT_SOURCES, HELD_OUT_SOURCES[0]]
    assert [entry["mask_mode"] for entry in meta["val"]] == ["free_form", "bbox", "mixed"] * 2
    assert all(entry["source"] in TINY_TRAIN for entry in meta["train"] if entry["kind"] == "photo")
    for entry in meta["val"]:
        image = read_image(tmp_path / "a" / "val" / "images" / entry["file"])
        mask = read_image(tmp_path / "a" / "val" / "masks" / entry["file"], "grayscale")
        assert image.shape == (32, 32, 3) and mask.shape == (32, 32)
        assert set(np.unique(mask)) <= {0, 255}
        assert (mask == 255).mean() == pytest.approx(entry["hole_fraction"], abs=1e-6)
        assert 0.05 <= entry["hole_fraction"] <= 0.5
        np.testing.assert_array_equal(image, _photo_from_record(entry, 32))  # an unflipped held-out crop


def test_generation_split_images_and_latents(tmp_path):
    from sklearn.datasets import load_digits

    meta = write_synthetic_generation(tmp_path, image_size=16, num_latents=3, noise_size=10)
    digits = load_digits()
    assert meta["splits"] == {"train": 1497, "val": 300}
    train_files = {
        (int(d), int(f[:-4]))
        for d in os.listdir(tmp_path / "train")
        for f in os.listdir(tmp_path / "train" / d)
    }
    val_files = {
        (int(d), int(f[:-4])) for d in os.listdir(tmp_path / "val") for f in os.listdir(tmp_path / "val" / d)
    }
    assert len(train_files) == 1497 and len(val_files) == 300
    assert {i for _, i in train_files} | {i for _, i in val_files} == set(range(1797))
    assert all(digits.target[i] == label for label, i in train_files | val_files)
    assert sorted(i for _, i in val_files) == sorted(meta["val_ids"])
    for label in range(10):  # stratified: each class's share within one image of proportional
        expected = (digits.target == label).sum() * 300 / 1797
        assert abs(meta["val_per_class"][str(label)] - expected) < 1
    label, image_id = sorted(val_files)[0]
    png = read_image(tmp_path / "val" / str(label) / f"{image_id:04d}.png", "grayscale")
    expected = round_to_uint8(imresize(digits.images[image_id] * 255.0 / 16.0, output_shape=(16, 16)))
    np.testing.assert_array_equal(png, expected)
    latents = [np.load(tmp_path / "latents" / f"{i:04d}.npy") for i in range(3)]
    assert all(latent.dtype == np.float32 and latent.shape == (10,) for latent in latents)
    assert not np.array_equal(latents[0], latents[1])
    again = tmp_path / "again"
    write_synthetic_generation(again, image_size=16, num_latents=3, noise_size=10)
    assert _tree_bytes(tmp_path / "latents") == _tree_bytes(again / "latents")
    assert _tree_bytes(tmp_path / "val") == _tree_bytes(again / "val")


# ---- textures ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(TEXTURE_KINDS))
def test_every_texture_kind_is_deterministic_and_varied(kind):
    image, name = random_texture((40, 56), np.random.default_rng(3), kind=kind)
    again, _ = random_texture((40, 56), np.random.default_rng(3), kind=kind)
    other, _ = random_texture((40, 56), np.random.default_rng(4), kind=kind)
    assert name == kind and image.shape == (40, 56, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, again)
    assert not np.array_equal(image, other)
    assert image.std() > 2  # not a flat picture


def test_random_texture_draws_kinds_and_refuses_unknown_ones():
    kinds = {random_texture((8, 8), np.random.default_rng(seed))[1] for seed in range(60)}
    assert kinds == set(TEXTURE_KINDS)
    with pytest.raises(ValueError, match="unknown kind 'wood'"):
        random_texture((8, 8), np.random.default_rng(0), kind="wood")


@pytest.mark.parametrize("field", [value_noise, perlin_noise, pink_noise])
def test_noise_fields_span_zero_to_one(field):
    values = field((64, 48), np.random.default_rng(0))
    assert values.shape == (64, 48) and values.dtype == np.float32
    assert values.min() == pytest.approx(0.0, abs=1e-6) and values.max() == pytest.approx(1.0, abs=1e-6)


def test_pink_noise_has_the_asked_spectral_slope():
    size, exponent = 256, 1.0
    field = pink_noise((size, size), np.random.default_rng(0), exponent=exponent)
    power = np.abs(np.fft.fft2(field - field.mean())) ** 2
    frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
    bins = np.geomspace(4 / size, 0.3, 12)  # below the clipping's effect at the highest frequencies
    centres, means = [], []
    for low, high in zip(bins[:-1], bins[1:]):
        ring = (frequency >= low) & (frequency < high)
        centres.append(np.sqrt(low * high))
        means.append(power[ring].mean())
    slope = np.polyfit(np.log(centres), np.log(means), 1)[0]
    assert slope == pytest.approx(-2 * exponent, abs=0.25)  # power ~ 1 / f^(2 * exponent)


def test_stripes_have_the_asked_period_and_angle():
    field = stripes((64, 64), np.random.default_rng(0), period=8.0, angle=0.0)
    spectrum = np.abs(np.fft.rfft(field[10] - field[10].mean()))
    assert int(np.argmax(spectrum)) == 64 // 8  # 8 cycles across 64 pixels
    assert np.allclose(field, field[:1])  # angle 0: constant down each column
    vertical = stripes((64, 64), np.random.default_rng(0), period=8.0, angle=np.pi / 2)
    assert np.allclose(vertical, vertical[:, :1], atol=1e-6)
    square = stripes((64, 64), np.random.default_rng(0), period=8.0, square=True)
    assert ((square < 0.02) | (square > 0.98)).mean() > 0.6  # mostly saturated: hard edges


def test_checkerboard_alternates_between_cells():
    board = checkerboard((64, 64), np.random.default_rng(0), cell=8.0)
    assert board.mean() == pytest.approx(0.5, abs=0.05)
    shifted = np.roll(board, 8, axis=1)  # one cell over: the opposite colour
    assert np.abs(board + shifted - 1)[:, 8:-8].mean() < 0.05


def test_colorize_interpolates_its_palette():
    field = np.linspace(0, 1, 50, dtype=np.float32)[None, :].repeat(3, 0)
    image = colorize(field, np.random.default_rng(0), colours=2)
    ends = image[0, [0, -1]].astype(int)
    middle = image[0, 24:26].astype(float).mean(0)
    np.testing.assert_allclose(middle, ends.mean(0), atol=3)
