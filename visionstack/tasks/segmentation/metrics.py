"""Semantic segmentation metric: IoU, accuracy, Dice and F-score per class, as MMSegmentation reports them.

Every pixel of every evaluated image adds to four areas per class ``c`` (pixels whose label is
``ignore_index`` are left out first):

* ``intersect[c]``: pixels labelled ``c`` and predicted ``c``;
* ``pred[c]``: pixels predicted ``c``; ``label[c]``: pixels labelled ``c``;
* ``union[c] = pred[c] + label[c] - intersect[c]``.

The areas are summed over the whole dataset before any ratio is taken (so a large image weighs
more than a small one, as in MMSegmentation), then

* ``aAcc = sum(intersect) / sum(label)`` (pixel accuracy);
* ``IoU = intersect / union``, ``Acc = intersect / label`` (per-class recall), ``Dice = 2 intersect
  / (pred + label)``, ``Precision = intersect / pred``, ``Recall = intersect / label``,
  ``Fscore = (1 + beta^2) Precision Recall / (beta^2 Precision + Recall)``.

A ratio with a zero denominator is NaN (a class absent from both the labels and the predictions
has no IoU); the means ``mIoU``, ``mAcc`` ... skip NaN classes (NumPy's ``nanmean``) unless
``nan_to_num`` replaces NaN by a number first. Values are in percent and not rounded
(MMSegmentation rounds to two decimals).
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstack.data.transforms.annotations import read_seg_map, reduce_zero_label_map
from visionstack.evaluation import BaseMetric
from visionstack.registry import METRICS

__all__ = ["IoUMetric", "count_class_areas", "metrics_from_areas", "prediction_file_name", "save_label_map"]

logger = logging.getLogger(__name__)

# metric family -> the per-class values it reports, in MMSegmentation's order
METRIC_FAMILIES: dict[str, tuple[str, ...]] = {
    "mIoU": ("IoU", "Acc"),
    "mDice": ("Dice", "Acc"),
    "mFscore": ("Fscore", "Precision", "Recall"),
}


def count_class_areas(
    pred: torch.Tensor, label: torch.Tensor, num_classes: int, ignore_index: int = 255
) -> torch.Tensor:
    """The per-class areas of one image.

    Args:
        pred: (H, W) predicted class indices in ``0 .. num_classes - 1``.
        label: (H, W) ground-truth class indices; ``ignore_index`` pixels are left out.
        num_classes: the class count C.
        ignore_index: the label value that marks pixels without ground truth.

    Returns:
        (4, C) int64: rows ``intersect``, ``union``, ``pred``, ``label`` (pixel counts).

    Raises:
        ValueError: the maps differ in size, or a kept label / prediction is outside ``0 .. C - 1``.
    """
    if pred.shape != label.shape:
        raise ValueError(f"prediction is {tuple(pred.shape)} but the label map is {tuple(label.shape)}")
    keep = label != ignore_index
    pred, label = pred[keep].long(), label[keep].long()
    for name, values in (("label", label), ("prediction", pred)):
        if values.numel() and (int(values.min()) < 0 or int(values.max()) >= num_classes):
            bad = values[(values < 0) | (values >= num_classes)].unique()[:5].tolist()
            raise ValueError(
                f"{name} values {bad} are outside 0..{num_classes - 1} (and not ignore_index={ignore_index}); "
                "check the number of classes, reduce_zero_label and the label maps"
            )
    area_intersect = torch.bincount(label[pred == label], minlength=num_classes)
    area_pred = torch.bincount(pred, minlength=num_classes)
    area_label = torch.bincount(label, minlength=num_classes)
    area_union = area_pred + area_label - area_intersect
    return torch.stack([area_intersect, area_union, area_pred, area_label])


def metrics_from_areas(
    areas: torch.Tensor,
    iou_metrics: Sequence[str] = ("mIoU",),
    nan_to_num: float | None = None,
    beta: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Per-class values in percent from dataset-wide areas.

    Args:
        areas: (4, C) summed ``intersect``, ``union``, ``pred``, ``label`` areas (see
            :func:`count_class_areas`).
        iou_metrics: metric families among ``mIoU``, ``mDice``, ``mFscore``.
        nan_to_num: replace NaN (zero denominators) by this value, a fraction (1.0 becomes 100 %);
            None keeps NaN.
        beta: the weight of recall in the F-score.

    Returns:
        ``{"aAcc": () tensor, "IoU": (C,), "Acc": (C,), ...}`` float64 in percent, the per-class
        names of the requested families (``Acc`` once) in MMSegmentation's order.
    """
    intersect, union, pred, label = areas.double()
    per_class = {"aAcc": intersect.sum() / label.sum()}
    for family in iou_metrics:
        if family == "mIoU":
            per_class["IoU"] = intersect / union
            per_class["Acc"] = intersect / label
        elif family == "mDice":
            per_class["Dice"] = 2 * intersect / (pred + label)
            per_class["Acc"] = intersect / label
        elif family == "mFscore":
            precision, recall = intersect / pred, intersect / label
            per_class["Fscore"] = (1 + beta**2) * precision * recall / (beta**2 * precision + recall)
            per_class["Precision"], per_class["Recall"] = precision, recall
        else:
            raise ValueError(f"unknown metric family {family!r}; choose from {tuple(METRIC_FAMILIES)}")
    if nan_to_num is not None:  # before the scaling to percent, so 1.0 means 100 % (as MMSegmentation)
        per_class = {name: torch.nan_to_num(value, nan=nan_to_num) for name, value in per_class.items()}
    return {name: value * 100.0 for name, value in per_class.items()}


