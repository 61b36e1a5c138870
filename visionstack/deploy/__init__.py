"""Deployment runtime: run a model exported by ``visionstack export`` with ONNX Runtime.

Needs only NumPy, OpenCV and onnxruntime (PyTorch is never imported)::

    from visionstack.deploy import OnnxInferencer
    inferencer = OnnxInferencer("work_dirs/export/resnet18_digits")
    results = inferencer(["digit.png"])
    print(inferencer.to_records(results))
"""

from .preprocess import Preprocessor, read_bgr_image
from .runtime import DEPLOY_FILE, OnnxInferencer, expand_inputs, load_deploy_config, resize_bilinear, softmax

__all__ = [
    "DEPLOY_FILE",
    "OnnxInferencer",
    "Preprocessor",
    "expand_inputs",
    "load_deploy_config",
    "read_bgr_image",
    "resize_bilinear",
    "softmax",
]
