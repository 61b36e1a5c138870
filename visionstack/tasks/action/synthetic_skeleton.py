"""Synthetic 2D skeleton sequences for skeleton-based action recognition (MMAction2 / PYSKL pickle).

People of :mod:`visionstack.data.human_motion` (Human3.6M-17 forward kinematics, per-person bone lengths)
perform one of five classes, filmed by a random pinhole camera and written as COCO-17 pixel keypoints::

    <out>/synth_skeleton_2d.pkl   {"split": {"xsub_train": [frame_dir, ...], "xsub_val": [...]},
                                   "annotations": [record, ...]}
    <out>/classes.txt             waving, squatting, walking_left, walking_right, jumping (line i = label i)

A record: ``frame_dir`` (str, unique: ``train_000000``), ``label`` (int), ``total_frames`` (T, 40..100),
``img_shape`` = ``original_shape`` = (h, w), ``keypoint`` (M, T, 17, 2) float32 pixels (x right, y down),
``keypoint_score`` (M, T, 17) float32 in (0, 1], and exactly 0 (with coordinates 0, 0) where a keypoint is
missing, as in MMAction2's NTU-60 2D data.

Classes: ``walking_left`` / ``walking_right`` walk a straight line towards screen-left / screen-right (the
camera looks from the side, within 35 degrees of perpendicular to the path); ``waving``, ``squatting``,
``jumping`` stand roughly in place, seen from any azimuth. Hard cases: a second person in 40 % of the samples
(M = 2; another class's motion, never walking next to a walker, or just standing); playback speed 0.75-1.35x;
keypoint noise that grows as the score falls; missing keypoints (independent drop-outs and bursts of a few
joints over several frames, and every keypoint outside the image); 10 % of the samples truncated by the image
border. Sample ``i`` of a split draws from ``np.random.default_rng([seed, 10 + split, i])`` (split 0 = train,
1 = val), the label order from ``default_rng([seed, 10 + split])``.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...data.human_motion.motions import perform
from ...data.human_motion.skeleton import sample_bone_lengths

__all__ = [
    "COCO_FROM_H36M",
    "SKELETON_CLASSES",
    "SKELETON_FILE",
    "Camera",
    "h36m_to_coco",
    "synthesize_skeleton_sample",
    "write_synthetic_skeleton",
]

SKELETON_CLASSES = ("waving", "squatting", "walking_left", "walking_right", "jumping")
SKELETON_FILE = "synth_skeleton_2d.pkl"
BASE_FPS = 30.0
IMAGE_SHAPES = ((1080, 1920), (720, 1280), (1080, 1440), (1920, 1080))  # (h, w)
# the motion of each class in visionstack.data.human_motion
_MOTIONS = {
    "waving": "waving",
    "squatting": "squatting",
    "walking_left": "walking_straight",
    "walking_right": "walking_straight",
    "jumping": "jumping",
}
# COCO keypoint <- H36M joint for the 13 keypoints both layouts have (ankles = H36M's "foot", the ankle joint)
COCO_FROM_H36M = {0: 9, 5: 11, 6: 14, 7: 12, 8: 15, 9: 13, 10: 16, 11: 4, 12: 1, 13: 5, 14: 2, 15: 6, 16: 3}
_SPLITS = {"train": 0, "val": 1}


def h36m_to_coco(joints: np.ndarray) -> np.ndarray:
    """World joints (..., 17, 3) in the H36M-17 order -> (..., 17, 3) in the COCO-17 order.

    The nose is H36M's "neck/nose" joint (9); eyes and ears are placed in a head frame: up = nose -> head
    top (10), left = the shoulder axis made perpendicular to it, forward = left x up; with ``h`` the
    nose-to-head-top length, eyes sit 0.3 h up, 0.28 h to the side and 0.1 h back from the nose, ears 0.2 h
    up, 0.65 h to the side and 0.75 h back.
    """
    coco = np.zeros_like(joints)
    for coco_index, h36m_index in COCO_FROM_H36M.items():
        coco[..., coco_index, :] = joints[..., h36m_index, :]
    nose, top = joints[..., 9, :], joints[..., 10, :]
    up = top - nose
    length = np.linalg.norm(up, axis=-1, keepdims=True)
    up = up / length
    left = joints[..., 11, :] - joints[..., 14, :]
    left = left - np.sum(left * up, axis=-1, keepdims=True) * up
    left = left / np.linalg.norm(left, axis=-1, keepdims=True)
    forward = np.cross(left, up)
    for index, (rise, side, back) in {1: (0.3, 0.28, 0.1), 3: (0.2, 0.65, 0.75)}.items():
        base = nose + length * (rise * up - back * forward)
        coco[..., index, :] = base + length * side * left  # left eye / left ear
        coco[..., index + 1, :] = base - length * side * left  # right eye / right ear
    return coco


@dataclass
class Camera:
    """A pinhole camera: ``center`` (3,) world mm, ``rotation`` (3, 3) rows = the camera's right, down and
    forward axes in the world (z up), focal length ``focal`` px, principal point ``principal`` (2,) px."""

    center: np.ndarray
    rotation: np.ndarray
    focal: float
    principal: np.ndarray

    @classmethod
    def looking_at(
        cls, target: np.ndarray, azimuth: float, elevation: float, distance: float, focal: float, principal
    ) -> Camera:
        """A camera ``distance`` mm from ``target`` looking along the horizontal direction ``azimuth``
        (radians from the world's +x towards +y) tilted down by ``elevation`` radians, no roll."""
        forward = np.array(
            [
                math.cos(elevation) * math.cos(azimuth),
                math.cos(elevation) * math.sin(azimuth),
                -math.sin(elevation),
            ]
        )
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        return cls(
            target - distance * forward, np.stack([right, down, forward]), focal, np.asarray(principal)
        )

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) mm -> pixels (..., 2) (x right, y down)."""
        local = (points - self.center) @ self.rotation.T
        return self.focal * local[..., :2] / local[..., 2:3] + self.principal


def _walk_direction(joints: np.ndarray) -> np.ndarray:
    """The unit floor direction (2,) of the pelvis from the first to the last frame."""
    step = joints[-1, 0, :2] - joints[0, 0, :2]
    return step / max(float(np.linalg.norm(step)), 1e-9)


def _place_camera(
    rng: np.random.Generator, class_name: str, joints: np.ndarray, image_shape: tuple[int, int]
) -> Camera:
    """A camera that sees the main person: side-ish for walking (its path goes to screen-left or -right as
    the class says), any azimuth otherwise; small downward tilt; 10 % truncated by the image border."""
    height, width = image_shape
    fov = math.radians(rng.uniform(50, 70))  # across the longer image side
    focal = max(image_shape) / (2 * math.tan(fov / 2))
    spread = float(np.ptp(joints[:, 0, :2], axis=0).max())  # how far the pelvis travels (mm)
    if class_name.startswith("walking"):
        # screen-right in the world is (sin a, -cos a) for a camera looking along azimuth a
        screen_right = _walk_direction(joints) * (1.0 if class_name == "walking_right" else -1.0)
        azimuth = math.atan2(screen_right[0], -screen_right[1]) + math.radians(rng.uniform(-35, 35))
    else:
        azimuth = rng.uniform(0, 2 * math.pi)
    # far enough that the path fits across the image and the whole body (about 1 m either side of the
    # target's height) fits from top to bottom: tan(half field of view) = (side / 2) / focal
    distance = max((spread / 2 + 700.0) * 2 * focal / width, 1100.0 * 2 * focal / height)
    distance *= rng.uniform(0.9, 1.4)
    target = np.append(joints[:, 0, :2].mean(axis=0), rng.uniform(700, 1100))
    principal = np.array([width / 2, height / 2]) + rng.normal(0, 0.05, size=2) * (width, height)
    if rng.random() < 0.1:  # truncation: the person's middle maps near a border
        side = rng.integers(2)
        principal[side] += rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.45) * (width, height)[side]
    return Camera.looking_at(target, azimuth, math.radians(rng.uniform(0, 12)), distance, focal, principal)


def _second_person(rng: np.random.Generator, class_name: str, main: np.ndarray, camera: Camera, speed: float):
    """World joints of a bystander 0.9-2 m to the side of the main person (seen from the camera)."""
    choices = [name for name in SKELETON_CLASSES if _MOTIONS[name] != _MOTIONS[class_name]] + ["standing"]
    other = choices[int(rng.integers(len(choices)))]
    motion = _MOTIONS.get(other, other)
    joints = perform(motion, sample_bone_lengths(rng), len(main), BASE_FPS / speed, rng)
    side = camera.rotation[0] * rng.choice([-1.0, 1.0]) * rng.uniform(900, 2000)
    depth = camera.rotation[2] * rng.uniform(-800, 800)
    shift = main[:, 0, :2].mean(axis=0) - joints[:, 0, :2].mean(axis=0) + side[:2] + depth[:2]
    return joints + np.append(shift, 0.0)


def _detector_view(
    rng: np.random.Generator, pixels: np.ndarray, image_shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (T, 17, 2) spoiled like a 2D pose detector's output: (keypoints, scores) float32, missing = 0."""
    frames = pixels.shape[0]
    base = rng.uniform(0.55, 0.98, size=17)
    scores = np.clip(base + rng.normal(0, 0.08, size=(frames, 17)), 0.05, 1.0)
    size = float(np.ptp(pixels[..., 1], axis=1).mean())  # the person's height in pixels
    sigma = rng.uniform(0.004, 0.012) * size * (1.6 - scores)
    keypoints = pixels + rng.normal(size=pixels.shape) * sigma[..., None]
    missing = rng.random((frames, 17)) < rng.uniform(0, 0.06)
    for _ in range(int(rng.integers(0, 3))):  # bursts: a few joints lost for a few frames
        start, length = int(rng.integers(frames)), int(rng.integers(3, 16))
        missing[start : start + length, rng.choice(17, size=int(rng.integers(1, 4)), replace=False)] = True
    height, width = image_shape
    outside = (keypoints[..., 0] < 0) | (keypoints[..., 0] >= width)
    outside |= (keypoints[..., 1] < 0) | (keypoints[..., 1] >= height)
    missing |= outside
    keypoints[missing] = 0.0
    scores[missing] = 0.0
    return keypoints.astype(np.float32), scores.astype(np.float32)


