"""The deploy runtime's preprocessing of an action model (NumPy, OpenCV and PyAV; no PyTorch).

``deploy.json``'s ``preprocess`` (written by :func:`clip_spec` at export) holds the test pipeline's frame
sampling (``SampleFrames`` in test mode: ``clip_len``, ``frame_interval``, ``num_clips``, ``twice_sample``,
``keep_tail_frames``, ``out_of_bound_opt``), its resize (``ResizeEdge``/``Resize``), its crop (``CenterCrop``,
``ThreeCrop`` or ``TenCrop``), the ``input_format`` and the normalisation. A video is read whole, cut into the
windows of :mod:`.windows`, and each window becomes the clips the PyTorch pipeline makes of it (the same
indices, the same OpenCV resize, the same crops), so the two backends see the same pixels.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...imaging import center_crop_box, edge_size, keep_ratio_size, normalize_image, resize_image
from ...registry import ConfigError
from .sampling import sample_frames
from .windows import DEFAULT_STRIDE, DEFAULT_WINDOW, frame_windows

__all__ = ["ActionRuntimePreprocessor", "clip_spec", "crop_windows", "forward_windows"]

IGNORED_STEPS = (
    "PyAVInit",
    "PyAVDecode",
    "DecordInit",
    "DecordDecode",
    "OpenCVInit",
    "OpenCVDecode",
    "PackActionInputs",
)
SAMPLING_KEYS = (
    "clip_len",
    "frame_interval",
    "num_clips",
    "twice_sample",
    "keep_tail_frames",
    "out_of_bound_opt",
)


def _test_pipeline(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    for key in ("test_dataloader", "val_dataloader"):
        pipeline = ((cfg.get(key) or {}).get("dataset") or {}).get("pipeline")
        if pipeline:
            return [dict(step) for step in pipeline]
    raise ConfigError("export: the config has no test_dataloader.dataset.pipeline")


def _pair(value: Any) -> list[int]:
    return [int(value), int(value)] if isinstance(value, (int, float)) else [int(v) for v in value]


def clip_spec(cfg: Mapping[str, Any], data_preprocessor: Any) -> dict[str, Any]:
    """deploy.json's ``preprocess`` of a video model, read from the config's test pipeline; ``input_shape`` is
    one window's clips as the graph takes them (without the batch axis).

    Raises:
        ConfigError: the pipeline holds a step the runtime cannot repeat (named), or no sampler, crop or format.
    """
    spec: dict[str, Any] = {"kind": "video", "resize": None, "crop": None, "num_crops": 1}
    for step in _test_pipeline(cfg):
        kind = step.get("type")
        if kind in IGNORED_STEPS:
            continue
        if kind == "SampleFrames":
            spec["sampling"] = {key: step[key] for key in SAMPLING_KEYS if key in step}
        elif kind == "ResizeEdge":
            spec["resize"] = {"edge": step.get("edge", "short"), "scale": int(step["scale"])}
            spec["interpolation"] = step.get("interpolation", "bilinear")
        elif kind == "Resize" and step.get("scale") is not None:
            spec["resize"] = {"size": _pair(step["scale"]), "keep_ratio": bool(step.get("keep_ratio", False))}
            spec["interpolation"] = step.get("interpolation", "bilinear")
        elif kind in ("CenterCrop", "ThreeCrop", "TenCrop"):
            spec["crop"] = {"type": kind, "size": _pair(step["crop_size"])}
            spec["num_crops"] = {"CenterCrop": 1, "ThreeCrop": 3, "TenCrop": 10}[kind]
        elif kind == "FormatShape":
            spec["input_format"] = step["input_format"]
        else:
            raise ConfigError(
                f"export: the action runtime cannot repeat the test pipeline step {kind!r}; it knows SampleFrames, "
                "ResizeEdge, Resize, CenterCrop, ThreeCrop, TenCrop and FormatShape (and the decoders)"
            )
    for key, what in (("sampling", "SampleFrames"), ("crop", "a crop (CenterCrop/ThreeCrop/TenCrop)")):
        if spec.get(key) is None:
            raise ConfigError(f"export: the test pipeline needs {what} for a fixed-size graph input")
    if spec.get("input_format") not in ("NCHW", "NCTHW"):
        raise ConfigError(
            f"export: FormatShape input_format must be NCHW or NCTHW, got {spec.get('input_format')!r}"
        )
    normalize = getattr(data_preprocessor, "mean", None) is not None
    spec["mean"] = data_preprocessor.mean.flatten().tolist() if normalize else None
    spec["std"] = data_preprocessor.std.flatten().tolist() if normalize else None
    spec["bgr_to_rgb"] = bool(getattr(data_preprocessor, "bgr_to_rgb", False))
    sampling = spec["sampling"]
    clip_len, num_clips = int(sampling.get("clip_len", 1)), int(sampling.get("num_clips", 1))
    num_clips *= 2 if sampling.get("twice_sample") else 1
    width, height = spec["crop"]["size"]
    views = spec["num_crops"] * num_clips
    if spec["input_format"] == "NCHW":
        spec["input_shape"] = [views * clip_len, 3, height, width]
    else:
        spec["input_shape"] = [views, 3, clip_len, height, width]
    spec["window"], spec["stride"] = DEFAULT_WINDOW, DEFAULT_STRIDE
    return spec


def crop_windows(
    width: int, height: int, crop: Mapping[str, Any]
) -> list[tuple[tuple[int, int, int, int], bool]]:
    """``((x1, y1, x2, y2), mirrored)`` of each view of ``CenterCrop``, ``ThreeCrop`` or ``TenCrop`` on a frame of
    that size, in the transforms' order (ThreeCrop: start, end, middle; TenCrop: each corner and the centre
    followed by its mirror)."""
    crop_w, crop_h = crop["size"]
    if crop["type"] == "CenterCrop":
        return [(center_crop_box(width, height, crop_w, crop_h), False)]
    if crop["type"] == "ThreeCrop":
        if crop_h == height:  # a wide frame: left, right, middle
            step = (width - crop_w) // 2
            offsets = [(0, 0), (2 * step, 0), (step, 0)]
        else:  # a tall frame: top, bottom, middle
            step = (height - crop_h) // 2
            offsets = [(0, 0), (0, 2 * step), (0, step)]
        return [((x, y, x + crop_w, y + crop_h), False) for x, y in offsets]
    w_step, h_step = (width - crop_w) // 4, (height - crop_h) // 4
    offsets = [(0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step), (2 * w_step, 2 * h_step)]
    return [((x, y, x + crop_w, y + crop_h), mirrored) for x, y in offsets for mirrored in (False, True)]


class ActionRuntimePreprocessor:
    """Video file -> every window's clips, normalised (the runtime's ``Preprocessor`` interface)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        if spec.get("kind") != "video":
            raise ValueError("deploy.json preprocess: the action runtime reads videos (`kind: video`)")
        self.spec = dict(spec)
        self.window = float(spec.get("window", DEFAULT_WINDOW))
        self.stride = float(spec.get("stride", DEFAULT_STRIDE))

    @staticmethod
    def read(path: str | os.PathLike) -> dict[str, Any]:
        """The video's frames ((N, H, W, 3) uint8 BGR) and their times (seconds)."""
        from ...utils.video_io import VideoReader

        with VideoReader(path) as reader:
            frames, stamps = [], []
            for _, seconds, frame in reader:
                frames.append(frame)
                stamps.append(seconds)
        return {"frames": np.stack(frames), "timestamps": np.asarray(stamps), "path": str(path)}

    def clips(self, frames: np.ndarray, start: int = 0, count: int | None = None) -> np.ndarray:
        """The graph input of one window (frames ``start .. start + count``), without the batch axis."""
        spec = self.spec
        count = len(frames) if count is None else count
        indices = sample_frames(count, test_mode=True, **spec["sampling"]) + start
        images = [self._resize(frames[index]) for index in indices]
        height, width = images[0].shape[:2]
        crops = [
            np.stack(
                [image[y1:y2, x1:x2, :][:, ::-1] if mirrored else image[y1:y2, x1:x2] for image in images]
            )
            for (x1, y1, x2, y2), mirrored in crop_windows(width, height, spec["crop"])
        ]
        normalised = [
            np.stack(
                [
                    normalize_image(np.ascontiguousarray(f), spec["mean"], spec["std"], spec["bgr_to_rgb"])
                    for f in crop
                ]
            )
            for crop in crops
        ]  # each (frames, 3, h, w)
        stacked = np.concatenate(normalised)  # crops x clips x clip_len frames, crop-major as FormatShape
        if spec["input_format"] == "NCHW":
            return stacked.astype(np.float32)
        clip_len = int(spec["sampling"].get("clip_len", 1))
        views = stacked.reshape(-1, clip_len, *stacked.shape[1:])  # (views, T, 3, h, w)
        return np.ascontiguousarray(views.transpose(0, 2, 1, 3, 4)).astype(np.float32)

    def _resize(self, frame: np.ndarray) -> np.ndarray:
        resize = self.spec.get("resize")
        if not resize:
            return frame
        height, width = frame.shape[:2]
        if "edge" in resize:
            size = edge_size(width, height, int(resize["scale"]), resize["edge"])
        elif resize.get("keep_ratio"):
            size = keep_ratio_size(width, height, tuple(resize["size"]))
        else:
            size = tuple(resize["size"])
        return resize_image(frame, size, self.spec.get("interpolation", "bilinear"))

    def image(self, video: Mapping[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        """((windows, *input_shape) float32, metainfo with ``window_seconds``) of a read video."""
        frames = video["frames"]
        windows = frame_windows(video["timestamps"], self.window, self.stride)
        batch = np.stack([self.clips(frames, start, count) for start, count, _, _ in windows])
        height, width = frames.shape[1:3]
        meta = {
            "ori_shape": (int(height), int(width)),
            "img_shape": tuple(int(v) for v in self.spec["crop"]["size"][::-1]),
            "scale_factor": (1.0, 1.0),
            "window_seconds": [(start_s, end_s) for _, _, start_s, end_s in windows],
        }
        return batch, meta

    @staticmethod
    def batch(videos: Sequence[np.ndarray]) -> np.ndarray:
        """One video per batch entry; a video's windows stay together (:func:`forward_windows` runs them).

        With one window per video the batch is ``(videos, *input_shape)``, the graph's own input."""
        if all(len(video) == 1 for video in videos):
            return np.concatenate(videos).astype(np.float32)
        if len(videos) != 1:
            raise ValueError("the action runtime runs videos of several windows one at a time (batch_size 1)")
        return videos[0].astype(np.float32)[None]


def forward_windows(run: Any, batch: np.ndarray, metas: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Run the graph on every window; ``scores`` (videos, C) the mean over a video's windows,
    ``window_scores`` (videos, windows, C)."""
    counts = [len(meta.get("window_seconds") or [0]) for meta in metas]
    if all(count == 1 for count in counts):
        scores = run(batch, metas)["scores"]
        return {"scores": scores, "window_scores": scores[:, None]}
    windows = batch[0]
    scores = np.concatenate([run(windows[i : i + 1], metas)["scores"] for i in range(len(windows))])
    return {"scores": scores.mean(axis=0, keepdims=True), "window_scores": scores[None]}
