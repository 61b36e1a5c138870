"""What the command line, inference, export and the deploy runtime know about 2D pose estimation.

Predictions are per image: ``pred_instances`` with ``keypoints`` (N, K, 2) in original-image pixels,
``keypoint_scores`` (N, K), ``bboxes`` (N, 4) xyxy and ``bbox_scores`` (N,), one row per person. A top-down
model predicts one person per sample; ``infer`` makes the samples of an image from a person detector
(``--det-config``/``--det-checkpoint``) or, without one, from the whole image, and merges them back.

Keypoint scores are the model's: calibrated probabilities that the keypoint is right when the checkpoint
carries a score calibration (``visionstack analyze calibration``, :mod:`.calibration`), so ``--score-thr``, the
keypoint visibility threshold of drawings and tables, then reads as that probability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import TASKS, ConfigError
from ..adapter import Arrays, Meta, PredictionContext, TaskAdapter, evaluation_options, prefixed_metric_nodes
from .lifting import adapter as _lifting_adapter  # noqa: F401  (registers "pose3d": 2D -> 3D lifting)

__all__ = ["PoseAdapter"]

PERSON_FIELDS = ("keypoints", "keypoint_scores", "bboxes", "bbox_scores")


def _test_pipeline(cfg: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``infer_pipeline``, else the test (or val) dataset's pipeline of the config."""
    if cfg.get("infer_pipeline"):
        return list(cfg["infer_pipeline"])
    for key in ("test_dataloader", "val_dataloader"):
        pipeline = ((cfg.get(key) or {}).get("dataset") or {}).get("pipeline")
        if pipeline:
            return list(pipeline)
    raise ConfigError("export: the config has no test_dataloader.dataset.pipeline (or infer_pipeline)")


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


