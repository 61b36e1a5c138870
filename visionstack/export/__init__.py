"""Export to ONNX (what MMDeploy does): graphs with their post-processing, ``deploy.json``, parity."""

from .onnx_export import ExportForward, export_onnx
from .ops import nms_topk, onnx_roi_align

__all__ = ["ExportForward", "export_onnx", "nms_topk", "onnx_roi_align"]
