"""Data transforms (TRANSFORMS): loading, annotations, geometric, spatial, photometric, formatting, wrappers."""

from . import image_ops
from .annotations import LoadAnnotations, apply_label_map, read_seg_map, reduce_zero_label_map
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
from .photometric_distortion import PhotoMetricDistortion
from .spatial import (
    INSTANCE_KEYS,
    Pad,
    RandomCrop,
    RandomResize,
    boxes_inside,
    crop_det_results,
    flip_det_results,
    keep_instances,
    pad_det_results,
    resize_det_results,
)

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
    "LoadAnnotations",
    "apply_label_map",
    "read_seg_map",
    "reduce_zero_label_map",
    "PhotoMetricDistortion",
    "INSTANCE_KEYS",
    "Pad",
    "RandomCrop",
    "RandomResize",
    "boxes_inside",
    "crop_det_results",
    "flip_det_results",
    "keep_instances",
    "pad_det_results",
    "resize_det_results",
]
