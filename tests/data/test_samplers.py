from __future__ import annotations

import itertools

import pytest
import torch

from visionstack.data import DefaultSampler, InfiniteSampler
from visionstack.utils import dist


def _samplers(monkeypatch, factory, world_size: int) -> list:
    samplers = []
    for rank in range(world_size):
        monkeypatch.setattr(dist, "get_rank", lambda rank=rank: rank)
        monkeypatch.setattr(dist, "get_world_size", lambda: world_size)
        samplers.append(factory())
    return samplers


def _reference_order(size: int, seed: int, epoch: int) -> list[int]:
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed + epoch)).tolist()


@pytest.mark.parametrize("size", [10, 11, 3])
@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_default_sampler_covers_every_index_once_per_epoch(monkeypatch, size, world_size):
    data = list(range(size))
    samplers = _samplers(monkeypatch, lambda: DefaultSampler(data, shuffle=True, seed=5), world_size)
    for epoch in (0, 1):
        for sampler in samplers:
            sampler.set_epoch(epoch)
        per_rank = [list(sampler) for sampler in samplers]
        expected_count = -(-size // world_size)
        assert all(
            len(indices) == expected_count == len(sampler) for indices, sampler in zip(per_rank, samplers)
        )
        # interleaving the ranks (what collect_results does) restores the epoch order; padding follows
        interleaved = [per_rank[r][i] for i in range(expected_count) for r in range(world_size)]
        order = _reference_order(size, seed=5, epoch=epoch)
        assert interleaved[:size] == order
        assert interleaved[size:] == order[: len(interleaved) - size]
        assert sorted(interleaved[:size]) == list(range(size))


@pytest.mark.parametrize("world_size", [2, 3])
def test_default_sampler_without_round_up_partitions_exactly(monkeypatch, world_size):
    data = list(range(11))
    samplers = _samplers(monkeypatch, lambda: DefaultSampler(data, seed=1, round_up=False), world_size)
    per_rank = [list(sampler) for sampler in samplers]
    assert [len(indices) for indices in per_rank] == [len(sampler) for sampler in samplers]
    assert sorted(itertools.chain(*per_rank)) == list(range(11))


def test_default_sampler_order_depends_on_seed_and_epoch_only():
    data = list(range(50))
    sampler = DefaultSampler(data, seed=3)
    epoch0 = list(sampler)
    assert epoch0 == list(sampler) == list(DefaultSampler(data, seed=3))
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert epoch1 != epoch0 and sorted(epoch1) == list(range(50))
    assert list(DefaultSampler(data, seed=4)) != epoch0
    assert list(DefaultSampler(data, seed=None)) == list(DefaultSampler(data, seed=0))
    assert list(DefaultSampler(data, shuffle=False)) == list(range(50))


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_infinite_sampler_streams_permutations_sharded_by_rank(monkeypatch, world_size):
    size, passes = 7, 3
    samplers = _samplers(monkeypatch, lambda: InfiniteSampler(list(range(size)), seed=2), world_size)
    total = size * passes
    per_rank = [list(itertools.islice(iter(sampler), total // world_size + 1)) for sampler in samplers]
    stream = [per_rank[r][i] for i in range(total // world_size + 1) for r in range(world_size)][:total]
    generator = torch.Generator().manual_seed(2)
    expected = [index for _ in range(passes) for index in torch.randperm(size, generator=generator).tolist()]
    assert stream == expected
    for start in range(0, total, size):
        assert sorted(stream[start : start + size]) == list(range(size))
    assert len(samplers[0]) == -(-size // world_size)


def test_infinite_sampler_set_epoch_and_no_shuffle():
    sampler = InfiniteSampler(list(range(20)), seed=0)
    first = list(itertools.islice(iter(sampler), 20))
    assert first == list(itertools.islice(iter(sampler), 20))
    sampler.set_epoch(1)
    assert list(itertools.islice(iter(sampler), 20)) != first
    plain = InfiniteSampler(list(range(4)), shuffle=False)
    assert list(itertools.islice(iter(plain), 10)) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_samplers_reject_empty_datasets():
    with pytest.raises(ValueError, match="empty"):
        DefaultSampler([])
    with pytest.raises(ValueError, match="empty"):
        InfiniteSampler([])
