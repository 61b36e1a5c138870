"""``visionstack export --verify``: the exported model against the PyTorch model.

Per sample image: the largest difference of the preprocessed inputs, of the raw outputs (logits)
and of the final predictions (as the task adapter compares them). On the val set:
the config's metric for both, each fed by its own full path (PyTorch pipeline + model; NumPy
preprocessing + ONNX Runtime + NumPy post-processing).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..deploy.runtime import OnnxInferencer
from ..engine.builders import build_evaluator
from ..inference import Inferencer
from ..registry import DATASETS, FUNCTIONS, build
from ..tasks.adapter import merge_comparisons

__all__ = ["verify_export"]


def _val_dataset(cfg: Mapping[str, Any]) -> Any:
    for key in ("val_dataloader", "test_dataloader"):
        dataset_cfg = (cfg.get(key) or {}).get("dataset")
        if dataset_cfg:
            return build(dataset_cfg, DATASETS), key
    raise KeyError("the config has no val_dataloader.dataset (or test_dataloader.dataset) to verify on")


def _img_path(item: Mapping[str, Any]) -> str:
    sample = item["data_samples"]
    path = sample.metainfo.get("img_path") if hasattr(sample, "metainfo") else None
    if path is None:
        raise KeyError(
            "the val pipeline does not keep `img_path` in the data samples' metainfo (PackInputs meta_keys)"
        )
    return str(path)


def _first_item(inferencer: Inferencer, path: str) -> dict[str, Any]:
    """The test pipeline's input for the image at ``path``, as ``infer`` makes it (the adapter's first item:
    the image itself, or a top-down task's whole-image person)."""
    return dict(inferencer.adapter.infer_items(Path(path), 0, {})[0])


def _torch_inputs(inferencer: Inferencer, path: str) -> tuple[torch.Tensor, Any]:
    collate = FUNCTIONS.get("pseudo_collate")
    data = inferencer.model.data_preprocessor(collate([inferencer.pipeline(_first_item(inferencer, path))]))
    return data["inputs"], data["data_samples"]


