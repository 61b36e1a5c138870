"""Latent vectors of an unconditional GAN as inputs: from ``.npy`` files, or fixed by an image's file name.

``infer`` on a generator reads latent vectors (``.npy`` files of ``noise_size`` float32 values). ``test`` and
``export --verify`` run over the real validation images (the metric compares the real set with the generated
one): each real image stands for one generated sample, whose latent is drawn from NumPy's generator seeded by
the file's name (:func:`latent_for_path`), so both backends, and every run, draw the same samples. This module
is NumPy-only: the torch-free deploy runtime reads latents with it.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["latent_for_path", "seeded_latent", "LatentPreprocessor"]


def seeded_latent(seed: int, noise_size: int) -> np.ndarray:
    """A standard-normal (noise_size,) float32 vector drawn from ``np.random.default_rng(seed)``."""
    return np.random.default_rng(int(seed)).standard_normal(int(noise_size)).astype(np.float32)


def latent_for_path(path: str | os.PathLike, noise_size: int) -> np.ndarray:
    """The latent of an input file: a ``.npy`` file's (noise_size,) vector, or for any other file the vector
    seeded by the CRC-32 of its name (not its folder: a copied validation set draws the same samples).

    Raises:
        ValueError: a ``.npy`` file that does not hold ``noise_size`` values (naming the file).
    """
    path = Path(path)
    if path.suffix.lower() != ".npy":
        return seeded_latent(zlib.crc32(path.name.encode("utf-8")), noise_size)
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable .npy latent ({error})") from error
    value = np.asarray(value, dtype=np.float32).reshape(-1)
    if value.size != noise_size:
        raise ValueError(f"{path}: a latent of {value.size} values, but the generator takes {noise_size}")
    return value


class LatentPreprocessor:
    """The deploy runtime's reading of a generator's inputs (the adapter's ``runtime_preprocessor``).

    Args:
        spec: deploy.json's ``preprocess``: ``noise_size``.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.noise_size = int(spec["noise_size"])

    def read(self, path: str | os.PathLike) -> np.ndarray:
        return latent_for_path(path, self.noise_size)

    def image(self, latent: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        meta = {"ori_shape": (1, 1), "img_shape": (1, 1), "scale_factor": (1.0, 1.0)}
        return np.asarray(latent, np.float32).reshape(self.noise_size), meta

    def batch(self, latents: list[np.ndarray]) -> np.ndarray:
        return np.stack(latents).astype(np.float32)
