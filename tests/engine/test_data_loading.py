"""Seeded, resumable data loading."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, SequentialSampler

from visionstack.engine import SampleStream, SeededDataset, build_dataloader, set_loader_epoch, skip_batches
from visionstack.registry import ConfigError


class RandomDataset(Dataset):
    """Each item is a draw from all three global generators (what an augmentation does)."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int):
        import random

        import numpy as np

        return torch.tensor(
            [index, random.random(), float(np.random.rand()), torch.rand(()).item()], dtype=torch.float64
        )


def _loader_cfg(num_workers: int, persistent: bool = False, batch_size: int = 3) -> dict:
    return dict(
        batch_size=batch_size,
        num_workers=num_workers,
        persistent_workers=persistent,
        sampler=dict(type="DefaultSampler", shuffle=True),
        collate_fn=dict(type="default_collate"),
        dataset=dict(type=RandomDataset),
    )


def _epochs(loader, epochs: int) -> list[torch.Tensor]:
    out = []
    for epoch in range(epochs):
        set_loader_epoch(loader, epoch)
        out.append(torch.cat(list(loader)))
    return out


def test_sample_stream_tags_and_skips():
    stream = SampleStream(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
    stream.set_epoch(4)
    assert list(stream) == [[(4, 0, 0), (4, 1, 1), (4, 2, 2)], [(4, 3, 3), (4, 4, 4), (4, 5, 5)], [(4, 6, 6)]]
    stream.skip_next(2)
    assert list(stream) == [[(4, 6, 6)]]
    assert len(stream) == 3 and len(list(stream)) == 3  # the skip applies once


def test_worker_randomness_is_independent_of_worker_count_and_persistence():
    one = _epochs(build_dataloader(_loader_cfg(1), seed=5), 2)
    two = _epochs(build_dataloader(_loader_cfg(2), seed=5), 2)
    persistent = _epochs(build_dataloader(_loader_cfg(2, persistent=True), seed=5), 2)
    for a, b, c in zip(one, two, persistent):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert not torch.equal(one[0][:, 1:], one[1][:, 1:])  # a new epoch draws new numbers
    other_seed = _epochs(build_dataloader(_loader_cfg(2), seed=6), 1)[0]
    assert not torch.equal(other_seed[:, 1:], one[0][:, 1:])


def test_skipping_batches_gives_the_rest_of_the_epoch_unchanged():
    loader = build_dataloader(_loader_cfg(2), seed=5)
    set_loader_epoch(loader, 3)
    full = list(loader)
    assert [torch.equal(a, b) for a, b in zip(full[2:], skip_batches(loader, 2))] == [True, True]


def test_main_process_loading_uses_the_global_generators():
    loader = build_dataloader(_loader_cfg(0), seed=5)
    torch.manual_seed(0)
    first = torch.cat(list(loader))
    torch.manual_seed(0)
    assert torch.equal(first[:, 3], torch.cat(list(loader))[:, 3])


def test_loader_options():
    loader = build_dataloader(
        dict(_loader_cfg(0), persistent_workers=True, drop_last=True, batch_size=5), seed=1
    )
    assert not loader.persistent_workers and loader.num_workers == 0
    assert len(loader) == 2 and isinstance(loader.dataset, SeededDataset)
    assert loader.batch_sampler.sampler.seed == 1  # DefaultSampler gets the run's seed
    assert len(loader.dataset) == 12 and isinstance(loader.dataset.dataset, RandomDataset)


def test_default_collate_is_pseudo_collate_and_an_object_passes_through():
    cfg = dict(batch_size=2, dataset=dict(type="ToyDataset", num_samples=4))
    batch = next(iter(build_dataloader(cfg, seed=0)))
    assert isinstance(batch["inputs"], list) and len(batch["data_samples"]) == 2
    ready = DataLoader(range(3))
    assert build_dataloader(ready, seed=0) is ready


@pytest.mark.parametrize(
    "cfg, message",
    [
        (
            dict(batch_size=2, num_worker=1, dataset=dict(type="ToyDataset")),
            "loader.num_worker: not a dataloader option. Did you mean: 'num_workers'",
        ),
        (dict(batch_size=2), "loader: needs a `dataset`"),
        (dict(dataset=dict(type="ToyDataset")), "loader: needs `batch_size`"),
    ],
)
def test_config_errors(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_dataloader(cfg, seed=0, path="loader")


def test_seeded_dataset_pickles_for_spawned_workers():
    import pickle

    wrapped = SeededDataset(RandomDataset(), seed=3, rank=1)
    copy = pickle.loads(pickle.dumps(wrapped))
    assert (copy.seed, copy.rank, len(copy)) == (3, 1, 12) and isinstance(copy.dataset, RandomDataset)
    with pytest.raises(AttributeError):
        getattr(copy, "no_such_attribute")  # noqa: B009
