"""Transforms of keypoint-sequence samples: load a sequence file, flip left/right, pack for the lifter.

A lifting sample (the results dict) holds ``keypoints_2d`` (L, 17, 2) float32 normalised screen coordinates,
already edge-padded so that each of its F target frames has a full receptive field (``L = F + rf - 1``),
``keypoints_3d`` (F, 17, 3) float32 root-relative camera-frame joints in mm when the ground truth is known,
and the sequence's ``img_path`` (the sequence file), ``image_size`` (w, h), ``num_frames`` (F),
``frame_offset`` (the first target frame's index in its sequence), ``subject``, ``action``, ``camera``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ....data.transforms.base import BaseTransform
from ....registry import TRANSFORMS
from ....structures import DataSample, InstanceData
from ..metainfo import H36M_KEYPOINTS
from .sequences import pad_edges, read_keypoint_sequence, window_padding

__all__ = ["LoadKeypointSequence", "PackLiftingInputs", "RandomFlipLifting", "sequence_sample"]

META_KEYS = (
    "img_path",
    "ori_shape",
    "img_shape",
    "image_size",
    "num_frames",
    "frame_offset",
    "subject",
    "action",
    "camera",
    "flip",
)


def sequence_sample(path: str, receptive_field: int, causal: bool = False, root_index: int = 0) -> dict:
    """The results dict of a whole sequence file: every frame a target, the inputs edge-padded for
    ``receptive_field`` (VideoPose3D's test-time padding; ``causal`` pads the past only)."""
    sequence = read_keypoint_sequence(path)
    before, after = window_padding(receptive_field, causal)
    width, height = sequence.image_size
    results = {
        "img_path": str(path),
        "keypoints_2d": pad_edges(sequence.normalized_inputs(), before, after),
        "image_size": (width, height),
        "ori_shape": (height, width),
        "img_shape": (height, width),
        "num_frames": sequence.num_frames,
        "frame_offset": 0,
    }
    targets = sequence.root_relative_3d(root_index)
    if targets is not None:
        results["keypoints_3d"] = targets
    return results


@TRANSFORMS.register()
class LoadKeypointSequence(BaseTransform):
    """Read the sequence file at ``results["img_path"]`` (``.npz``/``.json``, see
    :mod:`~visionstack.tasks.pose.lifting.sequences`; COCO-layout files are converted to H36M) as one sample
    of all its frames: the inputs of ``infer`` (``infer_pipeline``).

    Args:
        receptive_field: the lifter's window in frames (odd); the inputs are edge-padded for it.
        causal: pad the past only (a causal lifter's windows end at their target frame).
        root_index: the joint subtracted from the ground truth, when the file has one.
    """

    def __init__(self, receptive_field: int, causal: bool = False, root_index: int = 0) -> None:
        window_padding(receptive_field, causal)  # checks the value
        self.receptive_field = int(receptive_field)
        self.causal = bool(causal)
        self.root_index = int(root_index)

    def transform(self, results: dict) -> dict:
        if "img_path" not in results:
            raise KeyError("LoadKeypointSequence: the results have no `img_path` (the sequence file)")
        loaded = sequence_sample(results["img_path"], self.receptive_field, self.causal, self.root_index)
        return {**results, **loaded}


@TRANSFORMS.register()
class RandomFlipLifting(BaseTransform):
    """VideoPose3D's flip augmentation: mirror the 2D inputs (normalised x -> -x) and the 3D targets
    (camera-frame x -> -x) and exchange the left and right joints, with probability ``prob``.

    Args:
        prob: the probability of flipping a sample.
        flip_indices: the mirror of each joint (default: ``H36M_KEYPOINTS["flip_indices"]``).
    """

    def __init__(self, prob: float = 0.5, flip_indices: Sequence[int] | None = None) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"RandomFlipLifting: prob must be in [0, 1], got {prob}")
        self.prob = float(prob)
        self.flip_indices = list(flip_indices if flip_indices is not None else H36M_KEYPOINTS["flip_indices"])

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.prob)
        results["flip"] = flip
        if flip:
            results["keypoints_2d"] = flip_keypoints(results["keypoints_2d"], self.flip_indices)
            if results.get("keypoints_3d") is not None:
                results["keypoints_3d"] = flip_keypoints(results["keypoints_3d"], self.flip_indices)
        return results


def flip_keypoints(keypoints: np.ndarray, flip_indices: Sequence[int]) -> np.ndarray:
    """(..., J, D) keypoints mirrored: x negated (normalised 2D or camera-frame 3D), joints exchanged."""
    flipped = np.array(keypoints[..., list(flip_indices), :], copy=True)
    flipped[..., 0] *= -1
    return flipped


@TRANSFORMS.register()
class PackLiftingInputs(BaseTransform):
    """``{"inputs": (L, 17, 2) float32 tensor, "data_samples": DataSample}``; the ground truth
    ``keypoints_3d`` (F, 17, 3) mm becomes ``gt_instances.keypoints`` (one row per target frame).

    Args:
        meta_keys: results keys copied into the sample's metainfo (missing ones are skipped).
    """

    def __init__(self, meta_keys: Sequence[str] = META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        if "keypoints_2d" not in results:
            raise KeyError(
                f"PackLiftingInputs: {results.get('img_path', 'the sample')!r} has no `keypoints_2d`; "
                "use a lifting dataset or LoadKeypointSequence first"
            )
        inputs = torch.from_numpy(np.ascontiguousarray(results["keypoints_2d"], dtype=np.float32))
        sample = DataSample(metainfo={key: results[key] for key in self.meta_keys if key in results})
        if results.get("keypoints_3d") is not None:
            targets = torch.from_numpy(np.ascontiguousarray(results["keypoints_3d"], dtype=np.float32))
            sample.gt_instances = InstanceData(keypoints=targets)
        return {"inputs": inputs, "data_samples": sample}
