"""Field readers the pose metrics share: tensors to NumPy and per-instance values of a sample."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def _numpy(value: Any, dtype: Any = np.float64) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


# ---- OKS and OKS-NMS -----------------------------------------------------------------------------------


def _instance_field(instances: Any, name: str, where: str, owner: str, index: int) -> Any:
    value = instances.get(name)
    if value is None:
        raise KeyError(f"{owner}: data_samples[{index}].{where} has no {name}")
    return value


def _first_present(*candidates: tuple[Any, str]) -> Any:
    """The first ``container[name]`` that exists (containers may be None)."""
    for container, name in candidates:
        if container is not None and container.get(name) is not None:
            return container.get(name)
    return None


def _per_instance(value: Any, count: int, name: str, owner: str, index: int, width: int = 1) -> np.ndarray:
    array = _numpy(value).reshape(-1, width) if width > 1 else _numpy(value).reshape(-1)
    if len(array) == 1 and count > 1:
        array = np.repeat(array, count, axis=0)
    if len(array) != count:
        raise ValueError(
            f"{owner}: data_samples[{index}] {name} has {len(array)} entries for {count} instances"
        )
    return array
