"""A deterministic synthetic COCO person-keypoints dataset: articulated 3D figures seen by a pinhole camera.

Each image shows two to four people. A person is a 3D figure in the COCO-17 layout with human segment
proportions (Winter, *Biomechanics and Motor Control of Human Movement*, fig. 4.1: upper arm 0.186, forearm
0.146, thigh 0.245, shin 0.246 of the stature; ``BODY_PROPORTIONS``), each segment scaled by its own factor in
``1 +- PROPORTION_JITTER`` (left and right alike), posed by joint angles drawn per ``POSE_KINDS`` (standing,
walking, arms raised, crouching, free) and turned to any heading, so front, side and back views all occur. Its
body is a union of solids: capsules (limbs, hands, feet, neck, head, hair, nose, eyes, ears) and a rounded
slab (the torso). Every pixel's camera ray is intersected with the solids exactly, so the picture, the depth
order and the visibility marks come from one geometry. Clothes have per-person colours and textures (plain,
stripes, blocks) with Lambert shading; a body's left side is lighter and its right side darker, and the face
(dark eyes, a red nose, hair at the back) shows where the head looks, so left and right can be told apart from
the image.

Marks follow COCO: a keypoint is ``v = 2`` (visible) when the first surface its camera ray meets belongs to a
part of the same person that contains the keypoint, within 1.5 of that part's radii of it, and not under an
occluder (opaque shapes painted over the image); otherwise ``v = 1`` (labelled, hidden: behind its own body,
behind another person, under an occluder); ``v = 0`` with ``x = y = 0`` when it projects outside the image
(outside ``[0, W - 1] x [0, H - 1]``). Keypoints are pixel indices: pixel ``i`` covers ``[i - 0.5, i + 0.5)``
and is rendered by the ray through its centre. ``bbox`` (x, y, w, h) bounds the figure's pixels (every part,
occluded or not, within the image, each pixel a unit square) and its labelled keypoints; ``area`` counts
those pixels. Each annotation also has ``keypoints_3d``: the 17 joints as 51 numbers (x, y, z per joint, the
camera frame: x right, y down, z forward, millimetres) whose projection with the image's ``cam_param``
(``f``: [fx, fy], ``c``: [cx, cy]; ``u = fx x / z + cx``) gives ``keypoints``, for 3D lifting.

Scenes add textured backgrounds (the detection writer's noise, gradients and stripes), people cut by the image
border (one in five), overlapping people (another person's box covers at most ``MAX_OVERLAP`` of a person's),
occluders (most on a joint, a tenth to a quarter of the person's height across), brightness and illumination
changes and sensor noise. Each person's box is 64 px to 70 % of the image tall.

Layout, as the detection writer's::

    <out>/annotations/person_keypoints_train.json   <out>/train/000000.png ...
    <out>/annotations/person_keypoints_val.json     <out>/val/000000.png ...

``file_name`` is relative to the split folder: ``CocoKeypointsDataset(data_root=out,
ann_file="annotations/person_keypoints_train.json", data_prefix=dict(img="train/"))``. Image ``i`` of a split
is drawn from ``default_rng([seed, split, i])``, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...data.synthetic_shapes import UNIT_OUTLINES
from ...data.synthetic_shapes import textured_background as _background
from .metainfo import COCO_KEYPOINTS

__all__ = [
    "BODY_PROPORTIONS",
    "BONE_RATIO_RANGES",
    "POSE_KINDS",
    "PROPORTION_JITTER",
    "STATURE_MM",
    "Appearance",
    "Body",
    "Camera",
    "Figure",
    "Occluder",
    "Part",
    "Pose",
    "body_to_camera",
    "bone_lengths",
    "pose_figure",
    "render_scene",
    "sample_appearance",
    "sample_body",
    "sample_pose",
    "synth_pose",
]

# segment lengths as fractions of the stature (Winter fig. 4.1; widths are joint centre to joint centre)
BODY_PROPORTIONS: dict[str, float] = {
    "upper_arm": 0.186,  # shoulder -> elbow
    "forearm": 0.146,  # elbow -> wrist
    "thigh": 0.245,  # hip -> knee
    "shin": 0.246,  # knee -> ankle
    "torso": 0.288,  # mid-hip -> mid-shoulder (shoulder height 0.818 - hip height 0.530)
    "shoulder_width": 0.200,  # biacromial breadth ~0.23, less the shoulder joints' depth
    "hip_width": 0.120,
    "neck": 0.115,  # mid-shoulder -> centre of the head
}
PROPORTION_JITTER = 0.05  # each segment: nominal * U(1 - j, 1 + j), the same on both sides
STATURE_MM = (1500.0, 1900.0)


def _ratio_range(first: str, second: str) -> tuple[float, float]:
    nominal, jitter = BODY_PROPORTIONS[first] / BODY_PROPORTIONS[second], PROPORTION_JITTER
    return nominal * (1 - jitter) / (1 + jitter), nominal * (1 + jitter) / (1 - jitter)


# the ratios any figure's bones keep (brachial index forearm/upper arm ~0.78, crural index shin/thigh ~1.0)
BONE_RATIO_RANGES: dict[str, tuple[float, float]] = {
    f"{a}/{b}": _ratio_range(a, b)
    for a, b in (
        ("forearm", "upper_arm"),
        ("shin", "thigh"),
        ("upper_arm", "thigh"),
        ("torso", "thigh"),
        ("shoulder_width", "hip_width"),
    )
}

POSE_KINDS = ("standing", "walking", "arms_raised", "crouching", "free")
POSE_PROBABILITIES = (0.25, 0.25, 0.2, 0.15, 0.15)
# solid radii as fractions of the stature (limbs and torso are also scaled by the person's build)
_RADIUS = {
    "torso": 0.055, "neck": 0.026, "head": 0.048, "hair": 0.051, "nose": 0.013, "eye": 0.011, "ear": 0.014,
    "upper_arm": 0.034, "forearm": 0.027, "hand": 0.022, "thigh": 0.052, "shin": 0.037, "foot": 0.024,
}  # fmt: skip
_LIMBS = ("torso", "neck", "upper_arm", "forearm", "hand", "thigh", "shin", "foot")
MIN_HEIGHT_PX = 64
MAX_HEIGHT_FRACTION = 0.7
MAX_OVERLAP = 0.4  # the most of a person's box that another's may cover
VISIBLE_DEPTH = 1.5  # a keypoint seen through at most this many radii of its own part is visible
AMBIENT, DIFFUSE = 0.45, 0.6
NAMES = COCO_KEYPOINTS["keypoint_names"]
_INDEX = {name: i for i, name in enumerate(NAMES)}
# the body frame: x = the person's left, y = up, z = where the person faces (origin: mid-hip); the camera
# frame: x right, y down, z forward. Facing the camera, the person's left is the image's right.
_BODY_TO_CAMERA = np.diag([1.0, -1.0, -1.0])


def _rotation(axis: str, degrees: float) -> np.ndarray:
    """The right-handed rotation by ``degrees`` about the x, y or z axis (3, 3)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    if axis == "x":
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    if axis == "y":
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def body_to_camera(heading: float, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """The rotation (3, 3) from a body frame to the camera frame: ``heading`` 0 faces the camera, 90 shows the
    person's left side, 180 the back (degrees); ``pitch`` and ``roll`` tilt the camera."""
    return _rotation("x", pitch) @ _rotation("z", roll) @ _rotation("y", heading) @ _BODY_TO_CAMERA


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: ``u = f x / z + cx``, ``v = f y / z + cy`` (pixel indices) for its images."""

    f: float
    cx: float
    cy: float
    width: int
    height: int

    def project(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points (N, 3) in mm to pixel coordinates (N, 2)."""
        points = np.asarray(points, dtype=np.float64)
        return np.stack(
            [self.f * points[:, 0] / points[:, 2] + self.cx, self.f * points[:, 1] / points[:, 2] + self.cy],
            1,
        )

    def as_json(self) -> dict:
        """The ``cam_param`` of an image record: ``{"f": [fx, fy], "c": [cx, cy]}``."""
        return {"f": [self.f, self.f], "c": [self.cx, self.cy]}


@dataclass(frozen=True)
class Body:
    """A person's build: stature (mm), segment lengths (mm, keys of ``BODY_PROPORTIONS``), limb thickness."""

    stature: float
    lengths: dict
    build: float = 1.0

    def radius(self, part: str) -> float:
        return _RADIUS[part] * self.stature * (self.build if part in _LIMBS else 1.0)


@dataclass(frozen=True)
class Pose:
    """Joint angles in degrees. ``torso``: forward bend, side bend, twist; ``head``: turn, nod (down > 0);
    ``arms`` (left, right): shoulder flexion (forward raise), abduction (sideways raise), rotation, elbow
    flexion; ``legs`` (left, right): hip flexion, abduction, knee flexion."""

    kind: str
    torso: tuple[float, float, float] = (0.0, 0.0, 0.0)
    head: tuple[float, float] = (0.0, 0.0)
    arms: tuple[tuple[float, float, float, float], ...] = ((0.0, 10.0, 0.0, 10.0),) * 2
    legs: tuple[tuple[float, float, float], ...] = ((0.0, 5.0, 5.0),) * 2


@dataclass(frozen=True)
class Appearance:
    """Colours (BGR, 0-255) of a person's clothes, skin, hair and shoes, and the clothes' texture."""

    shirt: tuple[float, float, float] = (200.0, 90.0, 40.0)
    trousers: tuple[float, float, float] = (60.0, 60.0, 70.0)
    skin: tuple[float, float, float] = (120.0, 160.0, 215.0)
    hair: tuple[float, float, float] = (30.0, 40.0, 60.0)
    shoes: tuple[float, float, float] = (30.0, 30.0, 30.0)
    texture: str = "plain"  # "plain", "stripes" (across the body's height) or "blocks"
    texture_size: float = 60.0  # mm: the stripes' period or the blocks' side
    short_sleeves: bool = False


@dataclass
class Part:
    """One solid of a figure: capsules ``(a, b)`` and slabs (triangles ``(p0, p1, p2)``) inflated by
    ``radius`` (camera frame, mm); ``side`` +1 left (lighter), -1 right (darker), 0 middle, ``None``: split by
    the hit point's side (the torso)."""

    name: str
    colour: np.ndarray
    radius: float
    capsules: list
    slabs: list
    side: int | None = 0
    textured: bool = False


@dataclass
class Figure:
    """A posed person in the camera frame: joints (17, 3) mm in COCO order, parts, and the body axes."""

    joints: np.ndarray
    parts: list
    origin: np.ndarray  # mid-hip
    left: np.ndarray  # unit vector: the person's left
    up: np.ndarray  # unit vector: the pelvis' up
    appearance: Appearance


@dataclass
class Occluder:
    """An opaque shape painted over the image: outline (K, 2) in pixel coordinates; a flat ``colour`` (BGR)
    or a ``texture`` (H, W, 3) uint8 shown through it."""

    outline: np.ndarray
    colour: tuple[int, int, int] = (128, 128, 128)
    texture: np.ndarray | None = None


# ---- figures -----------------------------------------------------------------------------------------------
def sample_body(rng: np.random.Generator) -> Body:
    """A stature in ``STATURE_MM``, each segment jittered by ``PROPORTION_JITTER``, a build in [0.85, 1.2]."""
    stature = float(rng.uniform(*STATURE_MM))
    factors = rng.uniform(1 - PROPORTION_JITTER, 1 + PROPORTION_JITTER, size=len(BODY_PROPORTIONS))
    lengths = {key: value * stature * float(k) for (key, value), k in zip(BODY_PROPORTIONS.items(), factors)}
    return Body(stature, lengths, float(rng.uniform(0.85, 1.2)))


def sample_pose(rng: np.random.Generator, kind: str | None = None) -> Pose:
    """Joint angles drawn from the ranges of a pose kind (one of ``POSE_KINDS``; drawn when None)."""
    kind = kind or POSE_KINDS[int(rng.choice(len(POSE_KINDS), p=POSE_PROBABILITIES))]

    def u(low: float, high: float) -> float:
        return float(rng.uniform(low, high))

    def rest_arm() -> tuple:
        return (u(-15, 25), u(5, 25), u(-20, 40), u(0, 40))

    def rest_leg() -> tuple:
        return (u(-5, 10), u(0, 10), u(0, 12))

    torso, head = (u(-5, 10), u(-6, 6), u(-12, 12)), (u(-50, 50), u(-20, 30))
    if kind == "standing":
        arms, legs = [rest_arm(), rest_arm()], [rest_leg(), rest_leg()]
    elif kind == "walking":
        swing, lead = u(15, 35), int(rng.integers(2))
        legs, arms = [(0.0,)] * 2, [(0.0,)] * 2
        legs[lead] = (swing + u(-5, 5), u(0, 8), u(0, 20))
        legs[1 - lead] = (-0.7 * swing + u(-5, 5), u(0, 8), u(10, 60))
        arms[lead] = (-0.6 * swing + u(-5, 5), u(5, 15), u(0, 30), u(10, 45))  # arms swing against the legs
        arms[1 - lead] = (0.8 * swing + u(-5, 5), u(5, 15), u(0, 30), u(10, 45))
        torso = (u(0, 10), u(-4, 4), u(-8, 8))
    elif kind == "arms_raised":

        def raised_arm() -> tuple:
            if rng.random() < 0.6:
                return (u(110, 175), u(0, 40), u(-30, 30), u(0, 70))  # forward and up
            return (u(-10, 30), u(80, 160), u(-30, 60), u(0, 90))  # sideways and up

        which = ((True, True), (True, False), (False, True))[int(rng.integers(3))]
        arms, legs = [raised_arm() if up else rest_arm() for up in which], [rest_leg(), rest_leg()]
    elif kind == "crouching":
        arms = [(u(10, 80), u(5, 35), u(-20, 40), u(20, 110)) for _ in range(2)]
        legs = [(u(70, 115), u(5, 25), u(90, 140)) for _ in range(2)]
        torso, head = (u(15, 45), u(-8, 8), u(-15, 15)), (u(-50, 50), u(-40, 0))
    elif kind == "free":
        arms = [(u(-40, 180), u(0, 150), u(-60, 60), u(0, 145)) for _ in range(2)]
        legs = [rest_leg(), (u(-30, 90), u(-5, 45), u(0, 120))]
        if rng.random() < 0.5:
            legs.reverse()
        torso = (u(-10, 40), u(-15, 15), u(-30, 30))
    else:
        raise ValueError(f"sample_pose: unknown pose kind {kind!r}; expected one of {POSE_KINDS}")
    return Pose(kind, torso, head, tuple(arms), tuple(legs))


_SKIN = ((95, 125, 175), (120, 160, 215), (150, 185, 225), (60, 90, 140), (40, 60, 95), (170, 200, 235))
_HAIR = ((20, 20, 25), (30, 45, 70), (60, 110, 170), (150, 150, 155), (30, 60, 140), (90, 140, 190))


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """Random clothes colours and texture, a skin tone and a hair colour from small palettes."""
    shirt, trousers = (tuple(float(c) for c in rng.integers(25, 235, size=3)) for _ in range(2))
    shoes = tuple(float(c) for c in rng.integers(10, 120, size=3))
    texture = ("plain", "stripes", "blocks")[int(rng.choice(3, p=(0.4, 0.35, 0.25)))]
    return Appearance(
        shirt=shirt,
        trousers=trousers,
        skin=tuple(float(c) for c in _SKIN[int(rng.integers(len(_SKIN)))]),
        hair=tuple(float(c) for c in _HAIR[int(rng.integers(len(_HAIR)))]),
        shoes=shoes,
        texture=texture,
        texture_size=float(rng.uniform(40, 110)),
        short_sleeves=bool(rng.random() < 0.4),
    )


def _skeleton(body: Body, pose: Pose) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Joints (17, 3) and the other points the solids need, in the body frame (mm)."""
    length, stature = body.lengths, body.stature
    joints, points = np.zeros((17, 3)), {}
    bend, side_bend, twist = pose.torso
    torso = _rotation("y", twist) @ _rotation("z", side_bend) @ _rotation("x", bend)
    mid_shoulder = torso @ np.array([0.0, length["torso"], 0.0])
    points["mid_shoulder"], points["torso_up"] = mid_shoulder, torso[:, 1]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        flexion, abduction, rotation, elbow = pose.arms[0 if sign > 0 else 1]
        shoulder = mid_shoulder + torso @ np.array([sign * length["shoulder_width"] / 2, 0.0, 0.0])
        upper = (
            torso
            @ _rotation("x", -flexion)
            @ _rotation("z", sign * abduction)
            @ _rotation("y", sign * rotation)
        )
        forearm = upper @ _rotation("x", -elbow)  # the elbow bends the forearm forward
        joints[_INDEX[f"{side}_shoulder"]] = shoulder
        joints[_INDEX[f"{side}_elbow"]] = shoulder - upper[:, 1] * length["upper_arm"]
        joints[_INDEX[f"{side}_wrist"]] = joints[_INDEX[f"{side}_elbow"]] - forearm[:, 1] * length["forearm"]
        points[f"{side}_hand"] = joints[_INDEX[f"{side}_wrist"]] - forearm[:, 1] * 0.055 * stature
        flexion, abduction, knee = pose.legs[0 if sign > 0 else 1]
        thigh = _rotation("x", -flexion) @ _rotation("z", sign * abduction)
        shin = thigh @ _rotation("x", knee)  # the knee bends the shin backward
        joints[_INDEX[f"{side}_hip"]] = (sign * length["hip_width"] / 2, 0.0, 0.0)
        joints[_INDEX[f"{side}_knee"]] = joints[_INDEX[f"{side}_hip"]] - thigh[:, 1] * length["thigh"]
        joints[_INDEX[f"{side}_ankle"]] = joints[_INDEX[f"{side}_knee"]] - shin[:, 1] * length["shin"]
        # the foot: heel to toe, under the ankle (it must not hide the ankle from the front)
        points[f"{side}_heel"] = (
            joints[_INDEX[f"{side}_ankle"]] + shin @ np.array([0.0, -0.03, -0.005]) * stature
        )
        points[f"{side}_toe"] = (
            joints[_INDEX[f"{side}_ankle"]] + shin @ np.array([0.0, -0.03, 0.075]) * stature
        )
    head = torso @ _rotation("y", pose.head[0]) @ _rotation("x", pose.head[1])
    radius = body.radius("head")
    centre = mid_shoulder + head @ np.array([0.0, length["neck"], 0.012 * stature])

    def on_head(x: float, y: float, z: float) -> np.ndarray:
        return centre + head @ np.array([x, y, z])

    eye_x = 0.018 * stature
    joints[_INDEX["nose"]] = on_head(0.0, -0.016 * stature, radius + 0.004 * stature)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        joints[_INDEX[f"{side}_eye"]] = on_head(
            sign * eye_x, 0.006 * stature, math.sqrt(radius**2 - eye_x**2)
        )
        joints[_INDEX[f"{side}_ear"]] = on_head(sign * 1.04 * radius, -0.004 * stature, -0.006 * stature)
    points["head_low"], points["head_high"] = on_head(0, -0.018 * stature, 0), on_head(0, 0.018 * stature, 0)
    points["hair_low"] = on_head(0.0, 0.0, -0.012 * stature)  # a cap over the back and top of the head
    points["hair_high"] = on_head(0.0, 0.026 * stature, -0.012 * stature)
    points["neck_top"] = on_head(0.0, -0.03 * stature, 0.0)
    return joints, points


def _tint(colour: np.ndarray, side: int) -> np.ndarray:
    """A body's left side lighter, its right side darker, so that a network can tell them apart."""
    if side > 0:
        return colour + 0.35 * (255.0 - colour)
    return colour * 0.62 if side < 0 else colour


def pose_figure(
    body: Body, pose: Pose, appearance: Appearance, rotation: np.ndarray, translation: np.ndarray
) -> Figure:
    """The figure's solids in the camera frame: ``x_camera = rotation @ x_body + translation`` (mm), with
    ``rotation`` from :func:`body_to_camera` and ``translation`` the mid-hip's position."""
    joints_b, points_b = _skeleton(body, pose)
    rotation, translation = np.asarray(rotation, float), np.asarray(translation, float)

    def place(point: np.ndarray) -> np.ndarray:
        return rotation @ point + translation

    joints = np.round(joints_b @ rotation.T + translation, 3)  # what keypoints_3d stores, to 0.001 mm
    look = appearance
    colour = {
        key: np.array(getattr(look, key), float) for key in ("shirt", "trousers", "skin", "hair", "shoes")
    }
    index = _INDEX
    # the torso: a slab between the shoulders and hips, drawn in a little so the joints sit inside its rim
    inset = points_b["torso_up"] * 0.025 * body.stature
    shoulders_mid = points_b["mid_shoulder"]
    corners = [
        place(shoulders_mid + 0.8 * (joints_b[index["left_shoulder"]] - shoulders_mid) - inset),
        place(shoulders_mid + 0.8 * (joints_b[index["right_shoulder"]] - shoulders_mid) - inset),
        place(0.8 * joints_b[index["right_hip"]]),
        place(0.8 * joints_b[index["left_hip"]]),
    ]
    edges = [(corners[i], corners[j]) for i, j in ((0, 1), (1, 2), (2, 3), (3, 0), (0, 2))]

    def capsule(a: str, b: str) -> list:
        return [(place(points_b[a]), place(points_b[b]))]

    nose, nose_colour = joints[index["nose"]], 0.55 * colour["skin"] + np.array([0.0, 0.0, 110.0])  # red
    slabs = [corners[:3], [corners[0], *corners[2:]]]
    parts = [
        Part("torso", colour["shirt"], body.radius("torso"), edges, slabs, side=None, textured=True),
        Part("neck", colour["skin"], body.radius("neck"), capsule("mid_shoulder", "neck_top"), []),
        Part("head", colour["skin"], body.radius("head"), capsule("head_low", "head_high"), []),
        Part("hair", colour["hair"], body.radius("hair"), capsule("hair_low", "hair_high"), []),
        Part("nose", nose_colour, body.radius("nose"), [(nose, nose)], []),
    ]
    for side, sign in (("left", 1), ("right", -1)):
        j = {name: joints[index[f"{side}_{name}"]] for name in ("eye", "ear", "shoulder", "elbow", "wrist")}
        j.update({name: joints[index[f"{side}_{name}"]] for name in ("hip", "knee", "ankle")})
        forearm_colour = colour["skin"] if look.short_sleeves else colour["shirt"]
        heel, toe = place(points_b[f"{side}_heel"]), place(points_b[f"{side}_toe"])
        segments = (
            ("eye", np.full(3, 25.0), j["eye"], j["eye"], 0, False),
            ("ear", 0.85 * colour["skin"], j["ear"], j["ear"], sign, False),
            ("upper_arm", colour["shirt"], j["shoulder"], j["elbow"], sign, True),
            ("forearm", forearm_colour, j["elbow"], j["wrist"], sign, not look.short_sleeves),
            ("hand", colour["skin"], j["wrist"], place(points_b[f"{side}_hand"]), sign, False),
            ("thigh", colour["trousers"], j["hip"], j["knee"], sign, True),
            ("shin", colour["trousers"], j["knee"], j["ankle"], sign, True),
            ("foot", colour["shoes"], heel, toe, sign, False),
        )
        for name, base, a, b, tint, textured in segments:
            parts.append(
                Part(f"{side}_{name}", _tint(base, tint), body.radius(name), [(a, b)], [], tint, textured)
            )
    return Figure(joints, parts, translation, rotation[:, 0], rotation[:, 1], look)


def bone_lengths(joints: np.ndarray) -> dict[str, float | tuple[float, float]]:
    """A figure's bones (mm) from its joints (17, 3): limbs as (left, right); ``torso`` (mid-hip to
    mid-shoulder), ``shoulder_width`` and ``hip_width`` as numbers. Keys as ``BODY_PROPORTIONS``'."""
    joints = np.asarray(joints, dtype=np.float64)

    def length(a: str, b: str) -> float:
        return float(np.linalg.norm(joints[_INDEX[a]] - joints[_INDEX[b]]))

    lengths: dict[str, float | tuple[float, float]] = {
        name: (length(f"left_{a}", f"left_{b}"), length(f"right_{a}", f"right_{b}"))
        for name, (a, b) in {
            "upper_arm": ("shoulder", "elbow"),
            "forearm": ("elbow", "wrist"),
            "thigh": ("hip", "knee"),
            "shin": ("knee", "ankle"),
        }.items()
    }
    mid_hip = (joints[_INDEX["left_hip"]] + joints[_INDEX["right_hip"]]) / 2
    mid_shoulder = (joints[_INDEX["left_shoulder"]] + joints[_INDEX["right_shoulder"]]) / 2
    lengths["torso"] = float(np.linalg.norm(mid_shoulder - mid_hip))
    lengths["shoulder_width"] = length("left_shoulder", "right_shoulder")
    lengths["hip_width"] = length("left_hip", "right_hip")
    return lengths


# ---- ray casting -------------------------------------------------------------------------------------------
# A camera ray is t * (dx, dy, 1): its parameter t is the depth z of the point it reaches.
def _dot(dx: np.ndarray, dy: np.ndarray, vector: np.ndarray) -> np.ndarray:
    return dx * vector[..., 0] + dy * vector[..., 1] + vector[..., 2]


def _sphere_hits(dx: np.ndarray, dy: np.ndarray, dd: np.ndarray, centre: np.ndarray, radius) -> np.ndarray:
    dc = _dot(dx, dy, centre)
    disc = dc * dc - dd * (np.sum(centre * centre, -1) - radius * radius)
    return np.where(disc >= 0, (dc - np.sqrt(np.maximum(disc, 0.0))) / dd, np.inf)


def _capsule_hits(dx: np.ndarray, dy: np.ndarray, a: np.ndarray, b: np.ndarray, radius) -> np.ndarray:
    """The depth where each ray enters the capsule (segment ``a``-``b`` swept by a sphere of ``radius``), inf
    where it misses: the first of the two end spheres and the finite cylinder between them. Capsules (..., 3)
    and rays broadcast: capsules (M, 1, 3) with radii (M, 1) and rays (N,) give (M, N)."""
    dd = dx * dx + dy * dy + 1.0
    t = np.minimum(_sphere_hits(dx, dy, dd, a, radius), _sphere_hits(dx, dy, dd, b, radius))
    axis = b - a
    length = np.sqrt(np.sum(axis * axis, -1))
    unit = axis / np.maximum(length, 1e-9)[..., None]
    du, da, au = _dot(dx, dy, unit), _dot(dx, dy, a), np.sum(a * unit, -1)
    # |t d - a - ((t d - a).u) u|^2 = r^2 -> qa t^2 + 2 qb t + qc = 0
    qa = dd - du * du
    qb = du * au - da
    qc = np.sum(a * a, -1) - au * au - radius * radius
    disc = qb * qb - qa * qc
    ok = (disc >= 0) & (qa > 1e-12) & (length > 1e-9)
    cylinder = (-qb - np.sqrt(np.where(ok, disc, 0.0))) / np.where(ok, qa, 1.0)
    along = cylinder * du - au
    return np.minimum(t, np.where(ok & (along >= 0) & (along <= length), cylinder, np.inf))


def _slab_hits(dx: np.ndarray, dy: np.ndarray, triangle: list, radius: float) -> np.ndarray:
    """The depth where each ray crosses one of the two faces of a triangle inflated by ``radius`` (its rim,
    the edge capsules, is added by the caller), inf where it misses."""
    p0, p1, p2 = triangle
    e1, e2 = p1 - p0, p2 - p0
    normal = np.cross(e1, e2)
    size = float(np.linalg.norm(normal))
    shape = np.broadcast_shapes(np.shape(dx), np.shape(dy))
    if size < 1e-9:
        return np.full(shape, np.inf)
    normal = normal / size
    dn = dx * normal[0] + dy * normal[1] + normal[2]
    de1 = dx * e1[0] + dy * e1[1] + e1[2]
    de2 = dx * e2[0] + dy * e2[1] + e2[2]
    d00, d01, d11 = float(e1 @ e1), float(e1 @ e2), float(e2 @ e2)
    denominator = d00 * d11 - d01 * d01
    best = np.full(shape, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for sign in (1.0, -1.0):
            t = (float(p0 @ normal) + sign * radius) / dn
            w1, w2 = t * de1 - float(p0 @ e1), t * de2 - float(p0 @ e2)  # (t d - sign r n - p0) . e
            beta = (d11 * w1 - d01 * w2) / denominator
            gamma = (d00 * w2 - d01 * w1) / denominator
            inside = (beta >= 0) & (gamma >= 0) & (beta + gamma <= 1) & (t > 0) & (t < best)
            best = np.where(inside, t, best)
    return best


def _part_hits(part: Part, dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The entry depth of each ray into the part (inf: missed) and which primitive it enters (capsules first;
    a capsule whose ends are one array is a sphere)."""
    depths = [
        _sphere_hits(dx, dy, dx * dx + dy * dy + 1.0, a, part.radius)
        if a is b
        else _capsule_hits(dx, dy, a, b, part.radius)
        for a, b in part.capsules
    ]
    depths += [_slab_hits(dx, dy, triangle, part.radius) for triangle in part.slabs]
    if len(depths) == 1:
        return depths[0], np.zeros(depths[0].shape, dtype=np.intp)
    stacked = np.stack(np.broadcast_arrays(*depths))
    which = np.argmin(stacked, axis=0)
    return np.take_along_axis(stacked, which[None], 0)[0], which


def _normals(part: Part, points: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Outward unit normals (N, 3) at the part's surface points (N, 3), entered through ``which``."""
    normals = np.zeros_like(points)
    for k, (a, b) in enumerate(part.capsules):
        rows = which == k
        axis = b - a
        along = np.minimum(np.maximum((points[rows] - a) @ axis / max(float(axis @ axis), 1e-12), 0.0), 1.0)
        normals[rows] = (points[rows] - a - along[:, None] * axis) / part.radius
    for k, (p0, p1, p2) in enumerate(part.slabs, start=len(part.capsules)):
        rows = which == k
        normal = np.cross(p1 - p0, p2 - p0)
        normal /= np.linalg.norm(normal)
        normals[rows] = np.where((points[rows] @ normal < 0)[:, None], normal, -normal)  # the face seen
    return normals


def _distance(part: Part, points: np.ndarray) -> np.ndarray:
    """Distance (N,) from points (N, 3) to the part's core (its segments and triangles)."""
    best = np.full(len(points), np.inf)
    for a, b in part.capsules:
        axis = b - a
        along = np.minimum(np.maximum((points - a) @ axis / max(float(axis @ axis), 1e-12), 0.0), 1.0)
        best = np.minimum(best, np.linalg.norm(points - a - along[:, None] * axis, axis=1))
    for p0, p1, p2 in part.slabs:
        normal = np.cross(p1 - p0, p2 - p0)
        normal /= np.linalg.norm(normal)
        height = (points - p0) @ normal
        flat = points - height[:, None] * normal - p0
        e1, e2 = p1 - p0, p2 - p0
        d00, d01, d11 = e1 @ e1, e1 @ e2, e2 @ e2
        w1, w2 = flat @ e1, flat @ e2
        beta = (d11 * w1 - d01 * w2) / (d00 * d11 - d01 * d01)
        gamma = (d00 * w2 - d01 * w1) / (d00 * d11 - d01 * d01)
        inside = (beta >= 0) & (gamma >= 0) & (beta + gamma <= 1)
        best = np.where(inside, np.minimum(best, np.abs(height)), best)
    return best


# ---- rendering ---------------------------------------------------------------------------------------------
def _pixel_box(part: Part, camera: Camera) -> tuple[int, int, int, int] | None:
    """Rows ``[r0, r1)`` and columns ``[c0, c1)`` holding the part's image; None when it misses the image."""
    points = np.array([p for pair in part.capsules for p in pair] + [p for tri in part.slabs for p in tri])
    nearest = float(points[:, 2].min()) - part.radius
    if nearest <= 1.0:
        return 0, camera.height, 0, camera.width
    uv = camera.project(points)
    # a sphere of radius r at depth z spans f r / (z cos(angle off the optical axis)) pixels from its centre
    off_axis = float(np.max((uv[:, 0] - camera.cx) ** 2 + (uv[:, 1] - camera.cy) ** 2)) / camera.f**2
    pad = 1.05 * camera.f * part.radius / nearest * math.sqrt(1.0 + off_axis) + 1.0
    c0, c1 = max(0, math.floor(uv[:, 0].min() - pad)), min(camera.width, math.ceil(uv[:, 0].max() + pad) + 1)
    r0, r1 = max(0, math.floor(uv[:, 1].min() - pad)), min(camera.height, math.ceil(uv[:, 1].max() + pad) + 1)
    return (r0, r1, c0, c1) if r0 < r1 and c0 < c1 else None


def _texture(look: Appearance, offsets: np.ndarray, up: np.ndarray) -> np.ndarray | float:
    """Brightness factors (N,) of the clothes at surface points (N, 3), relative to the mid-hip (mm)."""
    if look.texture == "stripes":
        return np.where(np.sin(2 * math.pi * (offsets @ up) / look.texture_size) > 0, 1.0, 0.68)
    if look.texture == "blocks":  # a value hash of the cell: random-looking, reproducible
        cells = np.floor(offsets / look.texture_size) @ np.array([12.9898, 78.233, 37.719])
        return 0.7 + 0.4 * (np.sin(cells) * 43758.5453 % 1.0)
    return 1.0


def _colours(
    part: Part, figure: Figure, points: np.ndarray, normals: np.ndarray, light: np.ndarray
) -> np.ndarray:
    """Lambert-shaded colours (N, 3) of the part at surface points (N, 3) with outward normals (N, 3)."""
    shade = AMBIENT + DIFFUSE * np.maximum(normals @ light, 0.0)
    if part.side is None:  # the torso: lighter on the person's left, darker on the right
        left = ((points - figure.origin) @ figure.left > 0)[:, None]
        base = np.where(left, _tint(part.colour, 1), _tint(part.colour, -1))
    else:
        base = part.colour[None]
    if part.textured:
        shade = shade * _texture(figure.appearance, points - figure.origin, figure.up)
    return base * shade[:, None]


def _first_hits(figures: list[Figure], dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, list, np.ndarray]:
    """For rays (N,): the depth of the first surface met, the (figure, part) list and the index met there."""
    owners = [(index, part) for index, figure in enumerate(figures) for part in figure.parts]
    capsules = [(g, a, b, part.radius) for g, (_, part) in enumerate(owners) for a, b in part.capsules]
    which, a, b, radii = (np.array(column) for column in zip(*capsules))
    depth = _capsule_hits(dx, dy, a[:, None], b[:, None], radii[:, None])  # all capsules at once: (M, N)
    nearest = np.argmin(depth, axis=0)
    first = depth[nearest, np.arange(len(dx))]
    owner = np.where(np.isfinite(first), which[nearest], -1)
    for g, (_, part) in enumerate(owners):
        for triangle in part.slabs:
            depth = _slab_hits(dx, dy, triangle, part.radius)
            closer = depth < first
            first[closer], owner[closer] = depth[closer], g
    return first, owners, owner


def _visibility(figures: list[Figure], camera: Camera, occluded: np.ndarray) -> list[np.ndarray]:
    """COCO marks (17,) per figure: 0 outside the image, 2 when the keypoint's ray first meets a part of its
    own person that contains it within ``VISIBLE_DEPTH`` radii and no occluder covers its pixel, else 1."""
    joints = np.concatenate([figure.joints for figure in figures])
    dx, dy = joints[:, 0] / joints[:, 2], joints[:, 1] / joints[:, 2]
    first, owners, owner = _first_hits(figures, dx, dy)
    uv = camera.project(joints)
    inside = (
        (uv[:, 0] >= 0) & (uv[:, 0] <= camera.width - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= camera.height - 1)
    )
    marks = np.where(inside, 1, 0)
    for n in np.flatnonzero(inside & (owner >= 0)):
        index, part = owners[owner[n]]
        if index != n // 17 or occluded[math.floor(uv[n, 1] + 0.5), math.floor(uv[n, 0] + 0.5)]:
            continue
        contains = _distance(part, joints[n : n + 1])[0] <= part.radius + 1e-6
        seen_through = (joints[n, 2] - first[n]) * math.sqrt(dx[n] ** 2 + dy[n] ** 2 + 1.0)
        if contains and seen_through <= VISIBLE_DEPTH * part.radius:
            marks[n] = 2
    return [marks[i * 17 : (i + 1) * 17] for i in range(len(figures))]


def render_scene(
    camera: Camera,
    background: np.ndarray,
    figures: list[Figure],
    occluders: list[Occluder] = (),
    light: tuple[float, float, float] = (0.3, -0.6, -1.0),
) -> tuple[np.ndarray, list[dict | None]]:
    """Render the figures over the background and paint the occluders on top.

    Args:
        camera: the pinhole camera (its ``width`` and ``height`` are the image's).
        background: (H, W, 3) uint8 BGR.
        figures: the people (camera frame); solids of all of them are depth-tested per pixel.
        occluders: shapes painted over everything, in order.
        light: the direction towards the light (camera frame; normalised here).

    Returns:
        The (H, W, 3) uint8 BGR image and per figure ``{"keypoints": (17, 2) pixel coordinates, "visibility":
        (17,) COCO marks, "bbox": [x, y, w, h], "area": pixels}`` (see the module docstring), or None for a
        figure with no pixel in the image.
    """
    height, width = camera.height, camera.width
    if background.shape[:2] != (height, width):
        raise ValueError(
            f"render_scene: background {background.shape} is not the camera's {height} x {width}"
        )
    for index, figure in enumerate(figures):
        if (figure.joints[:, 2] <= 0).any():
            raise ValueError(f"render_scene: figure {index} has joints behind the camera (depth <= 0)")
    light = np.asarray(light, float) / np.linalg.norm(light)
    xs, ys = (np.arange(width) - camera.cx) / camera.f, (np.arange(height) - camera.cy) / camera.f
    depth = np.full((height, width), np.inf)
    canvas = background.astype(np.float64)
    silhouettes = [np.zeros((height, width), dtype=bool) for _ in figures]
    for index, figure in enumerate(figures):
        for part in figure.parts:
            box = _pixel_box(part, camera)
            if box is None:
                continue
            r0, r1, c0, c1 = box
            dx, dy = np.broadcast_arrays(xs[None, c0:c1], ys[r0:r1, None])
            hits, which = _part_hits(part, dx, dy)
            silhouettes[index][r0:r1, c0:c1] |= np.isfinite(hits)
            front = hits < depth[r0:r1, c0:c1]
            if not front.any():
                continue
            t = hits[front]
            points = np.stack([t * dx[front], t * dy[front], t], axis=1)
            depth[r0:r1, c0:c1][front] = t
            normals = _normals(part, points, which[front])
            canvas[r0:r1, c0:c1][front] = _colours(part, figure, points, normals, light)
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    occluded = np.zeros((height, width), dtype=bool)
    for occluder in occluders:
        mask = np.zeros((height, width), dtype=np.uint8)
        cv2.fillPoly(mask, [np.round(np.asarray(occluder.outline) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        mask = mask.astype(bool)
        image[mask] = occluder.texture[mask] if occluder.texture is not None else occluder.colour
        occluded |= mask
    marks = _visibility(figures, camera, occluded) if figures else []
    return image, [_label(f, m, s, camera) for f, m, s in zip(figures, marks, silhouettes)]


def _label(figure: Figure, marks: np.ndarray, silhouette: np.ndarray, camera: Camera) -> dict | None:
    ys, xs = np.nonzero(silhouette)
    if len(xs) == 0:
        return None
    keypoints = camera.project(figure.joints)
    labelled = keypoints[marks > 0]
    # each pixel is a unit square around its index; the box also holds the labelled keypoints
    x1, y1 = min([xs.min() - 0.5, *labelled[:, 0]]), min([ys.min() - 0.5, *labelled[:, 1]])
    x2, y2 = max([xs.max() + 0.5, *labelled[:, 0]]), max([ys.max() + 0.5, *labelled[:, 1]])
    return {"keypoints": keypoints, "visibility": marks, "bbox": [x1, y1, x2 - x1, y2 - y1], "area": len(xs)}


# ---- scenes ------------------------------------------------------------------------------------------------
def _sample_camera(rng: np.random.Generator, size: int) -> Camera:
    fov = math.radians(rng.uniform(45, 65))  # horizontal field of view
    focal = round(size / 2 / math.tan(fov / 2), 3)
    cx, cy = (round((size - 1) / 2 + float(rng.uniform(-0.04, 0.04)) * size, 3) for _ in range(2))
    return Camera(focal, cx, cy, size, size)


def _extent(figure: Figure, camera: Camera) -> np.ndarray:
    """The box (x1, y1, x2, y2) of the projected ends of the figure's solids."""
    points = np.array([p for part in figure.parts for pair in part.capsules for p in pair])
    uv = camera.project(points)
    return np.concatenate([uv.min(0), uv.max(0)])


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """The intersection of two xyxy boxes over the smaller one's area (1: one holds the other)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / max(min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])), 1e-9)


def _place_figures(rng: np.random.Generator, camera: Camera, count: int) -> list[Figure]:
    """``count`` people, 64 px to 70 % of the image tall, one in five let out past the border, another
    person's box covering at most ``MAX_OVERLAP`` of theirs. A person who finds no place is tried smaller,
    then left out (and another one drawn while there are fewer than two)."""
    size, reference = camera.height, 5000.0
    tilt = (float(rng.uniform(-8, 8)), float(rng.uniform(-5, 5)))
    figures, boxes = [], []
    for candidate in range(count + 5):
        if len(figures) == count or (candidate >= count and len(figures) >= min(2, count)):
            break
        body, pose, look = sample_body(rng), sample_pose(rng), sample_appearance(rng)
        rotation = body_to_camera(float(rng.uniform(0, 360)), *tilt)
        box = _extent(pose_figure(body, pose, look, rotation, np.array([0.0, 0.0, reference])), camera)
        tallest = MAX_HEIGHT_FRACTION * size
        for attempt in range(30):
            if attempt % 10 == 0:  # (again) smaller: the scene may be crowded
                tallest = max(tallest * (0.7 if attempt else 1.0), MIN_HEIGHT_PX + 1.0)
                distance = reference * (box[3] - box[1]) / rng.uniform(MIN_HEIGHT_PX, tallest)
                seen = _extent(
                    pose_figure(body, pose, look, rotation, np.array([0.0, 0.0, distance])), camera
                )
            overflow = 0.35 if rng.random() < 0.2 else 0.0
            shift = []
            for axis in (0, 1):
                extent = seen[axis + 2] - seen[axis]
                low, high = extent / 2 - overflow * extent, size - 1 - extent / 2 + overflow * extent
                centre = rng.uniform(low, high) if low < high else (size - 1) / 2
                shift.append(centre - (seen[axis] + seen[axis + 2]) / 2)
            moved = seen + np.array(shift * 2)
            if all(_overlap(moved, other) <= MAX_OVERLAP for other in boxes):
                translation = np.array([shift[0], shift[1], camera.f]) * distance / camera.f
                figures.append(pose_figure(body, pose, look, rotation, translation))
                boxes.append(moved)
                break
    return figures


def _sample_occluders(rng: np.random.Generator, camera: Camera, figures: list[Figure]) -> list[Occluder]:
    """None to two opaque shapes (the detection writer's outlines), most of them on someone's joint."""
    size, occluders = camera.height, []
    for _ in range(int(rng.choice(3, p=(0.5, 0.35, 0.15)))):
        name = sorted(UNIT_OUTLINES)[int(rng.integers(len(UNIT_OUTLINES)))]
        if figures and rng.random() < 0.75:  # on a joint, a tenth to a quarter of the person's height across
            joints = camera.project(figures[int(rng.integers(len(figures)))].joints)
            radius = rng.uniform(0.05, 0.13) * np.ptp(joints[:, 1])
            centre = joints[int(rng.integers(17))] + rng.normal(0, 0.4 * radius, 2)
        else:
            radius = rng.uniform(0.05, 0.13) * size
            centre = rng.uniform(0, size - 1, 2)
        angle = rng.uniform(0, 2 * math.pi)
        turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        outline = UNIT_OUTLINES[name] @ turn.T * radius + centre
        c0, r0 = np.clip(np.floor(outline.min(0)).astype(int), 0, size)
        c1, r1 = np.clip(np.ceil(outline.max(0)).astype(int) + 1, 0, size)
        if rng.random() < 0.5 or c0 >= c1 or r0 >= r1:
            occluders.append(Occluder(outline, tuple(int(c) for c in rng.integers(0, 256, 3))))
        else:  # a texture under the shape's box
            texture = np.zeros((size, size, 3), dtype=np.uint8)
            texture[r0:r1, c0:c1] = _background(rng, r1 - r0, c1 - c0)
            occluders.append(Occluder(outline, texture=texture))
    return occluders


def _photometric(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Brightness and contrast, sometimes an illumination gradient and sensor noise."""
    out = image.astype(np.float32) * rng.uniform(0.65, 1.3) + rng.uniform(-25, 25)
    if rng.random() < 0.35:
        height, width = image.shape[:2]
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        along = xs * math.cos(angle) + ys * math.sin(angle)
        along = (along - along.min()) / max(float(np.ptp(along)), 1.0)
        out *= (rng.uniform(0.55, 1.0) + along * rng.uniform(0.0, 0.6))[..., None]
    if rng.random() < 0.5:
        out += rng.standard_normal(size=image.shape, dtype=np.float32) * np.float32(rng.uniform(1.0, 5.0))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, Camera, list[Figure], list[dict | None]]:
    camera = _sample_camera(rng, size)
    background = _background(rng, size, size)
    figures = _place_figures(rng, camera, int(rng.integers(2, 5)))
    occluders = _sample_occluders(rng, camera, figures)
    light = (float(rng.uniform(-0.7, 0.7)), float(rng.uniform(-1.0, 0.0)), -1.0)
    image, labels = render_scene(camera, background, figures, occluders, light)
    return _photometric(rng, image), camera, figures, labels


# ---- files -------------------------------------------------------------------------------------------------
def _annotation(figure: Figure, label: dict, annotation_id: int, image_id: int) -> dict:
    keypoints = []
    for (x, y), mark in zip(label["keypoints"], label["visibility"]):
        keypoints += [round(float(x), 4), round(float(y), 4), int(mark)] if mark > 0 else [0.0, 0.0, 0]
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": 1,
        "bbox": [round(float(v), 4) for v in label["bbox"]],
        "area": int(label["area"]),
        "iscrowd": 0,
        "num_keypoints": int((label["visibility"] > 0).sum()),
        "keypoints": keypoints,
        "keypoints_3d": [float(v) for v in figure.joints.ravel()],
    }


def _person_category() -> dict:
    return {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(NAMES),
        "skeleton": [[a + 1, b + 1] for a, b in COCO_KEYPOINTS["skeleton"]],
    }


def _write_split(out: Path, split: str, count: int, size: int, seed: int, split_code: int) -> dict:
    (out / split).mkdir(parents=True, exist_ok=True)
    images, annotations, marks = [], [], np.zeros(3, dtype=np.int64)
    for index in range(count):
        image, camera, figures, labels = _scene(np.random.default_rng([seed, split_code, index]), size)
        file_name = f"{index:06d}.png"
        if not cv2.imwrite(str(out / split / file_name), image):
            raise OSError(f"synth_pose: could not write {out / split / file_name}")
        image_id = index + 1
        images.append(
            {
                "id": image_id,
                "file_name": file_name,
                "height": size,
                "width": size,
                "cam_param": camera.as_json(),
            }
        )
        for figure, label in zip(figures, labels):
            if label is not None:
                annotations.append(_annotation(figure, label, len(annotations) + 1, image_id))
                marks += np.bincount(label["visibility"], minlength=3)
    content = {
        "info": {"description": f"visionstack synthetic people, {split} split, seed {seed}"},
        "images": images,
        "annotations": annotations,
        "categories": [_person_category()],
    }
    ann_file = out / "annotations" / f"person_keypoints_{split}.json"
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    ann_file.write_text(json.dumps(content, separators=(",", ":")), encoding="utf-8")
    return {
        "ann_file": str(ann_file),
        "images": len(images),
        "people": len(annotations),
        "keypoints": {"outside": int(marks[0]), "hidden": int(marks[1]), "visible": int(marks[2])},
    }


def synth_pose(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    num_train: int = 2000,
    num_val: int = 200,
    image_size: int = 256,
) -> dict[str, dict]:
    """Write the dataset (see the module docstring): ``visionstack data synth pose --out DIR``.

    Args:
        out_dir: the output folder (created).
        seed: image ``i`` of a split uses ``default_rng([seed, split, i])`` (train 0, val 1).
        num_train: training images.
        num_val: validation images.
        image_size: the side of the square images in pixels (at least 96: people are 64 px to 70 % tall).

    Returns:
        Per split: ``{"ann_file", "images", "people", "keypoints": {"outside", "hidden", "visible"}}``.
    """
    if int(image_size) < math.ceil(MIN_HEIGHT_PX / MAX_HEIGHT_FRACTION) + 4:
        raise ValueError(
            f"synth_pose: image_size must be at least 96 (people are 64 px tall), got {image_size}"
        )
    if num_train < 0 or num_val < 0:
        raise ValueError(f"synth_pose: negative image count (num_train={num_train}, num_val={num_val})")
    out = Path(out_dir)
    return {
        "train": _write_split(out, "train", int(num_train), int(image_size), int(seed), 0),
        "val": _write_split(out, "val", int(num_val), int(image_size), int(seed), 1),
    }
