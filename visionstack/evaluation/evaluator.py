"""Evaluator: several metrics fed by the same batches, their results merged into one dict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .metric import BaseMetric

__all__ = ["Evaluator"]


class Evaluator:
    """Runs a list of metrics side by side.

    The validation loop sets ``dataset_meta``, calls :meth:`process` once per batch and
    :meth:`evaluate` once at the end; :meth:`offline_evaluate` does all three for predictions that
    were saved earlier.

    Args:
        metrics: one built metric or a list of them.
    """

    def __init__(self, metrics: BaseMetric | Sequence[BaseMetric]) -> None:
        metric_list = [metrics] if isinstance(metrics, BaseMetric) else list(metrics)
        for index, metric in enumerate(metric_list):
            if not isinstance(metric, BaseMetric):
                raise TypeError(
                    f"Evaluator: metrics[{index}] is a {type(metric).__name__}, expected a built BaseMetric "
                    "(build config dicts with visionstack.registry.build(cfg, METRICS) first)"
                )
        self.metrics: list[BaseMetric] = metric_list
        self._dataset_meta: dict | None = None

    @property
    def dataset_meta(self) -> dict | None:
        """The dataset's metainfo; setting it also sets it on every metric."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict | None) -> None:
        self._dataset_meta = dataset_meta
        for metric in self.metrics:
            metric.dataset_meta = dataset_meta

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Hand one batch and the model's predictions for it to every metric."""
        for metric in self.metrics:
            metric.process(data_batch, data_samples)

    def evaluate(self, size: int) -> dict[str, Any]:
        """Evaluate every metric (see :meth:`BaseMetric.evaluate`) and merge their results.

        Raises:
            ValueError: when two metrics produce the same key (give one of them another ``prefix``).
        """
        # Evaluate every metric before merging, so each one is cleared even when keys collide.
        per_metric = [(metric, metric.evaluate(size)) for metric in self.metrics]
        merged: dict[str, Any] = {}
        owner: dict[str, BaseMetric] = {}
        for metric, values in per_metric:
            for name, value in values.items():
                if name in merged:
                    raise ValueError(
                        f"Evaluator: {type(metric).__name__} and {type(owner[name]).__name__} both produce "
                        f"the key {name!r}; set a different `prefix` on one of them"
                    )
                merged[name] = value
                owner[name] = metric
        return merged

    def offline_evaluate(
        self,
        data_samples: Sequence[Any],
        data_batches: Sequence[Any] | None = None,
        chunk_size: int = 1,
    ) -> dict[str, Any]:
        """Evaluate saved predictions without a model or a dataloader.

        Args:
            data_samples: predictions, one per sample, in dataset order.
            data_batches: the matching inputs, one per sample (or None when the metrics do not
                need them).
            chunk_size: how many samples go to each :meth:`process` call.
        """
        if chunk_size < 1:
            raise ValueError(f"Evaluator.offline_evaluate: chunk_size must be >= 1, got {chunk_size}")
        if data_batches is not None and len(data_batches) != len(data_samples):
            raise ValueError(
                f"Evaluator.offline_evaluate: {len(data_samples)} data_samples but {len(data_batches)} "
                "data_batches; give one batch entry per sample or none"
            )
        for start in range(0, len(data_samples), chunk_size):
            stop = start + chunk_size
            batch = None if data_batches is None else list(data_batches[start:stop])
            self.process(batch, list(data_samples[start:stop]))
        return self.evaluate(len(data_samples))

    def __repr__(self) -> str:
        return f"Evaluator({self.metrics!r})"
