"""``visionstack export --verify``: the exported model against the PyTorch model.

Per sample image: the largest difference of the preprocessed inputs, of the raw outputs (logits)
and of the final predictions (scores, boxes of the same detections, label maps). On the val set:
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
from ..structures import InstanceData, LabelData, PixelData

__all__ = ["apply_runtime_result", "compare_detections", "verify_export"]


def apply_runtime_result(sample: Any, result: Mapping[str, Any]) -> Any:
    """Write a runtime result's ``pred_*`` fields into a DataSample (as tensors), for metrics and drawing."""
    if "pred_label" in result:
        sample.pred_label = LabelData(
            label=torch.as_tensor(result["pred_label"]["label"]),
            score=torch.as_tensor(result["pred_label"]["score"]),
        )
    if "pred_instances" in result:
        fields = {key: torch.as_tensor(np.asarray(value)) for key, value in result["pred_instances"].items()}
        sample.pred_instances = InstanceData(**fields)
    if "pred_sem_seg" in result:
        sample.pred_sem_seg = PixelData(data=torch.as_tensor(result["pred_sem_seg"]["data"]))
    return sample


def compare_detections(
    reference: Any, exported: Mapping[str, np.ndarray], iou_match: float = 0.5
) -> dict[str, Any]:
    """Pair each exported detection with the unused reference detection of the same label and the
    highest IoU (at least ``iou_match``), scanning by decreasing score.

    Returns:
        ``matched``, ``unmatched_reference``, ``unmatched_exported``, ``max_box_diff`` (px, over
        matched pairs), ``max_score_diff`` and ``label_mismatch`` (pairs whose best box has another label).
    """
    ref_boxes = reference.bboxes.detach().cpu().double().numpy().reshape(-1, 4)
    ref_scores = reference.scores.detach().cpu().double().numpy().reshape(-1)
    ref_labels = reference.labels.detach().cpu().numpy().reshape(-1)
    boxes = np.asarray(exported["bboxes"], dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(exported["scores"], dtype=np.float64).reshape(-1)
    labels = np.asarray(exported["labels"]).reshape(-1)
    used = np.zeros(len(ref_boxes), dtype=bool)
    box_diff = score_diff = 0.0
    matched = label_mismatch = 0
    for index in np.argsort(-scores, kind="stable"):
        if not len(ref_boxes):
            break
        x1 = np.maximum(ref_boxes[:, 0], boxes[index, 0])
        y1 = np.maximum(ref_boxes[:, 1], boxes[index, 1])
        x2 = np.minimum(ref_boxes[:, 2], boxes[index, 2])
        y2 = np.minimum(ref_boxes[:, 3], boxes[index, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
        iou = inter / np.maximum(area(ref_boxes) + area(boxes[index]) - inter, 1e-9)
        iou[used] = -1
        same = np.where(ref_labels == labels[index], iou, -1)
        best = int(np.argmax(same))
        if same[best] < iou_match:
            if iou.max() >= iou_match:
                label_mismatch += 1
            continue
        used[best] = True
        matched += 1
        box_diff = max(box_diff, float(np.abs(ref_boxes[best] - boxes[index]).max()))
        score_diff = max(score_diff, float(abs(ref_scores[best] - scores[index])))
    return {
        "matched": matched,
        "unmatched_reference": int(len(ref_boxes) - used.sum()),
        "unmatched_exported": int(len(boxes) - matched),
        "max_box_diff": box_diff,
        "max_score_diff": score_diff,
        "label_mismatch": label_mismatch,
    }


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


def _torch_inputs(inferencer: Inferencer, path: str) -> tuple[torch.Tensor, Any]:
    collate = FUNCTIONS.get("pseudo_collate")
    data = inferencer.model.data_preprocessor(
        collate([inferencer.pipeline({"img_path": path, "sample_idx": 0})])
    )
    return data["inputs"], data["data_samples"]


def _export_args(task: str, inputs: torch.Tensor, samples: Sequence[Any]) -> list[torch.Tensor]:
    if task != "detection":
        return [inputs]
    shapes = torch.tensor([list(s.metainfo["img_shape"][:2]) for s in samples], dtype=torch.float32)
    factors = torch.tensor(
        [list(s.metainfo.get("scale_factor", (1.0, 1.0))) for s in samples], dtype=torch.float32
    )
    return [inputs, shapes, factors]


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
    task = runtime.task
    dataset = None
    if images is None:
        dataset, _ = _val_dataset(cfg)
        images = [_img_path(dataset[index]) for index in range(min(num_images, len(dataset)))]
    report: dict[str, Any] = {
        "task": task,
        "images": len(images),
        "max_input_diff": 0.0,
        "max_output_diff": 0.0,
    }
    extra: dict[str, float] = {}
    for path in images:
        inputs, samples = _torch_inputs(inferencer, path)
        reference = inferencer.model.export_forward(*_export_args(task, inputs, samples))
        reference = reference if isinstance(reference, tuple) else (reference,)
        prepared, meta = runtime.preprocessor.image(runtime_image(path))
        batch = runtime.preprocessor.batch([prepared])
        if batch.shape == tuple(inputs.shape):
            report["max_input_diff"] = max(
                report["max_input_diff"], float(np.abs(batch - inputs.numpy()).max())
            )
        else:
            report["input_shape_mismatch"] = [list(inputs.shape), list(batch.shape)]
        predicted = inferencer.model.test_step(
            FUNCTIONS.get("pseudo_collate")([inferencer.pipeline({"img_path": path, "sample_idx": 0})])
        )[0]
        result = runtime.predict_arrays([runtime_image(path)])[0]
        if task == "detection":
            pairs = compare_detections(predicted.pred_instances, result["pred_instances"])
            for key, value in pairs.items():
                extra[key] = (
                    max(extra.get(key, 0), value) if key.startswith("max") else extra.get(key, 0) + value
                )
        else:
            outputs = runtime.run(batch, [meta])
            name = runtime.output_names[0]
            if outputs[name].shape == tuple(reference[0].shape):
                diff = float(np.abs(outputs[name] - reference[0].numpy()).max())
                report["max_output_diff"] = max(report["max_output_diff"], diff)
            if task == "classification":
                diff = float(np.abs(result["pred_label"]["score"] - predicted.pred_label.score.numpy()).max())
                extra["max_score_diff"] = max(extra.get("max_score_diff", 0.0), diff)
                extra["label_mismatch"] = extra.get("label_mismatch", 0) + int(
                    int(result["pred_label"]["label"][0]) != int(predicted.pred_label.label.flatten()[0])
                )
            else:
                agree = float((result["pred_sem_seg"]["data"] == predicted.pred_sem_seg.data.numpy()).mean())
                extra["min_pixel_agreement"] = min(extra.get("min_pixel_agreement", 1.0), agree)
    if task == "detection":
        report.pop("max_output_diff")
    report.update(extra)
    if metric:
        report["metrics"] = _compare_metrics(cfg, inferencer, runtime, dataset, max_val, log)
        report["metric_diff"] = {
            key: abs(report["metrics"]["pytorch"][key] - report["metrics"]["onnxruntime"][key])
            for key in report["metrics"]["pytorch"]
            if isinstance(report["metrics"]["pytorch"][key], (int, float))
            and isinstance(report["metrics"]["onnxruntime"].get(key), (int, float))
        }
    return report


def runtime_image(path: str) -> np.ndarray:
    from ..deploy.preprocess import read_bgr_image

    return read_bgr_image(path)


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
        result = runtime.predict_arrays([runtime_image(_img_path(item))])[0]
        seconds["onnxruntime"] += time.perf_counter() - started
        sample = apply_runtime_result(copy.deepcopy(batch["data_samples"][0]), result)
        evaluators["onnxruntime"].process(data_batch=batch, data_samples=[sample])
    metrics = {name: evaluator.evaluate(count) for name, evaluator in evaluators.items()}
    log(
        f"val metric on {count} images: PyTorch {seconds['pytorch']:.1f} s, ONNX Runtime {seconds['onnxruntime']:.1f} s "
        "(inference only)"
    )
    return metrics
