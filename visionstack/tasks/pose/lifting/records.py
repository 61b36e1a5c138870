"""Lifting predictions as JSON records (NumPy only: both inference backends and the result files use them)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["UNITS", "lifting_record"]

UNITS = {"units": "mm", "frame": "camera (x right, y down, z forward), root-relative (pelvis = 0)"}


def lifting_record(keypoints_3d: Any) -> dict[str, Any]:
    """``num_frames``, ``keypoints_3d`` ((F, 17, 3) nested lists, H36M joint order, the float32 values exactly)
    and the ``units``/``frame`` they are in."""
    joints = np.asarray(keypoints_3d, dtype=np.float32)
    if joints.ndim != 3 or joints.shape[-1] != 3:
        raise ValueError(f"lifting_record: expected (frames, joints, 3) keypoints, got shape {joints.shape}")
    return {"num_frames": int(joints.shape[0]), "keypoints_3d": joints.tolist(), **UNITS}
