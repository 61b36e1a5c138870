"""Helpers of the hook tests: a metric that reports scripted values."""

from __future__ import annotations

from typing import Any

from visionstack.evaluation.metric import BaseMetric


class ScriptedMetric(BaseMetric):
    """Returns ``{name: values[k]}`` at its k-th evaluation, whatever the predictions."""

    def __init__(self, name: str, values: list[float]) -> None:
        super().__init__(prefix="scripted")
        self.name, self.values, self.calls = name, list(values), 0

    def process(self, data_batch: Any, data_samples: Any) -> None:
        self.results.extend(range(len(data_samples)))

    def compute_metrics(self, results: list[Any]) -> dict[str, float]:
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return {self.name: value}
