"""Conversion between visionstack detections and the COCO json formats (results and datasets).

A detection sample (a ``DataSample`` or the plain dict its ``to_dict()`` writes) carries
``img_id`` and ``ori_shape`` (h, w) metainfo and ``pred_instances`` with ``bboxes`` (N, 4) xyxy in
absolute pixels of the original image, ``scores`` (N,), ``labels`` (N,) contiguous 0..C-1 and,
for instance segmentation, ``masks`` (N, H, W) bool. COCO wants boxes as ``[x, y, w, h]``,
``category_id`` from the dataset's own ids, and masks as run-length encodings (RLE) whose
``counts`` is a str so that the json module can write it.

The functions here turn samples into small picklable records (what a metric keeps and gathers
across ranks), records into COCO result lists, ground-truth records into a COCO dataset dict, and
write result files that ``COCO.loadRes`` reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_utils

__all__ = [
    "encode_mask_rle",
    "xyxy_to_xywh",
    "read_predictions",
    "read_ground_truth",
    "predictions_to_coco",
    "ground_truth_to_coco",
    "dump_coco_results",
]


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if hasattr(value, "to_ndarray"):  # bitmap/polygon mask containers
        return np.asarray(value.to_ndarray())
    return np.asarray(value)


def encode_mask_rle(masks: Any) -> list[dict]:
    """Run-length encode binary masks the way COCO stores them.

    Args:
        masks: (N, H, W) bool/uint8 tensor or ndarray (nonzero = inside).

    Returns:
        N dicts ``{"size": [H, W], "counts": str}`` (compressed RLE, counts decoded to ASCII).
    """
    from ..records import encode_mask_rle as encode_numpy

    return encode_numpy(_to_numpy(masks))


def xyxy_to_xywh(bboxes: np.ndarray) -> np.ndarray:
    """(N, 4) ``x1, y1, x2, y2`` -> (N, 4) ``x, y, w, h`` (float64, absolute pixels)."""
    boxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def _sample_img_id(sample: Any) -> Any:
    img_id = sample.get("img_id")
    return img_id.item() if isinstance(img_id, (torch.Tensor, np.generic)) else img_id


def _instances(sample: Any, name: str, index: int, owner: str) -> Any:
    instances = sample.get(name)
    if instances is None:
        raise KeyError(
            f"{owner}: data_samples[{index}] has no {name}; the metric expects DataSamples from "
            "a detector's val_step (pred_instances) and the dataset's annotations (gt_instances)"
        )
    return instances


def _boxes_labels(instances: Any, name: str, index: int, owner: str) -> tuple[np.ndarray, np.ndarray]:
    bboxes, labels = instances.get("bboxes"), instances.get("labels")
    if bboxes is None or labels is None:
        raise KeyError(f"{owner}: data_samples[{index}].{name} needs `bboxes` (N, 4) xyxy and `labels` (N,)")
    boxes = _to_numpy(bboxes).astype(np.float64).reshape(-1, 4)
    return boxes, _to_numpy(labels).astype(np.int64).reshape(-1)


def read_predictions(sample: Any, index: int, owner: str = "CocoMetric") -> dict[str, Any]:
    """One sample's predictions as a small picklable record.

    Returns:
        ``{"img_id", "ori_shape", "bboxes": (N, 4) float64 xyxy, "scores": (N,) float64,
        "labels": (N,) int64, "masks": list of N RLE dicts or None}``.
    """
    pred = _instances(sample, "pred_instances", index, owner)
    bboxes, labels = _boxes_labels(pred, "pred_instances", index, owner)
    scores = pred.get("scores")
    if scores is None:
        raise KeyError(f"{owner}: data_samples[{index}].pred_instances has no `scores` (N,)")
    masks = pred.get("masks")
    shape = sample.get("ori_shape")
    return {
        "img_id": _sample_img_id(sample),
        "ori_shape": None if shape is None else tuple(int(v) for v in shape),
        "bboxes": bboxes,
        "scores": _to_numpy(scores).astype(np.float64).reshape(-1),
        "labels": labels,
        "masks": None if masks is None else encode_mask_rle(masks),
    }


def read_ground_truth(sample: Any, index: int, owner: str = "CocoMetric") -> dict[str, Any]:
    """One sample's annotations (``gt_instances`` + ``ignored_instances`` as crowd) as a record.

    Returns:
        ``{"img_id", "height", "width", "anns": [{"bbox_label", "bbox": xyxy list, "iscrowd",
        "mask": RLE dict (optional)}]}``.
    """
    shape = sample.get("ori_shape")
    if shape is None:
        raise KeyError(f"{owner}: data_samples[{index}] has no ori_shape metainfo (h, w)")
    anns: list[dict] = []
    for name, crowd in (("gt_instances", 0), ("ignored_instances", 1)):
        instances = sample.get(name) if crowd else _instances(sample, name, index, owner)
        if instances is None or len(instances.get("bboxes", ())) == 0:
            continue
        bboxes, labels = _boxes_labels(instances, name, index, owner)
        masks = instances.get("masks")
        rles = encode_mask_rle(masks) if masks is not None else [None] * len(bboxes)
        for box, label, rle in zip(bboxes, labels, rles):
            ann = {"bbox_label": int(label), "bbox": box.tolist(), "iscrowd": crowd}
            if rle is not None:
                ann["mask"] = rle
            anns.append(ann)
    return {"img_id": _sample_img_id(sample), "height": int(shape[0]), "width": int(shape[1]), "anns": anns}


def _category_id(label: int, cat_ids: Sequence[int] | None, owner: str) -> int:
    if cat_ids is None:
        return int(label) + 1
    if not 0 <= label < len(cat_ids):
        raise ValueError(
            f"{owner}: label {label} is outside 0..{len(cat_ids) - 1} (dataset_meta['cat_ids'] has "
            f"{len(cat_ids)} entries); check the head's num_classes against the dataset's classes"
        )
    return int(cat_ids[label])


def predictions_to_coco(
    records: Sequence[dict], cat_ids: Sequence[int] | None = None, owner: str = "CocoMetric"
) -> tuple[list[dict], list[dict]]:
    """Prediction records (:func:`read_predictions`) -> COCO result lists.

    Args:
        records: one per image.
        cat_ids: COCO category id of each contiguous label; None means ``label + 1``.

    Returns:
        ``(bbox_results, segm_results)``: dicts ``{"image_id", "category_id", "bbox": [x, y, w, h],
        "score"}`` and, for records with masks, ``{"image_id", "category_id", "segmentation": RLE,
        "score"}`` (empty when no record has masks).
    """
    bbox_results: list[dict] = []
    segm_results: list[dict] = []
    for record in records:
        boxes = xyxy_to_xywh(record["bboxes"])
        masks = record.get("masks")
        for i, (box, score, label) in enumerate(zip(boxes, record["scores"], record["labels"])):
            common = {
                "image_id": record["img_id"],
                "category_id": _category_id(int(label), cat_ids, owner),
                "score": float(score),
            }
            bbox_results.append({**common, "bbox": [float(v) for v in box]})
            if masks is not None:
                segm_results.append({**common, "segmentation": masks[i]})
    return bbox_results, segm_results


def ground_truth_to_coco(
    records: Sequence[dict], cat_ids: Sequence[int] | None = None, class_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """Ground-truth records (:func:`read_ground_truth`) -> a COCO dataset dict.

    The annotation ``area`` is the mask's pixel count when the instance has a mask (COCO's
    convention: area is the segmentation's area), else the box's ``w * h``.

    Args:
        records: one per image; ``img_id`` must be set.
        cat_ids: COCO category id of each label; None means ``label + 1``.
        class_names: category names (default ``"class_<label>"``).

    Returns:
        ``{"info", "images", "categories", "annotations"}`` for ``COCO()`` (set ``.dataset`` and
        call ``createIndex()``).
    """
    num_labels = max(
        [len(cat_ids or ()), len(class_names or ())]
        + [ann["bbox_label"] + 1 for record in records for ann in record["anns"]]
    )
    categories = [
        {
            "id": _category_id(label, cat_ids, "CocoMetric"),
            "name": class_names[label] if class_names and label < len(class_names) else f"class_{label}",
        }
        for label in range(num_labels)
    ]
    images, annotations = [], []
    for record in records:
        images.append({"id": record["img_id"], "height": record["height"], "width": record["width"]})
        for ann in record["anns"]:
            x, y, w, h = xyxy_to_xywh(np.asarray(ann["bbox"]))[0].tolist()
            coco_ann = {
                "id": len(annotations) + 1,  # COCO ids start at 1; 0 reads as "unmatched" in COCOeval
                "image_id": record["img_id"],
                "category_id": _category_id(ann["bbox_label"], cat_ids, "CocoMetric"),
                "bbox": [x, y, w, h],
                "area": w * h,
                "iscrowd": ann["iscrowd"],
            }
            if "mask" in ann:
                coco_ann["segmentation"] = ann["mask"]
                coco_ann["area"] = float(mask_utils.area(_bytes_counts(ann["mask"])))
            annotations.append(coco_ann)
    return {
        "info": {"description": "visionstack ground truth"},
        "images": images,
        "categories": categories,
        "annotations": annotations,
    }


def _bytes_counts(rle: dict) -> dict:
    return {"size": rle["size"], "counts": rle["counts"].encode("ascii")}


def dump_coco_results(
    data_samples: Sequence[Any],
    out_prefix: str | Path,
    cat_ids: Sequence[int] | None = None,
    ground_truth: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write a model's predictions as COCO result files.

    Args:
        data_samples: predictions in dataset order (DataSamples with ``img_id`` and
            ``pred_instances``), or records from :func:`read_predictions`.
        out_prefix: ``<prefix>.bbox.json`` is written, and ``<prefix>.segm.json`` when the
            predictions have masks; a trailing ``.json`` is dropped first.
        cat_ids: the dataset's category id per label (``dataset_meta["cat_ids"]``); None: label + 1.
        ground_truth: a COCO dataset dict (:func:`ground_truth_to_coco`) to write as ``<prefix>.gt.json``.

    Returns:
        ``{"bbox": path, "segm": path, "gt": path}`` of the files written.
    """
    records = [
        sample
        if isinstance(sample, dict) and "scores" in sample
        else read_predictions(sample, i, "dump_coco_results")
        for i, sample in enumerate(data_samples)
    ]
    missing = [i for i, record in enumerate(records) if record["img_id"] is None]
    if missing:
        raise KeyError(f"dump_coco_results: data_samples[{missing[0]}] has no img_id metainfo")
    prefix = str(out_prefix)
    prefix = prefix[: -len(".json")] if prefix.endswith(".json") else prefix
    bbox_results, segm_results = predictions_to_coco(records, cat_ids, "dump_coco_results")
    contents: dict[str, Any] = {"bbox": bbox_results}
    if segm_results:
        contents["segm"] = segm_results
    if ground_truth is not None:
        contents["gt"] = ground_truth
    written = {kind: Path(f"{prefix}.{kind}.json") for kind in contents}
    written["bbox"].parent.mkdir(parents=True, exist_ok=True)
    for kind, path in written.items():
        path.write_text(json.dumps(contents[kind]))
    return written