def synthesize_skeleton_sample(rng: np.random.Generator, class_name: str) -> dict:
    """One sample of ``class_name`` (without ``frame_dir`` and ``label``): ``total_frames``, ``img_shape``,
    ``original_shape``, ``keypoint`` (M, T, 17, 2), ``keypoint_score`` (M, T, 17), and ``world``, the main
    person's (T, 17, 3) H36M joints in mm (for tests; not written)."""
    if class_name not in SKELETON_CLASSES:
        raise KeyError(f"synthesize_skeleton_sample: unknown class {class_name!r}; known: {SKELETON_CLASSES}")
    total_frames = int(rng.integers(40, 101))
    speed = rng.uniform(0.75, 1.35)
    image_shape = IMAGE_SHAPES[int(rng.integers(len(IMAGE_SHAPES)))]
    main = perform(_MOTIONS[class_name], sample_bone_lengths(rng), total_frames, BASE_FPS / speed, rng)
    camera = _place_camera(rng, class_name, main, image_shape)
    people = [main]
    if rng.random() < 0.4:
        people.append(_second_person(rng, class_name, main, camera, speed))
    keypoints, scores = zip(
        *(_detector_view(rng, camera.project(h36m_to_coco(p)), image_shape) for p in people)
    )
    return {
        "total_frames": total_frames,
        "img_shape": image_shape,
        "original_shape": image_shape,
        "keypoint": np.stack(keypoints),
        "keypoint_score": np.stack(scores),
        "world": main,
    }


