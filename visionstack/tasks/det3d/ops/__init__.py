"""Point-cloud ops in pure PyTorch (no compiled kernels): voxelisation, rotated BEV / 3D IoU and
fixed-shape (ONNX-exportable) rotated and circle NMS. NumPy twins for the torch-free runtime and the
metrics live in :mod:`.voxelize_np` and :mod:`.iou3d_np` (importable without torch)."""

from .iou3d import (
    bev_iou,
    bev_iou_aligned,
    box3d_iou,
    box3d_iou_aligned,
    nearest_bev_iou,
    rotated_bev_overlap,
    rotated_bev_overlap_aligned,
)
from .iou3d_np import bev_iou_np, bev_overlap_np, box3d_iou_np
from .nms import batched_rotated_nms, circle_nms, fixed_point_nms, rotated_nms, rotated_nms_loop
from .voxelize import Voxelization, dynamic_voxelize, grid_size, hard_voxelize
from .voxelize_np import dynamic_voxelize_numpy, hard_voxelize_numpy

__all__ = [
    "Voxelization",
    "batched_rotated_nms",
    "bev_iou",
    "bev_iou_aligned",
    "bev_iou_np",
    "bev_overlap_np",
    "box3d_iou",
    "box3d_iou_aligned",
    "box3d_iou_np",
    "circle_nms",
    "dynamic_voxelize",
    "dynamic_voxelize_numpy",
    "fixed_point_nms",
    "grid_size",
    "hard_voxelize",
    "hard_voxelize_numpy",
    "nearest_bev_iou",
    "rotated_bev_overlap",
    "rotated_bev_overlap_aligned",
    "rotated_nms",
    "rotated_nms_loop",
]
