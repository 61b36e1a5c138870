"""Datasets made of other datasets: concatenation and repetition."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch.utils.data

from ..registry import DATASETS
from .base_dataset import BaseDataset

__all__ = ["ConcatDataset", "RepeatDataset"]


@DATASETS.register()
class ConcatDataset(torch.utils.data.Dataset):
    """The datasets one after another; index ``i`` runs through the first, then the second ...

    All datasets must share their metainfo (the classes must mean the same), except the keys in
    ``ignore_keys``; the concatenation reports the first dataset's metainfo.

    Args:
        datasets: built datasets.
        lazy_init: do not load the datasets until first use.
        ignore_keys: metainfo keys allowed to differ.
    """

    def __init__(
        self,
        datasets: Sequence[BaseDataset],
        lazy_init: bool = False,
        ignore_keys: str | Sequence[str] | None = None,
    ) -> None:
        if len(datasets) == 0:
            raise ValueError("ConcatDataset needs at least one dataset")
        self.datasets = list(datasets)
        ignored = {ignore_keys} if isinstance(ignore_keys, str) else set(ignore_keys or ())
        reference = self.datasets[0].metainfo
        for position, dataset in enumerate(self.datasets[1:], start=1):
            other = dataset.metainfo
            for key in sorted((set(reference) | set(other)) - ignored):
                if reference.get(key) != other.get(key):
                    raise ValueError(
                        f"ConcatDataset: datasets[{position}] has metainfo {key!r}={other.get(key)!r} but "
                        f"datasets[0] has {reference.get(key)!r}; concatenate datasets with the same meaning or "
                        f"add {key!r} to ignore_keys"
                    )
        self._metainfo = reference
        self.cumulative_sizes: list[int] = []
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return dict(self._metainfo)

    def full_init(self) -> None:
        """Load every dataset and record where each begins."""
        if self.cumulative_sizes:
            return
        for dataset in self.datasets:
            dataset.full_init()
        self.cumulative_sizes = np.cumsum([len(dataset) for dataset in self.datasets]).tolist()

    def locate(self, idx: int) -> tuple[int, int]:
        """``(dataset position, index inside it)`` of global index ``idx``."""
        self.full_init()
        size = self.cumulative_sizes[-1]
        if not -size <= idx < size:
            raise IndexError(f"index {idx} out of range for ConcatDataset of {size} samples")
        idx %= size
        position = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[position - 1] if position > 0 else 0
        return position, idx - start

    def __len__(self) -> int:
        self.full_init()
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        position, inner = self.locate(int(idx))
        return self.datasets[position][inner]

    def get_data_info(self, idx: int) -> dict:
        position, inner = self.locate(int(idx))
        return self.datasets[position].get_data_info(inner)

    def get_cat_ids(self, idx: int) -> list[int]:
        position, inner = self.locate(int(idx))
        return self.datasets[position].get_cat_ids(inner)

    @property
    def bad_sample_count(self) -> int:
        return sum(dataset.bad_sample_count for dataset in self.datasets)

    @property
    def bad_samples(self) -> list[tuple[int, str]]:
        return [entry for dataset in self.datasets for entry in dataset.bad_samples]


@DATASETS.register()
class RepeatDataset(torch.utils.data.Dataset):
    """A dataset repeated ``times`` times (index ``i`` is sample ``i % len(dataset)``).

    Useful to make short epochs longer, so per-epoch overhead (evaluation, worker start) is paid less.

    Args:
        dataset: the built dataset.
        times: how many times to repeat it.
        lazy_init: do not load the dataset until first use.
    """

    def __init__(self, dataset: BaseDataset, times: int, lazy_init: bool = False) -> None:
        if times < 1:
            raise ValueError(f"RepeatDataset: times must be >= 1, got {times}")
        self.dataset = dataset
        self.times = int(times)
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        self.dataset.full_init()

    def __len__(self) -> int:
        return self.times * len(self.dataset)

    def _inner(self, idx: int) -> int:
        size = len(self)
        if not -size <= idx < size:
            raise IndexError(f"index {idx} out of range for RepeatDataset of {size} samples")
        return (idx % size) % len(self.dataset)

    def __getitem__(self, idx: int) -> Any:
        return self.dataset[self._inner(int(idx))]

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self._inner(int(idx)))

    def get_cat_ids(self, idx: int) -> list[int]:
        return self.dataset.get_cat_ids(self._inner(int(idx)))

    @property
    def bad_sample_count(self) -> int:
        return self.dataset.bad_sample_count

    @property
    def bad_samples(self) -> list[tuple[int, str]]:
        return self.dataset.bad_samples
