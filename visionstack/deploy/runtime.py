"""The ONNX Runtime inferencer: ``deploy.json`` + ``model.onnx`` in, predictions out (no PyTorch).

It preprocesses like the PyTorch path (:mod:`visionstack.deploy.preprocess`), runs the session and
post-processes with the task adapter named by ``deploy.json`` (:mod:`visionstack.tasks.adapter`) into the
results ``visionstack infer`` writes (the task's prediction fields as dicts of NumPy arrays);
:meth:`OnnxInferencer.to_records` writes the same JSON as the PyTorch inferencer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..registry import TASKS
from ..tasks.adapter import PredictionContext, TaskAdapter, get_adapter
from ..utils.image_io import IMAGE_SUFFIXES
from ..utils.numpy_ops import resize_bilinear, softmax
from .preprocess import Preprocessor

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


def expand_inputs(inputs: Iterable[str | os.PathLike], suffixes: Sequence[str] | None = None) -> list[Path]:
    """Files as given, folders expanded to their files with ``suffixes`` (default: images; sorted, recursive)."""
    suffixes = tuple(suffixes or IMAGE_SUFFIXES)
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes)
            if not found:
                raise FileNotFoundError(f"{path}: folder holds no input file ({', '.join(suffixes)})")
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
        raise ValueError(f"{path}: task must be one of {tuple(TASKS.keys())}, got {config['task']!r}")
    return config


class OnnxInferencer:
    """Runs an exported model with ONNX Runtime on image files or arrays.

    Args:
        model_dir: a folder written by ``visionstack export`` (``deploy.json`` + the ONNX file).
        model_file: another ONNX file of the same graph (e.g. the INT8 one) instead of the default.
        num_threads: intra-op threads of the session (None: ONNX Runtime's default).
        batch_size: images per session run; a static export takes its own batch size.
        **postprocess_options: options of the task adapter's ``runtime_postprocess`` (e.g. a segmentor's
            ``keep_seg_logits``: keep the (C, H, W) logits at the original size).
    """

    def __init__(
        self,
        model_dir: str | os.PathLike,
        model_file: str | None = None,
        num_threads: int | None = None,
        batch_size: int = 1,
        **postprocess_options: Any,
    ) -> None:
        import onnxruntime as ort

        self.model_dir = Path(model_dir)
        self.config = load_deploy_config(model_dir)
        self.task = self.config["task"]
        self.adapter: TaskAdapter = get_adapter(self.task)
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
        # the task's own preprocessing when its inputs are not images (the adapter's runtime_preprocessor)
        self.preprocessor = self.adapter.runtime_preprocessor(self.config["preprocess"]) or Preprocessor(
            self.config["preprocess"]
        )
        self.postprocess_cfg = dict(self.config["postprocess"])
        self.class_names = self.config.get("classes")
        self.palette = self.config.get("palette")
        static_batch = onnx_spec.get("static_batch")
        self.batch_size = int(static_batch) if static_batch else max(1, int(batch_size))
        self.postprocess_options = postprocess_options

    # ---- running -----------------------------------------------------------------------------
    def __call__(self, inputs: Iterable[str | os.PathLike | np.ndarray]) -> list[dict[str, Any]]:
        """Predictions for image files, folders or (H, W, 3) BGR uint8 arrays (or the task's input files), in
        input order."""
        items: list[tuple[str | None, np.ndarray | None]] = []
        for item in inputs:
            if isinstance(item, np.ndarray):
                items.append((None, item))
            else:
                items.extend((str(path), None) for path in expand_inputs([item], self.adapter.input_suffixes))
        results: list[dict[str, Any]] = []
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            images = [self.preprocessor.read(path) if img is None else img for path, img in chunk]
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
        outputs = self.adapter.runtime_forward(
            self.run, batch, metas, self.postprocess_cfg, **self.postprocess_options
        )
        return [self._postprocess(outputs, index, meta) for index, meta in enumerate(metas)]

    def run(self, batch: np.ndarray, metas: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """The session's outputs, by name, for a preprocessed (B, C, H, W) batch."""
        feeds: dict[str, np.ndarray] = {self.input_names[0]: batch}
        for name in self.input_names[
            1:
        ]:  # per-image metainfo the graph takes (the adapter's export_meta_inputs)
            feeds[name] = np.array([meta[name] for meta in metas], dtype=np.float32)
        return dict(zip(self.output_names, self.session.run(self.output_names, feeds)))

    # ---- post-processing -----------------------------------------------------------------------
    def _postprocess(
        self, outputs: Mapping[str, np.ndarray], index: int, meta: Mapping[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {
            "ori_shape": meta["ori_shape"],
            "img_shape": meta["img_shape"],
            "scale_factor": meta["scale_factor"],
        }
        outputs = {name: value[index] for name, value in outputs.items()}  # this image's outputs
        result.update(
            self.adapter.runtime_postprocess(outputs, meta, self.postprocess_cfg, **self.postprocess_options)
        )
        return result

    # ---- JSON ----------------------------------------------------------------------------------
    def context(self, **options: Any) -> PredictionContext:
        """The :class:`PredictionContext` of the exported model (class names, palette, ignore index)."""
        ignore_index = int(self.postprocess_cfg.get("ignore_index", 255))
        return PredictionContext(
            class_names=self.class_names, palette=self.palette, ignore_index=ignore_index, **options
        )

    def to_records(self, results: Sequence[Mapping[str, Any]], topk: int = 5) -> list[dict[str, Any]]:
        """JSON-ready results, one per image, identical in form to ``Inferencer.to_records``."""
        context = self.context(topk=topk)
        return [
            {"img_path": result.get("img_path"), **self.adapter.to_record(result, context)}
            for result in results
        ]
