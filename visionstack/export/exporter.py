"""``visionstack export``: a config and a checkpoint -> ``model.onnx`` + ``deploy.json``.

``deploy.json`` holds everything the torch-free runtime needs besides the graph: the test pipeline
(as transform dicts), the data preprocessor's normalisation and padding, the input size policy,
class names and palette, and the post-processing parameters (see docs/deploy.md).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..deploy.preprocess import SUPPORTED_TRANSFORMS, is_supported
from ..deploy.runtime import DEPLOY_FILE, DEPLOY_FORMAT
from ..engine.checkpoint import load_checkpoint
from ..inference import inference_pipeline_cfg, transform_name
from ..registry import MODELS, build
from ..tasks.adapter import TaskAdapter, adapter_for_model, dataset_meta_value
from .onnx_export import ExportForward, export_onnx

__all__ = ["ExportError", "ExportResult", "export_model", "model_task"]

ONNX_FILE = "model.onnx"
DEPLOY_VERSION = 1


class ExportError(ValueError):
    """The config or model cannot be exported as asked; the message names the key or module."""


@dataclass
class ExportResult:
    """What :func:`export_model` wrote."""

    model_dir: Path
    onnx_path: Path
    deploy: dict[str, Any]
    seconds: float
    model: nn.Module = field(repr=False)


def model_task(model: nn.Module) -> str:
    """The task of an exportable model (its ``task``), checking that it can be exported."""
    if not hasattr(model, "export_forward") or not getattr(model, "export_output_names", None):
        raise ExportError(
            f"{type(model).__name__} has no export_forward/export_output_names: this model type cannot be exported"
        )
    return adapter_for_model(model).name


def _plain(value: Any) -> Any:
    """Config values as JSON: tuples -> lists, mappings -> dicts."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise ExportError(f"cannot write {value!r} ({type(value).__name__}) into deploy.json")


