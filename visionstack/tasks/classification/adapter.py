"""What the command line, inference, export and the deploy runtime know about image classification."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import TASKS
from ...utils.numpy_ops import softmax
from ..adapter import Arrays, Meta, PredictionContext, TaskAdapter, evaluation_options, with_result_writer
from .records import classification_record

__all__ = ["ClassificationAdapter"]


@TASKS.register(name="classification")
class ClassificationAdapter(TaskAdapter):
    """Image classification: ``pred_label`` (``label`` (1,), ``score`` (num_classes,) probabilities)."""

    name = "classification"
    prediction_fields = {"pred_label": "label"}
    ground_truth_fields = ("gt_label",)
    demo = {
        "config": "configs/classification/resnet18_digits.py",
        "metric": "accuracy/top1",
        "floor": 97.0,
        "infer_images": 5,
        "infer_args": ("--topk", "3"),
    }

    smoke = {
        "config": "configs/classification/resnet18_digits.py",
        "synth": {},
        "set": [
            "train_dataloader.dataset.indices=4",
            "train_dataloader.batch_size=2",
            "train_cfg.max_epochs=1",
        ],
        "gt": "val",
    }

    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        return classification_record(result["pred_label"]["score"], context.class_names, context.topk)

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["top-k (class: score)"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        return [", ".join(f"{item['class']}: {item['score']:.3f}" for item in record.get("topk", []))]

    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        from .drawing import draw_classification

        return draw_classification(
            image, result["pred_label"], context.class_names, topk=min(context.topk, 3)
        )

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        from .drawing import draw_classification

        return draw_classification(image, sample.gt_label, context.class_names)

    def synthetic_writer(self) -> Callable[..., Any]:
        """scikit-learn's bundled digits as PNG class folders, the data of the Digits configs."""
        from .digits import write_digits

        return partial(write_digits, scale=2)  # the scale of configs/_base_/datasets/digits.py

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Adds a :class:`~visionstack.tasks.classification.results.ClsResultWriter`: ``out_dir/name.json``,
        the top-k records of ``visionstack infer`` for every test image."""
        out_file = Path(out_dir) / f"{name}.json"
        writer = {"type": "ClsResultWriter", "out_file": str(out_file)}
        return with_result_writer(evaluator_cfg, writer), [(out_file, "top-k predictions")]

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: a class-folder tree or a ``path label`` list file; ``pred``: the top-k JSON."""
        from .results import evaluate_files

        return evaluate_files(gt, pred, **evaluation_options(cfg))

    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        return {"activation": "softmax"}

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        scores = softmax(outputs["logits"])
        return {"pred_label": {"label": np.array([int(scores.argmax())]), "score": scores}}

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        expected = reference.pred_label
        return {
            "max_score_diff": float(np.abs(result["pred_label"]["score"] - expected.score.numpy()).max()),
            "label_mismatch": int(int(result["pred_label"]["label"][0]) != int(expected.label.flatten()[0])),
        }
