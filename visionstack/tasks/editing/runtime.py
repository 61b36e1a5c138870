"""The deploy runtime's inputs of an inpainting model: an image and its mask (NumPy and OpenCV only).

:class:`MaskedImagePreprocessor` is what the inpainting adapter's ``runtime_preprocessor`` returns: it reads an
image and finds its mask as ``infer`` does (:func:`.adapter.find_mask`), normalises the image as the model's
data preprocessor does (``(x - mean) / std``, BGR -> RGB) and hands the mask on in the image's metainfo, where
the runtime feeds it to the graph's ``mask`` input. :func:`read_mask` is the one mask reader of the package
(``LoadMask`` uses it too).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...utils.image_io import read_image

__all__ = ["MaskedImagePreprocessor", "read_mask"]


def read_mask(path: str | os.PathLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A mask file as (H, W) uint8 with 1 = hole: a PNG/JPEG (any non-zero pixel is a hole; colour masks by
    their maximum channel) or a ``.npy`` array.

    Args:
        path: the mask file.
        shape: the image's (h, w): a mask of another size is an error.

    Raises:
        FileNotFoundError / ValueError: naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {str(path)!r}")
    mask = (
        np.load(path, allow_pickle=False) if path.suffix.lower() == ".npy" else read_image(path, "unchanged")
    )
    mask = np.asarray(mask)
    if mask.ndim == 3:  # colour or alpha PNG: a hole in any channel is a hole
        mask = np.any(mask != 0, axis=2)
    if mask.ndim != 2:
        raise ValueError(f"mask file {str(path)!r} holds an array of shape {mask.shape}, expected (H, W)")
    if shape is not None and tuple(mask.shape) != tuple(shape[:2]):
        raise ValueError(
            f"{path}: the mask is {mask.shape[0]}x{mask.shape[1]} but its image is {shape[0]}x{shape[1]}"
        )
    return (mask != 0).astype(np.uint8)


class MaskedImagePreprocessor:
    """Image + mask -> the graph's ``input`` (and, through the metainfo, ``mask``).

    Args:
        spec: deploy.json's ``preprocess``: ``mean``, ``std`` (0..255 units, RGB order) and ``bgr_to_rgb``.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.mean = (
            None if spec.get("mean") is None else np.asarray(spec["mean"], np.float32).reshape(-1, 1, 1)
        )
        self.std = None if spec.get("std") is None else np.asarray(spec["std"], np.float32).reshape(-1, 1, 1)
        self.bgr_to_rgb = bool(spec.get("bgr_to_rgb", False))

    def read(self, path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
        from .adapter import find_mask

        image = read_image(path)
        return image, read_mask(find_mask(path), image.shape[:2])

    def image(self, item: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, dict[str, Any]]:
        image, mask = item
        chw = np.asarray(image, np.float32).transpose(2, 0, 1)
        if self.bgr_to_rgb:
            chw = chw[::-1]
        if self.mean is not None:
            chw = (chw - self.mean) / self.std
        shape = tuple(int(v) for v in image.shape[:2])
        meta = {"ori_shape": shape, "img_shape": shape, "scale_factor": (1.0, 1.0),
                "mask": (np.asarray(mask) > 0).astype(np.float32)[None]}  # fmt: skip
        return np.ascontiguousarray(chw), meta

    def batch(self, arrays: list[np.ndarray]) -> np.ndarray:
        """(C, h, w) images -> one (B, C, H, W) batch padded with zeros at the bottom/right."""
        height = max(array.shape[1] for array in arrays)
        width = max(array.shape[2] for array in arrays)
        out = np.zeros((len(arrays), arrays[0].shape[0], height, width), np.float32)
        for index, array in enumerate(arrays):
            out[index, :, : array.shape[1], : array.shape[2]] = array
        return out
