"""What the command line, inference, export and the deploy runtime know about semantic segmentation."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import TASKS, ConfigError
from ...utils.numpy_ops import resize_bilinear
from ..adapter import (
    Arrays,
    Meta,
    PredictionContext,
    RunGraph,
    TaskAdapter,
    dataset_setting,
    evaluation_options,
    metric_nodes,
)
from .records import seg_class_records

__all__ = ["SegmentationAdapter"]

SEG_CLASSES_SHOWN = 3  # "class share" pairs per image in the console table


@TASKS.register(name="segmentation")
class SegmentationAdapter(TaskAdapter):
    """Semantic segmentation: ``pred_sem_seg`` (``data`` (1, H, W) class indices at the original size).

    The exported graph returns ``seg_logits`` (B, C, h, w) at the decode head's resolution; the runtime runs
    sliding windows itself (``mode="slide"``), crops the padding, resizes to the original size and takes the
    arg-max. ``seg_logits`` at the original size is a heavy field: kept only on request.
    """

    name = "segmentation"
    prediction_fields = {"pred_sem_seg": "pixels"}
    ground_truth_fields = ("gt_sem_seg",)
    heavy_fields = ("seg_logits",)

    smoke = {
        "config": "configs/segmentation/fcn_r18-d8_synth.py",
        "synth": {"num_train": 4, "num_val": 2, "image_size": 64},
        "set": [
            "optim_wrapper.type=OptimWrapper",
            "train_dataloader.batch_size=2",
            "train_dataloader.num_workers=0",
            "val_dataloader.num_workers=0",
            "train_cfg.max_iters=2",
            "train_cfg.val_interval=2",
            "param_scheduler=[]",  # the warm-up alone is longer than 2 iterations
        ],
        "gt": "ann_dir/val",
    }

    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        data = result["pred_sem_seg"]["data"]
        return {"classes_present": seg_class_records(data, context.class_names, context.ignore_index)}

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["classes", f"largest {SEG_CLASSES_SHOWN} (class: share of pixels)"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        present = record.get("classes_present", [])
        largest = ", ".join(
            f"{item['class']}: {100 * item['fraction']:.1f}%" for item in present[:SEG_CLASSES_SHOWN]
        )
        return [str(len(present)), largest]

    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        from .drawing import draw_sem_seg

        return draw_sem_seg(image, _label_map(result), context.palette, context.class_names)

    def write_prediction_files(
        self, out_dir: Path, stem: str, result: Mapping[str, Any], context: PredictionContext
    ) -> None:
        """``<stem>_label.png``: the predicted class ids at the original image size (8-bit grey, 16-bit when a
        label exceeds 255), readable as a label map."""
        from .metrics import save_label_map

        save_label_map(_label_map(result), out_dir / f"{stem}_label.png")

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        from .drawing import draw_sem_seg

        return draw_sem_seg(image, sample.gt_sem_seg.data, context.palette, context.class_names)

    def synthetic_writer(self) -> Callable[..., Any]:
        """Synthetic scenes in MMSeg's ``img_dir``/``ann_dir`` layout (``num_train``, ``num_val``,
        ``image_size``)."""
        from .synthetic import write_synthetic_segmentation

        return write_synthetic_segmentation

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Every IoUMetric of the evaluator writes ``out_dir/<image stem>.png`` label maps (``name`` unused:
        the files are named after the images, as MMSegmentation's ``output_dir``)."""
        from .metrics import IoUMetric

        evaluator_cfg = copy.deepcopy(evaluator_cfg)
        nodes = metric_nodes(evaluator_cfg, IoUMetric)
        for node in nodes:
            node["output_dir"] = str(out_dir)
        return evaluator_cfg, [(Path(out_dir), "label maps")]

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: the dataset's label-map folder (``ann_dir/val``); ``pred``: the folder of predicted maps.
        The config (required) gives the classes, ``reduce_zero_label`` and the file suffixes."""
        from .results import evaluate_files

        if cfg is None:
            raise ConfigError("eval segmentation needs --config CONFIG (its classes and dataset settings)")
        settings = {
            key: dataset_setting(cfg, key) for key in ("reduce_zero_label", "img_suffix", "seg_map_suffix")
        }
        settings = {key: value for key, value in settings.items() if value is not None}
        return evaluate_files(gt, pred, **evaluation_options(cfg), **settings)

    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        test_cfg = model.test_cfg
        spec: dict[str, Any] = {
            "mode": test_cfg.mode,
            "align_corners": bool(model.align_corners),
            "ignore_index": int(getattr(model.decode_head, "ignore_index", 255)),
        }
        if test_cfg.mode == "slide":
            spec["crop_size"] = list(test_cfg.crop_size)
            spec["stride"] = list(test_cfg.stride)
        if test_cfg.tta is not None:
            spec["tta_not_exported"] = True
        return spec

    def static_export_hw(self, model: Any) -> tuple[int, int] | None:
        if model.test_cfg.mode != "slide":
            return None
        crop_w, crop_h = model.test_cfg.crop_size
        return crop_h, crop_w  # the runtime runs the graph on each window

    def pads_to_static_size(self) -> bool:
        return False  # whole images keep their size; slide windows are cut by the runtime

    def runtime_forward(
        self, run: RunGraph, batch: np.ndarray, metas: Sequence[Meta], spec: Meta, **options: Any
    ) -> Arrays:
        if spec.get("mode") == "slide":
            return {"seg_logits": _slide(run, batch, spec)}
        return run(batch, metas)

    def runtime_postprocess(
        self, outputs: Arrays, meta: Meta, spec: Meta, keep_seg_logits: bool = False, **options: Any
    ) -> dict[str, Any]:
        logits = outputs["seg_logits"]
        img_h, img_w = meta["img_shape"]
        logits = resize_bilinear(
            np.ascontiguousarray(logits[:, :img_h, :img_w]),
            meta["ori_shape"],
            bool(spec.get("align_corners", False)),
        )
        result: dict[str, Any] = {
            "pred_sem_seg": {"data": np.ascontiguousarray(logits.transpose(1, 2, 0)).argmax(-1)[None]}
        }
        if keep_seg_logits:
            result["seg_logits"] = {"data": logits}
        return result

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        expected = reference.pred_sem_seg.data.numpy()
        return {"min_pixel_agreement": float((result["pred_sem_seg"]["data"] == expected).mean())}


def _label_map(result: Mapping[str, Any]) -> np.ndarray:
    """The (H, W) class ids of a result ((1, H, W) -> (H, W), original image size)."""
    data = np.asarray(result["pred_sem_seg"]["data"])
    return data.reshape(data.shape[-2:])


def _slide(run: RunGraph, batch: np.ndarray, spec: Meta) -> np.ndarray:
    """Sliding-window logits (the PyTorch segmentor's ``slide_inference``, window by window)."""
    crop_w, crop_h = spec["crop_size"]
    stride_w, stride_h = spec["stride"]
    count_b, channels, height, width = batch.shape
    pad_h, pad_w = max(height, crop_h), max(width, crop_w)
    padded = np.zeros((count_b, channels, pad_h, pad_w), dtype=np.float32)
    padded[:, :, :height, :width] = batch
    rows = max(pad_h - crop_h + stride_h - 1, 0) // stride_h + 1
    cols = max(pad_w - crop_w + stride_w - 1, 0) // stride_w + 1
    logits = None
    count = np.zeros((1, 1, pad_h, pad_w), dtype=np.float32)
    for row in range(rows):
        for col in range(cols):
            y2 = min(row * stride_h + crop_h, pad_h)
            x2 = min(col * stride_w + crop_w, pad_w)
            y1, x1 = max(y2 - crop_h, 0), max(x2 - crop_w, 0)
            window = run(np.ascontiguousarray(padded[:, :, y1:y2, x1:x2]), [])["seg_logits"]
            if logits is None:
                logits = np.zeros((count_b, window.shape[1], pad_h, pad_w), dtype=np.float32)
            logits[:, :, y1:y2, x1:x2] += window
            count[:, :, y1:y2, x1:x2] += 1
    return (logits / count)[:, :, :height, :width]
