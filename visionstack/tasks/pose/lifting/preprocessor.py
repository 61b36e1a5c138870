"""The lifters' data preprocessor: keypoint sequences (not images) batched on the model's device."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....models.data_preprocessor import move_to_device
from ....registry import MODELS

__all__ = ["LiftingDataPreprocessor", "pad_sequences"]


def pad_sequences(sequences: Sequence[torch.Tensor]) -> torch.Tensor:
    """(N, L_max, J, C): each (L_i, J, C) sequence followed by copies of its last frame up to the longest.

    Padding after the end leaves the outputs of the real frames unchanged (a lifter's output frame depends
    only on its own window), so a batch of sequences of different lengths predicts as each would alone.
    """
    longest = max(sequence.shape[0] for sequence in sequences)
    padded = [
        torch.cat([sequence, sequence[-1:].expand(longest - sequence.shape[0], *sequence.shape[1:])])
        if sequence.shape[0] < longest
        else sequence
        for sequence in sequences
    ]
    return torch.stack(padded)


@MODELS.register()
class LiftingDataPreprocessor(nn.Module):
    """Stack a batch of 2D keypoint sequences as float32 (N, L, J, C) on the module's device.

    Call: ``preprocessor({"inputs": list of (L_i, J, C) tensors or an (N, L, J, C) tensor, "data_samples":
    list}, training=False) -> {"inputs": (N, L_max, J, C), "data_samples": list}``; shorter sequences are
    padded at the end by repeating their last frame (:func:`pad_sequences`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("_device_probe", torch.empty(0), persistent=False)

    @property
    def device(self) -> torch.device:
        return self._device_probe.device

    def forward(self, data: Mapping[str, Any], training: bool = False) -> dict[str, Any]:
        if not isinstance(data, Mapping) or "inputs" not in data:
            raise TypeError(
                f"{type(self).__name__} expects a dict with 'inputs' (and 'data_samples'), got {type(data)}"
            )
        inputs = data["inputs"]
        if isinstance(inputs, (list, tuple)):
            if not inputs:
                raise ValueError(f"{type(self).__name__}: empty batch")
            for index, sequence in enumerate(inputs):
                if not isinstance(sequence, torch.Tensor) or sequence.ndim != 3:
                    shape = (
                        tuple(sequence.shape)
                        if isinstance(sequence, torch.Tensor)
                        else type(sequence).__name__
                    )
                    raise ValueError(
                        f"{type(self).__name__}: input {index} must be a (frames, joints, 2) tensor, got {shape}"
                    )
            inputs = pad_sequences(inputs)
        elif not isinstance(inputs, torch.Tensor) or inputs.ndim != 4:
            raise ValueError(
                f"{type(self).__name__}: 'inputs' must be a list of (L, J, C) tensors or (N, L, J, C)"
            )
        samples = data.get("data_samples")
        return {
            "inputs": inputs.to(self.device, torch.float32),
            "data_samples": None if samples is None else move_to_device(list(samples), self.device),
        }
