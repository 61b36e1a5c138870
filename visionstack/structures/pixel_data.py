"""PixelData (maps of one image) and LabelData (labels and scores of one sample)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .data_element import BaseDataElement


class PixelData(BaseDataElement):
    """Per-pixel maps of one image, each (C, H, W) or (H, W) (stored as (1, H, W)); all share H, W."""

    def _check_field(self, name: str, value: Any) -> None:
        if not isinstance(value, (torch.Tensor, np.ndarray)):
            raise TypeError(f"PixelData field {name!r} must be a tensor or array, got {type(value).__name__}")
        if value.ndim not in (2, 3):
            raise ValueError(
                f"PixelData field {name!r} must be (H, W) or (C, H, W), got shape {tuple(value.shape)}"
            )
        # a field being replaced may change size when it is the only one (e.g. padding a map)
        shape = next((tuple(other.shape[-2:]) for key, other in self.items() if key != name), None)
        if shape is not None and tuple(value.shape[-2:]) != shape:
            raise ValueError(
                f"PixelData field {name!r} has size {tuple(value.shape[-2:])}, others have {shape}"
            )

    def set_field(self, name: str, value: Any) -> None:
        if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 2:
            value = value[None]
        super().set_field(name, value)

    @property
    def shape(self) -> tuple[int, int] | None:
        for _, value in self.items():
            return tuple(value.shape[-2:])
        return None


class LabelData(BaseDataElement):
    """Labels and scores of one sample: ``label`` (K,) int64, ``score`` (num_classes,) float."""

    @staticmethod
    def label_to_onehot(label: torch.Tensor, num_classes: int) -> torch.Tensor:
        onehot = torch.zeros(num_classes, dtype=torch.float32, device=label.device)
        onehot[label.long()] = 1.0
        return onehot

    @staticmethod
    def onehot_to_label(onehot: torch.Tensor) -> torch.Tensor:
        return onehot.nonzero().flatten()
