"""MMPretrain config tables for ``visionstack convert config`` (read by visionstack.interop.openmmlab_config).

MMPretrain configs give the data preprocessor as a top-level ``data_preprocessor`` without a type
(the runner hands it to the model; ImageClassifier makes it a ClsDataPreprocessor) with ``to_rgb``
where visionstack says ``bgr_to_rgb``; its ImageNet dataset reads an ImageNet-layout folder named by
``split``, which is visionstack's ImageFolder with ``data_prefix=split``. Plain data: nothing of
visionstack is imported.
"""

from __future__ import annotations

from typing import Any

SCOPES = ("mmpretrain", "mmcls")
MODEL_TYPES = ("ImageClassifier",)

ARG_RENAMES = {"ClsDataPreprocessor": {"to_rgb": "bgr_to_rgb"}}
OM_DEFAULTS: dict[str, dict[str, Any]] = {"ResNet": {"zero_init_residual": True}}
_CV2 = ("cv2", "visionstack resizes with OpenCV, as MMPretrain's default backend")
EQUIVALENT: dict[str, dict[str, tuple[Any, str]]] = {
    "CrossEntropyLoss": {"use_soft": (False, "hard labels, visionstack's CrossEntropyLoss")},
    "RandomResizedCrop": {"backend": _CV2},
    "ResizeEdge": {"backend": _CV2},
    "Resize": {"backend": _CV2},
}
_PILLOW = "visionstack resizes with OpenCV; Pillow's filters give slightly different pixels"
LEFT_OUT: dict[str, dict[str, str]] = {
    "RandomResizedCrop": {"backend": _PILLOW},
    "ResizeEdge": {"backend": _PILLOW},
    "Resize": {"backend": _PILLOW},
}
TYPE_REASONS = {
    "VisualizationHook": "visionstack draws predictions with `visionstack infer`, not in a hook",
    "UniversalVisualizer": "no training-time visualiser in visionstack",
}


def _image_net(node: dict, path: str, conversion: Any) -> dict:
    """MMPretrain's ImageNet (and CustomDataset) on a folder tree: visionstack's ImageFolder."""
    node = dict(node)
    kind = node.pop("type")
    split = node.pop("split", None)
    if split is not None and "data_prefix" not in node:
        node["data_prefix"] = split
        conversion.moved(f"{path}.split", split, "data_prefix (the class folders are under data_root/split)")
    if node.get("ann_file") in ("", None):
        if "ann_file" in node:
            conversion.same(
                f"{path}.ann_file", node.pop("ann_file"), "no annotation file: classes from the folders"
            )
    conversion.moved(f"{path}.type", kind, "visionstack's 'ImageFolder'")
    return {"type": "ImageFolder", **node}


NODE_HOOKS = {"ImageNet": _image_net, "CustomDataset": _image_net}


def restructure(cfg: dict, conversion: Any) -> None:
    """An untyped data preprocessor of a classifier is MMPretrain's ClsDataPreprocessor."""
    model = cfg.get("model")
    if isinstance(model, dict) and isinstance(model.get("data_preprocessor"), dict):
        model["data_preprocessor"].setdefault("type", "ClsDataPreprocessor")
