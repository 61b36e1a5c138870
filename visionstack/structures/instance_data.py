"""InstanceData: per-instance fields (boxes, labels, scores, masks ...) of equal length."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .data_element import BaseDataElement


class InstanceData(BaseDataElement):
    """A set of instances: every data field has the same first dimension (the instance count).

    Index it with an int, a slice, a LongTensor of indices or a BoolTensor mask; the result is an
    InstanceData with every field indexed the same way. ``InstanceData.cat`` concatenates.

    Example:
        >>> inst = InstanceData(bboxes=torch.zeros(3, 4), labels=torch.tensor([0, 1, 2]))
        >>> inst[inst.labels > 0].bboxes.shape
        torch.Size([2, 4])
    """

    def _check_field(self, name: str, value: Any) -> None:
        if not hasattr(value, "__len__"):
            raise TypeError(f"InstanceData field {name!r} must have a length, got {type(value).__name__}")
        if len(self._data_fields - {name}) and len(value) != len(self):
            raise ValueError(
                f"InstanceData field {name!r} has length {len(value)}, but the other fields have {len(self)}"
            )

    def __len__(self) -> int:
        for name in self._data_fields:
            return len(getattr(self, name))
        return 0

    def __getitem__(self, index: int | slice | torch.Tensor | np.ndarray | Sequence[int]) -> InstanceData:
        if isinstance(index, int):
            if not -len(self) <= index < len(self):
                raise IndexError(f"index {index} out of range for {len(self)} instances")
            index = slice(index, None if index == -1 else index + 1)
        if isinstance(index, (list, tuple, np.ndarray)):
            index = torch.as_tensor(np.asarray(index))
        if isinstance(index, torch.Tensor) and index.dtype == torch.bool and len(index) != len(self):
            raise IndexError(f"boolean mask of length {len(index)} for {len(self)} instances")
        element = self.__class__(metainfo=dict(self.metainfo))
        for name, value in self.items():
            element.set_field(name, _take(value, index))
        return element

    @staticmethod
    def cat(instances: Sequence[InstanceData]) -> InstanceData:
        """Concatenate instance sets that have the same fields."""
        if not instances:
            raise ValueError("InstanceData.cat needs at least one element")
        keys = set(instances[0].keys())
        for item in instances[1:]:
            if set(item.keys()) != keys:
                raise ValueError(
                    f"cannot concatenate InstanceData with fields {sorted(keys)} and {item.keys()}"
                )
        result = instances[0].__class__(metainfo=dict(instances[0].metainfo))
        for name in sorted(keys):
            values = [getattr(item, name) for item in instances]
            first = values[0]
            if isinstance(first, torch.Tensor):
                merged = torch.cat(values)
            elif isinstance(first, np.ndarray):
                merged = np.concatenate(values)
            elif isinstance(first, (list, tuple)):
                merged = [v for value in values for v in value]
            elif hasattr(type(first), "cat"):
                merged = type(first).cat(values)
            else:
                raise TypeError(f"cannot concatenate field {name!r} of type {type(first).__name__}")
            result.set_field(name, merged)
        return result


def _take(value: Any, index: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value[index.to(value.device) if isinstance(index, torch.Tensor) else index]
    if isinstance(value, np.ndarray):
        return value[index.cpu().numpy() if isinstance(index, torch.Tensor) else index]
    if isinstance(value, (list, tuple)):
        if isinstance(index, slice):
            return value[index]
        if index.dtype == torch.bool:
            index = index.nonzero().flatten()
        return [value[i] for i in index.tolist()]
    return value[index]
