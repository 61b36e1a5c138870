"""What the command line, inference, export and the deploy runtime know about multi-object tracking.

A tracking model (:class:`.models.MOTModel`) is a detector and a tracker. Per frame it predicts
``pred_instances`` (the detections, as the detection task's) and ``pred_track_instances`` (``bboxes`` (N, 4)
xyxy in original-image pixels, ``scores``, ``labels``, ``instances_id`` (N,) from 1). The inputs of ``infer``
are taken as the consecutive frames of one sequence, in the order given; ``visionstack track`` runs a video or
a MOT sequence folder and writes MOT result files and a drawn video. The exported graph is the detector's: the
runtime runs the tracker (NumPy) after it, frame by frame, so the ONNX Runtime backend tracks too (without
camera-motion compensation, which needs the frames).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import TASKS
from ..adapter import Arrays, Meta, PredictionContext, TaskAdapter, get_adapter, prefixed_metric_nodes

__all__ = ["TrackingAdapter"]

TRACK_FIELDS = ("bboxes", "scores", "labels", "instances_id")


@TASKS.register(name="tracking")
class TrackingAdapter(TaskAdapter):
    """Tracking: ``pred_track_instances`` besides the detector's ``pred_instances`` (see the module docstring).

    What concerns the detections (export, runtime post-processing, comparison, drawing the ground truth) is the
    detection task's: its adapter is found in ``TASKS``, as any task's (task folders do not import each other).
    """

    name = "tracking"
    prediction_fields = {"pred_track_instances": "instances", "pred_instances": "instances"}
    ground_truth_fields = ("gt_instances",)
    export_meta_inputs = ("img_shape", "scale_factor")  # the detector's graph inputs
    compare_raw_outputs = False
    demo = None
    smoke = {
        "config": "configs/tracking/bytetrack_rtmdet-tiny_synth.py",
        "synth": {"num_train": 1, "num_val": 1, "seq_length": 6},
        "set": [
            "train_dataloader.batch_size=2",
            "train_cfg.max_epochs=1",
            "param_scheduler=[]",
            "optim_wrapper.type=OptimWrapper",
        ],
        "gt": "val",
    }
    commands = {"track": "visionstack.tasks.tracking.command:add_track_command"}
    eval_options = (
        (
            "--gallery",
            {"metavar": "DIR", "help": "tracking: draw every id switch and fragmentation into DIR"},
        ),
    )

    def __init__(self) -> None:
        self._runtime_tracker: Any = None
        self.detection = get_adapter("detection")

    # ---- infer: the inputs are the frames of one sequence -----------------------------------------------
    def infer_items(self, path: Path, index: int, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "img_path": str(path),
                "sample_idx": index,
                "seq_name": "infer",
                "frame_id": index + 1,
                "is_first_frame": index == 0,
            }
        ]

    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        tracks = result.get("pred_track_instances", {})
        names = context.class_names
        records = []
        for box, score, label, track_id in zip(*(np.asarray(tracks.get(k, [])) for k in TRACK_FIELDS)):
            name = (
                names[int(label)] if names is not None and 0 <= int(label) < len(names) else str(int(label))
            )
            records.append(
                {"id": int(track_id), "class": name, "score": round(float(score), 4),
                 "bbox": [round(float(v), 2) for v in box]}
            )  # fmt: skip
        return {"tracks": records}

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["tracks", "ids"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        tracks = record.get("tracks", [])
        return [str(len(tracks)), " ".join(str(t["id"]) for t in tracks[:12])]

    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        from .drawing import draw_tracks

        return draw_tracks(image, result.get("pred_track_instances", {}), context.class_names)

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        return self.detection.draw_ground_truth(image, sample, context)

    # ---- data and evaluation ------------------------------------------------------------------------------
    def synthetic_writer(self) -> Callable[..., Any]:
        """MOT-layout synthetic sequences (``num_train``/``num_val`` sequences, ``seq_length`` frames)."""
        from .synthetic import synth_tracking

        return synth_tracking

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Every MOTMetric writes its MOT result files ``<SEQ>.txt`` into ``out_dir`` (``out_dir/name_<i>`` for
        a second one)."""
        from .metrics import MOTMetric

        evaluator_cfg, prefixed = prefixed_metric_nodes(
            evaluator_cfg,
            MOTMetric,
            out_dir,
            name,
            "MOT result files come from MOTMetric(outfile_prefix=...)",
        )
        for node, prefix in prefixed:
            node["outfile_prefix"] = str(prefix.parent if prefix.name == name else prefix)
        files = [
            (prefix.parent if prefix.name == name else prefix, "MOT result files") for _, prefix in prefixed
        ]
        return evaluator_cfg, files

    def evaluate(
        self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None, gallery: str | None = None
    ) -> dict[str, Any]:
        """``gt``: a MOT split folder (or one sequence folder); ``pred``: a folder of ``<SEQ>.txt`` result files.
        ``gallery``: a folder for the error gallery (every id switch and fragmentation drawn)."""
        from .evaluation import evaluate_mot
        from .mot_format import list_sequences

        options = _metric_options(cfg)
        metrics = {f"tracking/{key}": value for key, value in evaluate_mot(gt, pred, **options).items()}
        if gallery:
            from .error_gallery import write_error_gallery

            events = 0
            for seq_dir in list_sequences(gt):
                pred_file = Path(pred) / f"{seq_dir.name}.txt"
                found = write_error_gallery(seq_dir / "gt" / "gt.txt", pred_file, seq_dir / "img1", gallery)
                events += len(found)
            metrics["tracking/gallery_events"] = events
        return metrics

    # ---- runtime: the tracker after the detector graph -------------------------------------------------
    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        spec = self.detection.postprocess_spec(model.detector) if hasattr(model, "detector") else {}
        tracker = getattr(model, "tracker", None)
        # DeepSORT's re-identification net is not in the exported graph: its runtime gives detections only
        if tracker is not None and getattr(model, "reid", None) is None:
            spec["tracker"] = _tracker_config(tracker)
        return spec

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        """The detections, then one tracker step: the runtime's images are one sequence, in order (a model
        exported with a re-identification net, DeepSORT's, gives its detections only)."""
        from .trackers import Detections

        result = self.detection.runtime_postprocess(outputs, meta, spec, **options)
        instances = result["pred_instances"]
        if "tracker" not in spec:
            return result
        if self._runtime_tracker is None:
            from .sequences import build_tracker

            self._runtime_tracker = build_tracker(spec["tracker"])
        output = self._runtime_tracker.update(
            Detections(instances["bboxes"], instances["scores"], instances["labels"])
        )
        result["pred_track_instances"] = {
            "bboxes": output.bboxes.astype(np.float32),
            "scores": output.scores.astype(np.float32),
            "labels": output.labels,
            "instances_id": output.ids,
        }
        return result

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        """The detections compared as the detection task does (the tracker is the same NumPy code in both)."""
        return self.detection.compare(reference, result)


def _tracker_config(tracker: Any) -> dict[str, Any]:
    """A tracker's constructor arguments as a JSON-ready dict with ``type`` (camera motion left out: the
    runtime has no frames)."""
    import inspect

    config: dict[str, Any] = {"type": type(tracker).__name__}
    for name in inspect.signature(type(tracker)).parameters:
        value = getattr(tracker, name, None)
        if name != "camera_motion" and isinstance(value, (int, float, bool, str)):
            config[name] = value
    return config


def _metric_options(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """``classes`` and ``class_ids`` of the config's test dataset (None: the synthetic classes)."""
    from ..adapter import dataset_meta_value

    if cfg is None:
        return {}
    classes = dataset_meta_value(cfg, {}, "classes")
    class_ids = dataset_meta_value(cfg, {}, "class_ids")
    options: dict[str, Any] = {}
    if classes:
        options["classes"] = list(classes)
    if class_ids:
        options["class_ids"] = list(class_ids)
    return options
