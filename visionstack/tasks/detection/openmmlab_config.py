"""MMDetection config tables for ``visionstack convert config`` (read by visionstack.interop.openmmlab_config).

visionstack's detection configs follow MMDetection's, with two structural differences this module
undoes: the training and test settings of a detector live in its heads (``bbox_head.assigner``,
``rpn_head.test_proposal_cfg``, ``roi_head.test_cfg`` ...) rather than in ``model.train_cfg`` and
``model.test_cfg``, and non-maximum suppression is one ``nms_iou_thr`` instead of an ``nms`` dict.
Mosaic and MixUp mix images drawn by a ``MultiImageMixDataset`` wrapper (MMDetection's cached
versions draw from the last images seen), so a pipeline holding them is split around that wrapper.
Plain data: the module imports nothing of visionstack but its own task's test settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

SCOPES = ("mmdet",)
MODEL_TYPES = ("RetinaNet", "FCOS", "FasterRCNN", "MaskRCNN", "RTMDet")

TYPE_RENAMES = {
    "RetinaNet": "SingleStageDetector",
    "FCOS": "SingleStageDetector",
    "CachedMosaic": "Mosaic",
    "CachedMixUp": "MixUp",
}
ARG_RENAMES = {
    "RTMDetSepBNHead": {"anchor_generator": "prior_generator"},
    "RTMDetHead": {"anchor_generator": "prior_generator"},
}
# MMDetection's defaults where visionstack's differ (written out when the config does not set them).
OM_DEFAULTS: dict[str, dict[str, Any]] = {
    "ResNet": {"out_indices": (0, 1, 2, 3), "norm_eval": True, "zero_init_residual": True},
}
_CACHE = "visionstack's Mosaic/MixUp draw their partner images from the whole dataset (MultiImageMixDataset), not a cache"
EQUIVALENT: dict[str, dict[str, tuple[Any, str]]] = {
    "RTMDetSepBNHead": {
        "with_objectness": (False, "no objectness branch, as visionstack's RTMDet head"),
        "use_depthwise": (False, "plain convolutions, as visionstack's RTMDet head"),
    },
    "DetDataPreprocessor": {
        "boxtype2tensor": (True, "visionstack's boxes are tensors"),
        "batch_augments": (None, "no batch augments, visionstack's default"),
    },
    "RandomCrop": {"bbox_clip_border": (True, "visionstack clips the boxes to the crop")},
    "Resize": {"clip_object_border": (True, "visionstack clips the boxes to the image")},
    "RandomFlip": {"direction": ("horizontal", "visionstack's default direction")},
    "CocoMetric": {"format_only": (False, "visionstack evaluates (format_only=False)")},
}
LEFT_OUT: dict[str, dict[str, str]] = {
    "CachedMosaic": {"max_cached_images": _CACHE, "random_pop": _CACHE},
    "CachedMixUp": {
        "max_cached_images": _CACHE,
        "random_pop": _CACHE,
        "prob": "visionstack's MixUp mixes every image (no probability); the mixing rate is higher",
    },
    "CocoMetric": {"outfile_prefix": "visionstack writes result files with `visionstack test --coco-out`"},
}
TYPE_REASONS = {
    "DetVisualizationHook": "visionstack draws detections with `visionstack infer` / `data browse`, not in a hook",
    "PipelineSwitchHook": "visionstack has no pipeline-switch hook: Mosaic/MixUp stay on to the end (to switch, "
    "call train_dataset.update_skip_type_keys(['Mosaic', 'MixUp']))",
    "YOLOXHSVRandomAug": "visionstack has no YOLOX HSV jitter (its own RTMDet config uses PhotoMetricDistortion)",
    "AspectRatioBatchSampler": "visionstack batches in sampler order (no grouping by aspect ratio; batches pad more)",
    "DetTTAModel": "test-time augmentation is not a model wrapper in visionstack",
}


def _uniform_scalar(value: Any) -> Any:
    """MixUp's pad value: one number for all channels (visionstack's form) when the channels agree."""
    if isinstance(value, (list, tuple)) and value and all(v == value[0] for v in value):
        return float(value[0])
    return value


VALUE_MAPS = {"CachedMixUp": {"pad_val": _uniform_scalar}, "MixUp": {"pad_val": _uniform_scalar}}


def _cross_entropy(node: dict, path: str, conversion: Any) -> dict:
    """MMDetection's CrossEntropyLoss with use_sigmoid (the RPN) or use_mask (the mask head) is a
    binary cross-entropy on logits: visionstack's BCEWithLogitsLoss."""
    flag = next((k for k in ("use_sigmoid", "use_mask") if node.get(k)), None)
    if flag is None:
        return node
    node = {k: v for k, v in node.items() if k not in ("use_sigmoid", "use_mask")}
    conversion.moved(f"{path}.{flag}", True, "type 'BCEWithLogitsLoss' (binary cross-entropy on logits)")
    node["type"] = "BCEWithLogitsLoss"
    return node


