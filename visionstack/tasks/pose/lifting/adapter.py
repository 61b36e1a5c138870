"""What the command line, inference, export and the deploy runtime know about 2D -> 3D pose lifting.

The inputs are keypoint-sequence files (``.npz``/``.json``, :mod:`.sequences`), not images: ``infer`` reads
them with the config's ``infer_pipeline`` (``LoadKeypointSequence``), the ONNX runtime with
:class:`~.runtime.LiftingRuntimePreprocessor`. Predictions are per sequence: ``pred_instances.keypoints``
(F, 17, 3), root-relative joints in the camera frame, millimetres, one row per frame.

From 2D detections to 3D: run the 2D pose model on a video's frames (``visionstack infer POSE_CONFIG CKPT
frames/ --out-dir out``), turn its ``predictions.json`` into a COCO-layout sequence file with
:func:`~.sequences.sequence_from_pose_records`, and infer with a lifter config on that file; the COCO
keypoints are mapped to the H36M joints with :func:`~visionstack.tasks.pose.metainfo.coco_to_h36m` when read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ....registry import TASKS, ConfigError
from ...adapter import Arrays, Meta, PredictionContext, TaskAdapter, dataset_setting, with_result_writer
from .records import lifting_record

__all__ = ["LiftingAdapter"]


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().float().numpy()
    return np.asarray(value)


@TASKS.register(name="pose3d")
class LiftingAdapter(TaskAdapter):
    """2D -> 3D human pose lifting (see the module docstring)."""

    name = "pose3d"
    prediction_fields = {"pred_instances": "instances"}
    ground_truth_fields = ("gt_instances",)
    input_suffixes = (".npz", ".json")
    smoke = {
        "config": "configs/pose3d/videopose3d_27f_synth.py",
        "synth": {"num_train": 1, "num_val": 1, "num_frames": 40, "actions": ("walking", "jumping")},
        "set": [
            "train_dataloader.batch_size=16",
            "train_dataloader.dataset.indices=32",
            "train_cfg.max_epochs=1",
        ],
        "gt": "val.json",
    }

    # ---- JSON, console, pictures -------------------------------------------------------------------------
    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        return lifting_record(result["pred_instances"]["keypoints"])

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["frames", "mean body height (mm)"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        joints = np.asarray(record["keypoints_3d"], dtype=np.float64)
        height = (joints[..., 1].max(axis=-1) - joints[..., 1].min(axis=-1)).mean() if joints.size else 0.0
        return [str(record["num_frames"]), f"{height:.0f}"]

    def draw(
        self, image: np.ndarray | None, result: Mapping[str, Any], context: PredictionContext
    ) -> np.ndarray:
        """The 3D prediction of a few frames under their 2D inputs (read from the sequence file ``img_path``),
        with the ground truth when the file has it; ``image`` is not used (the inputs are not images)."""
        from .drawing import draw_lifting
        from .sequences import read_keypoint_sequence

        predicted = np.asarray(result["pred_instances"]["keypoints"])
        path = result.get("img_path")
        sequence = read_keypoint_sequence(path) if path and Path(path).is_file() else None
        if sequence is None or sequence.num_frames != len(predicted):
            return draw_lifting(predicted, title=str(path or ""))
        return draw_lifting(
            predicted,
            ground_truth=sequence.root_relative_3d(),
            keypoints_2d=sequence.keypoints_2d,
            image_size=sequence.image_size,
            title=Path(path).name,
        )

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        from .drawing import draw_lifting

        return draw_lifting(
            _numpy(sample.gt_instances.keypoints), title=str(sample.metainfo.get("img_path", ""))
        )

    # ---- data and evaluation -------------------------------------------------------------------------------
    def synthetic_writer(self) -> Callable[..., Any]:
        """Synthetic multi-camera motion (``num_train``/``num_val`` subjects, ``num_frames``, ``image_size``,
        ``actions``, ``fps``)."""
        from .synthetic import write_pose3d_synthetic

        return write_pose3d_synthetic

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Adds a :class:`~.results.Pose3dResultWriter`: ``out_dir/name.json``, the 3D joints of every sample."""
        out_file = Path(out_dir) / f"{name}.json"
        writer = {"type": "Pose3dResultWriter", "out_file": str(out_file)}
        return with_result_writer(evaluator_cfg, writer), [(out_file, "3D pose predictions")]

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: a split index (``val.json``); ``pred``: the result JSON (or ``infer``'s predictions.json)."""
        from .results import evaluate_files

        if cfg is None:
            return evaluate_files(gt, pred)
        return evaluate_files(
            gt, pred, metrics=cfg.get("test_evaluator"), root_index=dataset_setting(cfg, "root_index", 0)
        )

    # ---- export --------------------------------------------------------------------------------------------
    def export_inputs(self, model: Any, cfg: Mapping[str, Any], dynamic: bool) -> dict[str, Any]:
        """A (batch, frames, 17, 2) keypoint window; the frames axis is always free (a window of
        ``receptive_field`` frames gives one output frame, longer inputs one per window), the batch axis with
        ``dynamic``. ``preprocess``: the receptive field and causality the runtime pads for."""
        import torch

        receptive_field, causal = int(model.receptive_field), bool(model.causal)
        self._check_infer_pipeline(cfg, receptive_field, causal)
        joints, features = model.backbone.num_joints, model.backbone.in_features
        args = [torch.rand(2 if dynamic else 1, receptive_field + 6, joints, features) * 2 - 1]
        axes = {0: "batch", 1: "frames"} if dynamic else {1: "frames"}
        return {
            "args": args,
            "input_names": ["input"],
            "dynamic_axes": {"input": axes},
            "preprocess": {"receptive_field": receptive_field, "causal": causal, "normalization": "screen"},
        }

    @staticmethod
    def _check_infer_pipeline(cfg: Mapping[str, Any], receptive_field: int, causal: bool) -> None:
        for step in cfg.get("infer_pipeline") or []:
            if isinstance(step, Mapping) and step.get("type") == "LoadKeypointSequence":
                given = (int(step.get("receptive_field", -1)), bool(step.get("causal", False)))
                if given != (receptive_field, causal):
                    raise ConfigError(
                        f"infer_pipeline's LoadKeypointSequence pads for receptive_field={given[0]}, causal={given[1]} "
                        f"but the model has {receptive_field}, {causal}"
                    )

    def runtime_preprocessor(self, spec: Meta) -> Any:
        from .runtime import LiftingRuntimePreprocessor

        return LiftingRuntimePreprocessor(spec)

    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        return {"receptive_field": int(model.receptive_field), "causal": bool(model.causal), "units": "mm"}

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        """The sequence's frames of the graph's (frames, 17, 3) output (batch padding dropped)."""
        joints = np.asarray(outputs["keypoints_3d"], dtype=np.float32)
        return {"pred_instances": {"keypoints": joints[: int(meta["num_frames"])]}}

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        """``max_joint_diff_mm``: the largest distance between a PyTorch and a runtime joint."""
        ours = _numpy(reference.pred_instances.keypoints)
        theirs = np.asarray(result["pred_instances"]["keypoints"])
        if ours.shape != theirs.shape:
            return {"max_joint_diff_mm": float("inf")}
        return {"max_joint_diff_mm": float(np.linalg.norm(ours - theirs, axis=-1).max(initial=0.0))}
