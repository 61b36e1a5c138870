"""The unified data interface: datasets, transforms, samplers and collate functions.

Importing this package registers every dataset (DATASETS), transform (TRANSFORMS), sampler
(DATA_SAMPLERS) and collate function (FUNCTIONS) defined here.
"""

from . import transforms
from .base_dataset import BaseDataset, DatasetError
from .collate import default_collate, pseudo_collate
from .dataset_wrappers import ConcatDataset, RepeatDataset
from .datasets import CocoDataset, parse_coco_annotation
from .samplers import DefaultSampler, InfiniteSampler
from .serialized_list import SerializedList
from .transforms import (
    RANDAUG_OPS,
    TIMM_INCREASING_POLICIES,
    AugmentPolicy,
    BaseTransform,
    CenterCrop,
    ColorJitter,
    Compose,
    LoadImage,
    PackInputs,
    RandAugment,
    RandomApply,
    RandomChoice,
    RandomFlip,
    RandomResizedCrop,
    Resize,
    ResizeEdge,
    Transform,
    image_ops,
    image_to_tensor,
    read_image,
    to_label_tensor,
)

__all__ = [
    "CocoDataset",
    "parse_coco_annotation",
    "transforms",
    "BaseDataset",
    "DatasetError",
    "default_collate",
    "pseudo_collate",
    "ConcatDataset",
    "RepeatDataset",
    "DefaultSampler",
    "InfiniteSampler",
    "SerializedList",
    "RANDAUG_OPS",
    "TIMM_INCREASING_POLICIES",
    "AugmentPolicy",
    "BaseTransform",
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "LoadImage",
    "PackInputs",
    "RandAugment",
    "RandomApply",
    "RandomChoice",
    "RandomFlip",
    "RandomResizedCrop",
    "Resize",
    "ResizeEdge",
    "Transform",
    "image_ops",
    "image_to_tensor",
    "read_image",
    "to_label_tensor",
]
