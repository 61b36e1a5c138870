"""Image classification: ImageClassifier, its heads and metrics (MMPretrain's scope)."""

from . import classifier, heads, metrics
from .classifier import ImageClassifier, load_torchvision_resnet
from .heads import ClsHead, LinearClsHead, VisionTransformerClsHead, gather_targets

__all__ = [
    "ClsHead",
    "ImageClassifier",
    "LinearClsHead",
    "VisionTransformerClsHead",
    "classifier",
    "gather_targets",
    "heads",
    "load_torchvision_resnet",
    "metrics",
]