def _roi_extractor(node: dict, path: str, conversion: Any) -> dict:
    """MMDetection nests the RoIAlign settings in ``roi_layer``; visionstack's extractor takes them flat."""
    layer = node.get("roi_layer")
    if not isinstance(layer, Mapping):
        return node
    node = {k: v for k, v in node.items() if k != "roi_layer"}
    layer = dict(layer)
    if layer.pop("type", "RoIAlign") != "RoIAlign":
        conversion.leave_out(f"{path}.roi_layer", layer, "visionstack's extractor is RoIAlign only")
        return node
    for key, value in layer.items():
        if key in ("output_size", "sampling_ratio", "aligned"):
            node[key] = value
            conversion.moved(f"{path}.roi_layer.{key}", value, f"{path.split('.')[-1]}.{key}")
        elif key == "pool_mode" and value == "avg":
            conversion.same(f"{path}.roi_layer.{key}", value, "RoIAlign averages, as visionstack's")
        elif key == "use_torchvision":
            conversion.same(f"{path}.roi_layer.{key}", value, "one RoIAlign implementation")
        else:
            conversion.leave_out(f"{path}.roi_layer.{key}", value, "not an option of visionstack's RoIAlign")
    return node


NODE_HOOKS = {"CrossEntropyLoss": _cross_entropy, "SingleRoIExtractor": _roi_extractor}


# ---- model.train_cfg / model.test_cfg into the heads ---------------------------------------------
def _test_fields() -> set[str]:
    from .models.test_config import DetTestConfig

    return {f.name for f in dataclasses.fields(DetTestConfig)}


def _test_cfg(value: Any, path: str, conversion: Any) -> dict:
    """An MMDetection test (or proposal) config as visionstack's: ``nms=dict(type='nms', iou_threshold=t)``
    becomes ``nms_iou_thr=t``; keys visionstack does not read are left out."""
    out: dict[str, Any] = {}
    fields = _test_fields()
    for key, item in (value or {}).items():
        where = f"{path}.{key}"
        if key == "nms" and isinstance(item, Mapping):
            item = dict(item)
            kind = item.pop("type", "nms")
            if kind != "nms":
                conversion.leave_out(where, value[key], f"visionstack runs plain NMS, not {kind!r}")
                continue
            for sub, sub_value in item.items():
                if sub == "iou_threshold":
                    out["nms_iou_thr"] = sub_value
                    conversion.moved(f"{where}.iou_threshold", sub_value, "nms_iou_thr")
                elif sub == "class_agnostic" and not sub_value:
                    conversion.same(f"{where}.{sub}", sub_value, "per-class NMS, as visionstack's")
                else:
                    conversion.leave_out(f"{where}.{sub}", sub_value, "not an option of visionstack's NMS")
        elif key in fields:
            out[key] = item
        else:
            conversion.leave_out(where, item, "visionstack's test settings have no such key")
    return out


_DEFAULT_TRAIN = {
    "allowed_border": (-1, "every anchor takes part (no border filter), as visionstack's"),
    "pos_weight": (-1, "positives weigh 1, as visionstack's"),
    "debug": (False, "no debug output"),
}


def _train_cfg(
    value: Any, path: str, head: dict, head_path: str, conversion: Any, extra: Mapping[str, Any] | None = None
) -> None:
    """Move an MMDetection training config's assigner and sampler into the head that uses them."""
    for key, item in dict(value or {}).items():
        where = f"{path}.{key}"
        if key in ("assigner", "sampler"):
            head[key] = item
            conversion.moved(where, item, f"{head_path}.{key}")
        elif key in _DEFAULT_TRAIN and item == _DEFAULT_TRAIN[key][0]:
            conversion.same(where, item, _DEFAULT_TRAIN[key][1])
        elif extra and key in extra:
            extra[key](where, item)
        else:
            conversion.leave_out(where, item, "visionstack's heads have no such training option")


