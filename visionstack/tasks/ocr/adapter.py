"""What the command line, inference, export and the deploy runtime know about OCR: three tasks.

- ``textdet`` (DBNet): a prediction is ``pred_instances`` with ``polygons`` (a list of (P, 2) float32 arrays in
  original-image pixels) and ``scores`` (N,). The exported graph returns the probability map ``prob`` (B, 1, H,
  W); the runtime crops it to the image, post-processes it with the same NumPy code as PyTorch
  (:func:`.postprocess.db_postprocess`) and scales the polygons back.
- ``textrecog`` (CRNN, NRTR): inputs are word crops; a prediction is ``pred_text`` with ``item`` (the text),
  ``score`` (the mean character confidence) and ``char_scores`` (L,). The exported graph returns per-step
  probabilities ``probs`` (B, T, C); the runtime decodes them with the model's own NumPy decoding
  (:mod:`.decoding`), constrained by ``--lexicon``/``--pattern`` when given.
- ``ocr`` (end to end): ``visionstack ocr`` runs a detector and a recogniser (:mod:`.end_to_end`),
  ``visionstack eval ocr`` scores its ``predictions.json``, and ``visionstack data synth ocr`` writes the
  synthetic scene-text set both models train on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import TASKS, ConfigError
from ..adapter import Arrays, Meta, PredictionContext, TaskAdapter, with_result_writer
from .records import ocr_record, textdet_record, textrecog_record

__all__ = ["OCRAdapter", "TextDetAdapter", "TextRecogAdapter"]


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().float().numpy()
    return np.asarray(value)


def _polygons(value: Any) -> list[np.ndarray]:
    return [np.asarray(_numpy(polygon), np.float32).reshape(-1, 2) for polygon in (value or [])]


def _metric_options(cfg: Mapping[str, Any] | None, metric_types: Sequence[str]) -> dict[str, Any]:
    """The arguments of the config's first test metric of one of ``metric_types`` (without ``type``)."""
    if cfg is None:
        return {}
    evaluator = cfg.get("test_evaluator") or cfg.get("val_evaluator") or []
    entries = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("type") in metric_types:
            return {key: value for key, value in entry.items() if key not in ("type", "prefix")}
    return {}


def _synthetic_writer() -> Callable[..., Any]:
    from .synthetic import write_synthetic_ocr

    return write_synthetic_ocr


