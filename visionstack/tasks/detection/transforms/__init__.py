"""Detection and instance-segmentation transforms (TRANSFORMS): what is special to the task.

Packing (``PackDetInputs``), instance filtering (``FilterAnnotations``) and the multi-image mixes
(``Mosaic``, ``MixUp``) live here. The geometric transforms are the shared family of
:mod:`visionstack.data.transforms`, which moves boxes, masks and every other annotation with the
image; the ones detection configs use most are re-exported here with ``LoadAnnotations`` and
``PhotoMetricDistortion``.
"""

from ....data.transforms.annotation_kernels import INSTANCE_KEYS, keep_instances
from ....data.transforms.annotations import LoadAnnotations
from ....data.transforms.coordinate_kernels import boxes_inside
from ....data.transforms.photometric_distortion import PhotoMetricDistortion
from ....data.transforms.spatial import Pad, RandomCrop, RandomResize
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
    "keep_instances",
    "FilterAnnotations",
    "LoadAnnotations",
    "MixUp",
    "Mosaic",
    "concat_instances",
    "PhotoMetricDistortion",
]
