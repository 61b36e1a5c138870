"""Test helpers shipped with the package: a toy model, dataset and metric, random boxes, and tiny
runner configs. Importing this module registers ``ToyModel`` (MODELS), ``ToyDataset`` (DATASETS)
and ``ToyMetric`` (METRICS)."""

from .boxes import random_boxes
from .configs import toy_runner_config
from .fault_hooks import KillWorkerHook, PoisonBatchHook
from .tiny_backbone import TinyConvBackbone
from .toy_dataset import ToyDataset
from .toy_metric import ToyMetric
from .toy_model import ToyModel

__all__ = [
    "KillWorkerHook",
    "PoisonBatchHook",
    "TinyConvBackbone",
    "ToyDataset",
    "ToyMetric",
    "ToyModel",
    "random_boxes",
    "toy_runner_config",
]
