"""Running sums of training scalars between two log lines.

Values may be Python numbers or (0-d) tensors; tensors are summed where they live and turned into
floats only when a line is written, so logging costs no device synchronisation per iteration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["LogBuffer"]


class LogBuffer:
    """Accumulates named scalars; :meth:`pop_means` returns their window means and starts anew."""

    def __init__(self) -> None:
        self._sums: dict[str, Any] = {}
        self._counts: dict[str, int] = {}

    def update(self, name: str, value: float | torch.Tensor, count: int = 1) -> None:
        """Add ``value`` (a number, or a tensor holding one) ``count`` times to ``name``'s window.

        ``value`` is a mean over ``count`` items (e.g. a batch mean), so it is weighted by ``count``.
        """
        if isinstance(value, torch.Tensor):
            value = value.detach()
        total = self._sums.get(name)
        weighted = value * count if count != 1 else value
        self._sums[name] = weighted if total is None else total + weighted
        self._counts[name] = self._counts.get(name, 0) + count

    def update_many(self, values: Mapping[str, float | torch.Tensor]) -> None:
        for name, value in values.items():
            self.update(name, value)

    def mean(self, name: str) -> float | None:
        """The current window mean of ``name`` (None if nothing was added)."""
        if name not in self._sums:
            return None
        return float(self._sums[name]) / self._counts[name]

    def pop_means(self) -> dict[str, float]:
        """Window means of every name (insertion order), then clear."""
        means = {name: float(total) / self._counts[name] for name, total in self._sums.items()}
        self._sums.clear()
        self._counts.clear()
        return means

    def __contains__(self, name: str) -> bool:
        return name in self._sums
