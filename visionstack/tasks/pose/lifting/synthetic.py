"""The synthetic 2D -> 3D lifting dataset (``visionstack data synth pose3d``), NumPy only, deterministic.

Subjects with Human3.6M-like bone lengths (each its own,
:func:`~visionstack.data.human_motion.skeleton.sample_bone_lengths`) perform every action of
:data:`~visionstack.data.human_motion.motions.ACTIONS` (walking, waving, squatting, turning, jumping, boxing,
bending, stretching; smooth joint-angle trajectories at ``fps``), filmed by calibrated pinhole cameras around the
capture area (:func:`synthetic_cameras`). The 2D inputs are the projections spoiled like a 2D detector's
output (:func:`detector_noise`): per-frame jitter proportional to the person's size in the image, a slowly
drifting bias, occasional outliers, short bursts of lost joints (wrong place, low score) and swapped
left/right legs.

Generalisation is what is measured: the val split has other subjects *and* other cameras (other heights,
distances and focal lengths) than the training split. The files follow :mod:`.sequences` (units: mm and
pixels; 3D targets in each camera's frame).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ....data.human_motion.motions import ACTIONS, perform
from ....data.human_motion.skeleton import sample_bone_lengths
from ..metainfo import H36M_KEYPOINTS
from .camera import PinholeCamera
from .sequences import __doc__ as FORMAT_DOC
from .sequences import write_keypoint_sequence

__all__ = ["detector_noise", "synthetic_cameras", "write_pose3d_synthetic"]

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
VAL_SUBJECTS = ("S9", "S11")
TARGET = (0.0, 0.0, 900.0)  # where the cameras look: the middle of the capture area, hip height (mm)

# (name, azimuth deg, distance mm, height mm, focal / image width); the val cameras are none of the training ones
_TRAIN_CAMERAS = (
    ("cam_0", 45.0, 5200.0, 1600.0, 1.145),
    ("cam_1", 135.0, 5600.0, 1750.0, 1.150),
    ("cam_2", 225.0, 4900.0, 1500.0, 1.140),
    ("cam_3", 315.0, 5400.0, 1650.0, 1.148),
)
_VAL_CAMERAS = (
    ("cam_4", 10.0, 4500.0, 1000.0, 1.10),
    ("cam_5", 190.0, 6200.0, 2300.0, 1.25),
)
# per-joint spread of the detector's error (hips are where 2D detectors and motion capture disagree most)
_JOINT_NOISE = np.array([1.3, 1.3, 1.0, 1.2, 1.3, 1.0, 1.2, 1.0, 0.9, 0.7, 0.9, 0.9, 1.1, 1.4, 0.9, 1.1, 1.4])
ACTION_IDS = {
    action: index for index, action in enumerate(ACTIONS)
}  # stable seeds when `actions` is a subset
_LEG_SWAP = np.array(
    [0, 4, 5, 6, 1, 2, 3, *range(7, 17)]
)  # H36M order with the left and right legs exchanged


def synthetic_cameras(image_size: int = 1000) -> tuple[list[PinholeCamera], list[PinholeCamera]]:
    """(training cameras, val cameras): square ``image_size`` images, all looking at the capture area."""

    def build(spec: Sequence[Any]) -> PinholeCamera:
        name, azimuth, distance, height, focal = spec
        angle = np.radians(azimuth)
        center = (distance * np.sin(angle), -distance * np.cos(angle), height)
        offset = (0.004 * image_size * np.cos(angle), 0.003 * image_size * np.sin(angle))
        return PinholeCamera.looking_at(
            name, center, TARGET, focal * image_size, (image_size, image_size), offset
        )

    return [build(spec) for spec in _TRAIN_CAMERAS], [build(spec) for spec in _VAL_CAMERAS]


def _smoothed(rng: np.random.Generator, shape: tuple[int, ...], width: int) -> np.ndarray:
    """Unit-variance noise along axis 0, smoothed by a moving average of ``width`` frames."""
    white = rng.normal(size=(shape[0] + width - 1, *shape[1:]))
    kernel = np.ones(width) / np.sqrt(width)
    return np.apply_along_axis(lambda column: np.convolve(column, kernel, mode="valid"), 0, white)


def detector_noise(projected: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(keypoints (T, 17, 2), scores (T, 17))``: exact projections (pixels) spoiled like a 2D detector.

    The error scales with the person's height in the image ``h``: jitter of 1.2 % of ``h`` per frame (times a
    per-joint factor) plus a drift of 0.6 % of ``h`` smoothed over 15 frames; 2 % of the joints jump by about
    8 % of ``h``; about one burst of 3-12 lost frames per 100 frames puts one joint elsewhere with a low score;
    0.5 % of the frames swap the left and right legs.
    """
    frames = projected.shape[0]
    height = (projected[..., 1].max(axis=1) - projected[..., 1].min(axis=1))[:, None, None]  # (T, 1, 1) px
    scale = height * _JOINT_NOISE[None, :, None]
    noise = 0.012 * scale * rng.normal(size=projected.shape) + 0.006 * scale * _smoothed(
        rng, projected.shape, 15
    )
    scores = np.clip(0.95 - 2.0 * np.linalg.norm(noise, axis=-1) / height[..., 0], 0.3, 1.0)
    outliers = rng.random((frames, 17)) < 0.02
    noise[outliers] += 0.08 * height.repeat(17, axis=1)[outliers] * rng.normal(size=(int(outliers.sum()), 2))
    scores[outliers] *= 0.6
    keypoints = projected + noise
    for _ in range(
        rng.poisson(frames / 100)
    ):  # a joint lost for a few frames: the detector latches elsewhere
        joint, start, length = int(rng.integers(17)), int(rng.integers(frames)), int(rng.integers(3, 13))
        stop = min(frames, start + length)
        away = projected[start, joint] + rng.normal(scale=0.15, size=2) * height[start, 0]
        keypoints[start:stop, joint] = away
        scores[start:stop, joint] = rng.uniform(0.02, 0.2, size=stop - start)
    swapped = rng.random(frames) < 0.005
    keypoints[swapped] = keypoints[swapped][:, _LEG_SWAP]
    return keypoints, scores


