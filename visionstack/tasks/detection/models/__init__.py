"""Detection models: the detector frames, the dense heads and the detection data preprocessor."""

from .data_preprocessor import DetDataPreprocessor
from .dense_inference import DenseHeadInference, bbox_post_process, filter_scores_and_topk, rescale_boxes
from .fcos_head import FCOSHead, Scale, centerness_target
from .mask_head import FCNMaskHead, paste_masks_in_image
from .retina_head import RetinaHead
from .roi_head import Shared2FCBBoxHead, SingleRoIExtractor, StandardRoIHead
from .rpn_head import RPNHead
from .rtmdet_head import RTMDet, RTMDetSepBNHead
from .single_stage import SingleStageDetector, unpack_gt_instances
from .test_config import DetTestConfig
from .two_stage import FasterRCNN, MaskRCNN, TwoStageDetector

__all__ = [
    "FCNMaskHead",
    "FasterRCNN",
    "MaskRCNN",
    "RPNHead",
    "Shared2FCBBoxHead",
    "SingleRoIExtractor",
    "StandardRoIHead",
    "TwoStageDetector",
    "paste_masks_in_image",
    "DenseHeadInference",
    "DetTestConfig",
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