def prediction_file_name(img_path: str | os.PathLike) -> str:
    """The file name of an image's predicted label map: ``<image stem>.png`` (MMSegmentation's ``output_dir``)."""
    return f"{Path(img_path).stem}.png"


def save_label_map(labels: Any, path: str | os.PathLike) -> Path:
    """Write class indices as a grey PNG: 8-bit, or 16-bit when a label exceeds 255.

    Args:
        labels: (H, W) or (1, H, W) non-negative integer class indices (tensor or array).
        path: the PNG to write (its folder must exist).

    Raises:
        ValueError: a label is negative or above 65535 (no grey PNG holds it).
    """
    import cv2

    array = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    array = array.reshape(array.shape[-2:])
    low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
    if low < 0 or high > 65535:
        raise ValueError(
            f"save_label_map: labels {low}..{high} do not fit a grey PNG (0..65535): {os.fspath(path)!r}"
        )
    if not cv2.imwrite(os.fspath(path), array.astype(np.uint8 if high <= 255 else np.uint16)):
        raise OSError(f"save_label_map: OpenCV could not write {os.fspath(path)!r}")
    return Path(path)


def _field(container: Any, name: str) -> Any:
    """A data field or metainfo entry of a DataSample, or a key of the dict ``to_dict()`` writes."""
    if isinstance(container, Mapping):
        return container.get(name)
    return container.get(name) if hasattr(container, "get") else getattr(container, name, None)


def _as_map(element: Any, what: str) -> torch.Tensor:
    """``element.data`` (PixelData or dict) as an (H, W) tensor."""
    data = _field(element, "data")
    if data is None:
        raise KeyError(f"{what} has no `data` map")
    data = torch.as_tensor(data)
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise ValueError(f"{what}.data must be (1, H, W) or (H, W) class indices, got {tuple(data.shape)}")
    return data


