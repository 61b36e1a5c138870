"""Transforms that mix several images: Mosaic (YOLOv4) and MixUp (YOLOX's detection variant).

They need other samples than the one being transformed. As in MMDetection, such a transform
defines ``get_indexes(dataset)`` and reads the extra samples (each already through the inner
dataset's pipeline: loaded image and annotations) from ``results["mix_results"]``, which
:class:`~visionstack.tasks.detection.mix_dataset.MultiImageMixDataset` fills in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ....data.transforms.annotation_kernels import INSTANCE_KEYS, annotation_kernels, keep_instances
from ....data.transforms.base import BaseTransform
from ....data.transforms.coordinate_kernels import boxes_inside
from ....data.transforms.geometric import crop_results, flip_results, pad_results, resize_results
from ....registry import TRANSFORMS

__all__ = ["Mosaic", "MixUp", "concat_instances"]


def _instance_part(results: dict) -> dict:
    """A new dict with the image and the per-instance keys (defaults filled), safe to transform."""
    count = len(results.get("gt_bboxes", ()))
    part: dict[str, Any] = {"img": results["img"], "img_shape": results["img"].shape[:2]}
    part["gt_bboxes"] = np.asarray(results.get("gt_bboxes", np.zeros((0, 4))), dtype=np.float32).reshape(
        -1, 4
    )
    part["gt_bboxes_labels"] = np.asarray(results.get("gt_bboxes_labels", np.zeros(count)), dtype=np.int64)
    part["gt_ignore_flags"] = np.asarray(results.get("gt_ignore_flags", np.zeros(count)), dtype=bool)
    if results.get("gt_masks") is not None:
        part["gt_masks"] = results["gt_masks"]
    return part


def concat_instances(parts: Sequence[dict]) -> dict:
    """Concatenate the per-instance keys of several parts (all with masks or all without)."""
    with_masks = [part.get("gt_masks") is not None for part in parts]
    if any(with_masks) and not all(with_masks):
        raise ValueError("cannot mix samples with and without gt_masks; load masks for every sample")
    merged = {
        "gt_bboxes": np.concatenate([part["gt_bboxes"] for part in parts]).reshape(-1, 4),
        "gt_bboxes_labels": np.concatenate([part["gt_bboxes_labels"] for part in parts]),
        "gt_ignore_flags": np.concatenate([part["gt_ignore_flags"] for part in parts]),
    }
    if all(with_masks):
        masks = [part["gt_masks"] for part in parts]
        merged["gt_masks"] = type(masks[0]).cat(masks)
    return merged


def _check_mixable(samples: Sequence[dict], owner: str) -> None:
    """Mixing concatenates boxes, labels, flags and masks only; other per-instance kinds would go stale."""
    for key, kernel in annotation_kernels().items():
        if kernel.per_instance and key not in INSTANCE_KEYS and any(s.get(key) is not None for s in samples):
            raise ValueError(
                f"{owner} mixes gt_bboxes, gt_bboxes_labels, gt_ignore_flags and gt_masks only, but a sample "
                f"holds {key!r}, which it would leave unmoved; drop it before {owner} or mix without it"
            )


def _mix_results(results: dict, count: int, owner: str) -> list[dict]:
    mixed = results.get("mix_results")
    if mixed is None or len(mixed) != count:
        raise KeyError(
            f"{owner} needs `mix_results` with {count} loaded sample(s); wrap the dataset in "
            "MultiImageMixDataset(dataset=..., pipeline=[..., dict(type='" + owner + "'), ...])"
        )
    _check_mixable([results, *mixed], owner)
    return list(mixed)


@TRANSFORMS.register()
class Mosaic(BaseTransform):
    """Mosaic (Bochkovskiy et al. 2020, YOLOv4 Sec. 3.3): four images around a random centre.

    On a ``(2h, 2w)`` canvas filled with ``pad_val``, a centre ``(cx, cy)`` is drawn with
    ``cx = int(U(center_ratio_range) * w)`` (same for y). Each image (this one top-left, then the
    three of ``mix_results`` top-right, bottom-left, bottom-right) is scaled by ``min(h / h_i, w / w_i)``
    and placed with its inner corner at the centre, cropped where it leaves the canvas. Boxes and
    masks follow; instances with no area left are dropped. The output is the ``(2h, 2w)`` canvas
    (MMDetection follows Mosaic with RandomAffine to bring it back to ``img_scale``).

    Args:
        img_scale: ``(w, h)`` of one quadrant.
        center_ratio_range: the centre's range as a fraction of ``w`` and ``h``.
        pad_val: canvas fill value.
        prob: probability of applying the mosaic.
    """

    LOCATIONS = ("top_left", "top_right", "bottom_left", "bottom_right")

    def __init__(
        self,
        img_scale: tuple[int, int] = (640, 640),
        center_ratio_range: tuple[float, float] = (0.5, 1.5),
        pad_val: float = 114.0,
        prob: float = 1.0,
    ) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f"Mosaic: prob must be in [0, 1], got {prob}")
        if not 0 < center_ratio_range[0] <= center_ratio_range[1] < 2:
            raise ValueError(f"Mosaic: center_ratio_range must lie in (0, 2), got {center_ratio_range}")
        self.img_scale = (int(img_scale[0]), int(img_scale[1]))
        self.center_ratio_range = tuple(center_ratio_range)
        self.pad_val = pad_val
        self.prob = prob

    def get_indexes(self, dataset: Any) -> list[int]:
        """Three random indices of ``dataset``."""
        return [int(np.random.randint(0, len(dataset))) for _ in range(3)]

    def paste_and_crop(
        self, location: str, center: tuple[int, int], size: tuple[int, int]
    ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        """Where an image of ``size = (w_i, h_i)`` goes on the canvas and which part of it: two x1 y1 x2 y2."""
        (cx, cy), (w_i, h_i) = center, size
        canvas_w, canvas_h = 2 * self.img_scale[0], 2 * self.img_scale[1]
        if location == "top_left":
            paste = (max(cx - w_i, 0), max(cy - h_i, 0), cx, cy)
        elif location == "top_right":
            paste = (cx, max(cy - h_i, 0), min(cx + w_i, canvas_w), cy)
        elif location == "bottom_left":
            paste = (max(cx - w_i, 0), cy, cx, min(canvas_h, cy + h_i))
        else:
            paste = (cx, cy, min(cx + w_i, canvas_w), min(canvas_h, cy + h_i))
        paste_w, paste_h = paste[2] - paste[0], paste[3] - paste[1]
        # The image keeps the side that touches the centre: its right/bottom part left of/above it.
        crop_x1 = w_i - paste_w if location in ("top_left", "bottom_left") else 0
        crop_y1 = h_i - paste_h if location in ("top_left", "top_right") else 0
        return paste, (crop_x1, crop_y1, crop_x1 + paste_w, crop_y1 + paste_h)

    def transform(self, results: dict) -> dict:
        if np.random.uniform(0, 1) > self.prob:
            return results
        others = _mix_results(results, 3, "Mosaic")
        width, height = self.img_scale
        channels = results["img"].shape[2] if results["img"].ndim == 3 else 1
        canvas = np.full((2 * height, 2 * width, channels), self.pad_val, dtype=results["img"].dtype)
        center = (
            int(np.random.uniform(*self.center_ratio_range) * width),
            int(np.random.uniform(*self.center_ratio_range) * height),
        )
        parts = []
        for location, sample in zip(self.LOCATIONS, [results, *others]):
            part = _instance_part(sample)
            h_i, w_i = part["img"].shape[:2]
            ratio = min(height / h_i, width / w_i)
            resize_results(part, (max(1, int(w_i * ratio)), max(1, int(h_i * ratio))))
            paste, crop = self.paste_and_crop(location, center, part["img"].shape[1::-1])
            crop_results(part, *crop)
            image = part.pop("img")
            canvas[paste[1] : paste[3], paste[0] : paste[2]] = image if image.ndim == 3 else image[..., None]
            pad_results(part, (2 * width, 2 * height), offset=paste[:2])  # the annotations onto the canvas
            parts.append(part)
        merged = concat_instances(parts)
        keep_instances(merged, boxes_inside(merged["gt_bboxes"], 2 * width, 2 * height))
        results.update(merged)
        results["img"] = canvas if results["img"].ndim == 3 else canvas[..., 0]
        results["img_shape"] = canvas.shape[:2]
        results.pop("mix_results", None)
        return results


@TRANSFORMS.register()
class MixUp(BaseTransform):
    """MixUp for detection as in YOLOX (Ge et al. 2021, Sec. 2.2): blend in a jittered, flipped second image.

    The second image (``mix_results[0]``) is scaled to fit ``img_scale`` (top-left on a
    ``pad_val`` canvas), the canvas is scaled by a jitter factor ``U(ratio_range)``, mirrored when
    ``U(0, 1) > flip_ratio``, padded to cover this image, and a random window of this image's size is
    cut out (offsets uniform in ``[0, excess)``). The two images are averaged (0.5 / 0.5) and the
    instances concatenated; mixed-in instances with no area left are dropped. Boxes and masks go
    through exactly the image's operations (MMDetection mirrors boxes about the original width,
    not the jittered canvas; this one mirrors them with the pixels).

    Args:
        img_scale: ``(w, h)`` that the second image is fitted into.
        ratio_range: the jitter factor's range.
        flip_ratio: the mirror happens when ``U(0, 1) > flip_ratio``.
        pad_val: fill value of the canvas.
        max_iters: draws in ``get_indexes`` to find a sample with at least one box.
    """

    def __init__(
        self,
        img_scale: tuple[int, int] = (640, 640),
        ratio_range: tuple[float, float] = (0.5, 1.5),
        flip_ratio: float = 0.5,
        pad_val: float = 114.0,
        max_iters: int = 15,
    ) -> None:
        if not 0 < ratio_range[0] <= ratio_range[1]:
            raise ValueError(f"MixUp: need 0 < min <= max in ratio_range={ratio_range}")
        self.img_scale = (int(img_scale[0]), int(img_scale[1]))
        self.ratio_range = tuple(ratio_range)
        self.flip_ratio = flip_ratio
        self.pad_val = pad_val
        self.max_iters = max_iters

    def get_indexes(self, dataset: Any) -> list[int]:
        """One random index, redrawn up to ``max_iters`` times until its record has an instance."""
        index = 0
        for _ in range(self.max_iters):
            index = int(np.random.randint(0, len(dataset)))
            info = dataset.get_data_info(index) if hasattr(dataset, "get_data_info") else {}
            if len(info.get("instances", ())) > 0:
                break
        return [index]

    def transform(self, results: dict) -> dict:
        retrieved = _mix_results(results, 1, "MixUp")[0]
        if len(retrieved.get("gt_bboxes", ())) == 0:
            return results
        jitter = float(np.random.uniform(*self.ratio_range))
        flip = bool(np.random.uniform(0, 1) > self.flip_ratio)
        origin_h, origin_w = results["img"].shape[:2]
        width, height = self.img_scale
        part = _instance_part(retrieved)
        h_r, w_r = part["img"].shape[:2]
        ratio = min(height / h_r, width / w_r)
        pad_val = dict(img=self.pad_val)
        resize_results(part, (max(1, int(w_r * ratio)), max(1, int(h_r * ratio))))
        pad_results(part, (width, height), pad_val=pad_val)
        resize_results(part, (max(1, int(width * jitter)), max(1, int(height * jitter))))
        if flip:
            flip_results(part, "horizontal")
        target_h, target_w = part["img"].shape[:2]
        pad_results(part, (max(origin_w, target_w), max(origin_h, target_h)), pad_val=pad_val)
        x_offset = int(np.random.randint(0, target_w - origin_w)) if target_w > origin_w else 0
        y_offset = int(np.random.randint(0, target_h - origin_h)) if target_h > origin_h else 0
        crop_results(part, x_offset, y_offset, x_offset + origin_w, y_offset + origin_h)
        keep_instances(part, boxes_inside(part["gt_bboxes"], origin_w, origin_h))
        mixed = 0.5 * results["img"].astype(np.float32) + 0.5 * part["img"].astype(np.float32)
        merged = concat_instances([_instance_part(results), part])
        results.update(merged)
        results["img"] = np.clip(np.rint(mixed), 0, 255).astype(results["img"].dtype)
        results.pop("mix_results", None)
        return results
