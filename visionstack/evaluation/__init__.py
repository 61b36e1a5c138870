"""Evaluation: the metric base class (rank-aware collection) and the evaluator that runs metrics."""

from .evaluator import Evaluator
from .metric import BaseMetric, sample_fields

__all__ = ["BaseMetric", "Evaluator", "sample_fields"]
