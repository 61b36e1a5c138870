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


def _test_pipeline_cfg(cfg: Mapping) -> list:
    if "infer_pipeline" in cfg:
        return list(cfg["infer_pipeline"])
    for key in ("test_dataloader", "val_dataloader"):
        loader = cfg.get(key)
        if loader and "pipeline" in loader.get("dataset", {}):
            return list(loader["dataset"]["pipeline"])
    raise KeyError("the config has no test_dataloader.dataset.pipeline (or infer_pipeline) to preprocess inputs")


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
        """JSON-ready results; classification predictions get a ranked top-k list."""
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
        for name, value in sample.items():
            if name.startswith("pred_") and name != "pred_label":
                record[name] = value.to_dict() if hasattr(value, "to_dict") else value
        return record
