"""The on-disk format of 2D -> 3D lifting data: one file per camera view of a take (NumPy only).

A dataset folder (written by ``visionstack data synth pose3d``; a real dataset converted to it reads the same)::

    DIR/README.md            this description
    DIR/cameras.json         {camera name: {"image_size": [w, h], "intrinsics": [fx, fy, cx, cy],
                              "rotation": 3x3 world->camera, "translation": [3] mm, "center": [3] mm, "split"}}
    DIR/train.json           {"metainfo": {...}, "data_list": [{"file": "train/S1_walking.cam_0.npz",
    DIR/val.json               "subject": "S1", "action": "walking", "camera": "cam_0", "num_frames": T}, ...]}
    DIR/train/*.npz, DIR/val/*.npz

A sequence file (``.npz``, or ``.json`` with the same keys as nested lists) holds one camera's view of one
take, T frames, 17 joints in the Human3.6M order (``H36M_KEYPOINTS``; ``keypoint_layout="coco"`` files hold
COCO-17 keypoints instead and are converted on reading with :func:`~visionstack.tasks.pose.metainfo.coco_to_h36m`):

=========================  ============  ===================================================================
key                        shape         meaning
=========================  ============  ===================================================================
``keypoints_2d``           (T, 17, 2)    the 2D input: pixels (x right, y down, origin top-left), as a 2D
                                         detector would give them (noisy; a few joints lost or jittered)
``image_size``             (2,)          [width, height] of the camera image, pixels
``keypoint_scores``        (T, 17)       optional: the detector's confidence of each 2D joint, 0..1
``keypoint_layout``        ()            optional: ``"h36m"`` (default) or ``"coco"``
``keypoints_3d``           (T, 17, 3)    optional ground truth: the joints in the **camera frame** (x right,
                                         y down, z forward = depth), **millimetres**, absolute (not
                                         root-relative); the lifters' targets are these minus the root
                                         (pelvis, joint 0): root-relative, camera frame, mm
``keypoints_3d_world``     (T, 17, 3)    optional: the same joints in the world frame (z up), mm
``keypoints_2d_projected`` (T, 17, 2)    optional: the exact projection of ``keypoints_3d`` (no detector
                                         noise), pixels
``intrinsics``             (4,)          optional: [fx, fy, cx, cy] pixels (pinhole, no distortion)
``rotation``               (3, 3)        optional: world -> camera rotation, ``X_cam = R X_world + t``
``translation``            (3,)          optional: t, mm
``fps``                    ()            optional: frames per second
=========================  ============  ===================================================================

The lifters never see pixels: their inputs are VideoPose3D's normalised screen coordinates,
``[x, y] / w * 2 - [1, h / w]`` (:func:`~.camera.normalize_screen_coordinates`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..metainfo import coco_to_h36m
from .camera import normalize_screen_coordinates

__all__ = [
    "SEQUENCE_SUFFIXES",
    "KeypointSequence",
    "pad_edges",
    "read_keypoint_sequence",
    "read_sequence_index",
    "sequence_from_pose_records",
    "window_padding",
    "write_keypoint_sequence",
]

SEQUENCE_SUFFIXES = (".npz", ".json")
NUM_JOINTS = 17
LAYOUTS = ("h36m", "coco")


@dataclass
class KeypointSequence:
    """One camera view of a take, read from a sequence file (see the module docstring).

    ``keypoints_2d`` (T, 17, 2) pixels and ``keypoint_scores`` (T, 17) are in the H36M order whatever the
    file's layout; ``keypoints_3d`` (T, 17, 3) camera-frame mm (or None); ``image_size`` (w, h).
    """

    path: str
    keypoints_2d: np.ndarray
    image_size: tuple[int, int]
    keypoint_scores: np.ndarray | None = None
    keypoints_3d: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.keypoints_2d.shape[0])

    def normalized_inputs(self) -> np.ndarray:
        """(T, 17, 2) float32 normalised screen coordinates of the 2D keypoints."""
        width, height = self.image_size
        return normalize_screen_coordinates(self.keypoints_2d.astype(np.float32), width, height)

    def root_relative_3d(self, root_index: int = 0) -> np.ndarray | None:
        """(T, 17, 3) float32 camera-frame joints minus the root joint (mm), or None without ground truth."""
        if self.keypoints_3d is None:
            return None
        joints = self.keypoints_3d.astype(np.float32)
        return joints - joints[:, root_index : root_index + 1]


def _load_raw(path: Path) -> dict[str, Any]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as content:
            return {key: content[key] for key in content.files}
    if path.suffix == ".json":
        value = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(value, dict):
            raise ValueError(
                f"keypoint sequence {str(path)!r}: expected a JSON object, got {type(value).__name__}"
            )
        return value
    raise ValueError(
        f"keypoint sequence {str(path)!r}: unknown file type {path.suffix!r} (expected {', '.join(SEQUENCE_SUFFIXES)})"
    )


def _array(raw: Mapping[str, Any], key: str, shape: tuple[int | None, ...], path: Path) -> np.ndarray:
    try:
        value = np.asarray(raw[key], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"keypoint sequence {str(path)!r}: {key!r} is not numeric ({error})") from error
    matches = value.ndim == len(shape) and all(
        want is None or want == got for want, got in zip(shape, value.shape)
    )
    if not matches:
        wanted = "(" + ", ".join("T" if want is None else str(want) for want in shape) + ")"
        raise ValueError(
            f"keypoint sequence {str(path)!r}: {key!r} has shape {value.shape}, expected {wanted}"
        )
    if not np.isfinite(value).all():
        raise ValueError(f"keypoint sequence {str(path)!r}: {key!r} holds NaN or infinite values")
    return value


def read_keypoint_sequence(path: str | os.PathLike) -> KeypointSequence:
    """Read and check a sequence file; COCO-layout keypoints come back in the H36M order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a missing key, a wrong shape, a non-finite value or an unknown layout, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"keypoint sequence not found: {str(path)!r}")
    raw = _load_raw(path)
    for key in ("keypoints_2d", "image_size"):
        if key not in raw:
            raise ValueError(
                f"keypoint sequence {str(path)!r} has no {key!r} (keys: {', '.join(sorted(raw))})"
            )
    layout = str(np.asarray(raw.get("keypoint_layout", "h36m")))
    if layout not in LAYOUTS:
        raise ValueError(
            f"keypoint sequence {str(path)!r}: keypoint_layout {layout!r} is not one of {LAYOUTS}"
        )
    keypoints = _array(raw, "keypoints_2d", (None, NUM_JOINTS, 2), path)
    frames = keypoints.shape[0]
    if frames == 0:
        raise ValueError(f"keypoint sequence {str(path)!r} has no frame")
    size = _array(raw, "image_size", (2,), path)
    if (size <= 0).any():
        raise ValueError(f"keypoint sequence {str(path)!r}: image_size {size.tolist()} must be positive")
    scores = _array(raw, "keypoint_scores", (frames, NUM_JOINTS), path) if "keypoint_scores" in raw else None
    joints_3d = _array(raw, "keypoints_3d", (frames, NUM_JOINTS, 3), path) if "keypoints_3d" in raw else None
    if layout == "coco":
        if joints_3d is not None:
            raise ValueError(f"keypoint sequence {str(path)!r}: 3D ground truth must be in the h36m layout")
        if scores is None:
            keypoints = coco_to_h36m(keypoints)
        else:
            keypoints, scores = coco_to_h36m(keypoints, scores)
    known = {"keypoints_2d", "image_size", "keypoint_scores", "keypoints_3d", "keypoint_layout"}
    extras = {key: np.asarray(value) for key, value in raw.items() if key not in known}
    return KeypointSequence(
        path=str(path),
        keypoints_2d=keypoints.astype(np.float32),
        image_size=(int(size[0]), int(size[1])),
        keypoint_scores=None if scores is None else scores.astype(np.float32),
        keypoints_3d=None if joints_3d is None else joints_3d.astype(np.float32),
        extras=extras,
    )


