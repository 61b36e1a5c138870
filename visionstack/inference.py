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
        if "pred_sem_seg" in sample:
            record["classes_present"] = seg_class_records(sample.pred_sem_seg.data, self.class_names)
        for name, value in sample.items():
            if name.startswith("pred_") and name not in ("pred_label", "pred_instances", "pred_sem_seg"):
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


def seg_class_records(
    seg_map: torch.Tensor, class_names: Sequence[str] | None = None, ignore_index: int = 255
) -> list[dict[str, Any]]:
    """The classes of one predicted segmentation map, largest area first.

    Args:
        seg_map: (1, H, W) or (H, W) class indices (``pred_sem_seg.data``, original image size).
        class_names: names by label; None writes the label as a string.
        ignore_index: a label that is not a class (not listed).

    Returns:
        ``{"label", "class", "pixels", "fraction"}`` per class present; ``fraction`` is the share of
        all H x W pixels. Ties in size keep the label order.
    """
    labels = torch.as_tensor(seg_map).detach().cpu().long().reshape(-1)
    total = labels.numel()
    labels = labels[(labels != ignore_index) & (labels >= 0)]
    counts = torch.bincount(labels) if labels.numel() else torch.zeros(0, dtype=torch.long)
    present = counts.nonzero().flatten()
    order = torch.argsort(counts[present], descending=True, stable=True)
    records = []
    for label in present[order].tolist():
        named = class_names is not None and label < len(class_names)
        records.append(
            {
                "label": label,
                "class": str(class_names[label]) if named else str(label),
                "pixels": int(counts[label]),
                "fraction": int(counts[label]) / total,
            }
        )
    return records
