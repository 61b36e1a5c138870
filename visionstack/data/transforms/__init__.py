"""Data transforms (TRANSFORMS): loading, annotations, geometric, spatial, photometric, formatting, wrappers.

Geometric transforms move every annotation a sample holds through the annotation kernels
(:mod:`.annotation_kernels`); a new kind of annotation is one :func:`register_annotation_kernel` call.
"""

from . import image_ops
from .affine import RandomAffine, affine_matrix
from .annotation_kernels import (
    INSTANCE_KEYS,
    AnnotationKernel,
    CropOp,
    FlipOp,
    PadOp,
    ResizeOp,
    SequenceKernel,
    WarpOp,
    annotation_kernels,
    apply_geometry,
    image_size,
    keep_instances,
    register_annotation_kernel,
    unregister_annotation_kernel,
)
from .annotations import LoadAnnotations, apply_label_map, read_seg_map, reduce_zero_label_map
from .base import BaseTransform, Compose, RandomApply, RandomChoice, Transform
from .coordinate_kernels import BoxesKernel, KeypointsKernel, PolygonsKernel, boxes_inside
from .formatting import BasePackInputs, PackInputs, image_to_tensor, to_label_tensor
from .geometric import (
    CenterCrop,
    RandomFlip,
    RandomResizedCrop,
    Resize,
    ResizeEdge,
    crop_results,
    flip_results,
    pad_results,
    resize_results,
    warp_results,
)
from .loading import LoadImage, read_image
from .photometric import RANDAUG_OPS, TIMM_INCREASING_POLICIES, AugmentPolicy, ColorJitter, RandAugment
from .photometric_distortion import PhotoMetricDistortion
from .raster_kernels import ImageKernel, MasksKernel, SegMapKernel
from .spatial import Pad, RandomCrop, RandomResize

__all__ = [
    "image_ops",
    "BaseTransform",
    "Compose",
    "RandomApply",
    "RandomChoice",
    "Transform",
    "BasePackInputs",
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
    "pad_results",
    "resize_results",
    "warp_results",
    "RandomAffine",
    "affine_matrix",
    "INSTANCE_KEYS",
    "AnnotationKernel",
    "SequenceKernel",
    "CropOp",
    "FlipOp",
    "PadOp",
    "ResizeOp",
    "WarpOp",
    "annotation_kernels",
    "apply_geometry",
    "image_size",
    "keep_instances",
    "register_annotation_kernel",
    "unregister_annotation_kernel",
    "ImageKernel",
    "MasksKernel",
    "SegMapKernel",
    "BoxesKernel",
    "KeypointsKernel",
    "PolygonsKernel",
    "boxes_inside",
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
    "Pad",
    "RandomCrop",
    "RandomResize",
]