@TASKS.register(name="pose")
class PoseAdapter(TaskAdapter):
    """Top-down 2D pose estimation (see the module docstring)."""

    name = "pose"
    prediction_fields = {"pred_instances": "instances"}
    ground_truth_fields = ("gt_instances",)
    # the graph maps its crop keypoints to the image: each crop's centre and extent follow the crop
    export_meta_inputs = ("input_center", "input_scale")
    infer_options = (
        (
            "--det-config",
            {"help": "pose: a detection config that finds the people (default: the whole image)"},
        ),
        ("--det-checkpoint", {"help": "pose: the detector's checkpoint"}),
        (
            "--det-score-thr",
            {"type": float, "default": 0.3, "help": "pose: lowest person score (default 0.3)"},
        ),
        (
            "--det-cat-id",
            {"type": int, "help": "pose: the detector's person label (default: class 'person', or 0)"},
        ),
    )
    # `visionstack analyze NAME CONFIG CHECKPOINT`
    analyses = {"calibration": "visionstack.tasks.pose.calibration:calibration_analysis"}
    smoke = {
        "config": "configs/pose/rtmpose-t_synth-128x96.py",
        "synth": {"num_train": 3, "num_val": 2},
        "set": [
            "optim_wrapper.type=OptimWrapper",
            "train_dataloader.batch_size=4",
            "train_dataloader.num_workers=0",
            "val_dataloader.num_workers=0",
            "train_cfg.max_epochs=1",
            "val_evaluator.ann_file={data_root}/annotations/person_keypoints_val.json",
            "test_evaluator.ann_file={data_root}/annotations/person_keypoints_val.json",
        ],
        "gt": "annotations/person_keypoints_val.json",
    }

    def __init__(self) -> None:
        self._detector: tuple[tuple[Any, ...], Any] | None = None

    # ---- infer: people from a detector, merged back per image -------------------------------------------
    def _person_boxes(self, path: Path, options: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) xyxy boxes and (N,) scores of the people in the image at ``path``."""
        det_config = options.get("det_config")
        if not det_config:
            from ...utils.image_io import read_image

            height, width = read_image(path, "color").shape[:2]
            return np.array([[0.0, 0.0, width - 1.0, height - 1.0]], np.float32), np.ones(1, np.float32)
        key = (det_config, options.get("det_checkpoint"))
        if self._detector is None or self._detector[0] != key:
            make_inferencer = options.get("make_inferencer")
            if make_inferencer is None:
                raise ConfigError(
                    "pose: --det-config needs the inferencer's `make_inferencer` option (infer sets it)"
                )
            self._detector = (key, make_inferencer(det_config, options.get("det_checkpoint")))
        detector = self._detector[1]
        instances = detector([path])[0].pred_instances
        labels, scores = _numpy(instances.labels), _numpy(instances.scores)
        person = options.get("det_cat_id")
        if person is None:
            names = list(detector.class_names or [])
            person = names.index("person") if "person" in names else 0
        keep = (labels == person) & (scores >= float(options.get("det_score_thr") or 0.0))
        return _numpy(instances.bboxes)[keep].astype(np.float32), scores[keep].astype(np.float32)

    def infer_items(self, path: Path, index: int, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        boxes, scores = self._person_boxes(path, options)
        return [
            {
                "img_path": str(path),
                "sample_idx": index,
                "id": person,
                "bbox": box[None],
                "bbox_score": score[None],
            }
            for person, (box, score) in enumerate(zip(boxes, scores))
        ]

    def merge_predictions(self, path: Path, samples: Sequence[Any]) -> Any:
        """The people of one image in one DataSample (``pred_instances`` with N rows)."""
        import torch

        from ...structures import DataSample, InstanceData

        if samples:
            merged = DataSample(metainfo=dict(samples[0].metainfo))
            fields = {
                name: torch.cat([torch.as_tensor(sample.pred_instances.get(name)) for sample in samples])
                for name in PERSON_FIELDS
                if name in samples[0].pred_instances
            }
        else:
            from ...utils.image_io import read_image

            height, width = read_image(path, "color").shape[:2]
            merged = DataSample(metainfo={"img_path": str(path), "ori_shape": (height, width)})
            fields = {
                "keypoints": torch.zeros(0, 0, 2),
                "keypoint_scores": torch.zeros(0, 0),
                "bboxes": torch.zeros(0, 4),
                "bbox_scores": torch.zeros(0),
            }
        merged.pred_instances = InstanceData(**fields)
        return merged

    # ---- JSON, console, pictures --------------------------------------------------------------------------
    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        instances = result["pred_instances"]
        keypoints = np.asarray(instances["keypoints"], dtype=np.float64)
        scores = np.asarray(instances.get("keypoint_scores", np.ones(keypoints.shape[:2])), dtype=np.float64)
        boxes = np.asarray(instances.get("bboxes", np.zeros((len(keypoints), 4))), dtype=np.float64)
        box_scores = np.asarray(instances.get("bbox_scores", np.ones(len(keypoints))), dtype=np.float64)
        people = [
            {
                "bbox": [round(float(v), 2) for v in boxes[i]],
                "bbox_score": round(float(box_scores[i]), 4),
                "keypoints": [[round(float(x), 2), round(float(y), 2)] for x, y in keypoints[i]],
                "keypoint_scores": [round(float(s), 4) for s in scores[i]],
            }
            for i in range(len(keypoints))
        ]
        return {"people": people}

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["people", f"keypoints scored >= {context.score_thr:g} (per person)"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        people = record.get("people", [])
        shown = [sum(score >= context.score_thr for score in person["keypoint_scores"]) for person in people]
        return [str(len(people)), ", ".join(str(count) for count in shown)]

    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        """Keypoints scored >= ``context.score_thr`` (calibrated scores when the model holds a calibration)."""
        from .drawing import draw_poses

        return draw_poses(image, result["pred_instances"], kpt_thr=context.score_thr)

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        """A packed crop with its keypoints (``transformed_keypoints``, labelled ones) drawn."""
        from .drawing import draw_poses

        gt = sample.gt_instances
        keypoints = gt.get("transformed_keypoints")
        if keypoints is None:
            keypoints = gt.get("keypoints")
        return draw_poses(
            image,
            {"keypoints": keypoints, "keypoints_visible": gt.get("keypoints_visible")},
            kpt_thr=0.5,
            draw_boxes=False,
        )

    # ---- data and evaluation -------------------------------------------------------------------------------
    def synthetic_writer(self) -> Callable[..., Any]:
        """The synthetic people in COCO-keypoints format (``num_train``, ``num_val``)."""
        from .synthetic import synth_pose

        return synth_pose

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Every CocoKeypointMetric writes COCO keypoint results ``out_dir/name.keypoints.json``."""
        from .metrics import CocoKeypointMetric

        evaluator_cfg, prefixed = prefixed_metric_nodes(
            evaluator_cfg,
            CocoKeypointMetric,
            out_dir,
            name,
            "COCO keypoint result files come from CocoKeypointMetric(outfile_prefix=...)",
        )
        files = [(Path(f"{prefix}.keypoints.json"), "COCO keypoint results") for _, prefix in prefixed]
        return evaluator_cfg, files

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: a COCO person-keypoints file; ``pred``: COCO keypoint results (a file or its ``PREFIX``)."""
        from ..adapter import dataset_meta_value
        from .results import evaluate_files

        options = evaluation_options(cfg)
        if cfg is not None:
            options["sigmas"] = dataset_meta_value(cfg, {}, "sigmas")
        return evaluate_files(gt, pred, **options)

    # ---- export ---------------------------------------------------------------------------------------------
    def export_inputs(self, model: Any, cfg: Mapping[str, Any], dynamic: bool) -> dict[str, Any]:
        """A batch of person crops of the test pipeline's ``input_size`` and each crop's ``input_center`` and
        ``input_scale`` (the graph returns image pixels); deploy.json's ``preprocess`` says how the runtime
        crops (:class:`.runtime.TopdownRuntimePreprocessor`)."""
        import torch

        steps = {str(step.get("type")): dict(step) for step in _test_pipeline(cfg)}
        if "TopdownAffine" not in steps:
            raise ConfigError(
                "export: a top-down pose config's test pipeline needs TopdownAffine(input_size=...)"
            )
        width, height = (int(v) for v in steps["TopdownAffine"]["input_size"])
        preprocessor = model.data_preprocessor
        preprocess = {
            "input_size": [width, height],
            "use_udp": bool(steps["TopdownAffine"].get("use_udp", False)),
            "padding": float(steps.get("GetBBoxCenterScale", {}).get("padding", 1.25)),
            "mean": preprocessor.mean.flatten().tolist()
            if getattr(preprocessor, "normalize", False)
            else None,
            "std": preprocessor.std.flatten().tolist() if getattr(preprocessor, "normalize", False) else None,
            "bgr_to_rgb": bool(getattr(preprocessor, "bgr_to_rgb", False)),
        }
        batch = 2 if dynamic else 1
        args = [
            torch.randn(batch, 3, height, width),
            torch.tensor([[width / 2, height / 2]] * batch),
            torch.tensor([[float(width), float(height)]] * batch),
        ]
        names = ["input", *self.export_meta_inputs]
        axes = {name: {0: "batch"} for name in names} if dynamic else {}
        return {"args": args, "input_names": names, "dynamic_axes": axes, "preprocess": preprocess}

    def runtime_preprocessor(self, spec: Meta) -> Any:
        from .runtime import TopdownRuntimePreprocessor

        return TopdownRuntimePreprocessor(spec)

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        """The graph's keypoints (K, 2), already in image pixels, and scores (K,) as one person; the box is the
        crop's (``bbox`` of the metainfo)."""
        keypoints = np.asarray(outputs["keypoints"], dtype=np.float32).reshape(1, -1, 2)
        box = np.asarray(meta.get("bbox", np.zeros((1, 4))), dtype=np.float32).reshape(1, 4)
        return {
            "pred_instances": {
                "keypoints": keypoints,
                "keypoint_scores": np.asarray(outputs["keypoint_scores"], dtype=np.float32).reshape(1, -1),
                "bboxes": box,
                "bbox_scores": np.asarray(meta.get("bbox_score", [1.0]), dtype=np.float32).reshape(1),
            }
        }

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        """``max_keypoint_px``: the largest keypoint distance (pixels) between PyTorch and the runtime;
        ``max_score_diff``: the largest keypoint-score difference."""
        ours = _numpy(reference.pred_instances.keypoints)
        theirs = np.asarray(result["pred_instances"]["keypoints"])
        ours_scores = _numpy(reference.pred_instances.keypoint_scores)
        theirs_scores = np.asarray(result["pred_instances"]["keypoint_scores"])
        if ours.shape != theirs.shape:
            return {"max_keypoint_px": float("inf"), "max_score_diff": float("inf")}
        return {
            "max_keypoint_px": float(np.linalg.norm(ours - theirs, axis=-1).max(initial=0.0)),
            "max_score_diff": float(np.abs(ours_scores - theirs_scores).max(initial=0.0)),
        }
