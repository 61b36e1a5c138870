"""Detection and instance-segmentation transforms (TRANSFORMS): boxes and masks follow the image.

The box-, mask- and map-aware spatial transforms, ``PhotoMetricDistortion`` and ``LoadAnnotations``
live in :mod:`visionstack.data.transforms` (shared with segmentation) and are re-exported here.
"""

from ....data.transforms.annotations import LoadAnnotations
from ....data.transforms.photometric_distortion import PhotoMetricDistortion
from ....data.transforms.spatial import (
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
from .formatting import PackDetInputs
from .loading import FilterAnnotations
from .mixing import MixUp, Mosaic, concat_instances

__all__ = [
    "PackDetInputs",
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
    "FilterAnnotations",
    "LoadAnnotations",
    "MixUp",
    "Mosaic",
    "concat_instances",
    "PhotoMetricDistortion",
]
