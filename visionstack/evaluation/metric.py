"""BaseMetric: per-batch accumulation, rank-aware collection, rank-0 computation.

A metric sees the model's predictions one batch at a time (``process``), keeps a small record per
sample in ``self.results``, and turns all records into numbers once (``compute_metrics``). Under
``torch.distributed`` every rank holds the records of its shard of the dataset; ``evaluate`` gathers
them into the dataset order with :func:`visionstack.utils.dist.collect_results` (which drops the
padding the sampler added so that every rank has the same count), computes on rank 0 only and
broadcasts the result to every rank, so all ranks make the same decisions (best checkpoint, early
stop) from the same numbers.
"""

from __future__ import annotations

import copy
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from ..utils import dist

__all__ = ["BaseMetric", "sample_fields"]

COLLECT_DEVICES = ("cpu", "gpu")


class BaseMetric(ABC):
    """The base class of every metric.

    Subclasses implement :meth:`process` (append one record per sample to ``self.results``) and
    :meth:`compute_metrics` (records of the whole dataset -> named values), and set the class
    attribute ``default_prefix`` (e.g. ``"accuracy"``), which names the keys ``prefix/name``.

    Args:
        collect_device: where records travel when ranks are gathered: ``"cpu"`` moves every tensor
            in the records to the CPU first (no GPU memory is held by the gathered lists), ``"gpu"``
            leaves them where ``process`` put them.
        prefix: the key prefix; ``None`` uses ``default_prefix``.
    """

    default_prefix: str | None = None

    def __init__(self, collect_device: str = "cpu", prefix: str | None = None) -> None:
        if collect_device not in COLLECT_DEVICES:
            raise ValueError(
                f"{type(self).__name__}: collect_device must be one of {COLLECT_DEVICES}, got {collect_device!r}"
            )
        self.collect_device = collect_device
        self.prefix = prefix if prefix is not None else self.default_prefix
        self.results: list[Any] = []
        self._dataset_meta: dict | None = None

    @property
    def dataset_meta(self) -> dict | None:
        """The dataset's metainfo (``classes``, ``palette`` ...), set by the loop before evaluation."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict | None) -> None:
        self._dataset_meta = copy.deepcopy(dataset_meta)

    @abstractmethod
    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Append one record per sample of a batch to ``self.results``.

        Args:
            data_batch: the batch as the dataloader gave it (``{"inputs", "data_samples"}``).
            data_samples: the model's predictions for that batch, one DataSample per sample.
        """

    @abstractmethod
    def compute_metrics(self, results: list[Any]) -> dict[str, Any]:
        """Turn the records of the whole dataset (in dataset order) into named values (unprefixed)."""

    def evaluate(self, size: int) -> dict[str, Any]:
        """Gather the records of every rank, compute on rank 0 and return the same dict on every rank.

        Args:
            size: the number of samples in the dataset; records beyond it are sampler padding.

        Returns:
            ``{"prefix/name": value}``; empty (with a warning) when no rank processed anything.
        """
        if size < 0:
            raise ValueError(f"{type(self).__name__}.evaluate: size must be >= 0, got {size}")
        if not self.results:
            warnings.warn(
                f"{type(self).__name__} got no results on rank {dist.get_rank()}: was process() called "
                "for every validation batch (and does it append to self.results)?",
                stacklevel=2,
            )
        local = list(self.results) if self.collect_device == "gpu" else _to_cpu(self.results)
        collected = dist.collect_results(local, size)
        metrics: dict[str, Any] | None = None
        if dist.is_main_process():
            metrics = self._prefixed(self.compute_metrics(collected)) if collected else {}
        metrics = dist.broadcast_object(metrics)
        self.results.clear()
        return metrics

    def _prefixed(self, metrics: dict[str, Any]) -> dict[str, Any]:
        if not self.prefix:
            return dict(metrics)
        return {f"{self.prefix}/{name}": value for name, value in metrics.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self.prefix!r}, {len(self.results)} results)"


def sample_fields(sample: Any, keys: Sequence[str], owner: str, index: int, expects: str) -> tuple[Any, ...]:
    """The fields ``keys`` of one data sample, in order.

    Raises:
        KeyError: naming the first missing field, ``data_samples[index]`` and ``owner``, followed by
            ``expects`` (what the metric wants to be given).
    """
    values = tuple(sample.get(key) for key in keys)
    for key, value in zip(keys, values):
        if value is None:
            raise KeyError(f"{owner}: data_samples[{index}] has no {key}; the metric expects {expects}")
    return values


def _to_cpu(value: Any) -> Any:
    """``value`` with every tensor inside (lists, tuples, dicts, data elements) moved to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, list):
        return [_to_cpu(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_to_cpu(item) for item in value)
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if hasattr(value, "cpu") and callable(value.cpu):
        return value.cpu()
    return value
