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
from .engine.checkpoint import load_checkpoint
from .registry import DATASETS, FUNCTIONS, MODELS, TRANSFORMS, build
from .structures import DataSample

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
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


def _class_names(cfg: Mapping, meta: Mapping) -> Sequence[str] | None:
    dataset_meta = meta.get("dataset_meta") or {}
    if dataset_meta.get("classes"):
        return list(dataset_meta["classes"])
    for key in ("test_dataloader", "val_dataloader", "train_dataloader"):
        dataset_cfg = (cfg.get(key) or {}).get("dataset") or {}
        metainfo = dataset_cfg.get("metainfo") or {}
        if metainfo.get("classes"):
            return list(metainfo["classes"])
        dataset_type = dataset_cfg.get("type")
        if isinstance(dataset_type, str) and dataset_type in DATASETS:
            classes = getattr(DATASETS.get(dataset_type), "METAINFO", {}).get("classes")
            if classes:
                return list(classes)
    return None


class Inferencer:
    """Runs a trained model on image files.

    Args:
        cfg: the resolved config (a mapping with ``model`` and a test pipeline).
        checkpoint: a checkpoint written by the Runner (or a plain state dict file); None keeps
            the initial weights.
        device: where the model runs.
        batch_size: images per forward pass.
    """

    def __init__(self, cfg: Mapping, checkpoint: str | Path | None, device: str = "cpu", batch_size: int = 8):
        self.model = build(cfg["model"], MODELS).to(device).eval()
        meta = load_checkpoint(self.model, checkpoint, map_location=device) if checkpoint else {}
        self.pipeline = Compose([build(t, TRANSFORMS) for t in _test_pipeline_cfg(cfg)])
        self.collate = FUNCTIONS.get("pseudo_collate")
        self.class_names = _class_names(cfg, meta or {})
        self.batch_size = batch_size

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
            samples.extend(self.model.test_step(self.collate(items)))
        return samples

    def to_records(self, samples: Sequence[DataSample], topk: int = 5) -> list[dict[str, Any]]:
        """JSON-ready results, one per image.

        Classification predictions get a ranked ``topk`` list and ``pred_label``/``pred_class``/
        ``pred_score``; detection predictions a ``detections`` list (see :func:`detection_records`).
        Other ``pred_*`` fields are written as plain nested lists.
        """
        return [self._record(sample, topk) for sample in samples]

    def _record(self, sample: DataSample, topk: int) -> dict[str, Any]:
        record: dict[str, Any] = {"img_path": sample.get("img_path")}
        if "pred_label" in sample:
            scores = sample.pred_label.score.float().cpu()
            values, indices = scores.topk(min(topk, scores.numel()))
            record["topk"] = [
                {
                    "label": int(i),
                    "class": self.class_names[int(i)] if self.class_names else str(int(i)),
                    "score": float(v),
                }
                for v, i in zip(values, indices)
            ]
            record["pred_label"] = record["topk"][0]["label"]
            record["pred_class"] = record["topk"][0]["class"]
            record["pred_score"] = record["topk"][0]["score"]
        if "pred_instances" in sample:
            record["detections"] = detection_records(sample.pred_instances, self.class_names)
        for name, value in sample.items():
            if name.startswith("pred_") and name not in ("pred_label", "pred_instances"):
                record[name] = value.to_dict() if hasattr(value, "to_dict") else value
        return record


def detection_records(instances: Any, class_names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One image's detections as JSON-ready dicts, best score first.

    Args:
        instances: ``pred_instances``: ``bboxes`` (N, 4) xyxy in original-image pixels, ``scores``
            (N,), ``labels`` (N,) and optionally ``masks`` (N, H, W) bool at the original size.
        class_names: names by label; None writes the label as a string.

    Returns:
        N dicts ``{"bbox": [x1, y1, x2, y2], "score", "label", "class"}``, plus ``"mask"``: a COCO
        compressed RLE ``{"size": [H, W], "counts": str}`` when the instances have masks.
    """
    from .tasks.detection.metrics.coco_format import encode_mask_rle

    bboxes = torch.as_tensor(instances.bboxes).detach().cpu().double().reshape(-1, 4)
    scores = torch.as_tensor(instances.scores).detach().cpu().double().reshape(-1)
    labels = torch.as_tensor(instances.labels).detach().cpu().long().reshape(-1)
    masks = instances.get("masks")
    rles = encode_mask_rle(masks) if masks is not None else None
    records = []
    for index in torch.argsort(scores, descending=True, stable=True).tolist():
        label = int(labels[index])
        named = class_names is not None and 0 <= label < len(class_names)
        record = {
            "bbox": [float(v) for v in bboxes[index]],
            "score": float(scores[index]),
            "label": label,
            "class": str(class_names[label]) if named else str(label),
        }
        if rles is not None:
            record["mask"] = rles[index]
        records.append(record)
    return records
