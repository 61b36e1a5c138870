"""Losses shared by the tasks (registered in MODELS)."""

from .bce_loss import BCEWithLogitsLoss
from .cross_entropy_loss import CrossEntropyLoss
from .dice_loss import DiceLoss
from .focal_loss import FocalLoss, sigmoid_focal_loss
from .gfocal_loss import QualityFocalLoss
from .iou_loss import GIoULoss, IoULoss
from .smooth_l1_loss import L1Loss, SmoothL1Loss, smooth_l1
from .utils import REDUCTIONS, ElementwiseLoss, Reduction, WeightedLoss, reduce_weighted_loss

__all__ = [
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "DiceLoss",
    "ElementwiseLoss",
    "FocalLoss",
    "GIoULoss",
    "IoULoss",
    "L1Loss",
    "QualityFocalLoss",
    "REDUCTIONS",
    "Reduction",
    "SmoothL1Loss",
    "WeightedLoss",
    "reduce_weighted_loss",
    "sigmoid_focal_loss",
    "smooth_l1",
]
