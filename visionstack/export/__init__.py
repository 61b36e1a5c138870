"""Export to ONNX (what MMDeploy does): graphs with their post-processing, ``deploy.json``, parity."""

from ..models.ops.export_ops import nms_topk, onnx_roi_align
from .onnx_export import ExportForward, export_onnx

__all__ = ["ExportForward", "export_onnx", "nms_topk", "onnx_roi_align"]
