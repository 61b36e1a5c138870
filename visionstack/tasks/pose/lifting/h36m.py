"""Human3.6M in the lifting format: a converter from VideoPose3D's prepared archives (NumPy only).

VideoPose3D prepares Human3.6M as ``data_3d_h36m.npz`` (``positions_3d``: subject -> action -> (T, 32, 3)
world joints in metres) and 2D archives such as ``data_2d_h36m_cpn_ft_h36m_dbb.npz`` (``positions_2d``:
subject -> action -> 4 arrays (T, 17, 2) of pixels, one per camera, in the H36M-17 order). The cameras are
not in the archives; pass them as JSON, per subject the 4 cameras in the archives' order, each with ``id``,
``center`` [cx, cy] and ``focal_length`` [fx, fy] (pixels), ``res_w``, ``res_h``, ``orientation`` (the
camera -> world rotation as a quaternion [w, x, y, z]) and ``translation`` (the camera centre in the world,
millimetres) - the published calibration, as VideoPose3D's ``h36m_dataset.py`` lists it.

:func:`convert_videopose3d_h36m` writes the layout of :mod:`.sequences` (``train.json`` = S1, S5, S6, S7, S8,
``val.json`` = S9, S11, the usual protocol), which ``configs/pose3d/*_h36m.py`` read from ``data_root``.
The 17 joints are the mocap skeleton's joints ``H36M_KEPT_JOINTS`` (VideoPose3D's subset), in millimetres.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .sequences import write_keypoint_sequence

__all__ = ["H36M_KEPT_JOINTS", "convert_videopose3d_h36m", "quaternion_matrix"]

# the 17 of the 32 mocap joints that the H36M-17 layout keeps (VideoPose3D removes the other 15)
H36M_KEPT_JOINTS = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
PROTOCOL_SPLITS = {"train": ("S1", "S5", "S6", "S7", "S8"), "val": ("S9", "S11")}


def quaternion_matrix(quaternion: Sequence[float]) -> np.ndarray:
    """(3, 3) rotation of the unit quaternion [w, x, y, z] (normalised first): ``R @ v`` rotates ``v``."""
    w, x, y, z = np.asarray(quaternion, np.float64) / np.linalg.norm(quaternion)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _load_dict(path: str | os.PathLike, key: str) -> dict:
    with np.load(path, allow_pickle=True) as archive:  # VideoPose3D's archives hold pickled dicts
        if key not in archive.files:
            raise KeyError(f"{os.fspath(path)!r} has no {key!r} (keys: {', '.join(archive.files)})")
        return archive[key].item()


def convert_videopose3d_h36m(
    positions_3d: str | os.PathLike,
    positions_2d: str | os.PathLike,
    cameras: str | os.PathLike | Mapping[str, Sequence[Mapping[str, Any]]],
    out_dir: str | os.PathLike,
    splits: Mapping[str, Sequence[str]] = PROTOCOL_SPLITS,
    fps: float = 50.0,
) -> dict[str, int]:
    """Write VideoPose3D's Human3.6M archives as lifting sequence files (see the module docstring).

    Args:
        positions_3d: ``data_3d_h36m.npz``.
        positions_2d: a 2D archive (detections such as CPN's, or ``data_2d_h36m_gt.npz``).
        cameras: the calibration JSON (or the dict it holds): subject -> 4 cameras.
        out_dir: the dataset folder (``data_root`` of the configs).
        splits: split name -> subjects.
        fps: the frame rate recorded in the files.

    Returns:
        The number of sequence files per split. 2D tracks longer than their mocap are cut to its length
        (as VideoPose3D does).
    """
    joints_3d = _load_dict(positions_3d, "positions_3d")
    joints_2d = _load_dict(positions_2d, "positions_2d")
    if not isinstance(cameras, Mapping):
        cameras = json.loads(Path(cameras).read_text(encoding="utf-8"))
    out_dir = Path(out_dir)
    summary, all_cameras = {}, {}
    for split, subjects in splits.items():
        entries = []
        for subject in subjects:
            if subject not in joints_3d or subject not in joints_2d or subject not in cameras:
                raise KeyError(
                    f"subject {subject!r} is missing from the 3D archive, the 2D archive or the cameras"
                )
            for action in sorted(joints_3d[subject]):
                world = np.asarray(joints_3d[subject][action], np.float64)[:, list(H36M_KEPT_JOINTS)] * 1000.0
                for camera, keypoints in zip(cameras[subject], joints_2d[subject][action]):
                    name = f"{subject}_{camera['id']}"
                    params = _camera_params(camera)
                    all_cameras[name] = {**params, "split": split}
                    entries.append(
                        _write(out_dir, split, subject, action, name, world, keypoints, params, fps)
                    )
        (out_dir / f"{split}.json").parent.mkdir(parents=True, exist_ok=True)
        index = {
            "metainfo": {"dataset_name": "h36m", "fps": fps, "units": "mm (3D), pixels (2D)"},
            "data_list": entries,
        }
        (out_dir / f"{split}.json").write_text(json.dumps(index, indent=1))
        summary[split] = len(entries)
    (out_dir / "cameras.json").write_text(json.dumps(all_cameras, indent=2))
    return summary


def _camera_params(camera: Mapping[str, Any]) -> dict[str, Any]:
    """Our camera dict: world -> camera ``rotation`` and ``translation`` (mm), intrinsics, image size."""
    to_world = quaternion_matrix(camera["orientation"])
    center = np.asarray(camera["translation"], np.float64)
    rotation = to_world.T
    return {
        "image_size": [int(camera["res_w"]), int(camera["res_h"])],
        "intrinsics": [*map(float, camera["focal_length"]), *map(float, camera["center"])],
        "rotation": rotation.tolist(),
        "translation": (-rotation @ center).tolist(),
        "center": center.tolist(),
    }


def _write(
    out_dir: Path,
    split: str,
    subject: str,
    action: str,
    name: str,
    world: np.ndarray,
    keypoints: np.ndarray,
    params: Mapping[str, Any],
    fps: float,
) -> dict[str, Any]:
    rotation, translation = np.asarray(params["rotation"]), np.asarray(params["translation"])
    frames = min(len(world), len(keypoints))
    in_camera = world[:frames] @ rotation.T + translation
    relative = f"{split}/{subject}_{action.replace(' ', '_')}.{name}.npz"
    write_keypoint_sequence(
        out_dir / relative,
        np.asarray(keypoints, np.float32)[:frames],
        tuple(params["image_size"]),
        keypoints_3d=in_camera.astype(np.float32),
        keypoints_3d_world=world[:frames].astype(np.float32),
        intrinsics=np.asarray(params["intrinsics"]),
        rotation=rotation,
        translation=translation,
        fps=np.float64(fps),
    )
    return {"file": relative, "subject": subject, "action": action, "camera": name, "num_frames": frames}