@TASKS.register(name="textdet")
class TextDetAdapter(TaskAdapter):
    """Text detection: polygons with scores (see the module docstring)."""

    name = "textdet"
    prediction_fields = {"pred_instances": "instances"}
    ground_truth_fields = ("gt_instances",)
    compare_raw_outputs = True
    demo = None
    smoke = {
        "config": "configs/ocr/dbnet_r18-w32_fpnc_synth-ocr.py",
        "synth": {"num_train": 4, "num_val": 2, "num_recog_train": 4, "num_recog_test": 2},
        "set": [
            "train_dataloader.batch_size=2",
            "train_cfg.max_epochs=1",
            "param_scheduler=[]",
            "model.test_cfg.max_candidates=20",  # an untrained map has hundreds of blobs
        ],
        "gt": "Challenge4_Test_Task1_GT",
        "inputs": "ch4_test_images/*.jpg",
    }

    # ---- predictions as results ------------------------------------------------------------------------
    def to_result(self, sample: Any) -> dict[str, Any]:
        result: dict[str, Any] = {
            key: sample.metainfo.get(key) for key in ("img_path", "ori_shape", "img_shape")
        }
        if "pred_instances" in sample:
            instances = sample.pred_instances
            result["pred_instances"] = self._instances(instances)
        return result

    def _instances(self, instances: Any) -> dict[str, Any]:
        polygons = _polygons(instances.get("polygons", []))
        scores = _numpy(instances.get("scores", np.ones(len(polygons)))).astype(np.float32).reshape(-1)
        return {"polygons": polygons, "scores": scores}

    def from_result(self, sample: Any, result: Mapping[str, Any]) -> Any:
        import torch

        from ...structures import InstanceData

        if "pred_instances" in result:
            instances = result["pred_instances"]
            fields: dict[str, Any] = {
                "polygons": _polygons(instances.get("polygons", [])),
                "scores": torch.as_tensor(np.asarray(instances.get("scores", []), np.float32)),
            }
            for key in ("texts", "char_scores"):
                if key in instances:
                    fields[key] = list(instances[key])
            if "text_scores" in instances:
                fields["text_scores"] = torch.as_tensor(np.asarray(instances["text_scores"], np.float32))
            sample.pred_instances = InstanceData(**fields)
        return sample

    # ---- JSON, console, pictures -------------------------------------------------------------------------
    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        return textdet_record(result.get("pred_instances", {}))

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["regions", "scores"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        instances = record.get("instances", [])
        return [str(len(instances)), " ".join(f"{item['score']:.2f}" for item in instances[:12])]

    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        from .drawing import draw_text_polygons

        instances = result.get("pred_instances", {})
        return draw_text_polygons(image, _polygons(instances.get("polygons")), instances.get("scores"))

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        """The text regions with their transcriptions; ignored (``###``) regions are drawn as such."""
        from .drawing import draw_text_polygons

        instances = sample.gt_instances
        texts = list(instances.get("texts", []))
        ignored = _numpy(instances.get("ignored", np.zeros(len(texts), bool))).astype(bool)
        texts = ["###" if flag else text for text, flag in zip(texts, ignored)]
        return draw_text_polygons(image, _polygons(instances.get("polygons")), texts=texts)

    # ---- data and evaluation ---------------------------------------------------------------------------
    def synthetic_writer(self) -> Callable[..., Any]:
        """Scene-text images in the ICDAR 2015 layout (with Total-Text polygons) and word crops with
        ``image text`` lists (``num_train``, ``num_val``, ``num_recog_train``, ``num_recog_test``, ...)."""
        return _synthetic_writer()

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Adds a :class:`~.results.TextDetResultWriter`: ``out_dir/name.json``, every test image's polygons."""
        out_file = Path(out_dir) / f"{name}.json"
        writer = {"type": "TextDetResultWriter", "out_file": str(out_file)}
        return with_result_writer(evaluator_cfg, writer), [(out_file, "per-image polygons and scores")]

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: an ICDAR 2015 or Total-Text ground-truth folder or an MMOCR JSON; ``pred``: the result JSON
        of ``test --out-format``; the config's ``HmeanIOUMetric`` arguments apply."""
        from .results import evaluate_textdet_files

        return evaluate_textdet_files(gt, pred, **_metric_options(cfg, ("HmeanIOUMetric",)))

    # ---- export ------------------------------------------------------------------------------------------
    def pads_to_static_size(self) -> bool:
        return True

    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        """The post-processor's arguments (the model's ``test_cfg``)."""
        return dict(model.test_cfg)

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        """The eager model's post-processing: the map cropped to the image, polygons divided by the scale."""
        from .postprocess import db_postprocess

        prob = np.asarray(outputs["prob_map"], np.float32)
        prob = prob.reshape(prob.shape[-2:])
        height, width = (int(v) for v in meta["img_shape"][:2])
        scale = tuple(float(v) for v in meta.get("scale_factor", (1.0, 1.0))[:2])
        polygons, scores = db_postprocess(prob[:height, :width], scale=scale, **spec)
        return {"pred_instances": {"polygons": _polygons(polygons), "scores": np.asarray(scores, np.float32)}}

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        """Region counts, and per eager region the runtime's best IoU and the score difference."""
        from .polygons import polygon_iou

        expected = self._instances(reference.pred_instances)
        got = result["pred_instances"]
        ious, score_diffs = [], []
        for polygon, score in zip(expected["polygons"], expected["scores"]):
            pairs = [(polygon_iou(polygon, other), s) for other, s in zip(got["polygons"], got["scores"])]
            best = max(pairs, default=(0.0, 0.0), key=lambda pair: pair[0])
            ious.append(best[0])
            score_diffs.append(abs(float(best[1]) - float(score)))
        return {
            "count_mismatch": int(len(expected["polygons"]) != len(got["polygons"])),
            "min_polygon_iou": float(min(ious, default=1.0)),
            "max_score_diff": float(max(score_diffs, default=0.0)),
        }


@TASKS.register(name="textrecog")
class TextRecogAdapter(TaskAdapter):
    """Text recognition of word crops (see the module docstring)."""

    name = "textrecog"
    prediction_fields = {"pred_text": "label"}
    fixed_input_size = True  # the crops' height is fixed by the network (its features end one row high)
    ground_truth_fields = ("gt_text",)
    compare_raw_outputs = True
    demo = None
    smoke = {
        "config": "configs/ocr/crnn_mini-vgg-w32_synth-ocr.py",
        "synth": {"num_train": 2, "num_val": 1, "num_recog_train": 8, "num_recog_test": 4},
        "set": ["train_dataloader.batch_size=4", "train_cfg.max_epochs=1", "param_scheduler=[]"],
        "gt": "textrecog/test_list.txt",
        "inputs": "textrecog/test/*.png",
    }
    infer_options = (
        (
            "--lexicon",
            {"metavar": "FILE", "help": "textrecog/ocr: read only words of this list (one word per line)"},
        ),
        (
            "--pattern",
            {"metavar": "REGEX", "help": "textrecog/ocr: read only texts that match this regular expression"},
        ),
    )

    def infer_items(self, path: Path, index: int, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"img_path": str(path), "sample_idx": index}
        for key in ("lexicon", "pattern"):
            if options.get(key):
                item[key] = options[key]
        return [item]

    # ---- predictions as results ----------------------------------------------------------------------
    def to_result(self, sample: Any) -> dict[str, Any]:
        result: dict[str, Any] = {
            key: sample.metainfo.get(key) for key in ("img_path", "ori_shape", "img_shape")
        }
        if "pred_text" in sample:
            text = sample.pred_text
            result["pred_text"] = {
                "item": str(text.item),
                "score": np.float32(_numpy(text.get("score", 0.0)).reshape(())),
                "char_scores": _numpy(text.get("char_scores", np.zeros(0))).astype(np.float32).reshape(-1),
            }
        return result

    def from_result(self, sample: Any, result: Mapping[str, Any]) -> Any:
        import torch

        from ...structures import LabelData

        if "pred_text" in result:
            text = result["pred_text"]
            sample.pred_text = LabelData(
                item=str(text["item"]),
                score=torch.as_tensor(np.float32(np.asarray(text.get("score", 0.0)))),
                char_scores=torch.as_tensor(np.asarray(text.get("char_scores", []), np.float32)),
            )
        return sample

    # ---- JSON, console, pictures -----------------------------------------------------------------------
    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        return textrecog_record(result["pred_text"])

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["text", "score"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        return [record["text"], f"{record['score']:.3f}"]

    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        from .drawing import draw_recognition

        text = result["pred_text"]
        return draw_recognition(image, str(text["item"]), float(np.asarray(text.get("score", 0.0))))

    def draw_ground_truth(self, image: np.ndarray, sample: Any, context: PredictionContext) -> np.ndarray:
        from .drawing import draw_recognition

        return draw_recognition(image, str(sample.gt_text.item), 1.0)

    # ---- data and evaluation ---------------------------------------------------------------------------
    def synthetic_writer(self) -> Callable[..., Any]:
        """The OCR synthetic set (its word crops and ``image text`` lists are under ``textrecog/``)."""
        return _synthetic_writer()

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Adds a :class:`~.results.TextRecogResultWriter`: ``out_dir/name.json``, every crop's reading."""
        out_file = Path(out_dir) / f"{name}.json"
        writer = {"type": "TextRecogResultWriter", "out_file": str(out_file)}
        return with_result_writer(evaluator_cfg, writer), [(out_file, "per-crop texts and confidences")]

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: an ``image text`` list file (or MMOCR JSON); ``pred``: the result JSON of ``test
        --out-format``; word accuracy, character precision/recall and 1-N.E.D as ``test`` computes them."""
        from .results import evaluate_textrecog_files

        return evaluate_textrecog_files(gt, pred)

    # ---- export --------------------------------------------------------------------------------------------
    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        """The dictionary and the decoding of the model (what the runtime decodes ``probs`` with)."""
        return dict(model.decoding_spec())

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        from .decoding import cached_constraint, decode_probs

        lexicon, pattern = options.get("lexicon"), options.get("pattern")
        if lexicon is None and pattern is None:  # the model's test_cfg constraint, as the PyTorch model
            lexicon, pattern = spec.get("lexicon"), spec.get("pattern")
        constraint = cached_constraint(lexicon, pattern, spec.get("ignore_case", True))
        text, score, char_scores = decode_probs(np.asarray(outputs["probs"], np.float32), spec, constraint)
        return {
            "pred_text": {
                "item": text,
                "score": np.float32(score),
                "char_scores": np.asarray(char_scores, np.float32).reshape(-1),
            }
        }

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        expected = reference.pred_text
        got = result["pred_text"]
        return {
            "text_mismatch": int(str(expected.item) != str(got["item"])),
            "max_score_diff": float(abs(float(_numpy(expected.get("score", 0.0))) - float(got["score"]))),
        }


@TASKS.register(name="ocr")
class OCRAdapter(TextDetAdapter):
    """End-to-end OCR (``visionstack ocr``, ``eval ocr``, ``data synth ocr``): the detection task's regions
    with the recogniser's ``texts``, ``text_scores`` and ``char_scores``. No single model has this task: the
    pipeline of :mod:`.end_to_end` produces its results."""

    name = "ocr"
    smoke = None
    commands = {"ocr": "visionstack.tasks.ocr.command:add_ocr_command"}

    def _instances(self, instances: Any) -> dict[str, Any]:
        result = super()._instances(instances)
        result["texts"] = [str(text) for text in instances.get("texts", [])]
        result["text_scores"] = _numpy(instances.get("text_scores", np.zeros(len(result["texts"])))).reshape(
            -1
        )
        return result

    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        return ocr_record(result)

    def table_columns(self, context: PredictionContext) -> list[str]:
        return ["words", "texts"]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        instances = record.get("instances", [])
        return [str(len(instances)), " ".join(item.get("text", "") for item in instances)]

    def draw(self, image: np.ndarray, result: Mapping[str, Any], context: PredictionContext) -> np.ndarray:
        from .drawing import draw_ocr_side_by_side

        instances = result.get("pred_instances", {})
        return draw_ocr_side_by_side(
            image, _polygons(instances.get("polygons")), list(instances.get("texts", []))
        )

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        raise ConfigError(
            "the ocr task has no single model to test: run `visionstack ocr --out-dir D` and score "
            "D/predictions.json with `visionstack eval ocr`"
        )

    def evaluate(self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``gt``: an ICDAR 2015 or Total-Text ground-truth folder or an MMOCR JSON; ``pred``: the
        ``predictions.json`` of ``visionstack ocr``; detection hmean and end-to-end precision, recall and F1."""
        from .results import evaluate_ocr_files

        return evaluate_ocr_files(
            gt, pred, **_metric_options(cfg, ("E2EHmeanIOUMetric", "OCREndToEndMetric"))
        )
