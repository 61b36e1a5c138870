"""Evaluation: the metric base class (rank-aware collection), the evaluator that runs metrics, and the base of
the writers that save predictions instead of scoring them."""

from .evaluator import Evaluator
from .metric import BaseMetric, sample_fields
from .result_writer import JsonResultWriter

__all__ = ["BaseMetric", "Evaluator", "JsonResultWriter", "sample_fields"]
