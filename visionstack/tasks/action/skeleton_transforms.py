"""Skeleton-based action recognition transforms (MMAction2 / PYSKL names and formulas).

A skeleton pipeline (ST-GCN style) on records of ``keypoint`` (M, T, V, C) and ``keypoint_score``
(M, T, V)::

    PreNormalize2D() ; GenSkeFeat(dataset="coco", feats=["j"])
    UniformSampleFrames(clip_len=100) ; PoseDecode()
    FormatGCNInput(num_person=2) ; PackActionInputs()      # inputs (num_clips, M, T, V, C) float32

``PackActionInputs`` (in :mod:`.transforms`) packs ``keypoint`` when the results hold no ``imgs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...data.transforms.base import BaseTransform
from ...registry import TRANSFORMS

__all__ = [
    "BONE_PAIRS",
    "FormatGCNInput",
    "GenSkeFeat",
    "PoseDecode",
    "PreNormalize2D",
    "UniformSampleFrames",
    "joint_to_bone",
    "to_motion",
]

# (joint, parent) of each joint: a bone is joint - parent, the root pairs with itself (zero bone).
# COCO-17: nose 0, eyes 1-2, ears 3-4, shoulders 5-6, elbows 7-8, wrists 9-10, hips 11-12,
# knees 13-14, ankles 15-16, with the nose as root (MMAction2's ``coco`` layout).
BONE_PAIRS: dict[str, tuple[tuple[int, int], ...]] = {
    "coco": (
        (0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6),
        (9, 7), (10, 8), (11, 0), (12, 0), (13, 11), (14, 12), (15, 13), (16, 14),
    ),
    "nturgb+d": (
        (0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8),
        (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17),
        (19, 18), (21, 22), (20, 20), (22, 7), (23, 24), (24, 11),
    ),
}  # fmt: skip

# Layouts whose third channel is a confidence score (averaged, not subtracted, by bones and motion).
SCORED_LAYOUTS = ("coco",)


@TRANSFORMS.register()
class UniformSampleFrames(BaseTransform):
    """Sample ``clip_len`` frames spread evenly over the sequence, ``num_clips`` times (PYSKL's sampler).

    With T frames: T < clip_len: ``clip_len`` consecutive indices from a start (random in training;
    ``i * T // num_clips`` for clip i in test mode), wrapping around; clip_len <= T < 2 * clip_len:
    all frames but ``T - clip_len`` skipped positions drawn without replacement; otherwise one random
    frame from each of ``clip_len`` equal segments. Test mode draws from a generator seeded with
    ``seed``, so it is deterministic (MMAction2 reseeds the global generator; this one leaves it alone
    and yields the same indices).

    Writes ``frame_inds`` ((num_clips * clip_len,) int64, ``start_index`` added), ``clip_len``,
    ``frame_interval`` (None) and ``num_clips``.

    Args:
        clip_len: frames per clip.
        num_clips: clips per sequence.
        test_mode: deterministic sampling.
        seed: the seed of test mode.
    """

    def __init__(self, clip_len: int, num_clips: int = 1, test_mode: bool = False, seed: int = 255) -> None:
        if clip_len < 1 or num_clips < 1:
            raise ValueError(
                f"UniformSampleFrames: clip_len ({clip_len}) and num_clips ({num_clips}) must be >= 1"
            )
        self.clip_len = int(clip_len)
        self.num_clips = int(num_clips)
        self.test_mode = test_mode
        self.seed = seed

    def _clip(self, num_frames: int, clip: int, rng: Any) -> np.ndarray:
        """Clip ``clip``'s indices; ``rng`` is a RandomState or the ``np.random`` module."""
        clip_len = self.clip_len
        if num_frames < clip_len:
            if self.test_mode:
                start = clip if num_frames < self.num_clips else clip * num_frames // self.num_clips
            else:
                start = rng.randint(0, num_frames)
            return np.arange(start, start + clip_len)
        if num_frames < 2 * clip_len:
            skipped = rng.choice(clip_len + 1, num_frames - clip_len, replace=False)
            shift = np.zeros(clip_len + 1, dtype=np.int64)
            shift[skipped] = 1
            return np.arange(clip_len) + np.cumsum(shift)[:-1]
        bounds = np.array([i * num_frames // clip_len for i in range(clip_len + 1)])
        return bounds[:-1] + rng.randint(np.diff(bounds))

    def transform(self, results: dict) -> dict:
        num_frames = int(results["total_frames"])
        if num_frames <= 0:
            raise ValueError(f"UniformSampleFrames: the sequence has no frames (total_frames={num_frames})")
        # RandomState(seed) draws exactly what np.random does after np.random.seed(seed)
        rng = np.random.RandomState(self.seed) if self.test_mode else np.random
        inds = np.concatenate([self._clip(num_frames, clip, rng) for clip in range(self.num_clips)])
        results["frame_inds"] = np.mod(inds, num_frames).astype(np.int64) + int(results.get("start_index", 0))
        results["clip_len"] = self.clip_len
        results["frame_interval"] = None
        results["num_clips"] = self.num_clips
        return results


@TRANSFORMS.register()
class PoseDecode(BaseTransform):
    """Keep the frames ``frame_inds`` (+ ``offset``) of ``keypoint`` and ``keypoint_score``, as float32.

    Without ``frame_inds`` every frame is kept. ``keypoint`` (M, T, V, C) becomes (M, len(frame_inds), V, C).
    """

    def transform(self, results: dict) -> dict:
        keypoint = np.asarray(results["keypoint"])
        results.setdefault("total_frames", keypoint.shape[1])
        if "frame_inds" not in results:
            results["frame_inds"] = np.arange(results["total_frames"])
        inds = np.asarray(results["frame_inds"]).reshape(-1).astype(np.int64) + int(results.get("offset", 0))
        if results.get("keypoint_score") is not None:
            results["keypoint_score"] = np.asarray(results["keypoint_score"])[:, inds].astype(np.float32)
        results["keypoint"] = keypoint[:, inds].astype(np.float32)
        return results


@TRANSFORMS.register()
class PreNormalize2D(BaseTransform):
    """Scale 2D keypoint pixels to [-1, 1] by the image size; fold ``keypoint_score`` in as channel 2.

    ``x' = (x - w / 2) / (w / 2)``, ``y' = (y - h / 2) / (h / 2)`` with ``(h, w)`` the record's
    ``img_shape`` (else ``img_shape`` here). With a score channel, keypoints whose score is
    <= ``threshold`` are set to (0, 0). ``keypoint_score`` is removed and ``keypoint`` gets C = 3.

    Args:
        img_shape: ``(h, w)`` used when the record has none.
        threshold: the score at or below which a keypoint is zeroed.
    """

    def __init__(self, img_shape: tuple[int, int] = (1080, 1920), threshold: float = 0.0) -> None:
        self.img_shape = tuple(img_shape)
        self.threshold = float(threshold)

    def transform(self, results: dict) -> dict:
        keypoint = np.asarray(results["keypoint"], dtype=np.float32).copy()
        score = results.pop("keypoint_score", None)
        if score is not None:
            keypoint = np.concatenate([keypoint, np.asarray(score, dtype=np.float32)[..., None]], axis=-1)
        height, width = results.get("img_shape", self.img_shape)
        keypoint[..., 0] = (keypoint[..., 0] - width / 2) / (width / 2)
        keypoint[..., 1] = (keypoint[..., 1] - height / 2) / (height / 2)
        if keypoint.shape[-1] == 3:
            hidden = keypoint[..., 2] <= self.threshold
            keypoint[..., 0][hidden] = 0
            keypoint[..., 1][hidden] = 0
        results["keypoint"] = keypoint
        return results


def joint_to_bone(keypoint: np.ndarray, dataset: str = "coco") -> np.ndarray:
    """Bones of (M, T, V, C) joints: ``joint - parent`` per :data:`BONE_PAIRS` (float32).

    For a scored layout (``coco``) with C = 3, channel 2 is the mean score of the two joints.
    """
    if dataset not in BONE_PAIRS:
        raise ValueError(f"unknown skeleton layout {dataset!r}; choose one of {sorted(BONE_PAIRS)}")
    channels = keypoint.shape[-1]
    if channels not in (2, 3):
        raise ValueError(f"joint_to_bone: keypoints need 2 or 3 channels, got {channels}")
    bone = np.zeros(keypoint.shape, dtype=np.float32)
    for joint, parent in BONE_PAIRS[dataset]:
        bone[..., joint, :] = keypoint[..., joint, :] - keypoint[..., parent, :]
        if channels == 3 and dataset in SCORED_LAYOUTS:
            bone[..., joint, 2] = (keypoint[..., joint, 2] + keypoint[..., parent, 2]) / 2
    return bone


def to_motion(data: np.ndarray, dataset: str = "coco") -> np.ndarray:
    """Frame differences of (M, T, V, C) features (the last frame is zero).

    For a scored layout with C = 3, channel 2 is the mean score of the two frames.
    """
    motion = np.zeros_like(data)
    motion[:, :-1] = np.diff(data, axis=1)
    if data.shape[-1] == 3 and dataset in SCORED_LAYOUTS:
        motion[:, :-1, :, 2] = (data[:, :-1, :, 2] + data[:, 1:, :, 2]) / 2
    return motion


@TRANSFORMS.register()
class GenSkeFeat(BaseTransform):
    """Joint, bone and motion features of a skeleton, concatenated on ``axis`` (MMAction2 / PYSKL).

    Features: ``j`` joints; ``b`` bones (:func:`joint_to_bone`); ``jm`` / ``bm`` joint / bone motion
    (:func:`to_motion`). A ``keypoint_score`` is first appended to 2D keypoints as channel 2 (C = 3)
    and removed. ``keypoint`` becomes the concatenation, in ``feats`` order.

    Args:
        dataset: the skeleton layout: ``coco`` (COCO-17) or ``nturgb+d``.
        feats: the features, e.g. ``("j",)`` or ``("j", "b", "jm", "bm")``.
        axis: the concatenation axis (-1: channels).
    """

    FEATURES = ("j", "b", "jm", "bm")

    def __init__(self, dataset: str = "coco", feats: Sequence[str] = ("j",), axis: int = -1) -> None:
        if dataset not in BONE_PAIRS:
            raise ValueError(f"GenSkeFeat: unknown dataset {dataset!r}; choose one of {sorted(BONE_PAIRS)}")
        unknown = [feat for feat in feats if feat not in self.FEATURES]
        if unknown or not feats:
            raise ValueError(
                f"GenSkeFeat: feats must be a non-empty subset of {self.FEATURES}, got {list(feats)}"
            )
        self.dataset = dataset
        self.feats = tuple(feats)
        self.axis = axis

    def transform(self, results: dict) -> dict:
        joints = np.asarray(results.pop("keypoint"), dtype=np.float32)
        score = results.pop("keypoint_score", None)
        if score is not None:
            if joints.shape[-1] != 2:
                raise ValueError(
                    f"GenSkeFeat: keypoint_score goes with 2D keypoints, got C={joints.shape[-1]}"
                )
            joints = np.concatenate([joints, np.asarray(score, dtype=np.float32)[..., None]], axis=-1)
        features = {"j": joints}
        if "b" in self.feats or "bm" in self.feats:
            features["b"] = joint_to_bone(joints, self.dataset)
        if "jm" in self.feats:
            features["jm"] = to_motion(joints, self.dataset)
        if "bm" in self.feats:
            features["bm"] = to_motion(features["b"], self.dataset)
        results["keypoint"] = np.concatenate([features[feat] for feat in self.feats], axis=self.axis)
        return results


@TRANSFORMS.register()
class FormatGCNInput(BaseTransform):
    """Pad or cut to ``num_person`` people and split the frames into clips: (num_clips, M, T, V, C) float32.

    A remaining ``keypoint_score`` is appended as the last channel first. Missing people are zeros
    (``mode="zero"``) or, when there is one person, copies of them (``mode="loop"``); extra people are
    dropped (the first ``num_person`` kept).

    Args:
        num_person: M of the output.
        mode: ``zero`` or ``loop``.
    """

    def __init__(self, num_person: int = 2, mode: str = "zero") -> None:
        if mode not in ("zero", "loop"):
            raise ValueError(f"FormatGCNInput: mode must be 'zero' or 'loop', got {mode!r}")
        self.num_person = int(num_person)
        self.mode = mode

    def transform(self, results: dict) -> dict:
        keypoint = np.asarray(results["keypoint"], dtype=np.float32)
        score = results.pop("keypoint_score", None)
        if score is not None:
            keypoint = np.concatenate([keypoint, np.asarray(score, dtype=np.float32)[..., None]], axis=-1)
        people = keypoint.shape[0]
        if people < self.num_person:
            padding = np.zeros((self.num_person - people,) + keypoint.shape[1:], dtype=np.float32)
            if self.mode == "loop" and people == 1:
                padding[:] = keypoint[0]
            keypoint = np.concatenate([keypoint, padding], axis=0)
        keypoint = keypoint[: self.num_person]
        people, frames, joints, channels = keypoint.shape
        num_clips = int(results.get("num_clips", 1))
        if frames % num_clips:
            raise ValueError(f"FormatGCNInput: {frames} frames do not split into num_clips={num_clips} clips")
        clips = keypoint.reshape(people, num_clips, frames // num_clips, joints, channels).transpose(
            1, 0, 2, 3, 4
        )
        results["keypoint"] = np.ascontiguousarray(clips)
        return results
