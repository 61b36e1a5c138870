"""Packing a results dict into the model's input format."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np
import torch

from ...registry import TRANSFORMS
from ...structures import DataSample, LabelData
from .base import BaseTransform

__all__ = [
    "BasePackInputs",
    "IMAGE_META_KEYS",
    "PACK_META_KEYS",
    "PackInputs",
    "image_to_tensor",
    "to_label_tensor",
]

# The image's file and what the geometric transforms did to it, kept in the metainfo by every task.
IMAGE_META_KEYS = ("img_path", "ori_shape", "img_shape", "scale_factor", "flip", "flip_direction")
# The metainfo a packed sample keeps by default (the classification pipelines' keys).
PACK_META_KEYS = ("sample_idx", *IMAGE_META_KEYS)


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """An (H, W, C) or (H, W) array as a (C, H, W) tensor of the same dtype and memory (no scaling).

    The tensor is a channel-first view of the array, not a copy: the batch is copied once, when the
    collate function or the data preprocessor stacks it (an array with negative strides, which
    torch cannot view, is copied here).
    """
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3:
        raise ValueError(f"expected an (H, W, C) or (H, W) image, got shape {img.shape}")
    if any(stride < 0 for stride in img.strides):
        img = np.ascontiguousarray(img)
    return torch.from_numpy(img).permute(2, 0, 1)


def to_label_tensor(label: int | Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """A class index or a list of indices as a (K,) int64 tensor."""
    if isinstance(label, torch.Tensor):
        return label.reshape(-1).long()
    if isinstance(label, (int, np.integer)):
        return torch.tensor([int(label)], dtype=torch.int64)
    return torch.as_tensor(np.asarray(label, dtype=np.int64).reshape(-1))


class BasePackInputs(BaseTransform):
    """Base of the ``Pack*Inputs`` transforms: ``{"inputs": (C, H, W) tensor, "data_samples": DataSample}``.

    ``inputs`` keeps the dtype and channel order of ``img`` (uint8 BGR as loaded); converting to float,
    normalising and BGR->RGB happen in the model's data preprocessor. The sample starts with the
    ``meta_keys`` of the results as its metainfo; a subclass adds its task's annotations in
    :meth:`pack_annotations`.

    Args:
        meta_keys: results keys copied into the sample's metainfo (missing ones are skipped).

    Raises:
        KeyError: the results have no ``img``.
    """

    #: the advice of the error for results without ``img``
    missing_img_advice = "put LoadImage first"

    def __init__(self, meta_keys: Sequence[str] = PACK_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        if "img" not in results:
            raise KeyError(
                f"{type(self).__name__}: the results have no `img` (keys: {sorted(results)}); "
                f"{self.missing_img_advice}"
            )
        sample = DataSample(metainfo={key: results[key] for key in self.meta_keys if key in results})
        self.pack_annotations(results, sample)
        return {"inputs": image_to_tensor(results["img"]), "data_samples": sample}

    @abc.abstractmethod
    def pack_annotations(self, results: dict, sample: DataSample) -> None:
        """Set the task's ground truth of ``results`` on ``sample`` (nothing when the results hold none)."""


@TRANSFORMS.register()
class PackInputs(BasePackInputs):
    """Make ``{"inputs": (C, H, W) tensor, "data_samples": DataSample}`` from the results.

    ``inputs`` keeps the dtype and channel order of ``img`` (uint8 BGR as loaded); converting to float,
    normalising and BGR->RGB happen in the model's data preprocessor. ``gt_label`` becomes
    ``gt_label=LabelData(label=(K,) int64)``, with ``score`` from ``gt_score`` when present.

    Args:
        meta_keys: results keys copied into the sample's metainfo (missing ones are skipped).
    """

    missing_img_advice = "put a LoadImage first"

    def pack_annotations(self, results: dict, sample: DataSample) -> None:
        label_fields = {}
        if results.get("gt_label") is not None:
            label_fields["label"] = to_label_tensor(results["gt_label"])
        if results.get("gt_score") is not None:
            label_fields["score"] = torch.as_tensor(np.asarray(results["gt_score"], dtype=np.float32))
        if label_fields:
            sample.gt_label = LabelData(**label_fields)
