"""Digits: scikit-learn's bundled handwritten digits as a real image-folder dataset on disk.

``sklearn.datasets.load_digits()`` holds 1797 8x8 images with values 0..16 (no download). They are
written once, as grayscale PNG files (values scaled to 0..255, upscaled ``scale`` times with
bilinear interpolation), in the ImageNet layout that :class:`ImageFolder` reads::

    <data_root>/train/<digit>/<id>.png      id = the image's index in load_digits() (0000..1796)
    <data_root>/val/<digit>/<id>.png
    <data_root>/meta.json                   the parameters and counts; written last (completion marker)

so training exercises the same loading path (files, OpenCV decoding, BGR) as any image dataset.
The split is stratified and deterministic: within each class, a permutation seeded by ``seed``
puts ``round(n_class * val_fraction)`` images into val.

Writing goes to a temporary sibling folder that is renamed into place, so a reader never sees a
partial folder, and processes racing to write (pytest-xdist workers, DDP ranks) all end up using
the one folder that won the rename.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

import cv2
import numpy as np

from ...registry import DATASETS
from .datasets import ImageFolder

__all__ = ["Digits", "write_digits"]

FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")


def _split_ids(targets: np.ndarray, val_fraction: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    val: list[int] = []
    for digit in range(10):
        members = np.flatnonzero(targets == digit)
        val.extend(rng.permutation(members)[: int(round(len(members) * val_fraction))].tolist())
    is_val = np.zeros(len(targets), dtype=bool)
    is_val[val] = True
    return {"train": np.flatnonzero(~is_val), "val": np.flatnonzero(is_val)}


def _write_images(folder: str, val_fraction: float, seed: int, scale: int) -> dict[str, Any]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, targets = digits.images, digits.target
    counts = {}
    for split, ids in _split_ids(targets, val_fraction, seed).items():
        counts[split] = len(ids)
        for image_id in ids:
            pixels = np.rint(images[image_id] * (255.0 / 16.0)).astype(np.uint8)
            if scale > 1:
                pixels = cv2.resize(pixels, (8 * scale, 8 * scale), interpolation=cv2.INTER_LINEAR)
            class_folder = os.path.join(folder, split, str(int(targets[image_id])))
            os.makedirs(class_folder, exist_ok=True)
            path = os.path.join(class_folder, f"{image_id:04d}.png")
            if not cv2.imwrite(path, pixels):
                raise OSError(f"Digits: OpenCV could not write {path!r}")
    return {"num_images": len(targets), "image_size": [8 * scale, 8 * scale], "splits": counts}


def _parameters(val_fraction: float, seed: int, scale: int) -> dict[str, Any]:
    return {
        "source": "sklearn.datasets.load_digits",
        "format_version": FORMAT_VERSION,
        "val_fraction": val_fraction,
        "seed": seed,
        "scale": scale,
    }


def _read_meta(root: str, expected: dict[str, Any]) -> dict[str, Any]:
    with open(os.path.join(root, "meta.json"), encoding="utf-8") as handle:
        meta = json.load(handle)
    found = {key: meta.get(key) for key, value in expected.items() if meta.get(key) != value}
    if found:
        asked = {key: expected[key] for key in found}
        raise ValueError(
            f"Digits: {root!r} holds digits written with {found}, but {asked} was asked; "
            "use another data_root or delete the folder"
        )
    return meta


def write_digits(root: str, val_fraction: float = 0.2, seed: int = 0, scale: int = 4) -> dict[str, Any]:
    """Write the digits under ``root`` unless a complete copy with these parameters is there.

    Returns:
        the content of ``meta.json``.

    Raises:
        ValueError: ``root`` holds digits written with other parameters.
        FileExistsError: ``root`` is a non-empty folder without ``meta.json``.
    """
    expected = _parameters(val_fraction, seed, scale)
    meta_path = os.path.join(root, "meta.json")
    if os.path.isfile(meta_path):
        return _read_meta(root, expected)
    if os.path.isdir(root) and os.listdir(root):
        raise FileExistsError(
            f"Digits: {root!r} exists but is not a complete digits folder (no meta.json); delete it or "
            "choose another data_root"
        )
    parent = os.path.dirname(os.path.abspath(root))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".digits-staging-", dir=parent)
    os.chmod(staging, 0o755)  # mkdtemp makes it private; the renamed folder is a normal data folder
    try:
        meta = {
            **expected,
            **_write_images(staging, val_fraction, seed, scale),
            "classes": [str(d) for d in range(10)],
        }
        with open(os.path.join(staging, "meta.json"), "w", encoding="utf-8") as handle:
            json.dump(meta, handle, indent=2)
        try:
            os.rename(staging, root)  # atomic; fails if another process already put a folder there
        except OSError:
            if not os.path.isfile(meta_path):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _read_meta(root, expected)


@DATASETS.register()
class Digits(ImageFolder):
    """The 1797 scikit-learn digits as PNG files in ImageNet layout (written once, then read).

    Args:
        data_root: the folder that holds (or will hold) the images.
        split: ``train`` or ``val``; ``test`` reads the val images (as ImageNet's test uses val).
        val_fraction: fraction of each class put into val, in (0, 1).
        seed: seed of the stratified split.
        scale: upscaling factor of the 8x8 images (4 gives 32x32).
        **kwargs: the other :class:`BaseDataset` options (``pipeline``, ``indices``, ``test_mode``,
            ``lazy_init`` ...); ``ann_file``, ``data_prefix`` and ``metainfo`` are set here.
    """

    METAINFO = {"classes": tuple(str(digit) for digit in range(10))}

    def __init__(
        self,
        data_root: str = "data/digits",
        split: str = "train",
        val_fraction: float = 0.2,
        seed: int = 0,
        scale: int = 4,
        **kwargs: Any,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"Digits: split must be one of {SPLITS}, got {split!r}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"Digits: val_fraction must be in (0, 1), got {val_fraction}")
        if int(scale) != scale or scale < 1:
            raise ValueError(f"Digits: scale must be a positive integer, got {scale}")
        self.split = split
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        self.scale = int(scale)
        super().__init__(
            data_root=data_root,
            data_prefix="train" if split == "train" else "val",
            **kwargs,
        )

    def load_data_list(self) -> list[dict]:
        write_digits(self.data_root, self.val_fraction, self.seed, self.scale)
        return super().load_data_list()
