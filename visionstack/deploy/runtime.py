"""The ONNX Runtime inferencer: ``deploy.json`` + ``model.onnx`` in, predictions out (no PyTorch).

It preprocesses like the PyTorch path (:mod:`visionstack.deploy.preprocess`), runs the session and
post-processes into the fields ``visionstack infer`` fills (``pred_label``, ``pred_instances``,
``pred_sem_seg``), here plain dicts of NumPy arrays; :meth:`OnnxInferencer.to_records` writes the
same JSON as the PyTorch inferencer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..tasks.classification import records as cls_records
from ..tasks.detection import records as det_records
from ..tasks.segmentation import records as seg_records
from .preprocess import Preprocessor, read_bgr_image

__all__ = [
    "DEPLOY_FILE",
    "IMAGE_SUFFIXES",
    "OnnxInferencer",
    "expand_inputs",
    "load_deploy_config",
    "resize_bilinear",
    "softmax",
]

DEPLOY_FILE = "deploy.json"
DEPLOY_FORMAT = "visionstack-deploy"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
TASKS = ("classification", "detection", "segmentation")


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders expanded to their images (sorted, recursive)."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{path}: folder holds no image ({', '.join(IMAGE_SUFFIXES)})")
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"input not found: {path}")
    return paths


def load_deploy_config(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``MODEL_DIR/deploy.json`` (written by ``visionstack export``)."""
    path = Path(model_dir) / DEPLOY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no {DEPLOY_FILE}; export a model with `visionstack export` first")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    if config.get("format") != DEPLOY_FORMAT:
        raise ValueError(f"{path}: 'format' must be {DEPLOY_FORMAT!r}, got {config.get('format')!r}")
    for key in ("task", "onnx", "preprocess", "postprocess"):
        if key not in config:
            raise ValueError(f"{path}: missing key {key!r}")
    if config["task"] not in TASKS:
        raise ValueError(f"{path}: task must be one of {TASKS}, got {config['task']!r}")
    return config


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in float32."""
    shifted = logits.astype(np.float32) - logits.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


def _axis_weights(
    out_len: int, in_len: int, align_corners: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (lo, hi) and the weight of ``hi`` for 1-D bilinear resampling (PyTorch's rule)."""
    out = np.arange(out_len, dtype=np.float64)
    if align_corners:
        src = out * ((in_len - 1) / (out_len - 1)) if out_len > 1 else np.zeros_like(out)
    else:
        src = np.maximum((out + 0.5) * (in_len / out_len) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), in_len - 1)
    hi = np.minimum(lo + 1, in_len - 1)
    return lo, hi, (src - lo).astype(np.float32)


def resize_bilinear(maps: np.ndarray, size: tuple[int, int], align_corners: bool = False) -> np.ndarray:
    """Bilinear resize of (C, H, W) maps to ``size = (h, w)``, as ``F.interpolate(mode="bilinear")``."""
    channels, height, width = maps.shape
    out_h, out_w = int(size[0]), int(size[1])
    if (out_h, out_w) == (height, width):
        return maps
    lo, hi, weight = _axis_weights(out_h, height, align_corners)
    rows = maps[:, lo] * (1 - weight)[None, :, None] + maps[:, hi] * weight[None, :, None]
    lo, hi, weight = _axis_weights(out_w, width, align_corners)
    return rows[:, :, lo] * (1 - weight)[None, None, :] + rows[:, :, hi] * weight[None, None, :]


