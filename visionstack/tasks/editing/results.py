"""Image-editing results as files: ``test`` writes one PNG per prediction, ``eval`` scores PNG folders.

:class:`EditResultWriter` (a "metric" in ``test_evaluator`` that scores nothing) writes each sample's
``pred_img`` as ``<out_dir>/<stem>.png``, the stem of the sample's ``gt_path`` (else ``img_path``, else
the zero-padded ``sample_idx``): ``Set5/GTmod12/baby.png``'s output is ``baby.png``, the output of
DIV2K's ``0801x2.png`` (ground truth ``0801.png``) is ``0801.png``. PNG is lossless, so reading the file
back gives the bytes the metrics saw and :func:`evaluate_image_folders` (the same metric classes on the
same pixels) reproduces ``test``'s numbers exactly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from visionstack.evaluation import BaseMetric
from visionstack.registry import METRICS, build
from visionstack.structures import DataSample, PixelData
from visionstack.utils.image_io import IMAGE_SUFFIXES, read_image

from ..result_files import metric_entries
from .metrics import PSNR, SSIM, BaseSampleWiseMetric, pixel_array
from .runtime import read_mask

__all__ = ["EditResultWriter", "evaluate_image_folders", "image_files_by_stem", "output_stem"]

logger = logging.getLogger(__name__)
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".npy")


def output_stem(sample: Any, index: int = 0) -> str:
    """The file stem of a sample's output: its ``gt_path``'s, else ``img_path``'s, else ``sample_idx``."""
    for key in ("gt_path", "img_path"):
        path = sample.get(key)
        if path:
            return Path(str(path).replace("\\", "/")).stem
    sample_idx = sample.get("sample_idx")
    if sample_idx is None:
        raise KeyError(f"data_samples[{index}] has no gt_path, img_path nor sample_idx to name its output")
    return f"{int(sample_idx):06d}"


def _hwc_uint8(value: np.ndarray | None, where: str) -> np.ndarray:
    """A (C, H, W) uint8 tensor or array as what ``cv2.imwrite`` takes: (H, W) or (H, W, 3) BGR."""
    if value is None:
        raise KeyError(f"{where} has no data")
    array = np.asarray(value)
    if array.dtype != np.uint8:
        raise TypeError(f"{where}: expected a uint8 image (the model's 8-bit output), got {array.dtype}")
    if array.ndim == 2:
        return array
    if array.ndim != 3 or array.shape[0] not in (1, 3):
        raise ValueError(f"{where}: expected a (1, H, W) or (3, H, W) image, got shape {array.shape}")
    return array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0))


