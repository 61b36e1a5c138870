"""Detection and instance-segmentation metrics: COCO (pycocotools / faster-coco-eval) and PASCAL VOC."""

from .coco_format import (
    dump_coco_results,
    encode_mask_rle,
    ground_truth_to_coco,
    predictions_to_coco,
    read_ground_truth,
    read_predictions,
    xyxy_to_xywh,
)
from .coco_metric import CocoMetric, summarize_coco_eval
from .voc_metric import VOCMetric, average_precision, match_detections, voc_average_precisions, voc_box_iou

__all__ = [
    "CocoMetric",
    "VOCMetric",
    "average_precision",
    "dump_coco_results",
    "encode_mask_rle",
    "ground_truth_to_coco",
    "match_detections",
    "predictions_to_coco",
    "read_ground_truth",
    "read_predictions",
    "summarize_coco_eval",
    "voc_average_precisions",
    "voc_box_iou",
    "xyxy_to_xywh",
]
