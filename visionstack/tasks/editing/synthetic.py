"""Synthetic image-editing data from what scikit-image and scikit-learn bundle (no download).

Three writers (``visionstack data synth restoration|inpainting|generation``); each writes ``meta.json``
last (the parameters, the sources of every image and the split) and returns its content:

* :func:`write_synthetic_restoration` -> DIV2K + Set5 layout::

      DIV2K_train_HR/0001.png ...                         training images, patch_size x patch_size, BGR PNG
      DIV2K_train_LR_bicubic/X{s}/0001x{s}.png            imresize(HR, 1/s) for s in scales (MATLAB bicubic)
      Set5/GTmod12/<name>.png                             the 5 held-out images, sides multiples of 12, <= 240
      Set5/LRbicx{s}/<name>.png                           imresize(GT, 1/s) (MMagic's Set5 layout)
      Set5/noisy_sigma{n}/<name>.png                      GT + N(0, n^2) noise, rounded and clipped to 8 bits
      meta.json

* :func:`write_synthetic_inpainting` -> ``train/images/0001.png``, ``val/images/0001.png`` (crops of the
  held-out photos) and ``val/masks/0001.png`` (fixed masks, 0/255 PNG: 255 = hole), ``meta.json``;
* :func:`write_synthetic_generation` -> scikit-learn's 1797 digits upscaled 8 -> ``image_size`` with
  ``imresize``, grayscale PNG, ``train/<digit>/<id>.png`` and ``val/<digit>/<id>.png`` (stratified split,
  ``id`` = the index in ``load_digits()``), ``latents/0000.npy ...`` (float32 standard-normal vectors of
  ``noise_size`` values, for ``infer`` on latents), ``meta.json``.

Sources (``skimage.data``, all bundled with scikit-image 0.26, none needs pooch):

* held out (:data:`HELD_OUT_SOURCES`): astronaut, chelsea, coffee, motorcycle (the left view of
  ``stereo_motorcycle``), rocket — natural colour photos, used only for Set5 and the inpainting val set;
* training (:data:`TRAINING_SOURCES`): camera, coins, moon, page, text, immunohistochemistry, retina,
  brick, grass, gravel, hubble_deep_field, cell;
* never used (:data:`EXCLUDED_SOURCES`): ``cat`` (the same photo as chelsea), the right view of
  ``stereo_motorcycle`` (the held-out scene), ``clock`` (motion-blurred), ``horse`` and ``binary_blobs``
  (binary), ``logo``/``colorwheel`` (graphics), ``microaneurysms`` and ``lfw_subset`` (too small).

Training images: about 30 % procedural textures (:func:`.textures.random_texture`; the textured items
are spread evenly: item ``i`` is one when ``floor((i + 1) f) > floor(i f)``), the rest crops of a
training photo chosen uniformly: a square window of ``size * s`` pixels, ``s`` log-uniform in [1, 3]
(capped by the photo's shorter side; ``page`` and ``text`` are shorter than 192 px, so their crops are
up-sampled slightly), at a uniform position, redrawn (up to 10 times) while its grey-level standard
deviation is below 8 (the black sky of ``moon`` and ``hubble_deep_field``), resized to ``size`` with
``imresize`` (antialiased down-sampling keeps them sharp), flipped horizontally and vertically with
probability 1/2 each. Grey photos become 3-channel with a mild random colour cast (per-channel gains in
[0.85, 1.15]) so colour models see colour. Held-out Set5 images are the whole photos resized with
``imresize`` so the longer side is 240 px, centre-cropped to multiples of 12.

Determinism: item ``i`` of a stream draws from ``np.random.default_rng([seed, stream, i])`` (streams:
:data:`STREAMS`), so the same arguments write byte-identical files, and a larger ``num_train`` keeps
the first images unchanged.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from .degradations import add_gaussian_noise, imresize, round_to_uint8
from .masks import random_mask
from .textures import random_texture

__all__ = [
    "EXCLUDED_SOURCES",
    "HELD_OUT_SOURCES",
    "STREAMS",
    "TRAINING_SOURCES",
    "held_out_image",
    "load_source",
    "photo_crop",
    "training_image",
    "write_synthetic_generation",
    "write_synthetic_inpainting",
    "write_synthetic_restoration",
]

FORMAT_VERSION = 1
HELD_OUT_SOURCES = ("astronaut", "chelsea", "coffee", "motorcycle", "rocket")
TRAINING_SOURCES = (
    "camera",
    "coins",
    "moon",
    "page",
    "text",
    "immunohistochemistry",
    "retina",
    "brick",
    "grass",
    "gravel",
    "hubble_deep_field",
    "cell",
)
EXCLUDED_SOURCES = {
    "cat": "the same photo as chelsea (held out)",
    "motorcycle_right": "the right view of stereo_motorcycle, the held-out scene",
    "clock": "motion-blurred",
    "horse": "binary",
    "binary_blobs": "binary",
    "logo": "a graphic",
    "colorwheel": "a graphic",
    "microaneurysms": "too small (102 px)",
    "lfw_subset": "too small (25 px)",
}
# a source that shows the same scene as a held-out one, and so can never train
_SAME_SCENE = {"cat": "chelsea", "motorcycle_right": "motorcycle"}
STREAMS = {
    "restoration_train": 0,
    "inpainting_train": 1,
    "inpainting_val": 2,
    "inpainting_masks": 3,
    "latents": 4,
    "denoising_val": 5,
}
TEXTURE_FRACTION = 0.3
MAX_CROP_SCALE = 3.0
MIN_DETAIL = 8.0  # grey-level standard deviation below which a crop is redrawn
COLOUR_CAST = (0.85, 1.15)
SET5_MAX_SIDE = 240
SET5_MULTIPLE = 12


# ---- sources ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def load_source(name: str) -> np.ndarray:
    """A bundled scikit-image photo as a read-only (H, W, 3) uint8 BGR array (grey photos: 3 equal channels).

    Raises:
        ImportError: scikit-image is not installed.
        ValueError: an unknown name.
    """
    try:
        from skimage import data
    except ImportError as error:  # a dev dependency: the package itself does not need it
        raise ImportError(
            "the synthetic editing data needs scikit-image: pip install scikit-image"
        ) from error
    if name == "motorcycle":
        image = data.stereo_motorcycle()[0]
    elif name == "motorcycle_right":
        image = data.stereo_motorcycle()[1]
    elif name in (*HELD_OUT_SOURCES, *TRAINING_SOURCES, "cat", "clock"):
        image = getattr(data, name)()
    else:
        raise ValueError(
            f"unknown source {name!r}; choose from {[*HELD_OUT_SOURCES, *TRAINING_SOURCES, 'cat', 'clock']}"
        )
    image = np.asarray(image)
    image = (
        cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    )
    image.setflags(write=False)
    return image


def _check_sources(training: Sequence[str], held_out: Sequence[str]) -> None:
    """Training and held-out sources must not share a photo or a scene."""
    scenes = {_SAME_SCENE.get(name, name) for name in held_out}
    shared = [name for name in training if _SAME_SCENE.get(name, name) in scenes]
    if shared:
        raise ValueError(f"the training sources {shared} show held-out photos {sorted(scenes)}")
    if not training or not held_out:
        raise ValueError("give at least one training and one held-out source")


def _is_grey(image: np.ndarray) -> bool:
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


# ---- images -----------------------------------------------------------------------------------------
def photo_crop(
    image: np.ndarray,
    rng: np.random.Generator,
    size: int,
    max_scale: float = MAX_CROP_SCALE,
    min_detail: float = MIN_DETAIL,
    tries: int = 10,
    flips: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """A random square crop of ``image`` resized to ``size`` x ``size`` (see the module docstring).

    Args:
        flips: flip horizontally and vertically with probability 1/2 each (val crops are not flipped).

    Returns:
        ((size, size, 3) uint8 BGR, ``dict(window=[top, left, side], hflip, vflip)``): the crop is
        ``image[top:top+side, left:left+side]`` resized with ``imresize``, then flipped.
    """
    height, width = image.shape[:2]
    cap = min(height, width) / size
    low, high = min(1.0, cap), min(max_scale, cap)
    for _ in range(tries):
        scale = math.exp(rng.uniform(math.log(low), math.log(high))) if high > low else low
        side = min(max(round(size * scale), 1), height, width)
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        crop = image[top : top + side, left : left + side]
        if cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).std() >= min_detail:
            break
    if side != size:
        crop = imresize(crop, output_shape=(size, size))
    hflip, vflip = (bool(rng.random() < 0.5), bool(rng.random() < 0.5)) if flips else (False, False)
    crop = crop[:: -1 if vflip else 1, :: -1 if hflip else 1]
    return crop.copy(), {"window": [top, left, side], "hflip": hflip, "vflip": vflip}


def training_image(
    index: int,
    rng: np.random.Generator,
    size: int,
    sources: Sequence[str],
    texture_fraction: float = TEXTURE_FRACTION,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Training item ``index``: a texture or a crop of a training photo, and its record for ``meta.json``.

    Returns:
        ((size, size, 3) uint8 BGR, record) with ``kind`` ``texture`` (and ``texture``: its kind) or
        ``photo`` (and ``source``, ``window``, ``hflip``, ``vflip``, ``gains``: the colour cast or None).
    """
    if math.floor((index + 1) * texture_fraction) > math.floor(index * texture_fraction):
        image, kind = random_texture((size, size), rng)
        return image, {"kind": "texture", "texture": kind}
    source = sources[int(rng.integers(len(sources)))]
    photo = load_source(source)
    image, record = photo_crop(photo, rng, size)
    gains = None
    if _is_grey(photo):
        gains = rng.uniform(*COLOUR_CAST, size=3)
        image = round_to_uint8(image * gains)
        gains = [round(float(g), 6) for g in gains]
    return image, {"kind": "photo", "source": source, **record, "gains": gains}


