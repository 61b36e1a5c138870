"""Synthetic human motions: smooth joint-angle trajectories per action, turned into 3D joints (NumPy only).

An action is a function ``(t, rng) -> Motion``: ``t`` the frame times (s), ``rng`` the take's generator. It
sets named degrees of freedom (degrees) as smooth functions of time (periodic gaits plus slow random drift)
and the pelvis path on the floor. :func:`perform` adds a little smooth noise to every joint angle, runs the
forward kinematics of :mod:`.skeleton` and puts the lowest foot on the floor (z = 0, ankle ``FOOT_HEIGHT``
above it) plus any jump height.

Degrees of freedom (positive directions): ``{side}_hip_flex`` (thigh forward), ``{side}_hip_abd`` (outward),
``{side}_hip_twist``, ``{side}_knee`` (bend), ``{side}_shoulder_flex`` (arm forward/up), ``{side}_shoulder_abd``
(arm sideways/up), ``{side}_shoulder_twist``, ``{side}_elbow`` (bend), ``spine_flex`` (lean forward),
``spine_lateral``, ``spine_twist``, ``neck_flex``, ``neck_twist``, ``root_pitch`` (whole body leans forward),
``root_roll``; sides are ``left``/``right``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .skeleton import axis_rotation, forward_kinematics, rest_offsets

__all__ = ["ACTIONS", "EXTRA_ACTIONS", "FOOT_HEIGHT", "Motion", "perform", "smooth_noise"]

FOOT_HEIGHT = 80.0  # mm: the H36M "foot" joint is the ankle
SIDES = ("left", "right")


@dataclass
class Motion:
    """One take's trajectories: ``angles`` (degrees, (T,) each, missing = 0), the pelvis floor path
    ``path`` (T, 2) mm, the heading ``yaw`` (T,) degrees (0 faces the world's +y) and ``lift`` (T,) mm above
    standing height (jumps)."""

    angles: dict[str, np.ndarray] = field(default_factory=dict)
    path: np.ndarray | None = None
    yaw: np.ndarray | None = None
    lift: np.ndarray | None = None


def smooth_noise(
    rng: np.random.Generator, t: np.ndarray, amplitude: float, max_hz: float = 0.4
) -> np.ndarray:
    """A smooth random signal: three sinusoids below ``max_hz`` with random phases, RMS about ``amplitude``."""
    freqs = rng.uniform(0.05, max_hz, size=3)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    weights = rng.normal(size=3)
    weights *= amplitude * np.sqrt(2.0 / max(float(np.sum(weights**2)), 1e-9))
    return sum(w * np.sin(2 * np.pi * f * t + p) for w, f, p in zip(weights, freqs, phases))


def _bump(phase: np.ndarray) -> np.ndarray:
    """0 .. 1 .. 0 over each cycle of ``phase`` (radians), smooth: (1 - cos) / 2."""
    return 0.5 - 0.5 * np.cos(phase)


def _standing_path(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    start = rng.uniform(-400, 400, size=2)
    drift = np.stack([smooth_noise(rng, t, 60.0, 0.2), smooth_noise(rng, t, 60.0, 0.2)], axis=-1)
    return start + drift


def walking(t: np.ndarray, rng: np.random.Generator) -> Motion:
    """Walking along a circle (the heading turns with it): alternating hips and knees, opposite arm swing."""
    cadence = rng.uniform(0.8, 1.0)  # strides per second
    phase = 2 * np.pi * cadence * t + rng.uniform(0, 2 * np.pi)
    radius, speed = rng.uniform(1000, 1600), rng.uniform(1000, 1400)
    direction = rng.choice([-1.0, 1.0])
    theta = rng.uniform(0, 2 * np.pi) + direction * speed / radius * t
    path = radius * np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    yaw = np.degrees(theta) + (0.0 if direction > 0 else 180.0)  # along the tangent of the circle
    stride = rng.uniform(20, 30)
    angles = {}
    for side, offset in (("right", 0.0), ("left", np.pi)):
        angles[f"{side}_hip_flex"] = 5 + stride * np.sin(phase + offset)
        angles[f"{side}_knee"] = 5 + 55 * _bump(phase + offset + 2.2) ** 2
        angles[f"{side}_shoulder_flex"] = -0.7 * stride * np.sin(phase + offset)
        angles[f"{side}_shoulder_abd"] = np.full_like(t, 8.0)
        angles[f"{side}_elbow"] = 15 + 10 * _bump(phase + offset)
    angles["spine_twist"] = 6 * np.sin(phase)
    angles["root_pitch"] = np.full_like(t, 4.0)
    return Motion(angles, path, yaw)


def waving(t: np.ndarray, rng: np.random.Generator) -> Motion:
    """Standing and waving one raised hand (elbow and forearm swinging), weight shifting."""
    side = SIDES[int(rng.integers(2))]
    other = "left" if side == "right" else "right"
    rate = rng.uniform(1.2, 2.0)
    phase = 2 * np.pi * rate * t
    angles = {
        f"{side}_shoulder_abd": 130 + 15 * np.sin(phase * 0.25) + rng.uniform(-10, 10),
        f"{side}_shoulder_flex": np.full_like(t, rng.uniform(10, 40)),
        f"{side}_elbow": 45 + 30 * np.sin(phase),
        f"{side}_shoulder_twist": 20 * np.sin(phase),
        f"{other}_shoulder_abd": np.full_like(t, 10.0),
        f"{other}_elbow": np.full_like(t, 15.0),
        "spine_lateral": 5 * np.sin(2 * np.pi * 0.3 * t),
        "left_knee": np.full_like(t, 5.0),
        "right_knee": np.full_like(t, 5.0),
    }
    yaw = rng.uniform(0, 360) + smooth_noise(rng, t, 15.0, 0.15)
    return Motion(angles, _standing_path(t, rng), yaw)


def squatting(t: np.ndarray, rng: np.random.Generator) -> Motion:
    """Repeated squats: hips, knees and trunk bend together, arms reach forward for balance."""
    period = rng.uniform(2.2, 3.2)
    depth = rng.uniform(0.7, 1.0) * _bump(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    angles = {"root_pitch": 25 * depth, "spine_flex": 15 * depth, "neck_flex": -15 * depth}
    for side in SIDES:
        angles[f"{side}_hip_flex"] = 100 * depth  # thighs about 75 degrees forward of the (tilted) pelvis
        angles[f"{side}_hip_abd"] = 8 + 10 * depth
        angles[f"{side}_knee"] = 5 + 110 * depth
        angles[f"{side}_shoulder_flex"] = 10 + 70 * depth
        angles[f"{side}_elbow"] = 10 + 20 * depth
    yaw = rng.uniform(0, 360) + smooth_noise(rng, t, 10.0, 0.1)
    return Motion(angles, _standing_path(t, rng), yaw)


def turning(t: np.ndarray, rng: np.random.Generator) -> Motion:
    """Turning on the spot (about a turn every 3-6 s) with small steps."""
    rate = rng.uniform(60, 120) * rng.choice([-1.0, 1.0])  # degrees per second
    step = 2 * np.pi * rng.uniform(1.0, 1.4) * t
    angles = {
        "spine_twist": 10 * np.sign(rate) * np.ones_like(t),
        "neck_twist": 15 * np.sign(rate) * np.ones_like(t),
    }
    for side, offset in (("right", 0.0), ("left", np.pi)):
        lifted = np.clip(np.sin(step + offset), 0, None)
        angles[f"{side}_hip_flex"] = 25 * lifted
        angles[f"{side}_knee"] = 5 + 45 * lifted
        angles[f"{side}_shoulder_abd"] = np.full_like(t, 12.0)
        angles[f"{side}_elbow"] = np.full_like(t, 20.0)
    yaw = rng.uniform(0, 360) + rate * t
    return Motion(angles, _standing_path(t, rng), yaw)


def jumping(t: np.ndarray, rng: np.random.Generator) -> Motion:
    """Jumps in place: crouch, swing the arms up and take off, land and crouch again."""
    period = rng.uniform(0.9, 1.3)
    phase = 2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)
    crouch = _bump(phase) ** 1.5  # 1 at the bottom of the crouch
    flight = np.clip(-np.cos(phase), 0, None) ** 2  # 1 at the top of the jump
    angles = {"root_pitch": 20 * crouch, "spine_flex": 10 * crouch}
    for side in SIDES:
        angles[f"{side}_hip_flex"] = 70 * crouch
        angles[f"{side}_knee"] = 5 + 75 * crouch
        angles[f"{side}_shoulder_flex"] = 30 - 80 * np.cos(phase)  # back in the crouch, up in the air
        angles[f"{side}_elbow"] = 15 + 15 * crouch
    yaw = rng.uniform(0, 360) + smooth_noise(rng, t, 20.0, 0.2)
    return Motion(angles, _standing_path(t, rng), yaw, lift=rng.uniform(150, 320) * flight)


def boxing(t: np.ndarray, rng: np.random.Generator) -> Motion:
    """A boxing stance with alternating punches (arm extends, trunk twists towards it)."""
    rate = rng.uniform(1.0, 1.8)
    phase = 2 * np.pi * rate * t
    angles = {"spine_twist": 18 * np.sin(phase), "spine_flex": np.full_like(t, 10.0)}
    for side, sign in (("right", 1.0), ("left", -1.0)):
        punch = np.clip(sign * np.sin(phase), 0, None) ** 2
        angles[f"{side}_shoulder_flex"] = 55 + 35 * punch
        angles[f"{side}_shoulder_abd"] = 15 - 10 * punch
        angles[f"{side}_elbow"] = 120 - 105 * punch
        angles[f"{side}_hip_abd"] = np.full_like(t, 12.0)
        angles[f"{side}_knee"] = np.full_like(t, 20.0)
        angles[f"{side}_hip_flex"] = np.full_like(t, 10.0)
    yaw = rng.uniform(0, 360) + smooth_noise(rng, t, 20.0, 0.25)
    return Motion(angles, _standing_path(t, rng), yaw)


def bending(t: np.ndarray, rng: np.random.Generator) -> Motion:
    """Bending down to the floor and back up (picking something up), legs nearly straight."""
    period = rng.uniform(3.0, 4.5)
    bend = _bump(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    angles = {"root_pitch": 45 * bend, "spine_flex": 40 * bend, "neck_flex": -20 * bend}
    for side in SIDES:
        angles[f"{side}_hip_flex"] = 40 * bend  # the pelvis tips forward; the legs stay near vertical
        angles[f"{side}_knee"] = 5 + 25 * bend
        angles[f"{side}_shoulder_flex"] = 70 * bend
        angles[f"{side}_elbow"] = 10 + 10 * bend
    yaw = rng.uniform(0, 360) + smooth_noise(rng, t, 10.0, 0.1)
    return Motion(angles, _standing_path(t, rng), yaw)


def stretching(t: np.ndarray, rng: np.random.Generator) -> Motion:
    """Arms raised overhead and the trunk bending from side to side."""
    period = rng.uniform(3.0, 5.0)
    raise_ = _bump(2 * np.pi * t / period)
    sway = np.sin(2 * np.pi * t / (2 * period) + rng.uniform(0, 2 * np.pi))
    angles = {"spine_lateral": 25 * sway * raise_, "neck_flex": -10 * raise_}
    for side in SIDES:
        angles[f"{side}_shoulder_abd"] = 20 + 140 * raise_
        angles[f"{side}_shoulder_flex"] = 20 * raise_
        angles[f"{side}_elbow"] = 10 + 20 * (1 - raise_)
        angles[f"{side}_hip_abd"] = np.full_like(t, 10.0)
    yaw = rng.uniform(0, 360) + smooth_noise(rng, t, 10.0, 0.1)
    return Motion(angles, _standing_path(t, rng), yaw)


ACTIONS: dict[str, Callable[[np.ndarray, np.random.Generator], Motion]] = {
    "walking": walking,
    "waving": waving,
    "squatting": squatting,
    "turning": turning,
    "jumping": jumping,
    "boxing": boxing,
    "bending": bending,
    "stretching": stretching,
}


def walking_straight(t: np.ndarray, rng: np.random.Generator) -> Motion:
    """Walking along a straight line at a constant heading (drawn uniformly; 0 faces the world's +y), the gait
    of :func:`walking`; the pelvis passes the origin halfway through the take."""
    cadence = rng.uniform(0.8, 1.0)
    phase = 2 * np.pi * cadence * t + rng.uniform(0, 2 * np.pi)
    speed, heading = rng.uniform(1000, 1400), rng.uniform(0, 360)
    forward = np.array([-np.sin(np.radians(heading)), np.cos(np.radians(heading))])
    path = (speed * (t - t.mean()))[:, None] * forward + rng.normal(0, 30, size=2)
    stride = rng.uniform(20, 30)
    angles = {}
    for side, offset in (("right", 0.0), ("left", np.pi)):
        angles[f"{side}_hip_flex"] = 5 + stride * np.sin(phase + offset)
        angles[f"{side}_knee"] = 5 + 55 * _bump(phase + offset + 2.2) ** 2
        angles[f"{side}_shoulder_flex"] = -0.7 * stride * np.sin(phase + offset)
        angles[f"{side}_shoulder_abd"] = np.full_like(t, 8.0)
        angles[f"{side}_elbow"] = 15 + 10 * _bump(phase + offset)
    angles["spine_twist"] = 6 * np.sin(phase)
    angles["root_pitch"] = np.full_like(t, 4.0)
    return Motion(angles, path, np.full_like(t, heading) + smooth_noise(rng, t, 2.0, 0.2))


def standing(t: np.ndarray, rng: np.random.Generator) -> Motion:
    """Standing still: arms hanging, small weight shifts and head turns."""
    angles = {
        "spine_lateral": smooth_noise(rng, t, 3.0, 0.2),
        "neck_twist": smooth_noise(rng, t, 10.0, 0.2),
    }
    for side in SIDES:
        angles[f"{side}_shoulder_abd"] = np.full_like(t, rng.uniform(5, 15))
        angles[f"{side}_elbow"] = np.full_like(t, rng.uniform(5, 30))
        angles[f"{side}_knee"] = np.full_like(t, 5.0)
    yaw = rng.uniform(0, 360) + smooth_noise(rng, t, 5.0, 0.1)
    return Motion(angles, _standing_path(t, rng), yaw)


# motions that the 3D lifting dataset does not film (it films every entry of ACTIONS, so they live apart and
# leave its output unchanged); :func:`perform` knows both tables
EXTRA_ACTIONS: dict[str, Callable[[np.ndarray, np.random.Generator], Motion]] = {
    "walking_straight": walking_straight,
    "standing": standing,
}

# joint index -> ((degree of freedom, axis, sign), ...), applied left to right (x, then y, then z)
_JOINT_DOFS: dict[int, tuple[tuple[str, str, float], ...]] = {
    7: (("spine_flex", "x", -1.0), ("spine_lateral", "y", 1.0), ("spine_twist", "z", 1.0)),
    8: (("neck_flex", "x", -1.0), ("neck_twist", "z", 1.0)),
}
for _side, _outward in (("right", -1.0), ("left", 1.0)):
    _hip, _knee, _shoulder, _elbow = {"right": (1, 2, 14, 15), "left": (4, 5, 11, 12)}[_side]
    _JOINT_DOFS[_hip] = (
        (f"{_side}_hip_flex", "x", 1.0),
        (f"{_side}_hip_abd", "y", _outward),
        (f"{_side}_hip_twist", "z", 1.0),
    )
    _JOINT_DOFS[_knee] = ((f"{_side}_knee", "x", -1.0),)
    _JOINT_DOFS[_shoulder] = (
        (f"{_side}_shoulder_flex", "x", 1.0),
        (f"{_side}_shoulder_abd", "y", _outward),
        (f"{_side}_shoulder_twist", "z", 1.0),
    )
    _JOINT_DOFS[_elbow] = ((f"{_side}_elbow", "x", 1.0),)
DEGREES_OF_FREEDOM = tuple(name for dofs in _JOINT_DOFS.values() for name, _, _ in dofs) + (
    "root_pitch",
    "root_roll",
)


def perform(
    action: str, bone_lengths: Mapping[str, float], num_frames: int, fps: float, rng: np.random.Generator
) -> np.ndarray:
    """The world-frame joints (T, 17, 3) mm of one take of ``action`` (a key of :data:`ACTIONS` or
    :data:`EXTRA_ACTIONS`) by a subject with ``bone_lengths``."""
    known = {**ACTIONS, **EXTRA_ACTIONS}
    if action not in known:
        raise KeyError(f"unknown action {action!r}; known: {', '.join(known)}")
    t = np.arange(num_frames) / fps
    motion = known[action](t, rng)
    angles = {
        name: np.asarray(motion.angles.get(name, 0.0)) + smooth_noise(rng, t, 3.0, 0.5)
        for name in DEGREES_OF_FREEDOM
    }
    local = np.broadcast_to(np.eye(3), (num_frames, 17, 3, 3)).copy()
    for joint, dofs in _JOINT_DOFS.items():
        for name, axis, sign in dofs:
            local[:, joint] = local[:, joint] @ axis_rotation(axis, np.radians(sign * angles[name]))
    yaw = np.radians(motion.yaw if motion.yaw is not None else np.zeros(num_frames))
    root_rotation = (
        axis_rotation("z", yaw)
        @ axis_rotation("x", np.radians(-angles["root_pitch"]))
        @ axis_rotation("y", np.radians(angles["root_roll"]))
    )
    path = motion.path if motion.path is not None else np.zeros((num_frames, 2))
    root = np.concatenate([path, np.zeros((num_frames, 1))], axis=-1)
    joints = forward_kinematics(rest_offsets(bone_lengths), root, root_rotation, local)
    lowest_foot = joints[:, (3, 6), 2].min(axis=1)
    lift = motion.lift if motion.lift is not None else 0.0
    joints[..., 2] += (FOOT_HEIGHT - lowest_foot + lift)[:, None]
    return joints
