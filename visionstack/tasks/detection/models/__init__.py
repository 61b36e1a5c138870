"""Detection models: the detector frames, the dense heads and the detection data preprocessor."""

from .data_preprocessor import DetDataPreprocessor
from .fcos_head import FCOSHead, Scale, centerness_target
from .retina_head import RetinaHead
from .rtmdet_head import RTMDet, RTMDetSepBNHead
from .single_stage import (
    DenseTestConfig,
    SingleStageDetector,
    bbox_post_process,
    filter_scores_and_topk,
    rescale_boxes,
    unpack_gt_instances,
)

__all__ = [
    "DenseTestConfig",
    "DetDataPreprocessor",
    "FCOSHead",
    "RTMDet",
    "RTMDetSepBNHead",
    "RetinaHead",
    "Scale",
    "SingleStageDetector",
    "bbox_post_process",
    "centerness_target",
    "filter_scores_and_topk",
    "rescale_boxes",
    "unpack_gt_instances",
]
