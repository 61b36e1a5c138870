"""The top-down pose pipeline: person box -> centre and scale -> augmented affine crop -> codec targets -> pack.

A training pipeline (MMPose's names and defaults)::

    LoadImage, GetBBoxCenterScale(padding=1.25), RandomHalfBody(), RandomBBoxTransform(),
    TopdownAffine(input_size=(w, h)), TopdownRandomFlip(), GenerateTarget(encoder=codec), PackPoseInputs()

and a test pipeline ``LoadImage, GetBBoxCenterScale, TopdownAffine, PackPoseInputs``.

Coordinates are pixel indices (pixel ``i`` is centred on ``i``), the convention of COCO keypoints, of
``cv2.warpAffine`` and of MMPose. The crop maps the box centre ``c`` and size ``s`` (the box padded by
``padding`` and widened to the input aspect ratio) onto the input: ``x' = w_in / s_w * R(x - c) + w_in / 2``
(``R`` the rotation); with ``use_udp`` (unbiased data processing, Huang et al. 2020) the scale is
``(w_in - 1) / s_w`` and the centre lands on ``(w_in - 1) / 2``, so that decoding is exact at every size.

The horizontal flip acts on the crop, after the warp (MMPose flips the image before it; the distribution of
training crops is the same): the crop is mirrored, ``x -> w_in - 1 - x``, and left and right keypoints swap by
``flip_indices``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import torch

from ...data.transforms.base import BaseTransform
from ...data.transforms.formatting import BasePackInputs
from ...registry import TRANSFORMS
from ...structures import DataSample, InstanceData, PixelData
from .geometry import fix_aspect_ratio, topdown_warp_matrix, warp_to_input

__all__ = [
    "GenerateTarget",
    "GetBBoxCenterScale",
    "PackPoseInputs",
    "RandomBBoxTransform",
    "RandomHalfBody",
    "TopdownAffine",
    "TopdownRandomFlip",
    "fix_aspect_ratio",
    "topdown_warp_matrix",
]

POSE_META_KEYS = (
    "id",
    "img_id",
    "img_path",
    "category_id",
    "ori_shape",
    "img_shape",
    "input_size",
    "input_center",
    "input_scale",
    "flip",
    "flip_direction",
    "flip_indices",
    "bbox",
    "bbox_score",
    "sample_idx",
)


def _require(results: Mapping[str, Any], keys: Sequence[str], owner: str, advice: str) -> None:
    missing = [key for key in keys if key not in results]
    if missing:
        raise KeyError(
            f"{owner}: the results of {results.get('img_path')!r} have no {missing} "
            f"(keys: {sorted(results)}); {advice}"
        )


def _truncated_normal(low: float = -1.0, high: float = 1.0) -> float:
    """A standard normal draw clipped to ``[low, high]`` (MMPose's augmentation draws)."""
    return float(np.clip(np.random.randn(), low, high))


@TRANSFORMS.register()
class GetBBoxCenterScale(BaseTransform):
    """``bbox`` (N, 4) xyxy -> ``bbox_center`` (N, 2) and ``bbox_scale`` (N, 2) = box size x ``padding``.

    Args:
        padding: how much larger than the box the crop is (1.25, as MMPose's top-down configs).
    """

    def __init__(self, padding: float = 1.25) -> None:
        self.padding = float(padding)

    def transform(self, results: dict) -> dict:
        if "bbox_center" in results and "bbox_scale" in results:
            return results  # set already (e.g. by a detector stage)
        _require(results, ("bbox",), "GetBBoxCenterScale", "the dataset gives each person a `bbox`")
        bbox = np.asarray(results["bbox"], dtype=np.float32).reshape(-1, 4)
        results["bbox_center"] = (bbox[:, :2] + bbox[:, 2:]) / 2
        results["bbox_scale"] = (bbox[:, 2:] - bbox[:, :2]) * self.padding
        return results


@TRANSFORMS.register()
class RandomHalfBody(BaseTransform):
    """With probability ``prob``, crop to the upper or lower body of a person with enough visible keypoints.

    The half is the upper one with probability ``upper_prioritized_prob`` when it has ``min_upper_keypoints``
    visible keypoints (else the lower one, when it has ``min_lower_keypoints``); the new box holds that half's
    visible keypoints, widened to the old box's aspect ratio and padded by ``padding``. The half-body ids come
    from the dataset metainfo (``upper_body_ids``); persons with fewer than ``min_total_keypoints`` visible
    keypoints keep their box.
    """

    def __init__(
        self,
        min_total_keypoints: int = 9,
        min_upper_keypoints: int = 2,
        min_lower_keypoints: int = 3,
        padding: float = 1.5,
        prob: float = 0.3,
        upper_prioritized_prob: float = 0.7,
        upper_body_ids: Sequence[int] | None = None,
    ) -> None:
        self.min_total_keypoints = min_total_keypoints
        self.min_upper_keypoints = min_upper_keypoints
        self.min_lower_keypoints = min_lower_keypoints
        self.padding = float(padding)
        self.prob = float(prob)
        self.upper_prioritized_prob = float(upper_prioritized_prob)
        self.upper_body_ids = None if upper_body_ids is None else set(upper_body_ids)

    def _half(self, visible: np.ndarray, upper: set[int]) -> np.ndarray | None:
        indices = np.flatnonzero(visible > 0)
        if len(indices) < self.min_total_keypoints:
            return None
        upper_part = [i for i in indices if i in upper]
        lower_part = [i for i in indices if i not in upper]
        if len(upper_part) >= self.min_upper_keypoints and (
            np.random.rand() < self.upper_prioritized_prob or len(lower_part) < self.min_lower_keypoints
        ):
            return np.asarray(upper_part)
        if len(lower_part) >= self.min_lower_keypoints:
            return np.asarray(lower_part)
        return None

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        _require(
            results,
            ("keypoints", "keypoints_visible", "bbox_center", "bbox_scale"),
            "RandomHalfBody",
            "put it after GetBBoxCenterScale, in a pipeline with keypoints",
        )
        upper = self.upper_body_ids
        if upper is None:
            given = results.get("upper_body_ids")
            upper = set(range(11) if given is None else (int(i) for i in np.asarray(given).reshape(-1)))
        centers, scales = results["bbox_center"].copy(), results["bbox_scale"].copy()
        for person in range(len(centers)):
            chosen = self._half(np.asarray(results["keypoints_visible"][person]), upper)
            if chosen is None:
                continue
            points = np.asarray(results["keypoints"][person])[chosen]
            low, high = points.min(axis=0), points.max(axis=0)
            aspect = scales[person, 0] / max(scales[person, 1], 1e-6)
            size = fix_aspect_ratio((high - low) * self.padding, float(aspect))
            centers[person] = (low + high) / 2
            scales[person] = size
        results["bbox_center"], results["bbox_scale"] = centers, scales
        return results


@TRANSFORMS.register()
class RandomBBoxTransform(BaseTransform):
    """Random shift, scale and rotation of the crop box (MMPose's defaults).

    The shift is ``t * shift_factor * scale`` (``t`` a normal draw clipped to [-1, 1]) with probability
    ``shift_prob``; the scale factor ``1 + t * (max - min) / 2`` around the middle of ``scale_factor`` with
    probability ``scale_prob``; the rotation ``t * rotate_factor`` degrees with probability ``rotate_prob``.
    """

    def __init__(
        self,
        shift_factor: float = 0.16,
        shift_prob: float = 0.3,
        scale_factor: Sequence[float] = (0.5, 1.5),
        scale_prob: float = 1.0,
        rotate_factor: float = 80.0,
        rotate_prob: float = 0.6,
    ) -> None:
        self.shift_factor, self.shift_prob = float(shift_factor), float(shift_prob)
        self.scale_factor, self.scale_prob = (
            (float(scale_factor[0]), float(scale_factor[1])),
            float(scale_prob),
        )
        self.rotate_factor, self.rotate_prob = float(rotate_factor), float(rotate_prob)

    def transform(self, results: dict) -> dict:
        _require(
            results, ("bbox_center", "bbox_scale"), "RandomBBoxTransform", "put GetBBoxCenterScale first"
        )
        centers, scales = results["bbox_center"].copy(), results["bbox_scale"].copy()
        rotations = np.zeros(len(centers), dtype=np.float32)
        low, high = self.scale_factor
        for person in range(len(centers)):
            if np.random.rand() < self.shift_prob:
                shift = np.array([_truncated_normal(), _truncated_normal()]) * self.shift_factor
                centers[person] = centers[person] + shift * scales[person]
            if np.random.rand() < self.scale_prob:
                scales[person] = scales[person] * (_truncated_normal() * (high - low) / 2 + (high + low) / 2)
            if np.random.rand() < self.rotate_prob:
                rotations[person] = _truncated_normal() * self.rotate_factor
        results["bbox_center"], results["bbox_scale"], results["bbox_rotation"] = centers, scales, rotations
        return results


@TRANSFORMS.register()
class TopdownAffine(BaseTransform):
    """Warp the person's box (centre, scale widened to the input aspect ratio, rotation) to ``input_size``.

    Sets ``img`` (the crop), ``img_shape``, ``input_size`` (w, h), ``input_center`` (2,), ``input_scale`` (2,),
    ``input_rotation`` and ``transformed_keypoints`` (1, K, 2) when the results hold keypoints; keypoints warped
    outside the crop keep their coordinates (the codec gives them weight 0).

    Args:
        input_size: the crop's (w, h).
        use_udp: unbiased data processing (see the module docstring).
    """

    def __init__(self, input_size: Sequence[int], use_udp: bool = False) -> None:
        if len(input_size) != 2:
            raise ValueError(f"TopdownAffine: input_size must be (w, h), got {input_size!r}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.use_udp = bool(use_udp)

    def transform(self, results: dict) -> dict:
        _require(
            results, ("img", "bbox_center", "bbox_scale"), "TopdownAffine", "put GetBBoxCenterScale first"
        )
        centers = np.asarray(results["bbox_center"], dtype=np.float32).reshape(-1, 2)
        if len(centers) != 1:
            raise ValueError(
                f"TopdownAffine: {results.get('img_path')!r} has {len(centers)} boxes; the top-down view crops "
                "one person per sample (CocoKeypointsDataset(data_mode='topdown'))"
            )
        w, h = self.input_size
        rotation = float(np.asarray(results.get("bbox_rotation", [0.0])).reshape(-1)[0])
        scale = np.asarray(results["bbox_scale"], dtype=np.float32).reshape(-1, 2)
        results["img"], matrix, fixed = warp_to_input(
            results["img"], centers[0], scale[0], rotation, self.input_size, self.use_udp
        )
        if results.get("keypoints") is not None:
            points = np.asarray(results["keypoints"], dtype=np.float32)
            results["transformed_keypoints"] = (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
        results["img_shape"] = (h, w)
        results["input_size"] = (w, h)
        results["input_center"] = centers[0].astype(np.float32)
        results["input_scale"] = fixed.astype(np.float32)
        results["input_rotation"] = rotation
        return results


@TRANSFORMS.register()
class TopdownRandomFlip(BaseTransform):
    """Mirror the crop with probability ``prob``: ``x -> w_in - 1 - x``, left and right keypoints swapped.

    The swap follows ``flip_indices`` of the results (the dataset metainfo puts it there).
    """

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = float(prob)

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.prob)
        results["flip"], results["flip_direction"] = flip, "horizontal" if flip else None
        if not flip:
            return results
        _require(results, ("img", "input_size"), "TopdownRandomFlip", "put it after TopdownAffine")
        results["img"] = cv2.flip(results["img"], 1)
        if results.get("transformed_keypoints") is not None:
            _require(
                results, ("flip_indices",), "TopdownRandomFlip", "the dataset metainfo needs `flip_indices`"
            )
            order = list(results["flip_indices"])
            points = np.asarray(results["transformed_keypoints"])[:, order].copy()
            points[..., 0] = results["input_size"][0] - 1 - points[..., 0]
            results["transformed_keypoints"] = points
            results["keypoints_visible"] = np.asarray(results["keypoints_visible"])[:, order].copy()
        return results


@TRANSFORMS.register()
class GenerateTarget(BaseTransform):
    """Encode ``transformed_keypoints`` with the codec ``encoder`` (heatmaps or SimCC labels).

    Sets what the codec returns: ``heatmaps`` or ``keypoint_x_labels`` / ``keypoint_y_labels``, and
    ``keypoint_weights`` (N, K), multiplied by the dataset's ``joint_weights`` when
    ``use_dataset_keypoint_weights``.
    """

    def __init__(self, encoder: Any, use_dataset_keypoint_weights: bool = False) -> None:
        from .codecs import build_codec

        self.encoder = build_codec(encoder)
        self.use_dataset_keypoint_weights = bool(use_dataset_keypoint_weights)

    def transform(self, results: dict) -> dict:
        _require(
            results,
            ("transformed_keypoints", "keypoints_visible"),
            "GenerateTarget",
            "put TopdownAffine first, in a pipeline with keypoints",
        )
        encoded = self.encoder.encode(results["transformed_keypoints"], results["keypoints_visible"])
        weights = np.asarray(encoded["keypoint_weights"], dtype=np.float32)
        if self.use_dataset_keypoint_weights and results.get("joint_weights") is not None:
            weights = weights * np.asarray(results["joint_weights"], dtype=np.float32)[None]
        encoded["keypoint_weights"] = weights
        results.update(encoded)
        return results


def _as_tensor(value: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(np.asarray(value)), dtype=dtype)


@TRANSFORMS.register()
class PackPoseInputs(BasePackInputs):
    """Make ``{"inputs": uint8 (C, H, W) crop, "data_samples": DataSample}`` for a top-down pose model.

    ``gt_instances``: ``bboxes`` (1, 4), ``bbox_scores`` (1,), ``keypoints`` (1, K, 2) in original-image pixels,
    ``keypoints_visible`` (1, K), ``areas`` (1,), and ``transformed_keypoints`` (1, K, 2) in crop pixels.
    ``gt_instance_labels``: ``keypoint_weights`` (1, K) and SimCC's ``keypoint_x_labels`` / ``keypoint_y_labels``.
    ``gt_fields``: heatmap codecs' ``heatmaps`` (K, h, w).
    """

    missing_img_advice = "put LoadImage first"

    def __init__(self, meta_keys: Sequence[str] = POSE_META_KEYS) -> None:
        super().__init__(meta_keys)

    def pack_annotations(self, results: dict, sample: DataSample) -> None:
        instances = InstanceData()
        for key, name in (
            ("bbox", "bboxes"),
            ("bbox_score", "bbox_scores"),
            ("keypoints", "keypoints"),
            ("keypoints_visible", "keypoints_visible"),
            ("area", "areas"),
            ("transformed_keypoints", "transformed_keypoints"),
        ):
            if results.get(key) is not None:
                setattr(instances, name, _as_tensor(results[key]))
        sample.gt_instances = instances
        labels = InstanceData()
        for key in ("keypoint_weights", "keypoint_x_labels", "keypoint_y_labels"):
            if results.get(key) is not None:
                setattr(labels, key, _as_tensor(results[key]))
        if labels.keys():
            sample.gt_instance_labels = labels
        if results.get("heatmaps") is not None:
            sample.gt_fields = PixelData(heatmaps=_as_tensor(results["heatmaps"]))
