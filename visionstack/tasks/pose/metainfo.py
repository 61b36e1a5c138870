"""Keypoint layouts: COCO-17 (2D) and Human3.6M-17 (3D lifting), with the COCO -> H36M mapping.

NumPy only (the deploy runtime and the synthetic writers import it without PyTorch).

- ``COCO_KEYPOINTS``: the dataset metainfo of COCO person keypoints: names, ``flip_indices`` (the
  index of each keypoint's mirror image), ``sigmas`` (the per-keypoint OKS constants of the COCO
  keypoint evaluation), ``joint_weights`` (MMPose's loss weights: 1.2 for elbows and knees, 1.5 for
  wrists and ankles), ``skeleton`` (0-based pairs), ``upper_body_ids`` / ``lower_body_ids``
  (half-body augmentation), per-keypoint and per-limb colours (RGB).
- ``H36M_KEYPOINTS``: the 17-joint Human3.6M order used by 3D lifters (root = pelvis first).
- :func:`coco_to_h36m`: 2D COCO keypoints to the H36M order, as MMPose's pose-lifting demo converts
  them: pelvis = mid-hips, thorax = mid-shoulders, spine = mid(pelvis, thorax), head = mid-eyes,
  H36M's "neck/nose" = the nose; the other 13 joints are COCO's.
"""

from __future__ import annotations

import numpy as np

from ...data.human_motion.skeleton import H36M_JOINT_NAMES

__all__ = ["COCO_KEYPOINTS", "H36M_KEYPOINTS", "coco_to_h36m", "flip_indices_from_names"]

_COCO_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)


def flip_indices_from_names(names: tuple[str, ...] | list[str]) -> list[int]:
    """The mirror of each keypoint: ``left_*`` <-> ``right_*`` by name, others map to themselves."""
    index = {name: i for i, name in enumerate(names)}
    flipped = []
    for name in names:
        if name.startswith("left_"):
            flipped.append(index["right_" + name[5:]])
        elif name.startswith("right_"):
            flipped.append(index["left_" + name[6:]])
        else:
            flipped.append(index[name])
    return flipped


# limbs as 0-based keypoint pairs (the COCO annotation's 1-based skeleton minus one)
_COCO_SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
_LEFT, _RIGHT, _CENTRE = (0, 255, 0), (255, 128, 0), (51, 153, 255)


def _side_colour(name: str) -> tuple[int, int, int]:
    return _LEFT if name.startswith("left_") else _RIGHT if name.startswith("right_") else _CENTRE


def _limb_colour(pair: tuple[int, int], names: tuple[str, ...]) -> tuple[int, int, int]:
    sides = {_side_colour(names[pair[0]]), _side_colour(names[pair[1]])}
    return sides.pop() if len(sides) == 1 else _CENTRE


COCO_KEYPOINTS: dict = {
    "dataset_name": "coco",
    "classes": ("person",),
    "keypoint_names": _COCO_NAMES,
    "num_keypoints": 17,
    "flip_indices": flip_indices_from_names(_COCO_NAMES),
    "sigmas": (
        0.026,
        0.025,
        0.025,
        0.035,
        0.035,
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
        0.087,
        0.089,
        0.089,
    ),  # fmt: skip
    "joint_weights": (1.0,) * 7 + (1.2, 1.2, 1.5, 1.5) + (1.0, 1.0, 1.2, 1.2, 1.5, 1.5),
    "skeleton": _COCO_SKELETON,
    "upper_body_ids": tuple(range(11)),
    "lower_body_ids": tuple(range(11, 17)),
    "keypoint_colors": tuple(_side_colour(name) for name in _COCO_NAMES),
    "skeleton_colors": tuple(_limb_colour(pair, _COCO_NAMES) for pair in _COCO_SKELETON),
}

_H36M_NAMES = H36M_JOINT_NAMES  # the synthetic motion's skeleton order (data/human_motion)
_H36M_SKELETON = (
    (0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
    (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16),
)  # fmt: skip

H36M_KEYPOINTS: dict = {
    "dataset_name": "h36m",
    "classes": ("person",),
    "keypoint_names": _H36M_NAMES,
    "num_keypoints": 17,
    "flip_indices": flip_indices_from_names(_H36M_NAMES),
    "skeleton": _H36M_SKELETON,
    "root_index": 0,
    "keypoint_colors": tuple(_side_colour(name) for name in _H36M_NAMES),
    "skeleton_colors": tuple(_limb_colour(pair, _H36M_NAMES) for pair in _H36M_SKELETON),
}

# H36M joint <- COCO keypoint, for the 13 joints both layouts have
_H36M_FROM_COCO = {1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15, 9: 0, 11: 5, 12: 7, 13: 9, 14: 6, 15: 8, 16: 10}


def coco_to_h36m(keypoints: np.ndarray, scores: np.ndarray | None = None):
    """COCO-17 keypoints ``(..., 17, D)`` in the H36M-17 order ``(..., 17, D)``; with ``scores``
    ``(..., 17)`` also returns theirs (a synthesised joint takes the lower score of its sources)."""
    keypoints = np.asarray(keypoints)
    if keypoints.shape[-2] != 17:
        raise ValueError(f"coco_to_h36m: expected 17 COCO keypoints, got shape {keypoints.shape}")
    out = np.zeros_like(keypoints, dtype=np.result_type(keypoints.dtype, np.float32))
    for h36m, coco in _H36M_FROM_COCO.items():
        out[..., h36m, :] = keypoints[..., coco, :]
    out[..., 0, :] = (keypoints[..., 11, :] + keypoints[..., 12, :]) / 2
    out[..., 8, :] = (keypoints[..., 5, :] + keypoints[..., 6, :]) / 2
    out[..., 7, :] = (out[..., 0, :] + out[..., 8, :]) / 2
    out[..., 10, :] = (keypoints[..., 1, :] + keypoints[..., 2, :]) / 2
    if scores is None:
        return out
    scores = np.asarray(scores)
    new_scores = np.zeros_like(scores, dtype=np.result_type(scores.dtype, np.float32))
    for h36m, coco in _H36M_FROM_COCO.items():
        new_scores[..., h36m] = scores[..., coco]
    new_scores[..., 0] = np.minimum(scores[..., 11], scores[..., 12])
    new_scores[..., 8] = np.minimum(scores[..., 5], scores[..., 6])
    new_scores[..., 7] = np.minimum(new_scores[..., 0], new_scores[..., 8])
    new_scores[..., 10] = np.minimum(scores[..., 1], scores[..., 2])
    return out, new_scores
