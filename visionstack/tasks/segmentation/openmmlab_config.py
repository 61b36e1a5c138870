"""MMSegmentation config tables for ``visionstack convert config`` (read by visionstack.interop.openmmlab_config).

Sizes: MMSegmentation writes crops, the data preprocessor's ``size`` and slide inference's
``crop_size``/``stride`` as (h, w); visionstack writes every size as (w, h), so those pairs are
swapped. Defaults: MMSegmentation's decode heads have no norm layer unless ``norm_cfg`` says so, its
ResNet does not contract the first dilated block unless ``contract_dilation=True``, its cross-entropy
averages over every pixel (``avg_non_ignore=False``) and its photometric distortion never swaps
channels; where visionstack's defaults differ, the converted config spells MMSegmentation's out.
Plain data: nothing of visionstack is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCOPES = ("mmseg",)
MODEL_TYPES = ("EncoderDecoder",)

_DECODE_HEADS = ("FCNHead", "ASPPHead", "DepthwiseSeparableASPPHead", "SegformerHead", "PSPHead", "UPerHead")
OM_DEFAULTS: dict[str, dict[str, Any]] = {
    "ResNet": {"out_indices": (0, 1, 2, 3), "contract_dilation": False, "zero_init_residual": True},
    "CrossEntropyLoss": {"avg_non_ignore": False},
    "PhotoMetricDistortion": {"swap_channels": False},
    **{head: {"norm_cfg": None} for head in _DECODE_HEADS},
}
EQUIVALENT: dict[str, dict[str, tuple[Any, str]]] = {
    "LoadAnnotations": {"imdecode_backend": ("pillow", "label maps decode to the same values with OpenCV")},
    "SegDataPreProcessor": {"test_cfg": (None, "no test-time padding, visionstack's default")},
    "IoUMetric": {"format_only": (False, "visionstack evaluates (format_only=False)")},
}
LEFT_OUT: dict[str, dict[str, str]] = {
    "ResNet": {
        "avg_down": "visionstack's ResNet has strided 1x1 shortcuts only (ResNetV1d's average-pool shortcuts "
        "differ in architecture)"
    },
}
TYPE_REASONS = {
    "SegVisualizationHook": "visionstack draws segmentations with `visionstack infer` / `data browse`, not in a hook",
    "SegTTAModel": "test-time augmentation is the segmentor's test_cfg.tta in visionstack",
}


def _wh(value: Any) -> Any:
    """MMSegmentation's (h, w) as visionstack's (w, h)."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return type(value)((value[1], value[0]))
    return value


VALUE_MAPS = {"RandomCrop": {"crop_size": _wh}, "SegDataPreProcessor": {"size": _wh}}


def _deep_stem_resnet(node: dict, path: str, conversion: Any) -> dict:
    """ResNetV1c (deep stem) and ResNetV1d (deep stem, average-pool shortcuts) are visionstack's
    ResNet with stem='deep'."""
    kind = node["type"]
    node = {**node, "type": "ResNet", "stem": "deep"}
    conversion.moved(f"{path}.type", kind, "visionstack's 'ResNet' with stem='deep'")
    if kind == "ResNetV1d":
        node["avg_down"] = True
    return node


def _encoder_decoder(node: dict, path: str, conversion: Any) -> dict:
    """Slide inference sizes as (w, h); an empty train_cfg is visionstack's (it has none)."""
    node = dict(node)
    train_cfg = node.pop("train_cfg", None)
    if train_cfg:
        conversion.leave_out(
            f"{path}.train_cfg", train_cfg, "visionstack's segmentors have no training options"
        )
    elif train_cfg is not None:
        conversion.same(f"{path}.train_cfg", train_cfg, "no training options")
    test_cfg = node.get("test_cfg")
    if isinstance(test_cfg, Mapping):
        test_cfg = dict(test_cfg)
        for key in ("crop_size", "stride"):
            if key in test_cfg:
                swapped = _wh(test_cfg[key])
                conversion.moved(f"{path}.test_cfg.{key}", test_cfg[key], f"{key}={swapped!r} (w, h)")
                test_cfg[key] = swapped
        for key in set(test_cfg) - {"mode", "crop_size", "stride"}:
            conversion.leave_out(
                f"{path}.test_cfg.{key}", test_cfg.pop(key), "not a visionstack test_cfg key"
            )
        node["test_cfg"] = test_cfg
    return node


NODE_HOOKS = {
    "ResNetV1c": _deep_stem_resnet,
    "ResNetV1d": _deep_stem_resnet,
    "EncoderDecoder": _encoder_decoder,
}