@torch.no_grad()
def verify_export(
    cfg: Mapping[str, Any],
    checkpoint: str | Path | None,
    model_dir: str | Path,
    model: nn.Module | None = None,
    images: Sequence[str] | None = None,
    num_images: int = 8,
    metric: bool = True,
    max_val: int | None = None,
    model_file: str | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Compare the exported model in ``model_dir`` with the PyTorch model.

    Args:
        cfg: the resolved config.
        checkpoint: the checkpoint that was exported (ignored when ``model`` is given).
        model_dir: the export folder.
        model: the exported PyTorch model (weights loaded), to skip loading the checkpoint again.
        images: sample image files (default: the first ``num_images`` validation images).
        num_images: how many validation images when ``images`` is None.
        metric: also evaluate both on the val set with the config's ``val_evaluator``.
        max_val: evaluate on the first ``max_val`` validation images only.
        model_file: an alternative ONNX file in ``model_dir`` (e.g. ``model_int8.onnx``).
        log: where progress lines go.

    Returns:
        ``{"task", "images", "max_input_diff", "max_output_diff", ...task-specific...,
        "metrics": {"pytorch": {...}, "onnxruntime": {...}}, "metric_diff": {...}}``.
    """
    inferencer = Inferencer(cfg, None if model is not None else checkpoint)
    if model is not None:
        inferencer.model = model.eval()
    runtime = OnnxInferencer(model_dir, model_file=model_file)
    dataset = None
    if images is None:
        dataset, _ = _val_dataset(cfg)
        images = [_img_path(dataset[index]) for index in range(min(num_images, len(dataset)))]
    report: dict[str, Any] = {"task": runtime.task, "images": len(images), "max_input_diff": 0.0}
    if runtime.adapter.compare_raw_outputs:
        report["max_output_diff"] = 0.0
    extra: dict[str, float] = {}
    for path in images:
        merge_comparisons(extra, _compare_image(inferencer, runtime, path, report))
    report.update(extra)
    if metric:
        report["metrics"] = _compare_metrics(cfg, inferencer, runtime, dataset, max_val, log)
        report["metric_diff"] = _metric_differences(
            report["metrics"]["pytorch"], report["metrics"]["onnxruntime"]
        )
    return report


def _compare_image(
    inferencer: Inferencer, runtime: OnnxInferencer, path: str, report: dict[str, Any]
) -> dict:
    """One image through both paths: updates the input (and raw output) differences in ``report`` and
    returns the task adapter's comparison of the final predictions."""
    adapter = runtime.adapter
    inputs, samples = _torch_inputs(inferencer, path)
    prepared, meta = runtime.preprocessor.image(runtime.preprocessor.read(path))
    batch = runtime.preprocessor.batch([prepared])
    expected = adapter.runtime_inputs(inputs)
    if batch.shape == expected.shape:
        report["max_input_diff"] = max(
            report["max_input_diff"], float(np.abs(batch - expected).max(initial=0))
        )
    else:
        report["input_shape_mismatch"] = [list(expected.shape), list(batch.shape)]
    if adapter.compare_raw_outputs:
        reference = inferencer.model.export_forward(*adapter.export_args(inputs, samples))
        reference = reference if isinstance(reference, tuple) else (reference,)
        output = runtime.run(batch, [meta])[runtime.output_names[0]]
        if output.shape == tuple(reference[0].shape):
            diff = float(np.abs(output - reference[0].numpy()).max())
            report["max_output_diff"] = max(report["max_output_diff"], diff)
    predicted = inferencer.model.test_step(
        FUNCTIONS.get("pseudo_collate")([inferencer.pipeline(_first_item(inferencer, path))])
    )[0]
    return adapter.compare(predicted, runtime.predict_arrays([runtime.preprocessor.read(path)])[0])


def _metric_differences(reference: Mapping[str, Any], exported: Mapping[str, Any]) -> dict[str, float]:
    """``|reference - exported|`` of every numeric metric both have."""
    return {
        key: abs(value - exported[key])
        for key, value in reference.items()
        if isinstance(value, (int, float)) and isinstance(exported.get(key), (int, float))
    }


def _compare_metrics(
    cfg: Mapping[str, Any],
    inferencer: Inferencer,
    runtime: OnnxInferencer,
    dataset: Any,
    max_val: int | None,
    log: Any,
) -> dict[str, dict[str, Any]]:
    dataset, loader_key = _val_dataset(cfg)
    evaluator_key = loader_key.replace("_dataloader", "_evaluator")
    if not cfg.get(evaluator_key):
        raise KeyError(f"the config has {loader_key} but no {evaluator_key} to compute the metric with")
    count = len(dataset) if max_val is None else min(max_val, len(dataset))
    collate = FUNCTIONS.get("pseudo_collate")
    evaluators = {}
    for name in ("pytorch", "onnxruntime"):
        evaluator = build_evaluator(copy.deepcopy(cfg[evaluator_key]))
        evaluator.dataset_meta = getattr(dataset, "metainfo", None)
        evaluators[name] = evaluator
    seconds = {"pytorch": 0.0, "onnxruntime": 0.0}
    for index in range(count):
        item = dataset[index]
        batch = collate([item])
        started = time.perf_counter()
        predicted = inferencer.model.test_step(copy.deepcopy(batch))
        seconds["pytorch"] += time.perf_counter() - started
        evaluators["pytorch"].process(data_batch=batch, data_samples=predicted)
        started = time.perf_counter()
        result = runtime.predict_arrays([runtime.preprocessor.read(_img_path(item))])[0]
        seconds["onnxruntime"] += time.perf_counter() - started
        sample = runtime.adapter.from_result(copy.deepcopy(batch["data_samples"][0]), result)
        evaluators["onnxruntime"].process(data_batch=batch, data_samples=[sample])
    metrics = {name: evaluator.evaluate(count) for name, evaluator in evaluators.items()}
    log(
        f"val metric on {count} images: PyTorch {seconds['pytorch']:.1f} s, ONNX Runtime {seconds['onnxruntime']:.1f} s "
        "(inference only)"
    )
    return metrics