def restructure(cfg: dict, conversion: Any) -> None:
    """Put ``model.train_cfg``/``model.test_cfg`` where visionstack's detectors read them."""
    model = cfg.get("model")
    if not isinstance(model, dict):
        return
    train_cfg = model.pop("train_cfg", None) or {}
    test_cfg = model.pop("test_cfg", None) or {}
    if isinstance(model.get("rpn_head"), dict) and isinstance(model.get("roi_head"), dict):
        rpn, roi = model["rpn_head"], model["roi_head"]

        def mask_size(where: str, item: Any) -> None:
            mask_head = roi.get("mask_head") or {}
            if item == 2 * mask_head.get("roi_feat_size", 14):
                conversion.same(where, item, "visionstack's mask targets are twice the mask head's RoI size")
            else:
                conversion.leave_out(
                    where, item, "visionstack's mask targets are twice the mask head's RoI size"
                )

        _train_cfg(train_cfg.get("rpn"), "model.train_cfg.rpn", rpn, "model.rpn_head", conversion)
        _train_cfg(
            train_cfg.get("rcnn"),
            "model.train_cfg.rcnn",
            roi,
            "model.roi_head",
            conversion,
            {"mask_size": mask_size},
        )
        if "rpn_proposal" in train_cfg:
            rpn["train_proposal_cfg"] = _test_cfg(
                train_cfg["rpn_proposal"], "model.train_cfg.rpn_proposal", conversion
            )
            conversion.moved(
                "model.train_cfg.rpn_proposal", train_cfg["rpn_proposal"], "model.rpn_head.train_proposal_cfg"
            )
        if "rpn" in test_cfg:
            rpn["test_proposal_cfg"] = _test_cfg(test_cfg["rpn"], "model.test_cfg.rpn", conversion)
            conversion.moved("model.test_cfg.rpn", test_cfg["rpn"], "model.rpn_head.test_proposal_cfg")
        if "rcnn" in test_cfg:
            roi["test_cfg"] = _test_cfg(test_cfg["rcnn"], "model.test_cfg.rcnn", conversion)
            conversion.moved("model.test_cfg.rcnn", test_cfg["rcnn"], "model.roi_head.test_cfg")
        for key in set(train_cfg) - {"rpn", "rcnn", "rpn_proposal"}:
            conversion.leave_out(
                f"model.train_cfg.{key}", train_cfg[key], "not a stage of visionstack's two-stage detectors"
            )
        for key in set(test_cfg) - {"rpn", "rcnn"}:
            conversion.leave_out(
                f"model.test_cfg.{key}", test_cfg[key], "not a stage of visionstack's two-stage detectors"
            )
    elif isinstance(model.get("bbox_head"), dict):
        head = model["bbox_head"]
        _train_cfg(train_cfg, "model.train_cfg", head, "model.bbox_head", conversion)
        if test_cfg:
            head["test_cfg"] = _test_cfg(test_cfg, "model.test_cfg", conversion)
            conversion.moved("model.test_cfg", test_cfg, "model.bbox_head.test_cfg")
    else:
        for name, value in (("train_cfg", train_cfg), ("test_cfg", test_cfg)):
            if value:
                model[name] = value


# ---- Mosaic / MixUp: split the pipeline around a MultiImageMixDataset ----------------------------
MIXING = ("Mosaic", "MixUp")


_GEOMETRIC = ("Resize", "RandomResize", "RandomCrop", "RandomFlip", "Pad", "RandomAffine")


def _late_masks(cfg: dict, conversion: Any) -> None:
    """MMDetection's test pipelines load annotations after Resize, so the masks keep the original
    size (its metric reads the ground truth from the annotation file). visionstack checks that masks
    match the image; its CocoMetric also reads them from ``ann_file``, so they are not loaded there."""
    for name in ("val_dataloader", "test_dataloader"):
        dataset = (cfg.get(name) or {}).get("dataset")
        pipeline = dataset.get("pipeline") if isinstance(dataset, dict) else None
        moved = False
        for index, transform in enumerate(pipeline or []):
            if not isinstance(transform, dict):
                continue
            moved = moved or transform.get("type") in _GEOMETRIC
            if moved and transform.get("type") == "LoadAnnotations" and transform.get("with_mask"):
                transform["with_mask"] = False
                conversion.moved(
                    f"{name}.dataset.pipeline.{index}.with_mask",
                    True,
                    "with_mask=False: loaded after a resize the masks would not fit the image; CocoMetric "
                    "reads the ground-truth masks from ann_file",
                )


def finish(cfg: dict, conversion: Any) -> None:
    """Wrap a dataset whose pipeline mixes images (Mosaic, MixUp) in a MultiImageMixDataset: loading
    stays with the dataset, the rest of the pipeline moves to the wrapper, as visionstack mixes.
    Test pipelines do not load masks after resizing (see :func:`_late_masks`)."""
    _late_masks(cfg, conversion)
    for name in ("train_dataloader", "val_dataloader", "test_dataloader"):
        dataset = (cfg.get(name) or {}).get("dataset")
        if not isinstance(dataset, dict) or dataset.get("type") == "MultiImageMixDataset":
            continue
        pipeline = dataset.get("pipeline") or []
        first = next(
            (i for i, t in enumerate(pipeline) if isinstance(t, Mapping) and t.get("type") in MIXING), None
        )
        if first is None:
            continue
        inner = {**dataset, "pipeline": list(pipeline[:first])}
        cfg[name]["dataset"] = {
            "type": "MultiImageMixDataset",
            "dataset": inner,
            "pipeline": list(pipeline[first:]),
        }
        conversion.moved(
            f"{name}.dataset.pipeline",
            [t.get("type") for t in pipeline],
            f"{name}.dataset: a MultiImageMixDataset; loading ({first} transforms) stays with the dataset, "
            "the rest is the wrapper's pipeline",
        )
