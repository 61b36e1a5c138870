"""Packing a results dict into the model's input format."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ...registry import TRANSFORMS
from ...structures import DataSample, LabelData
from .base import BaseTransform

__all__ = ["PackInputs", "image_to_tensor", "to_label_tensor"]


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """An (H, W, C) or (H, W) array as a contiguous (C, H, W) tensor of the same dtype (no scaling)."""
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3:
        raise ValueError(f"expected an (H, W, C) or (H, W) image, got shape {img.shape}")
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def to_label_tensor(label: int | Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """A class index or a list of indices as a (K,) int64 tensor."""
    if isinstance(label, torch.Tensor):
        return label.reshape(-1).long()
    if isinstance(label, (int, np.integer)):
        return torch.tensor([int(label)], dtype=torch.int64)
    return torch.as_tensor(np.asarray(label, dtype=np.int64).reshape(-1))


@TRANSFORMS.register()
class PackInputs(BaseTransform):
    """Make ``{"inputs": (C, H, W) tensor, "data_samples": DataSample}`` from the results.

    ``inputs`` keeps the dtype and channel order of ``img`` (uint8 BGR as loaded); converting to float,
    normalising and BGR->RGB happen in the model's data preprocessor. ``gt_label`` becomes
    ``gt_label=LabelData(label=(K,) int64)``, with ``score`` from ``gt_score`` when present.

    Args:
        meta_keys: results keys copied into the sample's metainfo (missing ones are skipped).
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = (
            "sample_idx",
            "img_path",
            "ori_shape",
            "img_shape",
            "scale_factor",
            "flip",
            "flip_direction",
        ),
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        if "img" not in results:
            raise KeyError(
                f"PackInputs: the results have no `img` (keys: {sorted(results)}); put a LoadImage first"
            )
        sample = DataSample(metainfo={key: results[key] for key in self.meta_keys if key in results})
        label_fields = {}
        if results.get("gt_label") is not None:
            label_fields["label"] = to_label_tensor(results["gt_label"])
        if results.get("gt_score") is not None:
            label_fields["score"] = torch.as_tensor(np.asarray(results["gt_score"], dtype=np.float32))
        if label_fields:
            sample.gt_label = LabelData(**label_fields)
        return {"inputs": image_to_tensor(results["img"]), "data_samples": sample}
