"""Semantic segmentation (MMSegmentation's scope): datasets, PackSegInputs, EncoderDecoder and its heads,
the IoU metric and the synthetic scenes."""

from . import metrics, models, transforms
from .datasets import ADE20KDataset, BaseSegDataset, CityscapesDataset, PascalVOCDataset, SynthSegDataset
from .metrics import IoUMetric
from .synthetic import SEG_CLASSES, SEG_PALETTE, write_synthetic_segmentation
from .transforms import PackSegInputs

__all__ = [
    "metrics",
    "models",
    "transforms",
    "ADE20KDataset",
    "BaseSegDataset",
    "CityscapesDataset",
    "PascalVOCDataset",
    "SynthSegDataset",
    "IoUMetric",
    "SEG_CLASSES",
    "SEG_PALETTE",
    "write_synthetic_segmentation",
    "PackSegInputs",
]