class OnnxInferencer:
    """Runs an exported model with ONNX Runtime on image files or arrays.

    Args:
        model_dir: a folder written by ``visionstack export`` (``deploy.json`` + the ONNX file).
        model_file: another ONNX file of the same graph (e.g. the INT8 one) instead of the default.
        num_threads: intra-op threads of the session (None: ONNX Runtime's default).
        batch_size: images per session run; a static export takes its own batch size.
        keep_seg_logits: keep ``seg_logits`` ((C, H, W) at the original size) in segmentation results.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike,
        model_file: str | None = None,
        num_threads: int | None = None,
        batch_size: int = 1,
        keep_seg_logits: bool = False,
    ) -> None:
        import onnxruntime as ort

        self.model_dir = Path(model_dir)
        self.config = load_deploy_config(model_dir)
        self.task = self.config["task"]
        onnx_spec = self.config["onnx"]
        model_path = self.model_dir / (model_file or onnx_spec["file"])
        if not model_path.is_file():
            raise FileNotFoundError(
                f"{model_path}: the ONNX file named by {self.model_dir / DEPLOY_FILE} is missing"
            )
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.output_names = [node.name for node in self.session.get_outputs()]
        self.preprocessor = Preprocessor(self.config["preprocess"])
        self.postprocess_cfg = dict(self.config["postprocess"])
        self.class_names = self.config.get("classes")
        self.palette = self.config.get("palette")
        static_batch = onnx_spec.get("static_batch")
        self.batch_size = int(static_batch) if static_batch else max(1, int(batch_size))
        self.keep_seg_logits = keep_seg_logits

    # ---- running -----------------------------------------------------------------------------
    def __call__(self, inputs: Iterable[str | os.PathLike | np.ndarray]) -> list[dict[str, Any]]:
        """Predictions for image files, folders or (H, W, 3) BGR uint8 arrays, in input order."""
        items: list[tuple[str | None, np.ndarray | None]] = []
        for item in inputs:
            if isinstance(item, np.ndarray):
                items.append((None, item))
            else:
                items.extend((str(path), None) for path in expand_inputs([item]))
        results: list[dict[str, Any]] = []
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            images = [read_bgr_image(path) if img is None else img for path, img in chunk]
            predicted = self.predict_arrays(images)
            for (path, _), result in zip(chunk, predicted):
                result["img_path"] = path
            results.extend(predicted)
        return results

    def predict_arrays(self, images: Sequence[np.ndarray]) -> list[dict[str, Any]]:
        """Preprocess, run and post-process one batch of (H, W, 3) BGR images."""
        prepared = [self.preprocessor.image(img) for img in images]
        metas = [meta for _, meta in prepared]
        batch = self.preprocessor.batch([tensor for tensor, _ in prepared])
        if self.task == "segmentation" and self.postprocess_cfg.get("mode") == "slide":
            outputs = {"seg_logits": self._slide(batch)}
        else:
            outputs = self.run(batch, metas)
        return [self._postprocess(outputs, index, meta) for index, meta in enumerate(metas)]

    def run(self, batch: np.ndarray, metas: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """The session's outputs, by name, for a preprocessed (B, C, H, W) batch."""
        feeds: dict[str, np.ndarray] = {self.input_names[0]: batch}
        if "img_shape" in self.input_names:
            feeds["img_shape"] = np.array([meta["img_shape"] for meta in metas], dtype=np.float32)
        if "scale_factor" in self.input_names:
            feeds["scale_factor"] = np.array([meta["scale_factor"] for meta in metas], dtype=np.float32)
        return dict(zip(self.output_names, self.session.run(self.output_names, feeds)))

    def _slide(self, batch: np.ndarray) -> np.ndarray:
        """Sliding-window logits (the PyTorch segmentor's ``slide_inference``, window by window)."""
        crop_w, crop_h = self.postprocess_cfg["crop_size"]
        stride_w, stride_h = self.postprocess_cfg["stride"]
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
                window = self.run(np.ascontiguousarray(padded[:, :, y1:y2, x1:x2]), [])["seg_logits"]
                if logits is None:
                    logits = np.zeros((count_b, window.shape[1], pad_h, pad_w), dtype=np.float32)
                logits[:, :, y1:y2, x1:x2] += window
                count[:, :, y1:y2, x1:x2] += 1
        return (logits / count)[:, :, :height, :width]

    # ---- post-processing -----------------------------------------------------------------------
    def _postprocess(
        self, outputs: Mapping[str, np.ndarray], index: int, meta: Mapping[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {
            "ori_shape": meta["ori_shape"],
            "img_shape": meta["img_shape"],
            "scale_factor": meta["scale_factor"],
        }
        if self.task == "classification":
            scores = softmax(outputs["logits"][index])
            result["pred_label"] = {"label": np.array([int(scores.argmax())]), "score": scores}
        elif self.task == "detection":
            result["pred_instances"] = self._detections(outputs, index, meta)
        else:
            logits = outputs["seg_logits"][index]
            img_h, img_w = meta["img_shape"]
            logits = resize_bilinear(
                np.ascontiguousarray(logits[:, :img_h, :img_w]),
                meta["ori_shape"],
                bool(self.postprocess_cfg.get("align_corners", False)),
            )
            result["pred_sem_seg"] = {
                "data": np.ascontiguousarray(logits.transpose(1, 2, 0)).argmax(-1)[None]
            }
            if self.keep_seg_logits:
                result["seg_logits"] = {"data": logits}
        return result

    def _detections(
        self, outputs: Mapping[str, np.ndarray], index: int, meta: Mapping[str, Any]
    ) -> dict[str, Any]:
        dets = outputs["dets"][index]
        labels = outputs["labels"][index]
        keep = labels >= 0
        instances: dict[str, Any] = {
            "bboxes": dets[keep, :4].astype(np.float32),
            "scores": dets[keep, 4].astype(np.float32),
            "labels": labels[keep].astype(np.int64),
        }
        if "masks" in outputs:
            from ..tasks.detection.mask_paste import paste_masks

            instances["masks"] = paste_masks(
                outputs["masks"][index][keep],
                instances["bboxes"],
                tuple(meta["ori_shape"]),
                float(self.postprocess_cfg.get("mask_thr_binary", 0.5)),
            )
        return instances

    # ---- JSON ----------------------------------------------------------------------------------
    def to_records(self, results: Sequence[Mapping[str, Any]], topk: int = 5) -> list[dict[str, Any]]:
        """JSON-ready results, one per image, identical in form to ``Inferencer.to_records``."""
        out = []
        for result in results:
            record: dict[str, Any] = {"img_path": result.get("img_path")}
            if "pred_label" in result:
                record.update(
                    cls_records.classification_record(result["pred_label"]["score"], self.class_names, topk)
                )
            if "pred_instances" in result:
                instances = result["pred_instances"]
                record["detections"] = det_records.detection_records(
                    instances["bboxes"],
                    instances["scores"],
                    instances["labels"],
                    instances.get("masks"),
                    self.class_names,
                )
            if "pred_sem_seg" in result:
                record["classes_present"] = seg_records.seg_class_records(
                    result["pred_sem_seg"]["data"],
                    self.class_names,
                    int(self.postprocess_cfg.get("ignore_index", 255)),
                )
            out.append(record)
        return out
