"""Packages whose public names load on first use (PEP 562), so importing them stays light."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, submodules: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: a name is looked up in ``submodules`` in order.

    ``package.models`` imports the submodule ``models``; ``package.VOCDataset`` imports the
    submodules one by one until one defines ``VOCDataset``.
    """

    def __getattr__(name: str) -> Any:
        if name in submodules or importlib.util.find_spec(f"{package}.{name}") is not None:
            # a submodule, e.g. ``from pkg import records``
            return importlib.import_module(f"{package}.{name}")
        if not name.startswith("__"):
            for submodule in submodules:
                module = importlib.import_module(f"{package}.{submodule}")
                if hasattr(module, name):
                    return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(submodules)

    return __getattr__, __dir__
