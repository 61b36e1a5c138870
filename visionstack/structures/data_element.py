"""Containers that carry annotations and predictions through the pipeline.

``BaseDataElement`` splits its content into *metainfo* (facts about the image: ``img_path``,
``ori_shape``, ``img_shape``, ``scale_factor``, ``flip`` ...) and *data fields* (tensors, arrays or
other elements). Both are reached as attributes. Tensor-like methods (``to``, ``cpu``, ``numpy``,
``detach``) apply to every data field recursively and return a new element.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

_INTERNAL = ("_metainfo_fields", "_data_fields")


class BaseDataElement:
    """A bag of metainfo and data fields with attribute access.

    Args:
        metainfo: facts about the sample; set once, read as attributes.
        **fields: data fields.
    """

    def __init__(self, *, metainfo: dict | None = None, **fields: Any) -> None:
        object.__setattr__(self, "_metainfo_fields", set())
        object.__setattr__(self, "_data_fields", set())
        if metainfo:
            self.set_metainfo(metainfo)
        for name, value in fields.items():
            setattr(self, name, value)

    # ---- fields -------------------------------------------------------------------------------
    def set_metainfo(self, metainfo: dict) -> None:
        """Add or replace metainfo entries."""
        for name, value in metainfo.items():
            if name in self._data_fields:
                raise AttributeError(f"{name!r} is already a data field; it cannot become metainfo")
            self._metainfo_fields.add(name)
            object.__setattr__(self, name, value)

    def set_field(self, name: str, value: Any) -> None:
        if name in self._metainfo_fields:
            raise AttributeError(f"{name!r} is metainfo; use set_metainfo to change it")
        self._check_field(name, value)
        self._data_fields.add(name)
        object.__setattr__(self, name, value)

    def _check_field(self, name: str, value: Any) -> None:
        """Subclasses check shapes here."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _INTERNAL:
            raise AttributeError(f"{name} is internal")
        if name in self._metainfo_fields:
            object.__setattr__(self, name, value)
        else:
            self.set_field(name, value)

    def __delattr__(self, name: str) -> None:
        self._metainfo_fields.discard(name)
        self._data_fields.discard(name)
        object.__delattr__(self, name)

    def __contains__(self, name: str) -> bool:
        return name in self._data_fields or name in self._metainfo_fields

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name, default) if name in self else default

    def pop(self, name: str, *default: Any) -> Any:
        if name in self:
            value = getattr(self, name)
            delattr(self, name)
            return value
        if default:
            return default[0]
        raise KeyError(name)

    @property
    def metainfo(self) -> dict:
        return {name: getattr(self, name) for name in sorted(self._metainfo_fields)}

    def keys(self) -> list[str]:
        return sorted(self._data_fields)

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in self.keys()]

    def items(self) -> Iterator[tuple[str, Any]]:
        for key in self.keys():
            yield key, getattr(self, key)

    def metainfo_keys(self) -> list[str]:
        return sorted(self._metainfo_fields)

    def new(self, **fields: Any) -> BaseDataElement:
        """An element of the same class and metainfo with ``fields`` (or a copy of the data)."""
        element = self.__class__(metainfo=copy.deepcopy(self.metainfo))
        for name, value in (fields or dict(self.items())).items():
            setattr(element, name, value)
        return element

    def clone(self) -> BaseDataElement:
        return copy.deepcopy(self)

    # ---- tensor-like --------------------------------------------------------------------------
    def _apply(self, fn) -> BaseDataElement:
        element = self.__class__(metainfo=dict(self.metainfo))
        for name, value in self.items():
            if isinstance(value, (torch.Tensor, BaseDataElement)):
                value = fn(value)
            object.__setattr__(element, name, value)
            element._data_fields.add(name)
        return element

    def to(self, *args: Any, **kwargs: Any) -> BaseDataElement:
        return self._apply(lambda v: v.to(*args, **kwargs))

    def cpu(self) -> BaseDataElement:
        return self._apply(lambda v: v.cpu())

    def detach(self) -> BaseDataElement:
        return self._apply(lambda v: v.detach())

    def numpy(self) -> BaseDataElement:
        return self._apply(
            lambda v: v.numpy() if isinstance(v, BaseDataElement) else v.detach().cpu().numpy()
        )

    def to_dict(self) -> dict:
        """Plain nested dict (tensors become lists) for JSON output."""
        out: dict[str, Any] = {}
        for name, value in list(self.metainfo.items()) + list(self.items()):
            out[name] = _to_plain(value)
        return out

    def __repr__(self) -> str:
        meta = ", ".join(f"{k}={_short(v)}" for k, v in self.metainfo.items())
        data = ", ".join(f"{k}={_short(v)}" for k, v in self.items())
        return f"{self.__class__.__name__}(META: {meta} | DATA: {data})"


def _to_plain(value: Any) -> Any:
    if isinstance(value, BaseDataElement):
        return value.to_dict()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    return value


def _short(value: Any) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"{type(value).__name__}{tuple(value.shape)}"
    return repr(value)