def write_keypoint_sequence(
    path: str | os.PathLike,
    keypoints_2d: np.ndarray,
    image_size: tuple[int, int],
    keypoint_scores: np.ndarray | None = None,
    keypoint_layout: str = "h36m",
    **extras: Any,
) -> Path:
    """Write a sequence file (``.npz``; ``.json`` when the path says so). ``keypoints_2d`` (T, 17, 2) pixels
    in ``keypoint_layout`` order; ``extras``: the optional keys of the module docstring (``keypoints_3d`` ...)."""
    if keypoint_layout not in LAYOUTS:
        raise ValueError(
            f"write_keypoint_sequence: keypoint_layout must be one of {LAYOUTS}, got {keypoint_layout!r}"
        )
    path = Path(path)
    content: dict[str, Any] = {
        "keypoints_2d": np.asarray(keypoints_2d, np.float32),
        "image_size": np.asarray(image_size, np.int32),
        "keypoint_layout": np.asarray(keypoint_layout),
    }
    if keypoint_scores is not None:
        content["keypoint_scores"] = np.asarray(keypoint_scores, np.float32)
    content.update({key: np.asarray(value) for key, value in extras.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps({key: value.tolist() for key, value in content.items()}), encoding="utf-8")
    else:
        np.savez_compressed(path, **content)
    return path


def sequence_from_pose_records(records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """One person's COCO-17 keypoint track from the per-frame records of a 2D pose model (``predictions.json``
    of ``visionstack infer`` with a ``pose`` config: ``{"img_path", "people": [{"bbox", "bbox_score",
    "keypoints" (17, 2), "keypoint_scores" (17,)}]}``), in the order given (the video's frame order).

    The person followed is the best-scored one of the first frame with people, then in each frame the one whose
    box centre is nearest the previous choice; a frame without people repeats the previous keypoints with
    score 0. Write the result with ``write_keypoint_sequence(path, keypoints, image_size, scores,
    keypoint_layout="coco")``; reading it converts to the H36M joints the lifters take.

    Returns:
        ``(keypoints (T, 17, 2) pixels, scores (T, 17))``.

    Raises:
        ValueError: no frame has a person, or a person's keypoints are not (17, 2), naming the record.
    """
    chosen: list[tuple[np.ndarray, np.ndarray] | None] = []
    centre = None
    for index, record in enumerate(records):
        people = list(record.get("people") or [])
        if not people:
            chosen.append(None)
            continue
        boxes = np.array([person.get("bbox", [0, 0, 0, 0]) for person in people], dtype=np.float64).reshape(
            -1, 4
        )
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        if centre is None:
            pick = int(np.argmax([float(person.get("bbox_score", 1.0)) for person in people]))
        else:
            pick = int(np.argmin(np.linalg.norm(centres - centre, axis=1)))
        centre = centres[pick]
        keypoints = np.asarray(people[pick].get("keypoints"), dtype=np.float64)
        if keypoints.shape != (NUM_JOINTS, 2):
            raise ValueError(
                f"pose record {index} ({record.get('img_path')}): keypoints of shape {keypoints.shape}, not (17, 2)"
            )
        scores = np.asarray(
            people[pick].get("keypoint_scores", np.ones(NUM_JOINTS)), dtype=np.float64
        ).reshape(NUM_JOINTS)
        chosen.append((keypoints, scores))
    first = next((item for item in chosen if item is not None), None)
    if first is None:
        raise ValueError("sequence_from_pose_records: no frame has a person")
    keypoints, scores, previous = [], [], first[0]
    for item in chosen:
        if item is None:
            keypoints.append(previous)
            scores.append(np.zeros(NUM_JOINTS))
        else:
            keypoints.append(item[0])
            scores.append(item[1])
            previous = item[0]
    return np.stack(keypoints).astype(np.float32), np.stack(scores).astype(np.float32)


def read_sequence_index(path: str | os.PathLike) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(metainfo, entries)`` of a split index (``train.json``): each entry has ``file`` (relative to the
    index's folder unless absolute), ``subject``, ``action`` and ``camera``.

    Raises:
        FileNotFoundError, ValueError: naming the index file and the entry at fault.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sequence index not found: {str(path)!r}")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"sequence index {str(path)!r} is not valid JSON: {error}") from error
    if not isinstance(content, dict) or not isinstance(content.get("data_list"), list):
        raise ValueError(f"sequence index {str(path)!r} must be a JSON object with a `data_list` list")
    entries = []
    for index, entry in enumerate(content["data_list"]):
        missing = [
            key
            for key in ("file", "subject", "action", "camera")
            if not isinstance(entry, dict) or key not in entry
        ]
        if missing:
            raise ValueError(f"sequence index {str(path)!r}, entry {index}: missing {', '.join(missing)}")
        entries.append(dict(entry))
    return dict(content.get("metainfo") or {}), entries


def window_padding(receptive_field: int, causal: bool = False) -> tuple[int, int]:
    """Frames of edge padding ``(before, after)`` a sequence needs so that every frame gets a full window:
    the window of frame t is frames ``t - before .. t + after`` (VideoPose3D: centred, or with ``causal``
    the past only)."""
    if receptive_field < 1 or receptive_field % 2 == 0:
        raise ValueError(f"receptive_field must be a positive odd number of frames, got {receptive_field}")
    pad = (receptive_field - 1) // 2
    return (2 * pad, 0) if causal else (pad, pad)


def pad_edges(array: np.ndarray, before: int, after: int) -> np.ndarray:
    """``array`` with its first frame repeated ``before`` times and its last ``after`` times (axis 0)."""
    if before == 0 and after == 0:
        return array
    widths = [(before, after)] + [(0, 0)] * (array.ndim - 1)
    return np.pad(array, widths, mode="edge")
