"""Dataset formats shared by tasks: COCO (detection, instance segmentation, keypoints)."""

from .coco import CocoDataset, parse_coco_annotation

__all__ = ["CocoDataset", "parse_coco_annotation"]
