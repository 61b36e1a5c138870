"""End-to-end OCR: a text detector finds the words' polygons, each polygon is cut out and rectified
(:func:`.crops.crop_polygon`), and a recogniser reads it.

Either model runs on PyTorch (a config and a checkpoint) or on ONNX Runtime (an ``export`` folder); the two
backends give the same results (``export --verify`` checks each model). A result is the detection task's
``pred_instances`` with the recogniser's reading of every region added: ``polygons`` (list of (P, 2) float32 in
original-image pixels), ``scores`` (N,) detection scores, ``texts`` (N strings), ``text_scores`` (N,) (the mean
of the characters' confidences) and ``char_scores`` (N arrays). Regions whose reading is empty are dropped (a
detection the recogniser finds no character in is not a word).

Recognition options: ``lexicon`` (a word-list file) and ``pattern`` (a regular expression) constrain the
recogniser's CTC decoding (:mod:`.constraints`); a model without CTC decoding ignores them with an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import ConfigError
from ...utils.image_io import read_image
from .crops import crop_polygon

__all__ = ["OCRPipeline", "ModelBackend"]


class ModelBackend:
    """One model of the pipeline: ``predict_paths(paths)`` and ``predict_arrays(images)`` give results (the
    task adapter's ``pred_*`` fields as NumPy arrays, see :mod:`visionstack.tasks.adapter`).

    Args:
        predictor: what :func:`visionstack.inference.load_predictor` loads: an ``Inferencer`` (PyTorch: it has
            a ``model``) or an ``OnnxInferencer`` (ONNX Runtime; recognition options are given when loading it).
        options: the recogniser's decoding options (``lexicon``, ``pattern``) for the PyTorch model; None
            values are left out.
    """

    def __init__(self, predictor: Any, options: Mapping[str, Any] | None = None) -> None:
        self.inferencer = predictor
        self.onnx = not hasattr(predictor, "model")
        self.options = {key: value for key, value in (options or {}).items() if value is not None}
        self.task = predictor.adapter.name

    def predict_paths(self, paths: Sequence[str | Path]) -> list[dict[str, Any]]:
        if self.onnx:
            return self.inferencer([str(path) for path in paths])
        samples = self.inferencer([str(path) for path in paths])
        return self.inferencer.to_results(samples)

    def predict_arrays(self, images: Sequence[np.ndarray], batch_size: int = 64) -> list[dict[str, Any]]:
        """Results for (H, W, 3) uint8 BGR arrays (word crops), in order."""
        if self.onnx:
            return self.inferencer(list(images)) if images else []
        import torch

        inferencer = self.inferencer
        results: list[dict[str, Any]] = []
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                batch = []
                for image in images[start : start + batch_size]:
                    item = {"img": image, **self.options}
                    packed = inferencer.pipeline(item)
                    if packed is None:
                        raise ValueError("the recogniser's test pipeline dropped a word crop")
                    batch.append(packed)
                samples = inferencer.model.test_step(inferencer.collate(batch))
                results.extend(inferencer.adapter.to_result(sample) for sample in samples)
        return results


class OCRPipeline:
    """Detection, then recognition of every detected region (see the module docstring).

    Args:
        detector: the text detector (a :class:`ModelBackend` of a ``textdet`` model).
        recognizer: the text recogniser (a :class:`ModelBackend` of a ``textrecog`` model).
        det_score_thr: regions scoring lower are not read.
    """

    def __init__(self, detector: ModelBackend, recognizer: ModelBackend, det_score_thr: float = 0.0) -> None:
        if detector.task != "textdet":
            raise ConfigError(
                f"the detector of the OCR pipeline must be a textdet model, not {detector.task}"
            )
        if recognizer.task != "textrecog":
            raise ConfigError(
                f"the recogniser of the OCR pipeline must be a textrecog model, not {recognizer.task}"
            )
        self.detector = detector
        self.recognizer = recognizer
        self.det_score_thr = float(det_score_thr)

    def __call__(self, paths: Iterable[str | Path]) -> list[dict[str, Any]]:
        paths = [str(path) for path in paths]
        detections = self.detector.predict_paths(paths)
        results = []
        for path, detected in zip(paths, detections):
            image = read_image(path, "color")  # the decoder of LoadImage and of the runtime
            results.append(self.read_regions(image, detected, path))
        return results

    def read_regions(
        self, image: np.ndarray, detected: Mapping[str, Any], path: str | None
    ) -> dict[str, Any]:
        """One image's result from its detection result: every region read."""
        instances = detected.get("pred_instances", {})
        polygons = [np.asarray(p, np.float32).reshape(-1, 2) for p in instances.get("polygons", [])]
        scores = np.asarray(instances.get("scores", np.zeros(len(polygons))), np.float32).reshape(-1)
        keep = [i for i, (poly, score) in enumerate(zip(polygons, scores)) if score >= self.det_score_thr]
        keep = [i for i in keep if len(polygons[i]) >= 3]
        crops = [crop_polygon(image, polygons[i]) for i in keep]
        readings = self.recognizer.predict_arrays(crops)
        kept_polygons, kept_scores, texts, text_scores, char_scores = [], [], [], [], []
        for index, reading in zip(keep, readings):
            text = reading["pred_text"]
            if not str(text["item"]):
                continue
            kept_polygons.append(polygons[index])
            kept_scores.append(scores[index])
            texts.append(str(text["item"]))
            text_scores.append(float(np.asarray(text["score"])))
            char_scores.append(np.asarray(text.get("char_scores", []), np.float32).reshape(-1))
        return {
            "img_path": path,
            "ori_shape": tuple(image.shape[:2]),
            "pred_instances": {
                "polygons": kept_polygons,
                "scores": np.asarray(kept_scores, np.float32),
                "texts": texts,
                "text_scores": np.asarray(text_scores, np.float32),
                "char_scores": char_scores,
            },
        }
