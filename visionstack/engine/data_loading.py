"""Build reproducible, resumable DataLoaders from config.

Reproducibility across resumes needs data-loading randomness (random augmentations in the
dataset's pipeline) to depend only on *where* a sample is drawn, not on process history:

* The batch sampler is wrapped in :class:`SampleStream`, which tags every index with
  ``(epoch, position)`` - the epoch given by ``set_epoch`` and the sample's position in that
  epoch's stream - and can skip the first batches of an epoch (resuming mid-epoch).
* In a worker process, :class:`SeededDataset` reseeds Python, NumPy and PyTorch from
  ``(seed, rank, epoch, position)`` before loading each sample. Augmentations are therefore the same
  whatever the number of workers, whether workers persist across epochs, and whether the run was
  resumed. In the main process (``num_workers=0``) samples use the global generators, whose state
  the checkpoint restores.
* ``worker_init_fn`` seeds each worker from ``(seed, rank, worker id)`` and the DataLoader gets its
  own seeded ``generator``, so nothing draws from the global generator behind the run's back.

Bad samples skipped by a dataset (``skip_bad_samples=True``) are counted where they happen, in the
worker processes. :class:`SeededDataset` holds a small shared-memory tensor with one slot per worker
(slot 0: the main process); each process adds the samples it skipped to its own slot (one writer
per slot, no lock), and :func:`bad_sample_count` sums the slots in the main process. The logger
sums that over the ranks.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset, get_worker_info

from ..registry import DATA_SAMPLERS, DATASETS, FUNCTIONS, ConfigError, build, resolve_type, validate
from ..utils.suggest import did_you_mean
from .randomness import seed_all_generators, seed_stream

__all__ = [
    "DATALOADER_KEYS",
    "SampleStream",
    "SeededDataset",
    "build_dataloader",
    "validate_dataloader_cfg",
    "set_loader_epoch",
    "skip_batches",
    "seed_worker",
    "release_workers",
    "bad_sample_count",
]

DATALOADER_KEYS = (
    "batch_size",
    "num_workers",
    "persistent_workers",
    "sampler",
    "batch_sampler",
    "collate_fn",
    "dataset",
    "pin_memory",
    "drop_last",
    "prefetch_factor",
)


class SampleStream:
    """A batch sampler that tags indices with ``(epoch, position, index)`` and can skip batches.

    Args:
        batch_sampler: yields lists of dataset indices (``torch.utils.data.BatchSampler`` or a
            custom one such as an aspect-ratio grouping sampler).
    """

    def __init__(self, batch_sampler: Any) -> None:
        self.batch_sampler = batch_sampler
        self.epoch = 0
        self._skip = 0

    @property
    def sampler(self) -> Any:
        return getattr(self.batch_sampler, "sampler", None)

    def set_epoch(self, epoch: int) -> None:
        """Record the epoch (for the tags) and pass it on to the wrapped samplers."""
        self.epoch = epoch
        for target in (self.batch_sampler, self.sampler):
            if hasattr(target, "set_epoch"):
                target.set_epoch(epoch)
                break

    def skip_next(self, num_batches: int) -> None:
        """Make the next iteration start at batch ``num_batches`` (positions stay those of a full pass)."""
        self._skip = num_batches

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        skip, self._skip = self._skip, 0
        epoch, position = self.epoch, 0
        for batch_index, batch in enumerate(self.batch_sampler):
            if batch_index >= skip:
                yield [(epoch, position + offset, index) for offset, index in enumerate(batch)]
            position += len(batch)

    def __len__(self) -> int:
        return len(self.batch_sampler)


class SeededDataset(Dataset):
    """Wraps a map-style dataset: unpacks :class:`SampleStream` tags and, in worker processes,
    seeds every generator from ``(seed, rank, epoch, position)`` before each sample.

    Attribute access falls through to the wrapped dataset (``metainfo``, ``__len__`` ...).
    """

    def __init__(self, dataset: Dataset, seed: int, rank: int = 0, num_workers: int = 0) -> None:
        self.dataset = dataset
        self.seed = seed
        self.rank = rank
        self.bad_counts = torch.zeros(num_workers + 1, dtype=torch.int64).share_memory_()
        # only datasets that replace bad samples count them; the others skip the bookkeeping per item
        self._counts_bad = hasattr(dataset, "bad_sample_count")

    def __getitem__(self, tagged: tuple[int, int, int]) -> Any:
        epoch, position, index = tagged
        worker = get_worker_info()
        if worker is not None:
            seed_all_generators(seed_stream(self.seed, self.rank, epoch, position))
        if not self._counts_bad:
            return self.dataset[index]
        bad_before = self.dataset.bad_sample_count
        sample = self.dataset[index]
        skipped = self.dataset.bad_sample_count - bad_before
        if skipped:
            self.bad_counts[0 if worker is None else worker.id + 1] += skipped
        return sample

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":  # during unpickling, before __init__ state exists
            raise AttributeError(name)
        return getattr(self.dataset, name)


def seed_worker(worker_id: int, seed: int, rank: int) -> None:
    """``worker_init_fn``: seed a worker's generators from (seed, rank, worker id)."""
    seed_all_generators(seed_stream(seed, rank, 2**31, worker_id))