@METRICS.register()
class EditResultWriter(BaseMetric):
    """Writes each sample's ``pred_img`` as ``<out_dir>/<stem>.png`` (see the module docstring).

    Not a metric: put it next to ``PSNR`` / ``SSIM`` in ``test_evaluator``; it returns no value. The
    files are written as the batches come (the images are not gathered); two samples with the same stem
    are an error when the records are collected.

    Args:
        out_dir: the folder to write (created).
        pred_key: the sample field written (a PixelData of uint8 (C, H, W) BGR).
        collect_device, prefix: see :class:`~visionstack.evaluation.BaseMetric`.
    """

    default_prefix = "edit_results"

    def __init__(
        self,
        out_dir: str | os.PathLike,
        pred_key: str = "pred_img",
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.out_dir = Path(out_dir)
        self.pred_key = pred_key

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for index, sample in enumerate(data_samples):
            stem = output_stem(sample, index)
            pred = sample.get(self.pred_key)
            if pred is None:
                raise KeyError(f"EditResultWriter: data_samples[{index}] ({stem}) has no {self.pred_key}")
            image = _hwc_uint8(
                pixel_array(pred), f"EditResultWriter: data_samples[{index}].{self.pred_key} ({stem})"
            )
            path = self.out_dir / f"{stem}.png"
            if not cv2.imwrite(str(path), image):
                raise OSError(f"EditResultWriter: could not write {str(path)!r}")
            self.results.append(
                {"stem": stem, "source": str(sample.get("gt_path") or sample.get("img_path"))}
            )

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        seen: dict[str, str] = {}
        for record in results:
            if record["stem"] in seen:
                raise ValueError(
                    f"EditResultWriter: {record['source']!r} and {seen[record['stem']]!r} both write "
                    f"{record['stem']}.png in {str(self.out_dir)!r}; their file stems must differ"
                )
            seen[record["stem"]] = record["source"]
        logger.info("EditResultWriter: %d images written to %s", len(results), self.out_dir)
        return {}


# ---- scoring folders ----------------------------------------------------------------------------------
def image_files_by_stem(
    folder: str | os.PathLike, suffixes: Sequence[str] = IMAGE_SUFFIXES
) -> dict[str, Path]:
    """``{stem: file}`` of the files in ``folder`` (not recursive) whose suffix is one of ``suffixes``.

    Raises:
        FileNotFoundError: no such folder.
        ValueError: two files with the same stem (``a.png`` and ``a.jpg``).
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {str(root)!r}")
    files: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            if path.stem in files:
                raise ValueError(
                    f"{str(root)!r} holds two files of the stem {path.stem!r}: {files[path.stem].name}, {path.name}"
                )
            files[path.stem] = path
    return files


def _read_prediction(path: Path) -> np.ndarray:
    image = read_image(path, "unchanged")
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(
            f"prediction {str(path)!r}: expected an 8-bit grayscale or BGR image, got {image.dtype} {image.shape}"
        )
    return image


def chw(image: np.ndarray) -> np.ndarray:
    return image[None] if image.ndim == 2 else np.ascontiguousarray(image.transpose(2, 0, 1))


def _sample(gt_path: Path, pred_path: Path, mask_path: Path | None, index: int) -> DataSample:
    pred = _read_prediction(pred_path)
    # the ground truth is read as the test pipeline loaded it: colour for a colour output, else grayscale
    gt = read_image(gt_path, "color" if pred.ndim == 3 else "grayscale")
    metainfo = {"gt_path": str(gt_path), "img_path": str(pred_path), "sample_idx": index}
    sample = DataSample(metainfo=metainfo)
    sample.gt_img = PixelData(data=chw(gt))
    sample.pred_img = PixelData(data=chw(pred))
    if mask_path is not None:
        sample.mask = PixelData(data=read_mask(mask_path)[None])
    return sample


def _metrics(metrics: Mapping | Sequence[Mapping] | None) -> list[BaseSampleWiseMetric]:
    built = [
        build(dict(entry), METRICS)
        for target, entry in metric_entries(metrics)
        if isinstance(target, type) and issubclass(target, BaseSampleWiseMetric)
    ]
    return built or [PSNR(), SSIM()]


def evaluate_image_folders(
    gt_dir: str | os.PathLike,
    pred_dir: str | os.PathLike,
    metrics: Mapping | Sequence[Mapping] | None = None,
    mask_dir: str | os.PathLike | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, float]:
    """Score a folder of predicted PNGs against a ground-truth folder, with ``test``'s numbers.

    Images go together by file stem; every ground-truth image needs a prediction and every prediction a
    ground truth. A colour prediction is compared with the ground truth read in colour (BGR), a grayscale
    one with it read as grayscale, as the test pipeline loads it.

    Args:
        gt_dir: the ground-truth images (e.g. ``Set5/GTmod12``).
        pred_dir: the :class:`EditResultWriter` folder.
        metrics: a config's ``test_evaluator``; its ``PSNR``, ``SSIM``, ``MAE`` and ``MSE`` entries are used
            as configured (other entries, e.g. result writers, are skipped). Default: ``PSNR()`` and ``SSIM()``.
        mask_dir: masks by stem (PNG or ``.npy``, non-zero = hole), for metrics with ``mask_key="mask"``.
        classes: unused, accepted as the other tasks' ``evaluate_files``.

    Returns:
        ``{"PSNR": ..., "SSIM": ...}`` (the metrics' keys, prefixed as configured).

    Raises:
        ValueError: a missing or unmatched prediction or mask (named), sizes that differ (named), two
            metrics with the same key.
    """
    truth, predictions = image_files_by_stem(gt_dir), image_files_by_stem(pred_dir)
    if not truth:
        raise ValueError(f"{os.fspath(gt_dir)!r} holds no image ({', '.join(IMAGE_SUFFIXES)})")
    missing = [stem for stem in truth if stem not in predictions]
    if missing:
        shown = ", ".join(f"{stem}.png" for stem in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ValueError(
            f"{os.fspath(pred_dir)!r} has no prediction for {len(missing)} image(s) of {os.fspath(gt_dir)!r}: {shown}"
        )
    unknown = sorted(set(predictions) - set(truth))
    if unknown:
        raise ValueError(
            f"{os.fspath(pred_dir)!r} has predictions without ground truth in {os.fspath(gt_dir)!r}: {unknown[:5]}"
        )
    built = _metrics(metrics)
    masks: dict[str, Path] = {}
    if mask_dir is not None:
        masks = image_files_by_stem(mask_dir, MASK_SUFFIXES)
        absent = [stem for stem in truth if stem not in masks]
        if absent:
            raise ValueError(f"{os.fspath(mask_dir)!r} has no mask for {len(absent)} image(s): {absent[:5]}")
    elif any(metric.mask_key is not None for metric in built):
        raise ValueError("a metric has a mask_key but no mask_dir was given")
    samples = [
        _sample(path, predictions[stem], masks.get(stem), index)
        for index, (stem, path) in enumerate(truth.items())
    ]
    results: dict[str, float] = {}
    for metric in built:
        metric.process(None, samples)
        for name, value in metric.evaluate(len(samples)).items():
            if name in results:
                raise ValueError(f"two metrics give {name!r}; set a different prefix on one of them")
            results[name] = value
    return results
