"""Top-down pose models: the estimator frame, SimpleBaseline's heatmap head and RTMPose's SimCC head with its
gated attention unit."""

from .accuracy import heatmap_pck_accuracy, simcc_pck_accuracy
from .base_head import BaseKeypointHead
from .gau import RTMCCBlock, Scale, ScaleNorm, rotary_embedding
from .heatmap_head import HeatmapHead, flip_heatmaps
from .rtmcc_head import DEFAULT_GAU_CFG, RTMCCHead, flip_simcc
from .topdown import EXPORT_OUTPUT_NAMES, PoseTestConfig, TopdownPoseEstimator, crop_to_image

__all__ = [
    "DEFAULT_GAU_CFG",
    "EXPORT_OUTPUT_NAMES",
    "BaseKeypointHead",
    "HeatmapHead",
    "PoseTestConfig",
    "RTMCCBlock",
    "RTMCCHead",
    "Scale",
    "ScaleNorm",
    "TopdownPoseEstimator",
    "crop_to_image",
    "flip_heatmaps",
    "flip_simcc",
    "heatmap_pck_accuracy",
    "rotary_embedding",
    "simcc_pck_accuracy",
]
