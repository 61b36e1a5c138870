"""Semantic segmentation results as files: label-map PNGs, written during ``test`` and scored by ``eval``.

The standard result is a folder of grey PNGs, one per image, named ``<image stem>.png`` (8-bit, 16-bit
when a label exceeds 255), holding class indices in the numbering of the dataset's own maps (plus one
for ``reduce_zero_label`` datasets such as ADE20K): what ``IoUMetric(output_dir=...)`` writes, as
MMSegmentation's ``output_dir`` does.

:func:`evaluate_files` scores such a folder against the dataset's ``ann_dir`` with ``IoUMetric``'s own
accumulation (per-image areas summed in integers), so the keys and values are those of ``test``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstack.data.transforms.annotations import apply_label_map, read_seg_map, reduce_zero_label_map
from visionstack.registry import METRICS, build

from ..result_files import metric_entries
from .metrics import IoUMetric, prediction_file_name, save_label_map

__all__ = ["evaluate_files", "ground_truth_maps", "prediction_file_name", "save_label_map"]

# options of a test-time IoUMetric that write files
_WRITER_OPTIONS = ("output_dir", "format_only")


def ground_truth_maps(
    gt: str | os.PathLike,
    img_suffix: str = ".jpg",
    seg_map_suffix: str = ".png",
    split_file: str | os.PathLike | None = None,
) -> dict[str, Path]:
    """``{prediction file name: label-map path}`` for the maps of ``gt``, sorted by name.

    The map of image ``<name><img_suffix>`` is ``gt/<name><seg_map_suffix>`` (``<name>`` may hold
    sub-folders, as Cityscapes' cities), and its prediction ``<stem of the image>.png``.

    Args:
        gt: the dataset's ``ann_dir`` (searched recursively).
        img_suffix: the end of the image file names (``_leftImg8bit.png`` for Cityscapes).
        seg_map_suffix: the end of the map file names (``_gtFine_labelTrainIds.png``).
        split_file: only the names listed there, one per line, without suffix (the dataset's ``ann_file``).

    Raises:
        FileNotFoundError: no folder, no map in it, or a listed map is missing.
        ValueError: two maps whose predictions would have one file name.
    """
    root = Path(gt)
    if not root.is_dir():
        raise FileNotFoundError(f"ground-truth label-map folder not found: {str(root)!r}")
    if split_file is not None:
        lines = Path(split_file).read_text(encoding="utf-8").splitlines()
        names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        absent = [name for name in names if not (root / f"{name}{seg_map_suffix}").is_file()]
        if absent:
            raise FileNotFoundError(
                f"{str(split_file)!r} lists {len(absent)} name(s) without a map {seg_map_suffix!r} under "
                f"{str(root)!r}: {absent[:5]}"
            )
    else:
        found = (p.relative_to(root).as_posix() for p in root.rglob(f"*{seg_map_suffix}") if p.is_file())
        names = sorted(name[: -len(seg_map_suffix)] for name in found)
    if not names:
        raise FileNotFoundError(f"no label map ending with {seg_map_suffix!r} under {str(root)!r}")
    maps: dict[str, Path] = {}
    for name in names:
        path = root / f"{name}{seg_map_suffix}"
        file_name = prediction_file_name(f"{name}{img_suffix}")
        if file_name in maps:
            raise ValueError(
                f"{str(maps[file_name])!r} and {str(path)!r} would share the prediction {file_name!r}"
            )
        maps[file_name] = path
    return maps


def _iou_metrics(metrics: Mapping | Sequence[Mapping] | None, ignore_index: int | None) -> list[IoUMetric]:
    """The config's IoUMetrics, writing nothing; default ``IoUMetric(ignore_index=...)``."""
    built = []
    for target, entry in metric_entries(metrics):
        if not issubclass(target, IoUMetric):
            raise ValueError(
                f"eval segmentation scores label maps with IoUMetric; the config's {target.__name__} cannot read them"
            )
        built.append(build({k: v for k, v in entry.items() if k not in _WRITER_OPTIONS}, METRICS))
    if not built:
        return [IoUMetric(ignore_index=255 if ignore_index is None else ignore_index)]
    if ignore_index is not None and any(metric.ignore_index != ignore_index for metric in built):
        raise ValueError(
            f"ignore_index={ignore_index} contradicts the config's IoUMetric ignore_index "
            f"{sorted({metric.ignore_index for metric in built})}"
        )
    return built


def _read_map(path: Path, reduce_zero_label: bool, is_prediction: bool) -> torch.Tensor:
    """An (H, W) int64 map in the model's numbering; a reduced ground truth as ``LoadAnnotations``
    reduces it (0 -> 255, k -> k - 1)."""
    array = read_seg_map(path).astype(np.int64)
    if reduce_zero_label:
        # Predictions were written plus one; a 0 there is no class and fails the range check, naming the file.
        array = array - 1 if is_prediction else reduce_zero_label_map(array)
    return torch.from_numpy(np.ascontiguousarray(array))


def evaluate_files(
    gt: str | os.PathLike,
    pred: str | os.PathLike,
    metrics: Mapping | Sequence[Mapping] | None = None,
    classes: Sequence[str] | None = None,
    num_classes: int | None = None,
    reduce_zero_label: bool = False,
    ignore_index: int | None = None,
    img_suffix: str = ".jpg",
    seg_map_suffix: str = ".png",
    split_file: str | os.PathLike | None = None,
    label_map: Mapping[int, int] | None = None,
) -> dict[str, float]:
    """Score a folder of predicted label maps against the dataset's maps, as ``visionstack test`` does.

    Every map of ``gt`` needs its prediction ``pred/<image stem>.png`` (see :func:`ground_truth_maps`)
    and every PNG in ``pred`` (not in sub-folders) must be one of them. Each pair is fed to
    ``IoUMetric.process`` as the test loop feeds it (the ground truth shifted by
    ``reduce_zero_label`` and mapped by ``label_map`` as ``LoadAnnotations`` does), so the integer
    areas, and with them the values, are exactly the in-process ones.

    Args:
        gt: the dataset's ``ann_dir``.
        pred: the folder ``IoUMetric(output_dir=...)`` wrote.
        metrics: the config's ``test_evaluator`` (an IoUMetric dict or a list of them; their
            ``output_dir``/``format_only`` are ignored); None: ``IoUMetric()`` (``mIoU``).
        classes: the class names (also give the class count).
        num_classes: the class count, when ``classes`` is not given (one of them is needed unless the
            metric config has ``num_classes``).
        reduce_zero_label: the maps use 0 for "no class" and k for class k - 1 (ADE20K); the
            predictions were then written plus one.
        ignore_index: the label of pixels without ground truth, left out of every count; None: the
            metric's (255). A ``reduce_zero_label`` map's 0 becomes 255, as in ``LoadAnnotations``.
        img_suffix: the end of the image names, which the prediction files are named after.
        seg_map_suffix: the end of the map names.
        split_file: evaluate only the names listed there (the dataset's ``ann_file``).
        label_map: old -> new label of the ground truth (a dataset's class subset), after the shift.

    Returns:
        ``{"aAcc": ..., "mIoU": ..., "mAcc": ...}`` (and ``mDice`` ... per the metric's families).

    Raises:
        FileNotFoundError, ValueError: naming the map or prediction at fault (missing, extra, of
            another size, with a label outside the classes).
    """
    maps = ground_truth_maps(gt, img_suffix, seg_map_suffix, split_file)
    pred_dir = Path(pred)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"prediction folder not found: {str(pred_dir)!r}")
    extra = sorted(p.name for p in pred_dir.glob("*.png") if p.name not in maps)
    if extra:
        raise ValueError(
            f"{len(extra)} prediction(s) in {str(pred_dir)!r} have no ground truth in {os.fspath(gt)!r} "
            f"(as <image stem>.png with img_suffix={img_suffix!r}, seg_map_suffix={seg_map_suffix!r}): {extra[:5]}"
        )
    metric_list = _iou_metrics(metrics, ignore_index)
    values: dict[str, float] = {}
    for metric in metric_list:
        if classes is not None:
            metric.dataset_meta = {"classes": tuple(classes)}
        if num_classes is not None and metric.num_classes is None:
            metric.num_classes = num_classes
        if metric.num_classes is None and classes is None:
            raise ValueError(
                "eval segmentation: give classes or num_classes (the label maps do not say how many)"
            )
    for file_name, gt_path in maps.items():
        pred_path = pred_dir / file_name
        if not pred_path.is_file():
            raise FileNotFoundError(f"no prediction {str(pred_path)!r} for the label map {str(gt_path)!r}")
        sample = _sample(gt_path, pred_path, reduce_zero_label, label_map)
        for metric in metric_list:
            try:
                metric.process(None, [sample])
            except ValueError as error:
                raise ValueError(f"{error} (prediction {str(pred_path)!r})") from error
    for metric in metric_list:
        values.update(metric.evaluate(len(maps)))
    return values


def _sample(
    gt_path: Path, pred_path: Path, reduce_zero_label: bool, label_map: Mapping[int, int] | None
) -> dict[str, Any]:
    """One image as IoUMetric reads it, after a size check that names both files."""
    label = _read_map(gt_path, reduce_zero_label, is_prediction=False)
    if label_map:
        label = torch.from_numpy(apply_label_map(label.numpy(), label_map))
    prediction = _read_map(pred_path, reduce_zero_label, is_prediction=True)
    if prediction.shape != label.shape:
        raise ValueError(
            f"prediction {str(pred_path)!r} is {prediction.shape[1]}x{prediction.shape[0]} but the label map "
            f"{str(gt_path)!r} is {label.shape[1]}x{label.shape[0]}"
        )
    return {
        "pred_sem_seg": {"data": prediction[None]},
        "gt_sem_seg": {"data": label[None]},
        "seg_map_path": str(gt_path),
    }