def validate_dataloader_cfg(cfg: Mapping[str, Any], path: str) -> None:
    """Check a dataloader dict: its keys, and the dataset/sampler/collate nodes inside it."""
    if not isinstance(cfg, Mapping):
        return  # an already built DataLoader
    for key in cfg:
        if key not in DATALOADER_KEYS:
            raise ConfigError(
                f"{path}.{key}: not a dataloader option.{did_you_mean(key, DATALOADER_KEYS)} "
                f"(accepted: {', '.join(DATALOADER_KEYS)})"
            )
    if "dataset" not in cfg:
        raise ConfigError(f"{path}: needs a `dataset`, e.g. dataset=dict(type='Digits', ...)")
    validate(cfg["dataset"], DATASETS, path=f"{path}.dataset")
    for key in ("sampler", "batch_sampler"):
        if cfg.get(key) is not None:
            validate(cfg[key], DATA_SAMPLERS, path=f"{path}.{key}")
    collate = cfg.get("collate_fn")
    if isinstance(collate, Mapping):
        validate(collate, FUNCTIONS, path=f"{path}.collate_fn")
    if cfg.get("batch_sampler") is not None and "batch_size" not in cfg:
        return
    if "batch_size" not in cfg:
        raise ConfigError(f"{path}: needs `batch_size`")


def _build_collate_fn(cfg: Any, path: str) -> Any:
    if cfg is None:
        cfg = {"type": "pseudo_collate"}
    if callable(cfg):
        return cfg
    cfg = dict(cfg)
    function = resolve_type(cfg.pop("type"), FUNCTIONS, f"{path}.collate_fn.type")
    return functools.partial(function, **cfg) if cfg else function


def _build_sampler(cfg: Any, dataset: Dataset, seed: int, shuffle: bool, path: str) -> Any:
    if cfg is None:
        cfg = {"type": "DefaultSampler", "shuffle": shuffle}
    if not isinstance(cfg, Mapping):
        return cfg
    cfg = dict(cfg)
    sampler_cls = resolve_type(cfg["type"], DATA_SAMPLERS, f"{path}.sampler.type")
    accepts_seed = "seed" in inspect.signature(sampler_cls).parameters
    if accepts_seed and cfg.get("seed") is None:
        cfg["seed"] = seed  # contract: a sampler's seed=None means the runner's seed
    return build(cfg, DATA_SAMPLERS, dataset=dataset)


