"""Detection and instance-segmentation transforms (TRANSFORMS): boxes and masks follow the image."""

from .formatting import PackDetInputs
from .geometric import (
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
from .loading import FilterAnnotations, LoadAnnotations
from .mixing import MixUp, Mosaic, concat_instances
from .photometric import PhotoMetricDistortion

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
