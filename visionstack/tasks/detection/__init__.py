"""Detection and instance segmentation: VOC, metrics, transforms, the mixing dataset, synthetic data."""

from . import metrics, models, transforms
from .datasets import VOC_CLASSES, VOCDataset, parse_voc_xml
from .mix_dataset import MultiImageMixDataset
from .synthetic import SHAPE_CLASSES, synth_detection, write_synthetic_detection

__all__ = [
    "metrics",
    "models",
    "transforms",
    "VOC_CLASSES",
    "VOCDataset",
    "parse_voc_xml",
    "MultiImageMixDataset",
    "SHAPE_CLASSES",
    "synth_detection",
    "write_synthetic_detection",
]
