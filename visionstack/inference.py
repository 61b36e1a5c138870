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
from .tasks.classification import records as cls_records
from .tasks.detection import records as det_records
from .tasks.segmentation import records as seg_records
from .deploy.runtime import IMAGE_SUFFIXES, expand_inputs  # noqa: F401  (re-exported)
from .engine.checkpoint import load_checkpoint
from .registry import DATASETS, FUNCTIONS, MODELS, TRANSFORMS, build
from .structures import DataSample

# Transforms of a test pipeline that read annotations, which a bare image file does not have.
ANNOTATION_LOADERS = ("LoadAnnotations",)


def _transform_name(transform_cfg: Any) -> str:
    kind = transform_cfg.get("type") if isinstance(transform_cfg, Mapping) else type(transform_cfg)
    return kind if isinstance(kind, str) else getattr(kind, "__name__", "")


def _test_pipeline_cfg(cfg: Mapping) -> list:
    """``infer_pipeline`` as given, else the test (or val) pipeline without its annotation loaders."""
    if "infer_pipeline" in cfg:
        return list(cfg["infer_pipeline"])
    for key in ("test_dataloader", "val_dataloader"):
        loader = cfg.get(key)
        if loader and "pipeline" in loader.get("dataset", {}):
            pipeline = loader["dataset"]["pipeline"]
            return [t for t in pipeline if _transform_name(t) not in ANNOTATION_LOADERS]
    raise KeyError(
        "the config has no test_dataloader.dataset.pipeline (or infer_pipeline) to preprocess inputs"
    )


def _dataset_meta_value(cfg: Mapping, meta: Mapping, key: str) -> list | None:
    """``key`` (``classes``, ``palette``) of the dataset metainfo: from the checkpoint's
    ``dataset_meta``, else a dataloader's ``dataset.metainfo``, else the dataset class's ``METAINFO``."""
    dataset_meta = meta.get("dataset_meta") or {}
    if dataset_meta.get(key):
        return list(dataset_meta[key])
    for loader_key in ("test_dataloader", "val_dataloader", "train_dataloader"):
        dataset_cfg = (cfg.get(loader_key) or {}).get("dataset") or {}
        metainfo = dataset_cfg.get("metainfo") or {}
        if metainfo.get(key):
            return list(metainfo[key])
        dataset_type = dataset_cfg.get("type")
        if isinstance(dataset_type, str) and dataset_type in DATASETS:
            value = getattr(DATASETS.get(dataset_type), "METAINFO", {}).get(key)
            if value:
                return list(value)
    return None


def _class_names(cfg: Mapping, meta: Mapping) -> Sequence[str] | None:
    return _dataset_meta_value(cfg, meta, "classes")


class Inferencer:
    """Runs a trained model on image files.

    Args:
        cfg: the resolved config (a mapping with ``model`` and a test pipeline).
        checkpoint: a checkpoint written by the Runner (or a plain state dict file); None keeps
            the initial weights.
        device: where the model runs.
        batch_size: images per forward pass.
        keep_seg_logits: keep the segmentor's ``seg_logits`` ((C, H, W) float at the original size)
            in the returned samples. Off by default: over a folder they would all be held at once
            (150 classes of a 512x683 image are 200 MB); ``pred_sem_seg`` is kept either way.
    """

    def __init__(
        self,
        cfg: Mapping,
        checkpoint: str | Path | None,
        device: str = "cpu",
        batch_size: int = 8,
        keep_seg_logits: bool = False,
    ):
        self.model = build(cfg["model"], MODELS).to(device).eval()
        meta = load_checkpoint(self.model, checkpoint, map_location=device) if checkpoint else {}
        self.pipeline = Compose([build(t, TRANSFORMS) for t in _test_pipeline_cfg(cfg)])
        self.collate = FUNCTIONS.get("pseudo_collate")
        self.class_names = _class_names(cfg, meta or {})
        self.palette = _dataset_meta_value(cfg, meta or {}, "palette")  # [R, G, B] per class (segmentation)
        self.batch_size = batch_size
        self.keep_seg_logits = keep_seg_logits

    @torch.no_grad()
    def __call__(self, inputs: Iterable[str | Path]) -> list[DataSample]:
        paths = expand_inputs(inputs)
        samples: list[DataSample] = []
        for start in range(0, len(paths), self.batch_size):
            items = []
            for path in paths[start : start + self.batch_size]:
                packed = self.pipeline({"img_path": str(path), "sample_idx": start + len(items)})
                if packed is None:
                    raise ValueError(f"{path}: the test pipeline dropped this image")
                items.append(packed)
            predicted = self.model.test_step(self.collate(items))
            if not self.keep_seg_logits:
                for sample in predicted:
                    if "seg_logits" in sample:
                        del sample.seg_logits
            samples.extend(predicted)
        return samples

    def to_records(self, samples: Sequence[DataSample], topk: int = 5) -> list[dict[str, Any]]:
        """JSON-ready results, one per image.

        Classification predictions get a ranked ``topk`` list and ``pred_label``/``pred_class``/
        ``pred_score``; detection predictions a ``detections`` list (see :func:`detection_records`);
        semantic segmentation predictions a ``classes_present`` list (see :func:`seg_class_records`;
        the map itself goes to a PNG, not to JSON). Other ``pred_*`` fields are written as plain
        nested lists.
        """
        return [self._record(sample, topk) for sample in samples]

    def _record(self, sample: DataSample, topk: int) -> dict[str, Any]:
        record: dict[str, Any] = {"img_path": sample.get("img_path")}
        if "pred_label" in sample:
            record.update(
                cls_records.classification_record(_numpy(sample.pred_label.score), self.class_names, topk)
            )
        if "pred_instances" in sample:
            record["detections"] = detection_records(sample.pred_instances, self.class_names)
        if "pred_sem_seg" in sample:
            record["classes_present"] = seg_class_records(sample.pred_sem_seg.data, self.class_names)
        for name, value in sample.items():
            if name.startswith("pred_") and name not in ("pred_label", "pred_instances", "pred_sem_seg"):
                record[name] = value.to_dict() if hasattr(value, "to_dict") else value
        return record


def detection_records(instances: Any, class_names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One image's ``pred_instances`` (``bboxes``, ``scores``, ``labels``, optional ``masks``) as
    JSON-ready dicts, best score first (see :func:`visionstack.deploy.records.detection_records`)."""
    masks = instances.get("masks")
    return det_records.detection_records(
        _numpy(instances.bboxes),
        _numpy(instances.scores),
        _numpy(instances.labels),
        None if masks is None else _numpy(masks),
        class_names,
    )


def seg_class_records(
    seg_map: torch.Tensor, class_names: Sequence[str] | None = None, ignore_index: int = 255
) -> list[dict[str, Any]]:
    """The classes of one predicted map, largest first (see :func:`visionstack.deploy.records.seg_class_records`)."""
    return seg_records.seg_class_records(_numpy(seg_map), class_names, ignore_index)


def _numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.float().numpy() if value.dtype == torch.bfloat16 else value.numpy()
    return value.to_ndarray() if hasattr(value, "to_ndarray") else value
