"""INT8 post-training quantization with ONNX Runtime's tools (static, calibrated on training images)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..deploy.preprocess import read_bgr_image
from ..deploy.runtime import OnnxInferencer

__all__ = ["INT8_FILE", "quantize_int8"]

INT8_FILE = "model_int8.onnx"
# The arithmetic worth quantizing; post-processing (NMS, TopK, gathers, resizes) stays float.
QUANTIZED_OPS = ("Conv", "MatMul", "Gemm")


class _Calibration:
    """onnxruntime's CalibrationDataReader over preprocessed images, one per ``get_next``."""

    def __init__(self, runtime: OnnxInferencer, images: Sequence[str]) -> None:
        self.runtime = runtime
        self.images: Iterator[str] = iter(images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        path = next(self.images, None)
        if path is None:
            return None
        prepared, meta = self.runtime.preprocessor.image(read_bgr_image(path))
        feeds: dict[str, Any] = {self.runtime.input_names[0]: self.runtime.preprocessor.batch([prepared])}
        for name in self.runtime.input_names[1:]:  # the task's per-image metainfo inputs
            feeds[name] = np.array([meta[name]], dtype=np.float32)
        return feeds

    def rewind(self) -> None:  # pragma: no cover - part of the reader protocol, unused by minmax
        raise RuntimeError("calibration images are read once")


def quantize_int8(model_dir: str | Path, calibration_images: Sequence[str], per_channel: bool = True) -> Path:
    """Write ``model_dir/model_int8.onnx``: QDQ INT8 weights (per channel) and activations (per
    tensor, MinMax-calibrated on ``calibration_images``) of every Conv/MatMul/Gemm.

    Args:
        model_dir: a folder written by :func:`~visionstack.export.exporter.export_model`.
        calibration_images: image files (training images) run through the deploy preprocessing.
        per_channel: per-output-channel weight scales.

    Returns:
        The INT8 ONNX file.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration_images:
        raise ValueError("INT8 quantization needs at least one calibration image")
    model_dir = Path(model_dir)
    runtime = OnnxInferencer(model_dir)
    source = model_dir / runtime.config["onnx"]["file"]
    prepared = model_dir / "model_prep.onnx"
    target = model_dir / INT8_FILE
    try:
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(target),
            _Calibration(runtime, calibration_images),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    finally:
        prepared.unlink(missing_ok=True)
        for leftover in model_dir.glob("augmented_model*.onnx"):
            leftover.unlink()
    return target