@METRICS.register()
class IoUMetric(BaseMetric):
    """mIoU (and mDice, mFscore) of semantic segmentation over a dataset, in percent.

    ``process`` reads each DataSample's ``pred_sem_seg.data`` ((1, H, W) class indices in the
    original image frame, as the segmentor's predict mode gives them) and ``gt_sem_seg.data``. A
    packed label map of another size (the pipeline resized it, or the data preprocessor padded it)
    is not compared as is: the original map is read again from the sample's ``seg_map_path`` with
    Pillow and, when the sample's ``reduce_zero_label`` is true, shifted as ``LoadAnnotations``
    shifts it (a record's ``label_map`` is not applied there). MMSegmentation compares at the size
    of the ground truth too; keep ``LoadAnnotations`` after ``Resize`` in test pipelines so that no
    file is read twice. A sample without ``gt_sem_seg`` is read from ``seg_map_path`` as well.

    ``compute_metrics`` returns the summary keys — ``aAcc`` and, per family, ``mIoU``/``mAcc``,
    ``mDice``/``mAcc``, ``mFscore``/``mPrecision``/``mRecall`` — and logs the per-class table (class
    names from ``dataset_meta["classes"]``), as MMSegmentation does. With ``classwise=True`` it also
    returns that table's values, ``<column>_<class>`` for each class and column (``IoU_road``,
    ``Acc_road``, ``Dice_road`` ...; spaces in names become ``_``; the class index when the metainfo has
    no names), NaN where the class has no value, as in the table (MMSegmentation 0.x returned them as
    ``IoU.<class>`` in 0-1).

    With ``output_dir``, ``process`` also writes each prediction as a label-map PNG named after the
    image (:func:`prediction_file_name`, :func:`save_label_map`), as MMSegmentation's ``output_dir``
    does: for a sample with ``reduce_zero_label`` the labels are written plus one, in the numbering of
    the dataset's own maps (ADE20K's 1..150), so ``visionstack eval`` reads them like the ground truth.

    Args:
        iou_metrics: a family or several among ``"mIoU"``, ``"mDice"``, ``"mFscore"``.
        ignore_index: the label value of pixels without ground truth (left out everywhere).
        nan_to_num: replace the NaN of classes with a zero denominator by this value (a fraction:
            1.0 is 100 %, as in MMSegmentation) before the means, so they count; None leaves them
            out of the means.
        beta: the weight of recall in the F-score (1: F1).
        num_classes: the class count; None takes ``len(dataset_meta["classes"])``, else the channel
            count of the samples' ``seg_logits``.
        classwise: also return the per-class values (see above).
        output_dir: write every prediction as ``<output_dir>/<image stem>.png`` (created).
        format_only: only write the predictions (needs ``output_dir``; no ground truth is read) and
            return no numbers, e.g. for a benchmark's test server.
        collect_device: see :class:`~visionstack.evaluation.BaseMetric`.
        prefix: key prefix; None gives the bare keys (``mIoU``), as MMSegmentation.
    """

    default_prefix = None

    def __init__(
        self,
        iou_metrics: str | Sequence[str] = ("mIoU",),
        ignore_index: int = 255,
        nan_to_num: float | None = None,
        beta: float = 1.0,
        num_classes: int | None = None,
        classwise: bool = False,
        output_dir: str | os.PathLike | None = None,
        format_only: bool = False,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if format_only and output_dir is None:
            raise ValueError("IoUMetric: format_only=True writes the predictions; set output_dir too")
        families = (iou_metrics,) if isinstance(iou_metrics, str) else tuple(iou_metrics)
        unknown = [name for name in families if name not in METRIC_FAMILIES]
        if unknown or not families:
            raise ValueError(
                f"IoUMetric: iou_metrics must be a non-empty subset of {tuple(METRIC_FAMILIES)}, got {iou_metrics!r}"
            )
        if beta <= 0:
            raise ValueError(f"IoUMetric: beta must be positive, got {beta}")
        self.iou_metrics = families
        self.ignore_index = ignore_index
        self.nan_to_num = nan_to_num
        self.beta = beta
        self.num_classes = num_classes
        self.classwise = classwise
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.format_only = format_only
        self._written: dict[str, str] = {}  # file name -> image, this evaluation (two images, one name?)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Append the (4, C) areas of each sample (see :func:`count_class_areas`); write the predictions."""
        for index, sample in enumerate(data_samples):
            pred_field = _field(sample, "pred_sem_seg")
            if pred_field is None:
                raise KeyError(
                    f"IoUMetric: data_samples[{index}] has no pred_sem_seg; the metric expects the output of a "
                    "segmentor's predict mode"
                )
            pred = _as_map(pred_field, f"data_samples[{index}].pred_sem_seg")
            if self.output_dir is not None:
                written = self._write_prediction(sample, index, pred)
                if self.format_only:
                    self.results.append(written)
                    continue
            label = self._label_map(sample, index, tuple(pred.shape)).to(pred.device)
            try:
                areas = count_class_areas(pred, label, self._num_classes(sample, index), self.ignore_index)
            except ValueError as error:
                raise ValueError(f"IoUMetric: {_describe(sample, index)}: {error}") from error
            self.results.append(areas)

    def _write_prediction(self, sample: Any, index: int, pred: torch.Tensor) -> str:
        """Write one prediction as ``<output_dir>/<image stem>.png``; returns the file name."""
        img_path = _field(sample, "img_path")
        if img_path is None:
            raise KeyError(
                f"IoUMetric: data_samples[{index}] has no img_path metainfo, which names its output_dir file"
            )
        name = prediction_file_name(img_path)
        if name in self._written:
            raise ValueError(
                f"IoUMetric: {self._written[name]!r} and {img_path!r} would both be written as "
                f"{str(self.output_dir / name)!r}; image stems must be unique for output_dir"
            )
        self._written[name] = str(img_path)
        labels = pred.long() + 1 if _field(sample, "reduce_zero_label") else pred
        self.output_dir.mkdir(parents=True, exist_ok=True)
        save_label_map(labels, self.output_dir / name)
        return name

    def evaluate(self, size: int) -> dict[str, Any]:
        """See :meth:`BaseMetric.evaluate`; also forgets the file names written (the next run may reuse them)."""
        self._written.clear()
        return super().evaluate(size)

    def _num_classes(self, sample: Any, index: int) -> int:
        if self.num_classes is not None:
            return self.num_classes
        classes = (self.dataset_meta or {}).get("classes")
        if classes:
            return len(classes)
        logits = _field(sample, "seg_logits")
        if logits is not None and _field(logits, "data") is not None:
            return int(torch.as_tensor(_field(logits, "data")).shape[0])
        raise ValueError(
            f"IoUMetric: data_samples[{index}]: the class count is unknown; pass num_classes=... or give the "
            "metric dataset_meta['classes'] (the runner does so from the dataset's metainfo)"
        )

    def _label_map(self, sample: Any, index: int, size: tuple[int, int]) -> torch.Tensor:
        """The (H, W) ground truth at the prediction's size: the packed map, else the file on disk."""
        packed = _field(sample, "gt_sem_seg")
        if packed is not None:
            label = _as_map(packed, f"data_samples[{index}].gt_sem_seg")
            if tuple(label.shape) == size:
                return label
        path = _field(sample, "seg_map_path")
        if path is None:
            found = "no gt_sem_seg" if packed is None else f"gt_sem_seg of size {tuple(label.shape)}"
            raise ValueError(
                f"IoUMetric: {_describe(sample, index)} has {found} for a prediction of size {size} and no "
                "seg_map_path to read the original label map from; keep seg_map_path in the packed metainfo"
            )
        array = read_seg_map(path)
        if _field(sample, "reduce_zero_label"):
            array = reduce_zero_label_map(array, self.ignore_index)
        if tuple(array.shape) != size:
            raise ValueError(
                f"IoUMetric: label map {path!r} is {array.shape[1]}x{array.shape[0]} but the prediction of "
                f"{_describe(sample, index)} is {size[1]}x{size[0]}; predictions must be in the original image frame"
            )
        return torch.from_numpy(np.ascontiguousarray(array).astype(np.int64))

    def compute_metrics(self, results: list[torch.Tensor]) -> dict[str, float]:
        if self.format_only:
            logger.info("IoUMetric: %d predictions written to %s", len(results), self.output_dir)
            return {}
        sizes = {tuple(areas.shape) for areas in results}
        if len(sizes) > 1:
            raise ValueError(f"IoUMetric: samples were counted with different class counts {sorted(sizes)}")
        per_class = metrics_from_areas(
            torch.stack(results).sum(dim=0), self.iou_metrics, self.nan_to_num, self.beta
        )
        logger.info("%s", self._table(per_class))
        summary = {"aAcc": float(per_class.pop("aAcc"))}
        for name, values in per_class.items():
            summary[f"m{name}"] = float(torch.nanmean(values))
        if self.classwise:
            names = self._class_names(len(next(iter(per_class.values()))))
            for column, values in per_class.items():
                summary.update(
                    {
                        f"{column}_{name.replace(' ', '_')}": float(v)
                        for name, v in zip(names, values.tolist())
                    }
                )
        return summary

    def _class_names(self, count: int) -> list[str]:
        """The names of the table's rows: ``dataset_meta["classes"]`` when it has ``count`` names, else indices."""
        classes = list((self.dataset_meta or {}).get("classes") or [])
        return [str(c) for c in classes] if len(classes) == count else [str(i) for i in range(count)]

    def _table(self, per_class: dict[str, torch.Tensor]) -> str:
        """The per-class values as a rich table (text), ``nan`` where a class has no value."""
        from rich.console import Console
        from rich.table import Table

        columns = [name for name in per_class if name != "aAcc"]
        names = self._class_names(len(per_class[columns[0]]))
        table = Table(title=f"per-class results (aAcc {float(per_class['aAcc']):.2f})")
        table.add_column("Class")
        for column in columns:
            table.add_column(column, justify="right")
        for row, name in enumerate(names):
            table.add_row(name, *(f"{float(per_class[column][row]):.2f}" for column in columns))
        buffer = io.StringIO()
        Console(file=buffer, width=120, force_terminal=False).print(table)
        return buffer.getvalue()


def _describe(sample: Any, index: int) -> str:
    """``data_samples[i] (<seg_map_path or img_path>)`` for error messages."""
    where = _field(sample, "seg_map_path") or _field(sample, "img_path")
    return f"data_samples[{index}]" + (f" ({where})" if where else "")