def build_dataloader(
    cfg: Mapping[str, Any] | DataLoader,
    *,
    seed: int,
    rank: int = 0,
    shuffle: bool = True,
    path: str = "dataloader",
) -> DataLoader:
    """Build dataset, sampler, batch sampler and collate function, then the DataLoader.

    Args:
        cfg: the dataloader dict (see ``DATALOADER_KEYS``) or an already built DataLoader.
        seed: the run's seed (samplers, worker seeds, the loader's generator).
        rank: the process rank.
        shuffle: default of the sampler's ``shuffle`` when ``sampler`` is not given.
        path: the config key, for error messages.
    """
    if isinstance(cfg, DataLoader):
        return cfg
    validate_dataloader_cfg(cfg, path)
    dataset = build(cfg["dataset"], DATASETS)
    num_workers = int(cfg.get("num_workers", 0))
    collate_fn = _build_collate_fn(cfg.get("collate_fn"), path)
    loader_args: dict[str, Any] = dict(
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=bool(cfg.get("pin_memory", False)),
        persistent_workers=bool(cfg.get("persistent_workers", False)) and num_workers > 0,
        worker_init_fn=functools.partial(seed_worker, seed=seed, rank=rank) if num_workers > 0 else None,
        generator=torch.Generator().manual_seed(seed + rank),
    )
    if num_workers > 0 and cfg.get("prefetch_factor") is not None:
        loader_args["prefetch_factor"] = int(cfg["prefetch_factor"])
    if isinstance(dataset, IterableDataset):  # a stream has no indices to tag or sample
        return DataLoader(
            dataset,
            batch_size=cfg.get("batch_size", 1),
            drop_last=bool(cfg.get("drop_last", False)),
            **loader_args,
        )
    sampler = _build_sampler(cfg.get("sampler"), dataset, seed, shuffle, path)
    if cfg.get("batch_sampler") is not None:
        extra = {"batch_size": cfg["batch_size"]} if "batch_size" in cfg else {}
        batch_sampler = build(cfg["batch_sampler"], DATA_SAMPLERS, sampler=sampler, **extra)
    else:
        batch_sampler = BatchSampler(sampler, int(cfg["batch_size"]), bool(cfg.get("drop_last", False)))
    return DataLoader(
        SeededDataset(dataset, seed, rank, num_workers),
        batch_sampler=SampleStream(batch_sampler),
        **loader_args,
    )


def set_loader_epoch(loader: Any, epoch: int) -> None:
    """Call ``set_epoch(epoch)`` on the loader's batch sampler or sampler (whichever has it)."""
    for target in (getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
        if hasattr(target, "set_epoch"):
            target.set_epoch(epoch)
            return


def skip_batches(loader: Any, num_batches: int) -> Iterator[Any]:
    """An iterator over ``loader`` that starts at batch ``num_batches``.

    With a :class:`SampleStream` the skipped batches are never loaded; with another loader they
    are loaded and dropped (slow, and their random augmentations are drawn again).
    """
    batch_sampler = getattr(loader, "batch_sampler", None)
    if isinstance(batch_sampler, SampleStream):
        batch_sampler.skip_next(num_batches)
        return iter(loader)
    iterator = iter(loader)
    for _ in range(num_batches):
        next(iterator)
    return iterator


def release_workers(loader: Any) -> None:
    """Shut down the worker processes a ``persistent_workers`` loader keeps between epochs.

    The runner calls this when a run ends. Left alive, the workers (and their iterator) would only be
    reclaimed whenever the garbage collector reaches the runner, possibly inside a forked child of a
    later DataLoader, which cannot shut them down.
    """
    if isinstance(loader, DataLoader) and getattr(loader, "_iterator", None) is not None:
        loader._iterator = None  # the iterator's __del__ stops and joins its workers


def bad_sample_count(loader: Any) -> int:
    """Samples skipped as bad while loading from ``loader`` so far, summed over its worker processes
    (0 for a loader not built by :func:`build_dataloader`)."""
    dataset = getattr(loader, "dataset", None)
    if isinstance(dataset, SeededDataset):
        return int(dataset.bad_counts.sum())
    return 0
