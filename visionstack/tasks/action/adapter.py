"""What the command line, inference, export and the deploy runtime know about action recognition.

Inputs are videos (or, for skeleton models, keypoint sequences in the MMAction2/PYSKL pickle). A prediction is
``pred_label``: ``label`` (1,) and ``score`` (num_classes,) probabilities, as a classifier's. ``infer`` on a
video cuts it into windows of ``--window`` seconds every ``--stride`` seconds (one window when the video is
shorter), samples each window as the config's test pipeline samples a whole video, and reports the top-k
actions of each window (the ``timeline`` of the record) and of the whole video (the mean of the windows'
probabilities); ``--out-dir`` also gets ``<video>_pred.mp4`` (every frame labelled with its window's top-k) and
``<video>_timeline.png``. The exported graph takes the test clips of one window, ``(B, views, ...)`` as the
model's data preprocessor makes them, and returns averaged probabilities; the runtime
(:class:`~.runtime.ActionRuntimePreprocessor`) decodes, windows and samples the video in NumPy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import TASKS
from ..adapter import Arrays, Meta, PredictionContext, TaskAdapter, evaluation_options, with_result_writer
from .records import action_record, timeline_record
from .windows import DEFAULT_STRIDE, DEFAULT_WINDOW

__all__ = ["ActionAdapter", "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().float().numpy()
    return np.asarray(value)


@TASKS.register(name="action")
class ActionAdapter(TaskAdapter):
    """Action recognition (see the module docstring)."""

    name = "action"
    prediction_fields = {"pred_label": "label"}
    ground_truth_fields = ("gt_label",)
    input_suffixes = VIDEO_SUFFIXES
    compare_raw_outputs = True
    demo = None
    smoke = {
        "config": "configs/action/tsm_r18-w16_1x1x8_synth-action.py",
        "synth": {"num_train": 10, "num_val": 4, "kinds": ("video",)},
        "set": [
            "train_dataloader.batch_size=4",
            "train_cfg.max_epochs=1",
            "param_scheduler=[]",
            # decode in the test process: a DataLoader worker forked from a process where FFmpeg threads of earlier
            # tests hold a lock can hang in its first decode (seen once under pytest-xdist)
            "train_dataloader.num_workers=0",
            "train_dataloader.persistent_workers=False",
            "val_dataloader.num_workers=0",
            "val_dataloader.persistent_workers=False",
            "test_dataloader.num_workers=0",
            "test_dataloader.persistent_workers=False",
        ],
        "gt": "val_list_videos.txt",
    }
    infer_options = (
        (
            "--window",
            {
                "type": float,
                "default": DEFAULT_WINDOW,
                "help": f"action: seconds per prediction window over a video (default {DEFAULT_WINDOW})",
            },
        ),
        (
            "--stride",
            {
                "type": float,
                "default": DEFAULT_STRIDE,
                "help": f"action: seconds between window starts (default {DEFAULT_STRIDE})",
            },
        ),
    )
    analyses = {"temporal": "visionstack.tasks.action.analysis:temporal_analysis"}

    # ---- inputs of ``infer`` -------------------------------------------------------------------------------
    def infer_items(self, path: Path, index: int, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One test-pipeline input per window of the video (``frame_window``: first frame, frame count)."""
        from ...utils.video_io import VideoReader
        from .windows import frame_windows

        with VideoReader(path) as reader:
            stamps = reader.timestamps
        window = options.get("window") or DEFAULT_WINDOW
        stride = options.get("stride") or DEFAULT_STRIDE
        return [
            {
                "filename": str(path),
                "label": -1,
                "sample_idx": index,
                "frame_window": (start, count),
                "window_seconds": (seconds_from, seconds_to),
            }
            for start, count, seconds_from, seconds_to in frame_windows(stamps, window, stride)
        ]

    def merge_predictions(self, path: Path, samples: Sequence[Any]) -> Any:
        """The video's prediction: the mean of its windows' probabilities; the windows' own scores go to the
        metainfo ``timeline`` as ``(start s, end s, scores)``."""
        import torch

        from ...structures import LabelData

        scores = torch.stack([sample.pred_label.score.float() for sample in samples])
        merged = samples[0]
        mean = scores.mean(dim=0)
        merged.pred_label = LabelData(label=mean.argmax().reshape(1), score=mean)
        timeline = [
            [*sample.metainfo.get("window_seconds", (0.0, 0.0)), row.tolist()]
            for sample, row in zip(samples, scores)
        ]
        merged.set_metainfo({"timeline": timeline, "img_path": str(path)})
        return merged

    def to_result(self, sample: Any) -> dict[str, Any]:
        result = super().to_result(sample)
        if sample.metainfo.get("timeline") is not None:
            result["timeline"] = sample.metainfo["timeline"]
        return result

    # ---- JSON, console, pictures ---------------------------------------------------------------------------
    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        record = action_record(result["pred_label"]["score"], context.class_names, context.topk)
        if result.get("timeline") is not None:
            windows = [(start, end, np.asarray(scores)) for start, end, scores in result["timeline"]]
            record["timeline"] = timeline_record(windows, context.class_names, context.topk)
        return record

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["top-k (class: score)", "over time (top-1 per window)"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        topk = ", ".join(f"{item['class']}: {item['score']:.3f}" for item in record.get("topk", []))
        windows = [
            f"{window['start']:.1f}-{window['end']:.1f}s {window['topk'][0]['class']}"
            for window in record.get("timeline", [])
            if window.get("topk")
        ]
        return [topk, "; ".join(windows)]

    def draw(
        self, image: np.ndarray | None, result: Mapping[str, Any], context: PredictionContext
    ) -> np.ndarray:
        """The video's middle frame (``image`` is not used: the input is a video) with the top-k panel."""
        from .drawing import draw_action

        frame = image if image is not None else _middle_frame(result.get("img_path"))
        return draw_action(frame, np.asarray(result["pred_label"]["score"]), context.class_names, topk=3)

    def write_prediction_files(
        self, out_dir: Path, stem: str, result: Mapping[str, Any], context: PredictionContext
    ) -> None:
        """``<stem>_pred.mp4``: the video with each frame's window top-k; ``<stem>_timeline.png``."""
        import cv2

        from ...utils.video_io import VideoReader
        from .drawing import draw_timeline, frame_scores_from_windows, write_labelled_video

        path = result.get("img_path")
        timeline = result.get("timeline")
        if not path or not timeline or Path(path).suffix.lower() not in VIDEO_SUFFIXES:
            return
        windows = [(start, end, np.asarray(scores)) for start, end, scores in timeline]
        with VideoReader(path) as reader:
            fps = reader.info.fps or 25.0
            frames = [frame for _, _, frame in reader]
        frame_scores = frame_scores_from_windows(windows, len(frames), fps)
        write_labelled_video(out_dir / f"{stem}_pred.mp4", frames, fps, frame_scores, context.class_names)
        picture = draw_timeline(windows, context.class_names, 640, 160)
        cv2.imwrite(str(out_dir / f"{stem}_timeline.png"), picture)

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        """The clip's middle frame with its label (``data browse``)."""
        from .drawing import draw_action

        label = int(_numpy(sample.gt_label.label).reshape(-1)[0])
        frame = image if image is not None else _middle_frame(sample.metainfo.get("img_path"))
        count = max(label + 1, len(context.class_names or ()))
        return draw_action(frame, np.eye(count, dtype=np.float32)[label], context.class_names, topk=1)

    # ---- data and evaluation -------------------------------------------------------------------------------
    def synthetic_writer(self) -> Callable[..., Any]:
        """Short mp4 videos of ten motion classes in time-reversed pairs, and skeleton sequences of five
        actions (``num_train``, ``num_val``, ``num_skeleton_train``, ``num_skeleton_val``, ``rawframes``,
        ``codec``, ``kinds``)."""
        from .synthetic import write_synthetic_action

        return write_synthetic_action

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Adds an :class:`~.results.ActionResultWriter`: ``out_dir/name.json``, every test video's scores."""
        out_file = Path(out_dir) / f"{name}.json"
        writer = {"type": "ActionResultWriter", "out_file": str(out_file)}
        return with_result_writer(evaluator_cfg, writer), [(out_file, "per-video class scores")]

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: the list file (``path label`` or ``frame_dir total_frames label``); ``pred``: the result
        JSON of ``test --out-format``."""
        from .results import evaluate_files

        return evaluate_files(gt, pred, **evaluation_options(cfg))

    # ---- export ---------------------------------------------------------------------------------------------
    def export_inputs(self, model: Any, cfg: Mapping[str, Any], dynamic: bool) -> dict[str, Any]:
        """A batch of one window's test clips, shaped as the data preprocessor shapes them; deploy.json's
        ``preprocess`` holds the test pipeline's sampling, resizing and cropping for the runtime."""
        import torch

        from .runtime import clip_spec

        spec = clip_spec(cfg, model.data_preprocessor)
        batch = 2 if dynamic else 1
        args = [torch.rand(batch, *spec["input_shape"]) * 2 - 1]
        axes = {"input": {0: "batch"}} if dynamic else {}
        return {"args": args, "input_names": ["input"], "dynamic_axes": axes, "preprocess": spec}

    def runtime_preprocessor(self, spec: Meta) -> Any:
        from .runtime import ActionRuntimePreprocessor

        return ActionRuntimePreprocessor(spec)

    def runtime_forward(
        self, run: Any, batch: np.ndarray, metas: Sequence[Meta], spec: Meta, **options: Any
    ) -> Arrays:
        """Every window of every video through the graph; ``scores`` (videos, C) the windows' mean,
        ``window_scores`` (videos, windows, C)."""
        from .runtime import forward_windows

        return forward_windows(run, batch, metas)

    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        return {"window": DEFAULT_WINDOW, "stride": DEFAULT_STRIDE}

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        scores = np.asarray(outputs["scores"], dtype=np.float32).reshape(-1)
        result: dict[str, Any] = {"pred_label": {"label": np.array([int(scores.argmax())]), "score": scores}}
        if "window_scores" in outputs:
            seconds = meta.get("window_seconds") or []
            result["timeline"] = [
                [float(start), float(end), np.asarray(row, np.float32).tolist()]
                for (start, end), row in zip(seconds, outputs["window_scores"])
            ]
        return result

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        expected = reference.pred_label
        return {
            "max_score_diff": float(np.abs(result["pred_label"]["score"] - _numpy(expected.score)).max()),
            "label_mismatch": int(
                int(result["pred_label"]["label"][0]) != int(_numpy(expected.label).flatten()[0])
            ),
        }


def _middle_frame(path: str | None) -> np.ndarray:
    from ...utils.video_io import VideoReader

    if not path or Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        return np.zeros((240, 320, 3), np.uint8)
    with VideoReader(path) as reader:
        return reader[len(reader) // 2]