def held_out_image(name: str, max_side: int = SET5_MAX_SIDE, multiple: int = SET5_MULTIPLE) -> np.ndarray:
    """A held-out photo resized with ``imresize`` so its longer side is ``max_side``, centre-cropped so both
    sides are multiples of ``multiple``: (H, W, 3) uint8 BGR."""
    photo = load_source(name)
    height, width = photo.shape[:2]
    factor = max_side / max(height, width)
    shape = (max(round(height * factor), multiple), max(round(width * factor), multiple))
    image = imresize(photo, output_shape=shape) if shape != (height, width) else photo
    new_h, new_w = shape[0] // multiple * multiple, shape[1] // multiple * multiple
    top, left = (shape[0] - new_h) // 2, (shape[1] - new_w) // 2
    return image[top : top + new_h, left : left + new_w].copy()


def _write_png(path: str, image: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, image):
        raise OSError(f"OpenCV could not write {path!r}")


def _write_meta(out_dir: str, meta: dict[str, Any]) -> dict[str, Any]:
    with open(os.path.join(out_dir, "meta.json"), "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=1)
        handle.write("\n")
    return meta


def _sources_meta(training: Sequence[str], held_out: Sequence[str]) -> dict[str, Any]:
    return {
        "source_library": "skimage.data (scikit-image, bundled files)",
        "training_sources": list(training),
        "held_out_sources": list(held_out),
        "excluded_sources": EXCLUDED_SOURCES,
        "texture_fraction": TEXTURE_FRACTION,
    }


# ---- writers ----------------------------------------------------------------------------------------
def _check_scales(scales: list[int], patch_size: int) -> None:
    bad = [s for s in scales if s < 1 or patch_size % s]
    if bad:
        raise ValueError(
            f"write_synthetic_restoration: patch_size {patch_size} is not a multiple of the scales {bad}"
        )
    if any(SET5_MULTIPLE % s for s in scales):
        raise ValueError(
            f"write_synthetic_restoration: the scales {scales} must divide {SET5_MULTIPLE} (Set5 GTmod12)"
        )


def _write_training_pair(
    out_dir: str,
    index: int,
    rng: np.random.Generator,
    patch_size: int,
    scales: list[int],
    sources: Sequence[str],
) -> dict[str, Any]:
    """Training image ``index`` (``DIV2K_train_HR``) and its bicubic inputs; its meta.json record."""
    image, record = training_image(index, rng, patch_size, sources)
    stem = f"{index + 1:04d}"
    _write_png(os.path.join(out_dir, "DIV2K_train_HR", f"{stem}.png"), image)
    for scale in scales:
        low = imresize(image, scale=1.0 / scale)
        _write_png(os.path.join(out_dir, "DIV2K_train_LR_bicubic", f"X{scale}", f"{stem}x{scale}.png"), low)
    return {"file": f"{stem}.png", **record}


def _write_held_out(
    out_dir: str, position: int, name: str, scales: list[int], noise_sigmas: Sequence[float], seed: int
) -> dict[str, Any]:
    """Held-out photo ``name`` in the Set5 layout: ground truth, bicubic inputs, fixed noisy inputs."""
    image = held_out_image(name)
    _write_png(os.path.join(out_dir, "Set5", "GTmod12", f"{name}.png"), image)
    for scale in scales:
        _write_png(
            os.path.join(out_dir, "Set5", f"LRbicx{scale}", f"{name}.png"), imresize(image, scale=1.0 / scale)
        )
    for sigma in noise_sigmas:
        rng = np.random.default_rng([seed, STREAMS["denoising_val"], int(sigma), position])
        noisy = round_to_uint8(add_gaussian_noise(image, float(sigma), rng))
        _write_png(os.path.join(out_dir, "Set5", f"noisy_sigma{sigma:g}", f"{name}.png"), noisy)
    return {"file": f"{name}.png", "source": name, "shape": list(image.shape[:2])}


def write_synthetic_restoration(
    out_dir: str | os.PathLike,
    seed: int = 0,
    num_train: int = 120,
    patch_size: int = 192,
    scales: Sequence[int] = (2, 3, 4),
    noise_sigmas: Sequence[float] = (25,),
    training_sources: Sequence[str] = TRAINING_SOURCES,
    held_out_sources: Sequence[str] = HELD_OUT_SOURCES,
) -> dict[str, Any]:
    """Write the DIV2K + Set5 layout of the module docstring under ``out_dir``.

    Args:
        out_dir: the output folder (created; existing files with the same names are overwritten).
        seed: the seed of every random choice.
        num_train: the number of training images.
        patch_size: the side of the training images; a multiple of every scale.
        scales: the down-sampling factors of the LR folders.
        noise_sigmas: the Gaussian noise levels (grey levels) of the denoising inputs ``Set5/noisy_sigma<n>``,
            drawn once with a fixed seed per image and stored as 8-bit PNG (what both backends read).
        training_sources: the photos the training crops come from (tests pass fewer).
        held_out_sources: the Set5 photos (never used for training).

    Returns:
        the content of ``meta.json``.

    Raises:
        ValueError: ``patch_size`` not a multiple of a scale, or training and held-out sources sharing a
            photo.
    """
    scales = [int(s) for s in scales]
    _check_scales(scales, patch_size)
    _check_sources(training_sources, held_out_sources)
    out_dir = os.fspath(out_dir)
    train = [
        _write_training_pair(out_dir, index, np.random.default_rng([seed, STREAMS["restoration_train"], index]),
                             patch_size, scales, training_sources)
        for index in range(num_train)
    ]  # fmt: skip
    held_out = [
        _write_held_out(out_dir, position, name, scales, noise_sigmas, seed)
        for position, name in enumerate(held_out_sources)
    ]
    meta = {
        "writer": "write_synthetic_restoration",
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "num_train": num_train,
        "patch_size": patch_size,
        "scales": scales,
        "noise_sigmas": [float(sigma) for sigma in noise_sigmas],
        "degradation": "imresize(HR, 1/scale): MATLAB bicubic, antialiased (tasks.editing.degradations)",
        "held_out_resize": (
            f"whole photo, longer side {SET5_MAX_SIDE} px, centre crop to multiples of {SET5_MULTIPLE}"
        ),
        **_sources_meta(training_sources, held_out_sources),
        "train": train,
        "held_out": held_out,
    }
    return _write_meta(out_dir, meta)


def _val_masks_mode(index: int) -> str:
    return ("free_form", "bbox", "mixed")[index % 3]


def write_synthetic_inpainting(
    out_dir: str | os.PathLike,
    seed: int = 0,
    num_train: int = 120,
    image_size: int = 128,
    num_val: int = 20,
    training_sources: Sequence[str] = TRAINING_SOURCES,
    held_out_sources: Sequence[str] = HELD_OUT_SOURCES,
) -> dict[str, Any]:
    """Write ``train/images``, ``val/images`` and ``val/masks`` (see the module docstring) under ``out_dir``.

    Val image ``i`` is a crop (not flipped) of the held-out photo ``held_out_sources[i % n]``; its mask is
    :func:`.masks.random_mask` in the mode free_form, bbox, mixed for ``i % 3`` = 0, 1, 2, written
    0/255 (255 = hole).

    Returns:
        the content of ``meta.json``.
    """
    _check_sources(training_sources, held_out_sources)
    out_dir = os.fspath(out_dir)
    train = []
    for index in range(num_train):
        rng = np.random.default_rng([seed, STREAMS["inpainting_train"], index])
        image, record = training_image(index, rng, image_size, training_sources)
        _write_png(os.path.join(out_dir, "train", "images", f"{index + 1:04d}.png"), image)
        train.append({"file": f"{index + 1:04d}.png", **record})
    val = []
    for index in range(num_val):
        rng = np.random.default_rng([seed, STREAMS["inpainting_val"], index])
        source = held_out_sources[index % len(held_out_sources)]
        image, record = photo_crop(load_source(source), rng, image_size, flips=False)
        mode = _val_masks_mode(index)
        mask = random_mask(
            (image_size, image_size),
            np.random.default_rng([seed, STREAMS["inpainting_masks"], index]),
            mode=mode,
        )
        name = f"{index + 1:04d}.png"
        _write_png(os.path.join(out_dir, "val", "images", name), image)
        _write_png(os.path.join(out_dir, "val", "masks", name), (mask > 0).astype(np.uint8) * 255)
        val.append(
            {
                "file": name,
                "kind": "photo",
                "source": source,
                **record,
                "mask_mode": mode,
                "hole_fraction": round(float(mask.mean()), 6),
            }
        )
    meta = {
        "writer": "write_synthetic_inpainting",
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "num_train": num_train,
        "num_val": num_val,
        "image_size": image_size,
        "mask_format": "PNG 0/255, 255 = hole",
        **_sources_meta(training_sources, held_out_sources),
        "train": train,
        "val": val,
    }
    return _write_meta(out_dir, meta)


def _stratified_split(targets: np.ndarray, num_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train ids, val ids): ``num_val`` ids spread over the classes in proportion (largest remainders),
    each class's val ids drawn by a seeded permutation."""
    classes, counts = np.unique(targets, return_counts=True)
    quotas = counts * num_val / len(targets)
    share = np.floor(quotas).astype(int)
    for position in np.argsort(-(quotas - share), kind="stable")[: num_val - int(share.sum())]:
        share[position] += 1
    rng = np.random.default_rng(seed)
    val = np.concatenate([rng.permutation(np.flatnonzero(targets == c))[:n] for c, n in zip(classes, share)])
    is_val = np.zeros(len(targets), dtype=bool)
    is_val[val] = True
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def write_synthetic_generation(
    out_dir: str | os.PathLike,
    seed: int = 0,
    image_size: int = 32,
    num_val: int = 300,
    num_latents: int = 8,
    noise_size: int = 100,
) -> dict[str, Any]:
    """Write scikit-learn's digits as ``train/<digit>/<id>.png`` and ``val/<digit>/<id>.png`` plus latents.

    Each 8 x 8 image (values 0..16) is scaled to 0..255 (float), resized to ``image_size`` with
    ``imresize`` and rounded half away from zero to uint8 (grayscale PNG).

    Returns:
        the content of ``meta.json``.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    targets = digits.target
    if not 0 < num_val < len(targets):
        raise ValueError(
            f"write_synthetic_generation: num_val must be in 1..{len(targets) - 1}, got {num_val}"
        )
    out_dir = os.fspath(out_dir)
    train_ids, val_ids = _stratified_split(targets, num_val, seed)
    for split, ids in (("train", train_ids), ("val", val_ids)):
        for image_id in ids:
            pixels = digits.images[image_id] * (255.0 / 16.0)
            if image_size != 8:
                pixels = imresize(pixels, output_shape=(image_size, image_size))
            path = os.path.join(out_dir, split, str(int(targets[image_id])), f"{image_id:04d}.png")
            _write_png(path, round_to_uint8(pixels))
    os.makedirs(os.path.join(out_dir, "latents"), exist_ok=True)
    for index in range(num_latents):
        rng = np.random.default_rng([seed, STREAMS["latents"], index])
        np.save(
            os.path.join(out_dir, "latents", f"{index:04d}.npy"),
            rng.standard_normal(noise_size).astype(np.float32),
        )
    meta = {
        "writer": "write_synthetic_generation",
        "format_version": FORMAT_VERSION,
        "source": "sklearn.datasets.load_digits (1797 images, 8 x 8, values 0..16)",
        "seed": seed,
        "image_size": image_size,
        "resize": "imresize (MATLAB bicubic) of the 0..255 float image, rounded half away from zero",
        "classes": [str(digit) for digit in range(10)],
        "splits": {"train": len(train_ids), "val": len(val_ids)},
        "val_per_class": {str(c): int((targets[val_ids] == c).sum()) for c in range(10)},
        "val_ids": [int(i) for i in val_ids],
        "num_latents": num_latents,
        "noise_size": noise_size,
        "latents": "latents/NNNN.npy: float32 (noise_size,) standard normal, default_rng([seed, 4, index])",
    }
    return _write_meta(out_dir, meta)
