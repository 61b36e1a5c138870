"""PCK, AUC, EPE and NME as MMPose's ``keypoint_eval`` defines them.

Per-keypoint distances of labelled keypoints (``keypoints_visible > 0``), each coordinate divided by its
normalisation factor (an instance with a zero factor is skipped). PCK = the mean over keypoints of the
fraction of distances below ``thr`` (keys ``PCK`` / ``PCKh`` / ``tPCK`` for the box's longer side / the head
size / the torso length); AUC = the mean PCK at the thresholds ``0, 1/n, ..., (n-1)/n`` with distances
divided by ``norm_factor`` pixels; EPE = the mean pixel distance; NME = the mean normalised distance.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from visionstack.evaluation import BaseMetric, sample_fields
from visionstack.registry import METRICS

from ._common import _first_present, _instance_field, _numpy, _per_instance

__all__ = [
    "AUC",
    "EPE",
    "NME",
    "PCKAccuracy",
    "keypoint_auc",
    "keypoint_distances",
    "keypoint_epe",
    "keypoint_nme",
    "keypoint_pck_accuracy",
]


def keypoint_distances(pred: Any, gt: Any, mask: Any, norm_factor: Any) -> np.ndarray:
    """Normalised distances of labelled keypoints.

    Args:
        pred: (N, K, D) predicted keypoints.
        gt: (N, K, D) reference keypoints.
        mask: (N, K) labelled (True / > 0) keypoints.
        norm_factor: (N, D) per-instance, per-coordinate divisors; an instance with a zero is skipped, a
            negative one becomes 1e6 (MMPose's rules).

    Returns:
        (N, K) ``|(pred - gt) / norm|``, -1 for masked keypoints.
    """
    pred, gt = _numpy(pred), _numpy(gt)
    norm = _numpy(norm_factor).reshape(len(pred), -1)
    valid = (_numpy(mask, None).reshape(pred.shape[:2]) > 0) & ~(norm == 0).any(axis=1)[:, None]
    norm = np.where(norm <= 0, 1e6, norm)
    distances = np.linalg.norm((pred - gt) / norm[:, None, :], axis=-1)
    return np.where(valid, distances, -1.0)


def keypoint_pck_accuracy(
    pred: Any, gt: Any, mask: Any, thr: float, norm_factor: Any
) -> tuple[np.ndarray, float, int]:
    """PCK: per keypoint, the fraction of its normalised distances below ``thr``.

    Args:
        pred, gt, mask, norm_factor: as :func:`keypoint_distances`.
        thr: the normalised distance threshold.

    Returns:
        ``(accuracy (K,) with -1 for keypoints never labelled, their mean over the labelled ones (0.0 when
        none), the number of labelled keypoints)``.
    """
    distances = keypoint_distances(pred, gt, mask, norm_factor)
    valid = distances != -1
    counts = valid.sum(axis=0)
    hits = ((distances < thr) & valid).sum(axis=0)
    accuracy = np.where(counts > 0, hits / np.maximum(counts, 1), -1.0)
    labelled = accuracy >= 0
    return accuracy, float(accuracy[labelled].mean()) if labelled.any() else 0.0, int(labelled.sum())


def keypoint_auc(pred: Any, gt: Any, mask: Any, norm_factor: float, num_thrs: int = 20) -> float:
    """The area under the PCK curve: the mean PCK at thresholds ``i / num_thrs``, i = 0..num_thrs-1, with
    every distance divided by ``norm_factor`` pixels."""
    norm = np.full((len(_numpy(pred)), 2), float(norm_factor))
    return float(
        np.mean([keypoint_pck_accuracy(pred, gt, mask, i / num_thrs, norm)[1] for i in range(num_thrs)])
    )


def keypoint_epe(pred: Any, gt: Any, mask: Any) -> float:
    """End-point error: the mean pixel distance of labelled keypoints (0 when none)."""
    pred = _numpy(pred)
    return keypoint_nme(pred, gt, mask, np.ones((len(pred), pred.shape[-1])))


def keypoint_nme(pred: Any, gt: Any, mask: Any, norm_factor: Any) -> float:
    """Normalised mean error: the mean normalised distance of labelled keypoints (0 when none)."""
    distances = keypoint_distances(pred, gt, mask, norm_factor)
    valid = distances[distances != -1]
    return float(valid.sum() / max(1, len(valid)))


def _read_keypoint_pair(sample: Any, index: int, owner: str) -> dict[str, Any]:
    """``pred`` / ``gt`` (N, K, D) keypoints and the ``mask`` (N, K) of labelled ones of one sample."""
    expects = "pred_instances.keypoints and gt_instances.keypoints / keypoints_visible"
    pred_instances, gt_instances = sample_fields(
        sample, ("pred_instances", "gt_instances"), owner, index, expects
    )
    pred = _numpy(_instance_field(pred_instances, "keypoints", "pred_instances", owner, index))
    gt = _numpy(_instance_field(gt_instances, "keypoints", "gt_instances", owner, index))
    visible = _numpy(_instance_field(gt_instances, "keypoints_visible", "gt_instances", owner, index))
    visible = visible[..., 0] if visible.ndim == 3 else visible
    pred, gt = (pred[None] if pred.ndim == 2 else pred), (gt[None] if gt.ndim == 2 else gt)
    if pred.shape != gt.shape:
        raise ValueError(
            f"{owner}: data_samples[{index}] pred_instances.keypoints {pred.shape} and gt_instances.keypoints "
            f"{gt.shape} differ in shape"
        )
    return {"pred": pred, "gt": gt, "mask": visible.reshape(gt.shape[:2]) > 0, "gt_instances": gt_instances}


def _box_size(gt_instances: Any, count: int, owner: str, index: int) -> np.ndarray:
    """(N,) the longer side of each ground-truth box."""
    boxes = _numpy(_instance_field(gt_instances, "bboxes", "gt_instances", owner, index)).reshape(-1, 4)
    boxes = _per_instance(boxes, count, "gt_instances.bboxes", owner, index, 4)
    return (boxes[:, 2:] - boxes[:, :2]).max(axis=1)


def _item(sample: Any, gt_instances: Any, name: str, count: int, owner: str, index: int) -> np.ndarray:
    """(N,) a per-instance value from ``gt_instances`` or the metainfo."""
    value = _first_present((gt_instances, name), (sample, name))
    if value is None:
        raise KeyError(f"{owner}: data_samples[{index}] has no {name} (in gt_instances or the metainfo)")
    return _per_instance(value, count, name, owner, index)


def _stack(results: list[dict], key: str) -> np.ndarray:
    return np.concatenate([record[key] for record in results])


class _KeypointErrorMetric(BaseMetric):
    """What PCK, AUC, EPE and NME share: one record per sample with ``pred`` / ``gt`` (N, K, D) keypoints and
    the ``mask`` (N, K) of labelled ones, plus what :meth:`_norms` adds (per-instance normalisers)."""

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        owner = type(self).__name__
        for index, sample in enumerate(data_samples):
            record = _read_keypoint_pair(sample, index, owner)
            gt_instances = record.pop("gt_instances")
            record.update(self._norms(sample, gt_instances, record, owner, index))
            self.results.append(record)

    def _norms(
        self, sample: Any, gt_instances: Any, record: dict, owner: str, index: int
    ) -> dict[str, np.ndarray]:
        return {}


@METRICS.register()
class PCKAccuracy(_KeypointErrorMetric):
    """Percentage of Correct Keypoints (MMPose's PCKAccuracy); keys ``PCK`` / ``PCKh`` / ``tPCK``.

    Args:
        thr: the normalised distance threshold.
        norm_item: one or several of ``"bbox"`` (the longer side of ``gt_instances.bboxes``), ``"head"``
            (``head_size`` from ``gt_instances`` or the metainfo) and ``"torso"`` (the distance between the
            ground-truth keypoints ``torso_indices``; below 1 pixel, the predicted ones', with a warning).
        torso_indices: the two keypoints whose distance is the torso size (MMPose: 4 and 5, JHMDB's).
        collect_device, prefix: see :class:`BaseMetric` (no prefix by default: MMPose's keys).
    """

    NORM_ITEMS = {"bbox": "PCK", "head": "PCKh", "torso": "tPCK"}

    def __init__(
        self,
        thr: float = 0.05,
        norm_item: str | Sequence[str] = "bbox",
        torso_indices: tuple[int, int] = (4, 5),
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.norm_items = (norm_item,) if isinstance(norm_item, str) else tuple(norm_item)
        unknown = [item for item in self.norm_items if item not in self.NORM_ITEMS]
        if unknown or not self.norm_items:
            raise ValueError(
                f"PCKAccuracy: norm_item must be among {tuple(self.NORM_ITEMS)}, got {norm_item!r}"
            )
        self.thr = float(thr)
        self.torso_indices = tuple(torso_indices)

    def _norms(
        self, sample: Any, gt_instances: Any, record: dict, owner: str, index: int
    ) -> dict[str, np.ndarray]:
        count, norms = len(record["gt"]), {}
        if "bbox" in self.norm_items:
            norms["bbox"] = _box_size(gt_instances, count, owner, index)
        if "head" in self.norm_items:
            norms["head"] = _item(sample, gt_instances, "head_size", count, owner, index)
        if "torso" in self.norm_items:
            norms["torso"] = self._torso_size(record, owner, index)
        return norms

    def _torso_size(self, record: dict, owner: str, index: int) -> np.ndarray:
        first, second = self.torso_indices
        size = np.linalg.norm(record["gt"][:, first] - record["gt"][:, second], axis=-1)
        small = size < 1
        if small.any():
            warnings.warn(
                f"{owner}: data_samples[{index}] has a ground-truth torso below 1 pixel; the predicted "
                "keypoints' torso stands in",
                stacklevel=3,
            )
            predicted = np.linalg.norm(record["pred"][:, first] - record["pred"][:, second], axis=-1)
            size = np.where(small, predicted, size)
        return size

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        pred, gt, mask = _stack(results, "pred"), _stack(results, "gt"), _stack(results, "mask")
        metrics = {}
        for item in self.norm_items:
            norm = np.repeat(_stack(results, item)[:, None], 2, axis=1)
            metrics[self.NORM_ITEMS[item]] = keypoint_pck_accuracy(pred, gt, mask, self.thr, norm)[1]
        return metrics


@METRICS.register()
class AUC(_KeypointErrorMetric):
    """Area under the PCK curve (MMPose's AUC); key ``AUC``.

    Args:
        norm_factor: distances are divided by this many pixels.
        num_thrs: thresholds ``0, 1/num_thrs, ..., (num_thrs - 1)/num_thrs``.
        collect_device, prefix: see :class:`BaseMetric`.
    """

    def __init__(
        self,
        norm_factor: float = 30,
        num_thrs: int = 20,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if num_thrs < 1 or norm_factor <= 0:
            raise ValueError(f"AUC: need num_thrs >= 1 and norm_factor > 0, got {num_thrs}, {norm_factor}")
        self.norm_factor = float(norm_factor)
        self.num_thrs = int(num_thrs)

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        pred, gt, mask = _stack(results, "pred"), _stack(results, "gt"), _stack(results, "mask")
        return {"AUC": keypoint_auc(pred, gt, mask, self.norm_factor, self.num_thrs)}


@METRICS.register()
class EPE(_KeypointErrorMetric):
    """End-point error (MMPose's EPE): the mean pixel distance of labelled keypoints; key ``EPE``."""

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        return {"EPE": keypoint_epe(_stack(results, "pred"), _stack(results, "gt"), _stack(results, "mask"))}


@METRICS.register()
class NME(_KeypointErrorMetric):
    """Normalised mean error (MMPose's NME, for faces and animals); key ``NME``.

    Args:
        norm_mode: ``"use_norm_item"``: divide by ``norm_item`` of each sample; ``"keypoint_distance"``:
            by the ground-truth distance between ``keypoint_indices`` (e.g. the outer eye corners).
        norm_item: ``"bbox_size"`` (the longer side of ``gt_instances.bboxes``) or a per-instance value of
            ``gt_instances`` or the metainfo.
        keypoint_indices: the pair for ``keypoint_distance``; None: the dataset's default
            (:attr:`DEFAULT_KEYPOINT_INDICES` by ``dataset_meta["dataset_name"]``).
        collect_device, prefix: see :class:`BaseMetric`.
    """

    # the inter-ocular (or similar) pair MMPose normalises each dataset by
    DEFAULT_KEYPOINT_INDICES = {
        "horse10": (0, 1),
        "300w": (36, 45),
        "coco_wholebody_face": (36, 45),
        "cofw": (8, 9),
        "wflw": (60, 72),
        "lapa": (66, 79),
    }
    NORM_MODES = ("use_norm_item", "keypoint_distance")

    def __init__(
        self,
        norm_mode: str,
        norm_item: str | None = None,
        keypoint_indices: Sequence[int] | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if norm_mode not in self.NORM_MODES:
            raise ValueError(f"NME: norm_mode must be one of {self.NORM_MODES}, got {norm_mode!r}")
        if norm_mode == "use_norm_item" and not norm_item:
            raise ValueError("NME: norm_mode='use_norm_item' needs norm_item (e.g. 'bbox_size')")
        if keypoint_indices is not None and len(keypoint_indices) != 2:
            raise ValueError(f"NME: keypoint_indices must be a pair, got {keypoint_indices!r}")
        self.norm_mode = norm_mode
        self.norm_item = norm_item
        self.keypoint_indices = None if keypoint_indices is None else tuple(int(i) for i in keypoint_indices)

    def _norms(
        self, sample: Any, gt_instances: Any, record: dict, owner: str, index: int
    ) -> dict[str, np.ndarray]:
        count = len(record["gt"])
        if self.norm_mode != "use_norm_item":
            return {}
        if self.norm_item == "bbox_size":
            return {"norm": _box_size(gt_instances, count, owner, index)}
        return {"norm": _item(sample, gt_instances, self.norm_item, count, owner, index)}

    def _pair(self, num_keypoints: int) -> tuple[int, int]:
        pair = self.keypoint_indices
        if pair is None:
            name = (self.dataset_meta or {}).get("dataset_name")
            if name not in self.DEFAULT_KEYPOINT_INDICES:
                raise KeyError(
                    f"NME: no default keypoint_indices for dataset {name!r} (known: "
                    f"{sorted(self.DEFAULT_KEYPOINT_INDICES)}); pass keypoint_indices=(i, j)"
                )
            pair = self.DEFAULT_KEYPOINT_INDICES[name]
        if not all(0 <= i < num_keypoints for i in pair):
            raise ValueError(f"NME: keypoint_indices {pair} outside the {num_keypoints} keypoints")
        return pair

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        pred, gt, mask = _stack(results, "pred"), _stack(results, "gt"), _stack(results, "mask")
        if self.norm_mode == "use_norm_item":
            norm = _stack(results, "norm")
        else:
            first, second = self._pair(gt.shape[1])
            norm = np.linalg.norm(gt[:, first] - gt[:, second], axis=-1)
        return {"NME": keypoint_nme(pred, gt, mask, np.repeat(norm[:, None], gt.shape[-1], axis=1))}
