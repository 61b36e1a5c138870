"""Pose metrics: COCO keypoint AP/AR by OKS (:mod:`.coco_keypoint`, :mod:`.oks`), and PCK, AUC, EPE, NME
as MMPose defines them (:mod:`.keypoint_error`)."""

from .coco_keypoint import CocoKeypointMetric
from .keypoint_error import (
    AUC,
    EPE,
    NME,
    PCKAccuracy,
    keypoint_auc,
    keypoint_distances,
    keypoint_epe,
    keypoint_nme,
    keypoint_pck_accuracy,
)
from .oks import oks_iou, oks_nms, soft_oks_nms

__all__ = [
    "AUC",
    "EPE",
    "NME",
    "CocoKeypointMetric",
    "PCKAccuracy",
    "keypoint_auc",
    "keypoint_distances",
    "keypoint_epe",
    "keypoint_nme",
    "keypoint_pck_accuracy",
    "oks_iou",
    "oks_nms",
    "soft_oks_nms",
]
