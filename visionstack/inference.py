"""Inference from a config and a checkpoint: images and folders in, DataSamples and JSON out.

The test pipeline of the config (``test_dataloader.dataset.pipeline``, or ``infer_pipeline`` when
the config defines one) turns each file into model inputs exactly as in evaluation, so inference
and ``visionstack test`` see the same preprocessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .data.transforms import Compose
from .deploy.runtime import IMAGE_SUFFIXES, expand_inputs  # noqa: F401  (re-exported)
from .engine.checkpoint import load_checkpoint
from .engine.speed_options import apply_speed_options
from .registry import FUNCTIONS, MODELS, TRANSFORMS, build
from .structures import DataSample
from .tasks.adapter import PredictionContext, TaskAdapter, adapter_for_model, dataset_meta_value

# Transforms of a test pipeline that read annotations, which a bare image file does not have: ``LoadAnnotations``
# and every task's ``Load*Annotations``.
ANNOTATION_LOADERS = ("LoadAnnotations",)


def is_annotation_loader(name: str) -> bool:
    """Whether the transform ``name`` reads annotations (``LoadAnnotations``, ``Load*Annotations``)."""
    return name in ANNOTATION_LOADERS or (name.startswith("Load") and name.endswith("Annotations"))


def transform_name(transform_cfg: Any) -> str:
    kind = transform_cfg.get("type") if isinstance(transform_cfg, Mapping) else type(transform_cfg)
    return kind if isinstance(kind, str) else getattr(kind, "__name__", "")


def inference_pipeline_cfg(cfg: Mapping) -> list:
    """``infer_pipeline`` as given, else the test (or val) pipeline without its annotation loaders."""
    if "infer_pipeline" in cfg:
        return list(cfg["infer_pipeline"])
    for key in ("test_dataloader", "val_dataloader"):
        loader = cfg.get(key)
        if loader and "pipeline" in loader.get("dataset", {}):
            pipeline = loader["dataset"]["pipeline"]
            return [t for t in pipeline if not is_annotation_loader(transform_name(t))]
    raise KeyError(
        "the config has no test_dataloader.dataset.pipeline (or infer_pipeline) to preprocess inputs"
    )


def load_predictor(
    source: str | Path,
    checkpoint: str | Path | None = None,
    device: str = "cpu",
    threads: int | None = None,
    **postprocess_options: Any,
) -> Any:
    """A model to predict with: an :class:`Inferencer` of a config file (with its ``checkpoint``) or an
    :class:`~visionstack.deploy.OnnxInferencer` of an export folder (``postprocess_options`` reach its adapter's
    post-processing). What a task's command receives from the command line to load
    the models it chains, since task modules do not import this layer."""
    source = Path(source)
    if source.is_dir():
        from .deploy import OnnxInferencer

        return OnnxInferencer(source, num_threads=threads, **postprocess_options)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: neither a config file nor an export folder (deploy.json)")
    from .config import Config

    return Inferencer(Config.fromfile(str(source)), checkpoint, device=device)


def _make_inferencer(config: str | Path, checkpoint: str | Path | None, **kwargs: Any) -> Inferencer:
    """An Inferencer of the config file ``config`` (what a task's ``infer_items`` builds a helper model with)."""
    from .config import Config

    return Inferencer(Config.fromfile(str(config)), checkpoint, **kwargs)


class Inferencer:
    """Runs a trained model on image files.

    What the predictions mean (JSON records, tables, pictures) comes from the task adapter of the model
    (``model.task``, see :mod:`visionstack.tasks.adapter`).

    Args:
        cfg: the resolved config (a mapping with ``model`` and a test pipeline).
        checkpoint: a checkpoint written by the Runner (or a plain state dict file); None keeps
            the initial weights.
        device: where the model runs.
        batch_size: images per forward pass.
        keep_logits: keep the task's heavy per-image fields (the adapter's ``heavy_fields``, e.g. a
            segmentor's ``seg_logits``, (C, H, W) float at the original size) in the returned samples. Off by
            default: over a folder they would all be held at once (150 classes of a 512x683 image are 200 MB).
    """

    def __init__(
        self,
        cfg: Mapping,
        checkpoint: str | Path | None,
        device: str = "cpu",
        batch_size: int = 8,
        keep_logits: bool = False,
        task_options: Mapping[str, Any] | None = None,
    ):
        self.model = build(cfg["model"], MODELS).to(device).eval()
        meta = load_checkpoint(self.model, checkpoint, map_location=device) if checkpoint else {}
        apply_speed_options(
            self.model, cfg.get("channels_last", False), cfg.get("compile", False), inference=True
        )
        self.adapter: TaskAdapter = adapter_for_model(self.model)
        self.pipeline = Compose([build(t, TRANSFORMS) for t in inference_pipeline_cfg(cfg)])
        self.collate = FUNCTIONS.get("pseudo_collate")
        self.class_names = dataset_meta_value(cfg, meta or {}, "classes")
        self.palette = dataset_meta_value(cfg, meta or {}, "palette")  # [R, G, B] per class, where given
        self.batch_size = batch_size
        self.keep_logits = keep_logits
        # a task that runs another model first (e.g. a detector that finds the objects to look at) builds it here
        self.task_options = {"make_inferencer": _make_inferencer, **dict(task_options or {})}

    def context(self, **options: Any) -> PredictionContext:
        """The :class:`PredictionContext` of this model (class names, palette) with ``options`` set."""
        return PredictionContext(class_names=self.class_names, palette=self.palette, **options)

    @torch.no_grad()
    def __call__(self, inputs: Iterable[str | Path]) -> list[DataSample]:
        """One DataSample per input file (the adapter merges a file's several samples, e.g. its people)."""
        paths = expand_inputs(inputs, self.adapter.input_suffixes)
        items = [
            (index, item)
            for index, path in enumerate(paths)
            for item in self.adapter.infer_items(path, index, self.task_options)
        ]
        predicted: list[DataSample] = []
        for start in range(0, len(items), self.batch_size):
            batch = []
            for index, item in items[start : start + self.batch_size]:
                packed = self.pipeline(dict(item))
                if packed is None:
                    raise ValueError(f"{paths[index]}: the test pipeline dropped this input")
                batch.append(packed)
            predicted.extend(self.model.test_step(self.collate(batch)))
        if not self.keep_logits:
            for sample in predicted:
                for field in self.adapter.heavy_fields:
                    if field in sample:
                        delattr(sample, field)
        by_file: list[list[DataSample]] = [[] for _ in paths]
        for (index, _), sample in zip(items, predicted):
            by_file[index].append(sample)
        return [self.adapter.merge_predictions(path, group) for path, group in zip(paths, by_file)]

    def to_results(self, samples: Sequence[DataSample]) -> list[dict[str, Any]]:
        """The predictions as results: ``pred_*`` fields as dicts of NumPy arrays (see the adapter)."""
        return [self.adapter.to_result(sample) for sample in samples]

    def to_records(
        self, samples: Sequence[DataSample], topk: int = 5, results: Sequence[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """JSON-ready results, one per image: ``img_path`` and the task's fields (the adapter's
        ``to_record``: e.g. a ranked ``topk`` list for a classifier). Other ``pred_*`` fields of the
        samples are written as plain nested lists. ``results``: the samples' :meth:`to_results`, when the
        caller has them already."""
        context = self.context(topk=topk)
        records = []
        for sample, result in zip(samples, results if results is not None else self.to_results(samples)):
            record: dict[str, Any] = {"img_path": sample.get("img_path")}
            record.update(self.adapter.to_record(result, context))
            for name, value in sample.items():
                if name.startswith("pred_") and name not in self.adapter.prediction_fields:
                    record[name] = value.to_dict() if hasattr(value, "to_dict") else value
            records.append(record)
        return records
