"""Collate functions: turning a list of samples into a batch (FUNCTIONS).

``pseudo_collate`` (the default) only regroups: a list of ``{"inputs", "data_samples"}`` dicts
becomes ``{"inputs": [...], "data_samples": [...]}`` with tensors left separate and uint8, because
images of different sizes are padded and stacked on the device by the data preprocessor.
``default_collate`` also stacks tensors, arrays and numbers (all samples must match in shape).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Number
from typing import Any

import numpy as np
import torch

from ..registry import FUNCTIONS

__all__ = ["pseudo_collate", "default_collate"]


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _transpose(batch: Sequence[Sequence[Any]], where: str) -> list[list[Any]]:
    lengths = {len(sample) for sample in batch}
    if len(lengths) != 1:
        raise ValueError(f"collate: the samples' {where} sequences differ in length ({sorted(lengths)})")
    return [list(items) for items in zip(*batch)]


def _keys_of(batch: Sequence[Mapping], where: str) -> list:
    keys = list(batch[0])
    for sample in batch[1:]:
        if set(sample) != set(keys):
            raise KeyError(
                f"collate: the samples' {where} dicts have different keys: {sorted(keys)} vs {sorted(sample)}"
            )
    return keys


@FUNCTIONS.register()
def pseudo_collate(batch: Sequence[Any]) -> Any:
    """Regroup a list of samples without stacking.

    Dicts become a dict of lists (recursively), tuples/lists are transposed, anything else
    (tensors, DataSamples, strings, numbers) is collected into a list.

    Args:
        batch: the samples, e.g. ``[{"inputs": (3, H_i, W_i) uint8, "data_samples": DataSample}, ...]``.

    Returns:
        ``{"inputs": [tensor, ...], "data_samples": [DataSample, ...]}`` for packed samples.
    """
    return _collate(batch, stack=False, where="batch")


@FUNCTIONS.register()
def default_collate(batch: Sequence[Any]) -> Any:
    """Regroup a list of samples and stack what can be stacked.

    Tensors are stacked into (B, ...) (they must share shape), NumPy arrays and numbers become
    tensors the same way (Python floats as float64, like torch's
    ``default_collate``), DataSamples and strings are collected into lists, dicts and sequences are
    handled recursively.
    """
    return _collate(batch, stack=True, where="batch")


def _collate(batch: Sequence[Any], stack: bool, where: str) -> Any:
    if len(batch) == 0:
        return []
    first = batch[0]
    if isinstance(first, Mapping):
        keys = _keys_of(batch, where)
        return {key: _collate([sample[key] for sample in batch], stack, f"{where}.{key}") for key in keys}
    if _is_sequence(first):
        return [_collate(items, stack, f"{where}[{i}]") for i, items in enumerate(_transpose(batch, where))]
    if not stack:
        return list(batch)
    return _stack(batch, where)


def _stack(batch: Sequence[Any], where: str) -> Any:
    first = batch[0]
    if isinstance(first, torch.Tensor):
        shapes = {tuple(item.shape) for item in batch}
        if len(shapes) != 1:
            raise ValueError(
                f"default_collate: cannot stack {where}: tensors of shapes {sorted(shapes)}; use pseudo_collate "
                "and let the data preprocessor pad, or resize/crop to one size in the pipeline"
            )
        return torch.stack(list(batch))
    if isinstance(first, np.ndarray) and first.dtype != object:
        return _stack([torch.from_numpy(np.ascontiguousarray(item)) for item in batch], where)
    if isinstance(first, (bool, np.bool_)):
        return torch.tensor([bool(item) for item in batch])
    if isinstance(first, np.number):
        return torch.as_tensor(np.array(batch))
    if isinstance(first, float):  # Python floats are float64, as in torch's default_collate
        return torch.tensor(batch, dtype=torch.float64)
    if isinstance(first, Number):
        return torch.tensor(batch)
    return list(batch)