def write_synthetic_skeleton(
    out_dir: str | Path, seed: int = 0, num_train: int = 600, num_val: int = 200
) -> dict:
    """Write ``<out_dir>/synth_skeleton_2d.pkl`` and ``<out_dir>/classes.txt``; return the counts.

    Labels are balanced (each class ``n // 5`` or one more times) in a shuffled order; the pickle is
    byte-identical for the same arguments.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    annotations, split = [], {}
    for split_name, count in (("train", num_train), ("val", num_val)):
        stream = 10 + _SPLITS[split_name]
        labels = np.arange(count) % len(SKELETON_CLASSES)
        labels = labels[np.random.default_rng([seed, stream]).permutation(count)]
        names = []
        for index, label in enumerate(labels):
            sample = synthesize_skeleton_sample(
                np.random.default_rng([seed, stream, index]), SKELETON_CLASSES[int(label)]
            )
            sample.pop("world")
            names.append(f"{split_name}_{index:06d}")
            annotations.append({"frame_dir": names[-1], "label": int(label), **sample})
        split[f"xsub_{split_name}"] = names
    with open(out_dir / SKELETON_FILE, "wb") as handle:
        pickle.dump({"split": split, "annotations": annotations}, handle, protocol=4)
    (out_dir / "classes.txt").write_text("".join(f"{name}\n" for name in SKELETON_CLASSES))
    return {"skeleton_classes": len(SKELETON_CLASSES), "skeleton_train": num_train, "skeleton_val": num_val}