def _subject_names(count: int, names: Sequence[str], first_extra: int) -> list[str]:
    return [names[i] if i < len(names) else f"S{first_extra + i}" for i in range(count)]


def write_pose3d_synthetic(
    out_dir: str | Path,
    seed: int = 0,
    num_train: int = 5,
    num_val: int = 2,
    num_frames: int = 250,
    image_size: int = 1000,
    actions: Sequence[str] | None = None,
    fps: float = 50.0,
) -> dict[str, int]:
    """Write the dataset (layout and keys: :mod:`.sequences`; a README.md in ``out_dir`` says the same).

    Args:
        out_dir: the dataset folder.
        seed: everything follows from it (same seed, same numbers).
        num_train: training subjects (S1, S5, S6, S7, S8, then S100...), each performing every action,
            seen by the 4 training cameras.
        num_val: val subjects (S9, S11, then S200...), seen by the 2 val cameras.
        num_frames: frames per take.
        image_size: width = height of the camera images, pixels (the focal lengths scale with it).
        actions: a subset of :data:`~visionstack.data.human_motion.motions.ACTIONS` (default: all eight).
        fps: frames per second of the takes.

    Returns:
        ``{"train": sequences, "val": sequences, "frames": total frames}``.
    """
    actions = list(ACTIONS) if actions is None else list(actions)
    unknown = [action for action in actions if action not in ACTIONS]
    if unknown or not actions:
        raise ValueError(f"synthetic pose3d: unknown or no actions {unknown}; known: {', '.join(ACTIONS)}")
    if num_train < 1 or num_val < 1 or num_frames < 2:
        raise ValueError("synthetic pose3d: num_train, num_val must be >= 1 and num_frames >= 2")
    out_dir = Path(out_dir)
    train_cameras, val_cameras = synthetic_cameras(image_size)
    splits = {
        "train": (_subject_names(num_train, TRAIN_SUBJECTS, 100), train_cameras),
        "val": (_subject_names(num_val, VAL_SUBJECTS, 200), val_cameras),
    }
    cameras = {
        camera.name: {**camera.to_dict(), "split": split}
        for split, (_, cams) in splits.items()
        for camera in cams
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cameras.json").write_text(json.dumps(cameras, indent=2))
    (out_dir / "README.md").write_text(_readme(seed, fps), encoding="utf-8")
    summary = {"train": 0, "val": 0, "frames": 0}
    for split_index, (split, (subjects, split_cameras)) in enumerate(splits.items()):
        entries = []
        for subject_index, subject in enumerate(subjects):
            bones = sample_bone_lengths(np.random.default_rng([seed, split_index, subject_index, 0]))
            for action_index, action in enumerate(actions):
                take_rng = np.random.default_rng([seed, split_index, subject_index, 1, ACTION_IDS[action]])
                world = perform(action, bones, num_frames, fps, take_rng)
                for camera_index, camera in enumerate(split_cameras):
                    noise_rng = np.random.default_rng(
                        [seed, split_index, subject_index, 2, action_index, camera_index]
                    )
                    entries.append(
                        _write_view(out_dir, split, subject, action, camera, world, noise_rng, fps)
                    )
                    summary["frames"] += num_frames
        index = {
            "metainfo": {
                "dataset_name": "synthetic_h36m",
                "keypoint_names": list(H36M_KEYPOINTS["keypoint_names"]),
                "fps": fps,
                "units": "mm (3D), pixels (2D)",
                "frame": "keypoints_3d: camera frame (x right, y down, z forward); keypoints_3d_world: world, z up",
            },
            "data_list": entries,
        }
        (out_dir / f"{split}.json").write_text(json.dumps(index, indent=1))
        summary[split] = len(entries)
    return summary


def _write_view(
    out_dir: Path,
    split: str,
    subject: str,
    action: str,
    camera: PinholeCamera,
    world: np.ndarray,
    rng: np.random.Generator,
    fps: float,
) -> dict[str, Any]:
    """One camera's view of a take as a sequence file; returns its index entry."""
    in_camera = camera.world_to_camera(world)
    projected = camera.project(in_camera)
    keypoints, scores = detector_noise(projected, rng)
    relative = f"{split}/{subject}_{action}.{camera.name}.npz"
    write_keypoint_sequence(
        out_dir / relative,
        keypoints,
        (camera.width, camera.height),
        scores,
        keypoints_3d=in_camera.astype(np.float32),
        keypoints_3d_world=world.astype(np.float32),
        keypoints_2d_projected=projected.astype(np.float32),
        intrinsics=np.array([camera.fx, camera.fy, camera.cx, camera.cy]),
        rotation=camera.rotation,
        translation=camera.translation,
        fps=np.float64(fps),
    )
    return {
        "file": relative,
        "subject": subject,
        "action": action,
        "camera": camera.name,
        "num_frames": len(world),
    }


def _readme(seed: int, fps: float) -> str:
    return (
        "# Synthetic 2D -> 3D human pose lifting data\n\n"
        f"Written by `visionstack data synth pose3d` (seed {seed}, {fps:g} frames per second). Training and val\n"
        "splits have different subjects and different cameras (`cameras.json` gives each camera's split).\n\n"
        "Units: millimetres in 3D, pixels in 2D. Frames: `keypoints_3d` is in each camera's frame (x right,\n"
        "y down, z forward = depth); the lifters predict it root-relative (minus the pelvis, joint 0);\n"
        "`keypoints_3d_world` is in the world frame (z up, the floor at z = 0). Their 2D inputs are the\n"
        "detector-like `keypoints_2d`, normalised as VideoPose3D does: `[x, y] / w * 2 - [1, h / w]`.\n\n"
        "```\n" + (FORMAT_DOC or "").split("A dataset folder", 1)[-1].strip() + "\n```\n"
    )
