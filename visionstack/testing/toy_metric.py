"""ToyMetric: accuracy and cross-entropy of ``pred_label`` against ``gt_label``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..evaluation.metric import BaseMetric
from ..registry import METRICS

__all__ = ["ToyMetric"]


@METRICS.register()
class ToyMetric(BaseMetric):
    """``toy/accuracy`` (percent of argmax hits) and ``toy/loss`` (mean negative log-probability of
    the true class) over the dataset."""

    default_prefix = "toy"

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            self.results.append((sample.pred_label.score.detach().cpu(), int(sample.gt_label.label[0])))

    def compute_metrics(self, results: list[Any]) -> dict[str, float]:
        scores = torch.stack([score for score, _ in results])
        labels = torch.tensor([label for _, label in results])
        accuracy = (scores.argmax(dim=1) == labels).float().mean().item() * 100
        loss = -scores[torch.arange(len(labels)), labels].clamp_min(1e-12).log().mean().item()
        return {"accuracy": accuracy, "loss": loss}
