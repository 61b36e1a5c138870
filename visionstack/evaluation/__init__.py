"""Evaluation: the metric base class (rank-aware collection) and the evaluator that runs metrics."""

from .evaluator import Evaluator
from .metric import BaseMetric

__all__ = ["BaseMetric", "Evaluator"]