def _pipeline_spec(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    steps = []
    for index, transform in enumerate(inference_pipeline_cfg(cfg)):
        name = transform_name(transform)
        if not is_supported(name):
            raise ExportError(
                f"test pipeline transform #{index} ({name}) has no deploy-runtime equivalent; "
                f"supported: {', '.join(SUPPORTED_TRANSFORMS)} (set `infer_pipeline` in the config to export "
                "with another test pipeline)"
            )
        args = {key: value for key, value in dict(transform).items() if key not in ("type", "meta_keys")}
        steps.append(_plain({"type": name, **args}))
    return steps


def preprocess_spec(cfg: Mapping[str, Any], pre: nn.Module) -> dict[str, Any]:
    """deploy.json's ``preprocess``: the config's test pipeline and the data preprocessor ``pre``'s
    normalisation and padding."""
    mean = getattr(pre, "mean", None) if getattr(pre, "normalize", False) else None
    std = getattr(pre, "std", None) if mean is not None else None
    size = getattr(pre, "pad_min_size", None) or getattr(pre, "size", None)
    return {
        "pipeline": _pipeline_spec(cfg),
        "mean": None if mean is None else [float(v) for v in mean.flatten()],
        "std": None if std is None else [float(v) for v in std.flatten()],
        "bgr_to_rgb": bool(getattr(pre, "bgr_to_rgb", False)),
        "pad_size_divisor": int(getattr(pre, "pad_size_divisor", 1)),
        "pad_min_size": None if size is None else [int(size[0]), int(size[1])],
        "pad_value": float(getattr(pre, "pad_value", 0.0)),
    }


def _static_hw(cfg: Mapping[str, Any], preprocess: Mapping[str, Any]) -> tuple[int, int]:
    """The (h, w) of a static export: what the pipeline can produce at most, padded as the model pads."""
    height = width = None
    for step in preprocess["pipeline"]:
        kind = step["type"]
        if kind == "Resize" and step.get("scale") is not None:
            scale = step["scale"] if isinstance(step["scale"], list) else [step["scale"]] * 2
            if step.get("keep_ratio"):
                width = height = max(scale)  # either orientation fits
            else:
                width, height = scale
        elif kind == "ResizeEdge":
            width = height = None  # the other edge depends on the image
        elif kind == "CenterCrop":
            crop = step["crop_size"] if isinstance(step["crop_size"], list) else [step["crop_size"]] * 2
            width, height = crop
        elif kind == "Pad" and step.get("size") is not None:
            size = step["size"] if isinstance(step["size"], list) else [step["size"]] * 2
            width, height = size
    if height is None:
        height, width = _first_val_image_hw(cfg)
    divisor = preprocess["pad_size_divisor"]
    height, width = math.ceil(height / divisor) * divisor, math.ceil(width / divisor) * divisor
    if preprocess["pad_min_size"]:
        min_w, min_h = preprocess["pad_min_size"]
        width, height = max(width, min_w), max(height, min_h)
    return int(height), int(width)


def export_model(
    cfg: Mapping[str, Any],
    checkpoint: str | Path | None,
    out_dir: str | Path,
    dynamic: bool = False,
    input_shape: Sequence[int] | None = None,
    config_path: str | None = None,
) -> ExportResult:
    """Export the config's model with the checkpoint's weights to ``out_dir``.

    Args:
        cfg: the resolved config.
        checkpoint: a checkpoint of the Runner (or a state dict file); None exports the initial weights.
        out_dir: receives ``model.onnx`` and ``deploy.json``.
        dynamic: free batch, height and width (where the model allows); otherwise batch 1 and a fixed
            ``input_shape`` that the runtime pads every image to.
        input_shape: ``(H, W)`` of a static export (default: the largest the test pipeline produces).
        config_path: recorded in deploy.json.

    Returns:
        An :class:`ExportResult` (paths, the deploy dict, the export time and the built model).
    """
    started = time.perf_counter()
    model = build(cfg["model"], MODELS).eval()
    meta = load_checkpoint(model, checkpoint, map_location="cpu") if checkpoint else {}
    task = model_task(model)
    adapter = adapter_for_model(model)
    # a task whose inputs are not images (keypoint sequences ...) gives its sample inputs and preprocessing
    graph = _custom_graph_inputs(adapter.export_inputs(model, cfg, dynamic)) or _image_graph_inputs(
        cfg, model, adapter, dynamic, input_shape
    )
    args, input_names, dynamic_axes = graph["args"], graph["input_names"], graph["dynamic_axes"]
    out_dir = Path(out_dir)
    output_names = list(model.export_output_names)
    onnx_path = _export_graph(model, args, out_dir / ONNX_FILE, input_names, output_names, dynamic_axes)
    deploy = {
        "format": DEPLOY_FORMAT,
        "version": DEPLOY_VERSION,
        "task": task,
        "model": {
            "type": type(model).__name__,
            "config": config_path,
            "checkpoint": None if checkpoint is None else str(checkpoint),
        },
        "onnx": {
            "file": ONNX_FILE,
            "opset": 18,
            "inputs": input_names,
            "outputs": output_names,
            "dynamic": bool(dynamic),
            "static_batch": None if dynamic else 1,
            "input_shape": graph["input_shape"],
        },
        "preprocess": graph["preprocess"],
        "postprocess": adapter.postprocess_spec(model),
        "classes": dataset_meta_value(cfg, meta or {}, "classes"),
        "palette": dataset_meta_value(cfg, meta or {}, "palette"),
    }
    (out_dir / DEPLOY_FILE).write_text(json.dumps(_plain(deploy), indent=2))
    return ExportResult(out_dir, onnx_path, deploy, time.perf_counter() - started, model)


def _image_graph_inputs(
    cfg: Mapping[str, Any],
    model: nn.Module,
    adapter: TaskAdapter,
    dynamic: bool,
    input_shape: Sequence[int] | None,
) -> dict[str, Any]:
    """The graph inputs of an image model: a sample batch at the export size (free height and width in a dynamic
    export unless the adapter says the network takes one size), its metainfo inputs, and the preprocessing."""
    preprocess = preprocess_spec(cfg, model.data_preprocessor)
    free_size = dynamic and not adapter.fixed_input_size
    static_hw = _export_hw(cfg, preprocess, adapter, model, free_size, input_shape)
    if static_hw is not None and not dynamic and adapter.pads_to_static_size():
        preprocess["pad_min_size"] = [static_hw[1], static_hw[0]]
    sample_hw = static_hw or _dynamic_sample_hw(preprocess)
    batch = 2 if dynamic else 1  # a sample batch of 1 would specialise the batch axis
    args, input_names, dynamic_axes = _sample_args(adapter, batch, sample_hw, dynamic, free_size)
    shape = ["batch", 3, "height", "width"] if free_size else ["batch" if dynamic else 1, 3, *static_hw]
    return {"args": args, "input_names": input_names, "dynamic_axes": dynamic_axes, "preprocess": preprocess,
            "input_shape": shape}  # fmt: skip


def _custom_graph_inputs(custom: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The graph inputs a task gave (:meth:`TaskAdapter.export_inputs`), with the graph's input shape."""
    if custom is None:
        return None
    args, input_names = list(custom["args"]), list(custom["input_names"])
    dynamic_axes = dict(custom["dynamic_axes"])
    free = dynamic_axes.get(input_names[0], {})
    shape = [free.get(axis, int(size)) for axis, size in enumerate(args[0].shape)]
    return {"args": args, "input_names": input_names, "dynamic_axes": dynamic_axes,
            "preprocess": dict(custom["preprocess"]), "input_shape": shape}  # fmt: skip


def _export_graph(
    model: nn.Module, args: list, path: Path, input_names: list, output_names: list, dynamic_axes: dict
) -> Path:
    """``export_onnx`` of the model's ``export_forward``; a failure is an :class:`ExportError` with the first
    line of the exporter's (long) message and the model's name."""
    try:
        return export_onnx(ExportForward(model), args, path, input_names, output_names, dynamic_axes)
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportError(f"exporting {type(model).__name__} to ONNX failed: {first_line}") from error


def _export_hw(
    cfg: Mapping[str, Any],
    preprocess: Mapping[str, Any],
    adapter: TaskAdapter,
    model: nn.Module,
    dynamic: bool,
    input_shape: Sequence[int] | None,
) -> tuple[int, int] | None:
    """The (h, w) the graph is exported at: the task's own (a sliding window), the given one, None for a
    dynamic export, else the largest the test pipeline produces."""
    task_hw = adapter.static_export_hw(model)
    if task_hw is not None:
        return task_hw
    if input_shape is not None:
        return int(input_shape[0]), int(input_shape[1])
    return None if dynamic else _static_hw(cfg, preprocess)


def _sample_args(
    adapter: TaskAdapter, batch: int, sample_hw: Sequence[int], dynamic: bool, free_size: bool
) -> tuple[list[torch.Tensor], list[str], dict[str, dict[int, str]]]:
    """Sample graph inputs: a random image batch, then the task's per-image metainfo inputs."""
    args = [torch.randn(batch, 3, *sample_hw)]
    input_names = ["input"]
    image_axes = {0: "batch", 2: "height", 3: "width"} if free_size else {0: "batch"}
    dynamic_axes: dict[str, dict[int, str]] = {"input": image_axes} if dynamic else {}
    for name in adapter.export_meta_inputs:
        value = [list(sample_hw)] * batch if name == "img_shape" else [[1.0, 1.0]] * batch
        args.append(torch.tensor(value, dtype=torch.float32))
        input_names.append(name)
        if dynamic:
            dynamic_axes[name] = {0: "batch"}
    return args, input_names, dynamic_axes


def _first_val_image_hw(cfg: Mapping[str, Any]) -> tuple[int, int]:
    """(h, w) of the first validation image after the test pipeline (for pipelines that do not fix it)."""
    from ..registry import DATASETS

    for key in ("val_dataloader", "test_dataloader"):
        dataset_cfg = (cfg.get(key) or {}).get("dataset")
        if dataset_cfg:
            try:
                packed = build(dataset_cfg, DATASETS)[0]
            except Exception as error:
                raise ExportError(
                    f"the test pipeline does not fix the input size and {key}.dataset[0] cannot be read "
                    f"({error}); export with --dynamic or give --input-shape H W"
                ) from error
            return tuple(int(v) for v in packed["inputs"].shape[-2:])
    raise ExportError(
        "the test pipeline does not fix the input size; export with --dynamic or give --input-shape H W"
    )


def _dynamic_sample_hw(preprocess: Mapping[str, Any]) -> tuple[int, int]:
    """A non-square sample size, a multiple of the pad divisor, at least the minimum padded size."""
    divisor = max(preprocess["pad_size_divisor"], 32)
    height, width = 5 * divisor, 7 * divisor  # odd multiples: feature sizes unlike any pooling bin count
    if preprocess["pad_min_size"]:
        min_w, min_h = preprocess["pad_min_size"]
        height, width = max(height, min_h), max(width, min_w + divisor)
    return height, width
