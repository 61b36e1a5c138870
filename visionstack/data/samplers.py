"""Rank-aware samplers: each process of a distributed run reads its own share of every epoch.

Rank ``r`` of ``W`` takes positions ``r, r + W, r + 2W ...`` of the epoch's index order, which is
what :func:`visionstack.utils.dist.collect_results` undoes when it interleaves the per-rank results.
The order is a permutation drawn from ``torch.Generator().manual_seed(seed + epoch)``: every rank
computes the same one without communicating, each epoch differs, and a resumed run repeats it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sized

import torch
from torch.utils.data import Sampler

from ..registry import DATA_SAMPLERS
from ..utils import dist

__all__ = ["DefaultSampler", "InfiniteSampler"]


def _rank_and_world_size() -> tuple[int, int]:
    return dist.get_rank(), dist.get_world_size()


def _check_size(dataset: Sized, owner: str) -> int:
    size = len(dataset)
    if size == 0:
        raise ValueError(f"{owner}: the dataset is empty; check its annotation file, data_root and filters")
    return size


@DATA_SAMPLERS.register()
class DefaultSampler(Sampler[int]):
    """One pass over the dataset per epoch, shuffled by ``seed + epoch``, sharded by rank.

    Args:
        dataset: anything with ``len``.
        shuffle: draw a new permutation each epoch; otherwise use 0, 1, 2 ...
        seed: shuffle seed (None means 0; the runner passes its own seed).
        round_up: pad the order with its first indices so every rank gets ``ceil(N / W)`` samples
            (DDP needs equal counts); otherwise ranks may differ by one and nothing repeats.
    """

    def __init__(
        self, dataset: Sized, shuffle: bool = True, seed: int | None = None, round_up: bool = True
    ) -> None:
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = 0 if seed is None else int(seed)
        self.round_up = round_up
        self.rank, self.world_size = _rank_and_world_size()
        self.epoch = 0
        size = _check_size(dataset, "DefaultSampler")
        if round_up:
            self.num_samples = math.ceil(size / self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = math.ceil((size - self.rank) / self.world_size)
            self.total_size = size

    def _epoch_order(self) -> list[int]:
        size = len(self.dataset)
        if not self.shuffle:
            return list(range(size))
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(size, generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        order = self._epoch_order()
        if self.round_up:
            order = (order * math.ceil(self.total_size / len(order)))[: self.total_size]
        return iter(order[self.rank : self.total_size : self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (call before each epoch; the runner does)."""
        self.epoch = int(epoch)


@DATA_SAMPLERS.register()
class InfiniteSampler(Sampler[int]):
    """An endless stream of indices for iteration-based training, sharded by rank.

    The stream is one permutation after another (each a full pass over the dataset), drawn from a
    generator seeded with ``seed + epoch``; rank ``r`` takes stream positions ``r, r + W, ...``.

    Args:
        dataset: anything with ``len``.
        shuffle: permute each pass; otherwise 0, 1, 2 ... repeated.
        seed: shuffle seed (None means 0; the runner passes its own seed).
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None) -> None:
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = 0 if seed is None else int(seed)
        self.rank, self.world_size = _rank_and_world_size()
        self.epoch = 0
        self.size = _check_size(dataset, "InfiniteSampler")

    def _stream(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        while True:
            if self.shuffle:
                yield from torch.randperm(self.size, generator=generator).tolist()
            else:
                yield from range(self.size)

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(self._stream(), self.rank, None, self.world_size)

    def __len__(self) -> int:
        """Samples per rank in one pass (the stream itself never ends)."""
        return math.ceil(self.size / self.world_size)

    def set_epoch(self, epoch: int) -> None:
        """Restart the stream from the generator state of ``epoch``."""
        self.epoch = int(epoch)
