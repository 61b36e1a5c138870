"""What the command line, inference, export and the deploy runtime know about detection and instance
segmentation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import TASKS
from ..adapter import Arrays, Meta, PredictionContext, TaskAdapter, evaluation_options, prefixed_metric_nodes
from .records import detection_records

__all__ = ["DetectionAdapter"]

DETECTIONS_SHOWN = 3  # "class score" pairs per image in the console table


@TASKS.register(name="detection")
class DetectionAdapter(TaskAdapter):
    """Detection: ``pred_instances`` (``bboxes`` (N, 4) xyxy in original-image pixels, ``scores`` (N,),
    ``labels`` (N,), and ``masks`` (N, H, W) bool at the original size for instance segmentation).

    The exported graph takes each image's ``img_shape`` and ``scale_factor`` besides the batch and returns
    ``dets`` (B, K, 5), ``labels`` (B, K) (padding rows have label -1) and, for Mask R-CNN, ``masks``
    (B, K, S, S) probabilities that the runtime pastes into the image.
    """

    name = "detection"
    prediction_fields = {"pred_instances": "instances"}
    ground_truth_fields = ("gt_instances",)
    export_meta_inputs = ("img_shape", "scale_factor")
    compare_raw_outputs = False
    demo = {
        "config": "configs/detection/fcos_r18_fpn_synth.py",
        "epochs": 2,  # the config's full schedule is 9 epochs (~15 min); the demo trains 2 (~3 min)
        "metric": "coco/bbox_mAP",
        "floor": 0.10,
        "synthetic": True,
        "infer_images": 4,
    }

    smoke = {
        "config": "configs/detection/fcos_r18_fpn_synth.py",
        "synth": {"num_train": 4, "num_val": 2},
        "set": [
            "optim_wrapper.type=OptimWrapper",
            "train_dataloader.batch_size=2",
            "train_dataloader.num_workers=0",
            "val_dataloader.num_workers=0",
            "train_cfg.max_epochs=1",
            "val_evaluator.ann_file={data_root}/annotations/instances_val.json",
            "test_evaluator.ann_file={data_root}/annotations/instances_val.json",
        ],
        "gt": "annotations/instances_val.json",
    }

    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        instances = result["pred_instances"]
        return {
            "detections": detection_records(
                instances["bboxes"],
                instances["scores"],
                instances["labels"],
                instances.get("masks"),
                context.class_names,
            )
        }

    def table_columns(self, context: PredictionContext) -> list[str]:
        return [f"detections (score >= {context.score_thr:g})", f"best {DETECTIONS_SHOWN} (class score)"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        kept = [item for item in record.get("detections", []) if item["score"] >= context.score_thr]
        best = ", ".join(f"{item['class']} {item['score']:.2f}" for item in kept[:DETECTIONS_SHOWN])
        return [str(len(kept)), best]

    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        from .drawing import draw_detections

        return draw_detections(
            image, result["pred_instances"], context.class_names, score_thr=context.score_thr
        )

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        from .drawing import draw_detections

        return draw_detections(image, sample.gt_instances, context.class_names)

    def synthetic_writer(self) -> Callable[..., Any]:
        """The synthetic shapes in COCO format (2000 + 200 images by default; ``num_train``, ``num_val``)."""
        from .synthetic import synth_detection

        return synth_detection

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Every CocoMetric of the evaluator writes COCO result files ``out_dir/name.bbox.json`` (and
        ``.segm.json``); with several CocoMetrics the second and later ones write ``name_<i>.*``."""
        from .metrics import CocoMetric

        evaluator_cfg, prefixed = prefixed_metric_nodes(
            evaluator_cfg,
            CocoMetric,
            out_dir,
            name,
            "COCO result files come from CocoMetric(outfile_prefix=...)",
        )
        files = [
            (Path(f"{prefix}.{kind}.json"), f"COCO {kind} results")
            for _, prefix in prefixed
            for kind in ("bbox", "segm")
        ]
        return evaluator_cfg, files

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: a COCO annotation file; ``pred``: COCO result files (a file or the ``PREFIX`` of
        ``PREFIX.bbox.json`` / ``PREFIX.segm.json``)."""
        from .results import evaluate_files

        return evaluate_files(gt, pred, **evaluation_options(cfg))

    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        head = getattr(model, "roi_head", None) or getattr(model, "bbox_head", None)
        test_cfg = getattr(head, "test_cfg", None)
        spec: dict[str, Any] = {"max_per_img": int(getattr(test_cfg, "max_per_img", 0))}
        for key in ("score_thr", "nms_iou_thr", "mask_thr_binary"):
            if hasattr(test_cfg, key):
                spec[key] = float(getattr(test_cfg, key))
        return spec

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        dets, labels = outputs["dets"], outputs["labels"]
        keep = labels >= 0
        instances: dict[str, Any] = {
            "bboxes": dets[keep, :4].astype(np.float32),
            "scores": dets[keep, 4].astype(np.float32),
            "labels": labels[keep].astype(np.int64),
        }
        if "masks" in outputs:
            from .mask_paste import paste_masks

            instances["masks"] = paste_masks(
                outputs["masks"][keep],
                instances["bboxes"],
                tuple(meta["ori_shape"]),
                float(spec.get("mask_thr_binary", 0.5)),
            )
        return {"pred_instances": instances}

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        from .comparison import compare_detections

        return compare_detections(reference.pred_instances, result["pred_instances"])
