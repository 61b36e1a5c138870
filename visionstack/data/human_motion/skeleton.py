"""A kinematic Human3.6M-17 skeleton: bone lengths, joint rotations, forward kinematics (NumPy only).

The synthetic motions (:mod:`.motions`) drive this skeleton with joint-angle trajectories; the 3D lifting
writer (``visionstack/tasks/pose/lifting/synthetic.py``) and the skeleton action writer
(``visionstack/tasks/action/synthetic_skeleton.py``) film them. The body
frame is x = the subject's right, y = forward, z = up (mm); in the rest pose the subject stands upright with
the arms hanging beside the body. Every joint that has children carries a local rotation; a child's position
is its parent's plus the parent's global rotation applied to the child's rest offset:

    G[j] = G[parent(j)] @ L[j]        P[c] = P[parent(c)] + G[parent(c)] @ offset[c]

Bone lengths are those of an average Human3.6M subject (mm), scaled and perturbed per subject.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "H36M_JOINT_NAMES",
    "H36M_PARENTS",
    "MEAN_BONE_LENGTHS",
    "axis_rotation",
    "forward_kinematics",
    "rest_offsets",
    "sample_bone_lengths",
]

# the Human3.6M-17 joint order (the pose task's ``H36M_KEYPOINTS`` metainfo takes its names from here; a test
# of the pose lifting data checks that its skeleton is this parent tree)
H36M_JOINT_NAMES = (
    "root",
    "right_hip",
    "right_knee",
    "right_foot",
    "left_hip",
    "left_knee",
    "left_foot",
    "spine",
    "thorax",
    "neck_base",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
)
H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

# mean Human3.6M bone lengths (mm) of the 17-joint skeleton; pairs share a length
MEAN_BONE_LENGTHS: dict[str, float] = {
    "hip": 132.0,  # pelvis -> hip joint
    "thigh": 442.0,
    "shin": 454.0,
    "lower_spine": 233.0,  # pelvis -> spine
    "upper_spine": 257.0,  # spine -> thorax
    "neck": 121.0,  # thorax -> neck/nose
    "head": 115.0,  # neck/nose -> head top
    "shoulder": 151.0,  # thorax -> shoulder
    "upper_arm": 278.0,
    "forearm": 251.0,
}

# (bone, unit direction in the rest pose) of each joint's offset from its parent; the root has none
_REST_DIRECTIONS: tuple[tuple[str, tuple[float, float, float]] | None, ...] = (
    None,
    ("hip", (1.0, 0.0, 0.0)),
    ("thigh", (0.0, 0.0, -1.0)),
    ("shin", (0.0, 0.0, -1.0)),
    ("hip", (-1.0, 0.0, 0.0)),
    ("thigh", (0.0, 0.0, -1.0)),
    ("shin", (0.0, 0.0, -1.0)),
    ("lower_spine", (0.0, 0.05, 1.0)),
    ("upper_spine", (0.0, -0.05, 1.0)),
    ("neck", (0.0, 0.5, 0.87)),  # H36M's "neck/nose" joint sits forward of the neck
    ("head", (0.0, -0.17, 0.98)),
    ("shoulder", (-1.0, 0.0, -0.1)),
    ("upper_arm", (0.0, 0.0, -1.0)),
    ("forearm", (0.0, 0.0, -1.0)),
    ("shoulder", (1.0, 0.0, -0.1)),
    ("upper_arm", (0.0, 0.0, -1.0)),
    ("forearm", (0.0, 0.0, -1.0)),
)


def sample_bone_lengths(
    rng: np.random.Generator, scale_range: tuple[float, float] = (0.9, 1.1)
) -> dict[str, float]:
    """One subject's bone lengths: the mean lengths times a body scale drawn from ``scale_range`` and a
    per-bone factor ~ N(1, 0.04) (left and right bones equal)."""
    scale = rng.uniform(*scale_range)
    return {bone: float(length * scale * rng.normal(1.0, 0.04)) for bone, length in MEAN_BONE_LENGTHS.items()}


def rest_offsets(bone_lengths: Mapping[str, float]) -> np.ndarray:
    """(17, 3) rest-pose offsets (mm, body frame) of every joint from its parent (the root's is zero)."""
    offsets = np.zeros((len(H36M_PARENTS), 3))
    for joint, entry in enumerate(_REST_DIRECTIONS):
        if entry is not None:
            bone, direction = entry
            unit = np.asarray(direction) / np.linalg.norm(direction)
            offsets[joint] = unit * bone_lengths[bone]
    return offsets


def axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations by ``angle`` (radians, any shape) about the body axis ``"x"``, ``"y"`` or ``"z"``
    (right-handed: a positive angle turns y towards z about x, z towards x about y, x towards y about z)."""
    angle = np.asarray(angle, np.float64)
    cos, sin = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    rows = {
        "x": ((one, zero, zero), (zero, cos, -sin), (zero, sin, cos)),
        "y": ((cos, zero, sin), (zero, one, zero), (-sin, zero, cos)),
        "z": ((cos, -sin, zero), (sin, cos, zero), (zero, zero, one)),
    }[axis]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def forward_kinematics(
    offsets: np.ndarray, root_position: np.ndarray, root_rotation: np.ndarray, local_rotations: np.ndarray
) -> np.ndarray:
    """Joint positions (T, 17, 3) in the world frame (mm).

    Args:
        offsets: (17, 3) rest offsets from :func:`rest_offsets`.
        root_position: (T, 3) pelvis positions (world, mm).
        root_rotation: (T, 3, 3) body -> world rotations of the pelvis.
        local_rotations: (T, 17, 3, 3) each joint's rotation relative to its parent (identity for leaves).
    """
    frames = root_position.shape[0]
    positions = np.zeros((frames, len(H36M_PARENTS), 3))
    global_rotations = np.zeros((frames, len(H36M_PARENTS), 3, 3))
    positions[:, 0] = root_position
    global_rotations[:, 0] = root_rotation @ local_rotations[:, 0]
    for joint in range(1, len(H36M_PARENTS)):  # parents come before their children
        parent = H36M_PARENTS[joint]
        positions[:, joint] = positions[:, parent] + global_rotations[:, parent] @ offsets[joint]
        global_rotations[:, joint] = global_rotations[:, parent] @ local_rotations[:, joint]
    return positions
