"""Data transforms (TRANSFORMS): loading, geometric, photometric, formatting, and wrappers."""

from . import image_ops
from .base import BaseTransform, Compose, RandomApply, RandomChoice, Transform
from .formatting import PackInputs, image_to_tensor, to_label_tensor
from .geometric import (
    CenterCrop,
    RandomFlip,
    RandomResizedCrop,
    Resize,
    ResizeEdge,
    crop_results,
    flip_results,
    resize_results,
)
from .loading import LoadImage, read_image
from .photometric import RANDAUG_OPS, TIMM_INCREASING_POLICIES, AugmentPolicy, ColorJitter, RandAugment

__all__ = [
    "image_ops",
    "BaseTransform",
    "Compose",
    "RandomApply",
    "RandomChoice",
    "Transform",
    "PackInputs",
    "image_to_tensor",
    "to_label_tensor",
    "CenterCrop",
    "RandomFlip",
    "RandomResizedCrop",
    "Resize",
    "ResizeEdge",
    "crop_results",
    "flip_results",
    "resize_results",
    "LoadImage",
    "read_image",
    "RANDAUG_OPS",
    "TIMM_INCREASING_POLICIES",
    "AugmentPolicy",
    "ColorJitter",
    "RandAugment",
]
