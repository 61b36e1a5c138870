"""Detection ops in pure PyTorch: boxes and overlaps, NMS, RoIAlign, anchor and point
generators, box coders, assigners, samplers and post-processing.

Boxes are (N, 4) xyxy in absolute pixels unless stated. The classes a config names (generators,
coders, assigners, samplers, ``RoIAlign``) are registered in ``MODELS``: the project has one
registry for model parts and no separate task-utility registry.
"""

from . import boxes
from .anchor_generator import AnchorGenerator
from .assign_result import AssignResult
from .assigners import ATSSAssigner, MaxIoUAssigner
from .box_coders import DeltaXYWHBBoxCoder, DistancePointBBoxCoder
from .boxes import *  # noqa: F403 -- the box helpers, as boxes.__all__ lists them
from .dynamic_soft_label_assigner import DynamicSoftLabelAssigner
from .nms import batched_nms, nms, soft_nms
from .point_generator import MlvlPointGenerator
from .postprocess import multiclass_nms, stable_topk
from .roi_align import RoIAlign, roi_align
from .samplers import PseudoSampler, RandomSampler, SamplingResult

__all__ = [
    "ATSSAssigner",
    "AnchorGenerator",
    "AssignResult",
    "DeltaXYWHBBoxCoder",
    "DistancePointBBoxCoder",
    "DynamicSoftLabelAssigner",
    "MaxIoUAssigner",
    "MlvlPointGenerator",
    "PseudoSampler",
    "RandomSampler",
    "RoIAlign",
    "SamplingResult",
    "batched_nms",
    "multiclass_nms",
    "nms",
    "roi_align",
    "soft_nms",
    "stable_topk",
    *boxes.__all__,
]
