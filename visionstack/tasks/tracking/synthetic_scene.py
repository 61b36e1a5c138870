"""One synthetic tracking sequence: a world, a camera, static occluders and moving objects, frame by frame.

Positions live in *world* pixels; the camera shows a ``width x height`` window of the world at an integer
offset per frame (a pan plus jitter for the camera sequences, zero otherwise). An object is its foot point
``(x, y)`` and a box of its class's size scaled by a mild perspective (lower in the image = nearer = larger,
``PERSPECTIVE``). Objects are drawn far to near (by foot y), the occluders (pillars, trees) over everything.
Visibility follows MOT: the share of the object's (unclipped) box area that is inside the image, not under an
occluder and not under the box of a nearer object.

Motion per kind (speeds are per second, so a different frame rate shows the same scene):

- ``clean``: constant velocity, no occluders, fewer objects.
- ``occlusion``: pillars and trees hide walkers for 1-3 s; pairs spawned on opposite borders at nearly the
  same depth walk past each other.
- ``nonlinear``: dancer-like motion, the profile of DanceTrack: segments of fast turning, acceleration /
  deceleration and turning back, fast sinusoidal weaving, faster objects crossing in groups (so they hide
  each other while changing course); no static occluders, and the detector as reliable as on clean
  sequences, so motion is the difficulty.
- ``camera``: linear motion seen by a panning camera (a smooth back-and-forth pan) with a few pixels of
  jitter per frame; occluders are fixed in the world and slide with the background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ...data.synthetic_shapes import textured_background
from .synthetic_objects import CLASS_SIZES, Appearance, draw_object, random_appearance

__all__ = ["KIND_SETTINGS", "SEQUENCE_KINDS", "FrameObjects", "KindSettings", "Scene"]

SEQUENCE_KINDS = ("clean", "occlusion", "nonlinear", "camera")
CLASS_PROBABILITIES = (0.6, 0.2, 0.2)  # pedestrian, car, bicycle
SPEEDS = ((10.0, 25.0), (30.0, 60.0), (20.0, 40.0))  # pixels per second per class
GROUND = (0.42, 1.03)  # foot y range as a fraction of the image height
PERSPECTIVE = (0.85, 1.15)  # size scale at the top / bottom of the ground band
SPAWN_PROBABILITY = 0.5  # per frame, while fewer objects than the target are in view
MIN_GT_SIDE = 2.0  # clipped boxes narrower or lower than this (pixels) are not annotated


@dataclass(frozen=True)
class KindSettings:
    """What makes each sequence kind hard."""

    objects: tuple[int, int]  # range of the target number of objects in view
    pillars: int
    trees: int
    crossing_probability: float  # a spawn comes with a partner walking the other way at the same depth
    nonlinear: bool
    speed_scale: float
    pan_speed: float  # peak camera pan, pixels per second
    jitter: int  # camera jitter, pixels (uniform in [-jitter, jitter] per frame)
    depth_gap: float = (
        0.0  # objects walking opposite ways keep this many pixels of foot-y apart (no deep crossings)
    )
    weave_amplitude: tuple[float, float] = (8.0, 25.0)  # pixels, of the sinusoidal weaving (nonlinear kinds)
    weave_period: tuple[float, float] = (2.0, 5.0)  # seconds
    turn_rate: tuple[float, float] = (0.25, 0.7)  # radians per second, of the turning segments
    reverse_probability: float = 0.0  # chance that a new motion segment starts by turning back (dancer-like)


KIND_SETTINGS = {
    "clean": KindSettings((9, 12), 0, 0, 0.0, False, 1.0, 0.0, 0, depth_gap=16.0),
    "occlusion": KindSettings((13, 18), 2, 1, 0.6, False, 1.0, 0.0, 0),
    # dancer-like (DanceTrack's profile): turns, reversals, fast weaving, crossings in groups, no occluders
    "nonlinear": KindSettings(
        (14, 20),
        0,
        0,
        0.7,
        True,
        1.2,
        0.0,
        0,
        weave_amplitude=(15.0, 35.0),
        weave_period=(1.0, 2.5),
        turn_rate=(0.5, 1.5),
        reverse_probability=0.5,
    ),  # fmt: skip
    "camera": KindSettings((12, 16), 1, 2, 0.2, False, 1.0, 30.0, 3),
}


@dataclass
class Agent:
    """A moving object; speeds in world pixels per second, angles in radians."""

    track_id: int
    label: int
    base_width: float
    aspect: float  # width / height
    look: Appearance
    x: float
    y: float
    speed: float
    heading: float
    turn_rate: float = 0.0
    acceleration: float = 0.0
    weave: tuple[float, float, float] = (0.0, 1.0, 0.0)  # amplitude px, period s, phase
    segment_left: float = 0.0
    age: float = 0.0
    seen: bool = False
    phase0: float = 0.0  # walking / pedalling phase offset
    modes: frozenset[str] = frozenset()  # nonlinear motion modes: turn, accelerate, weave
    base_speed: float = field(init=False)
    base_heading: float = field(init=False)

    def __post_init__(self) -> None:
        self.base_speed, self.base_heading = self.speed, self.heading


@dataclass
class FrameObjects:
    """The annotated objects of one frame: ids (N,), labels (N,), boxes (N, 4) xyxy, the object's whole extent
    (past the image border for objects entering or leaving, as MOT17's boxes),
    visibility (N,) (MOT's: the visible share of the whole box, so truncation counts), and in_view (N,): the
    share of the whole box inside the image."""

    ids: np.ndarray
    labels: np.ndarray
    bboxes: np.ndarray
    visibility: np.ndarray
    in_view: np.ndarray


class Scene:
    """A sequence being simulated: call :meth:`render` then :meth:`step` once per frame."""

    def __init__(
        self, rng: np.random.Generator, kind: str, width: int, height: int, frame_rate: float, length: int
    ):
        self.rng, self.kind, self.settings = rng, kind, KIND_SETTINGS[kind]
        self.width, self.height, self.dt = width, height, 1.0 / frame_rate
        self.offsets, self.pan_velocity = self._camera_path(length)
        world_w = int(self.offsets[:, 0].max()) + width
        world_h = int(self.offsets[:, 1].max()) + height
        self.ground = (
            GROUND[0] * height + self.offsets[:, 1].min(),
            GROUND[1] * height + self.offsets[:, 1].max(),
        )
        self.background = self._background(world_h, world_w)
        self.occluder_image, self.occluder_mask = self._occluders(world_h, world_w)
        self.agents: list[Agent] = []
        self.next_id, self.frame = 1, 1
        self.target = int(rng.integers(self.settings.objects[0], self.settings.objects[1] + 1))
        for _ in range(self.target):
            self._spawn(initial=True)

    # ----------------------------------------------------------------------------------------- the world
    def _camera_path(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Integer view offsets (length, 2) (index 0 = frame 1) and the pan velocity (length,) px/s."""
        settings, rng = self.settings, self.rng
        if settings.pan_speed == 0:
            return np.zeros((length, 2), dtype=np.int64), np.zeros(length)
        t = np.arange(length) * self.dt
        period, phase = rng.uniform(8, 14), rng.uniform(0, 2 * math.pi)
        velocity = settings.pan_speed * np.sin(2 * math.pi * t / period + phase)
        drift_y = rng.uniform(-4, 4) * np.sin(2 * math.pi * t / rng.uniform(5, 9))
        pan = np.stack([np.cumsum(velocity) * self.dt, np.cumsum(drift_y) * self.dt], axis=1)
        jitter = rng.integers(-settings.jitter, settings.jitter + 1, size=(length, 2))
        offsets = np.round(pan).astype(np.int64) + jitter
        return offsets - offsets.min(axis=0), velocity

    def _background(self, height: int, width: int) -> np.ndarray:
        """A textured world: the shared texture toned down, a sky/ground split, and blobs (ground marks,
        windows, bushes) that give camera-motion estimation something to lock on to."""
        rng = self.rng
        texture = textured_background(rng, height, width).astype(np.float32)
        ground_color = rng.uniform(70, 150, size=3).astype(np.float32)
        img = 0.4 * texture + 0.6 * ground_color
        horizon = int(GROUND[0] * self.height * 0.8 + self.offsets[:, 1].min())
        img[:horizon] = 0.5 * img[:horizon] + 0.5 * rng.uniform(110, 200, size=3).astype(np.float32)
        img = np.clip(img, 0, 255).astype(np.uint8)
        for _ in range(int(height * width / 900)):
            color = tuple(int(c) for c in np.clip(ground_color + rng.uniform(-60, 60, size=3), 0, 255))
            x, y = int(rng.integers(width)), int(rng.integers(height))
            if rng.random() < 0.5:
                size = rng.integers(3, 16, size=2)
                cv2.rectangle(img, (x, y), (x + int(size[0]), y + int(size[1])), color, -1)
            else:
                axes = (int(rng.integers(2, 12)), int(rng.integers(2, 6)))
                cv2.ellipse(img, (x, y), axes, 0, 0, 360, color, -1)
        return cv2.GaussianBlur(img, (3, 3), 0.8)

    def _occluders(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Pillars (full height) and trees (trunk + crown), spread over the middle of the world."""
        rng, settings = self.rng, self.settings
        image = np.zeros((height, width, 3), dtype=np.uint8)
        mask = np.zeros((height, width), dtype=np.uint8)
        count = settings.pillars + settings.trees
        slots = (np.arange(count) + 0.5) / max(count, 1) * (width - 80) + 40
        rng.shuffle(slots)
        for index, center in enumerate(slots):
            center += rng.uniform(-12, 12)  # keep occluders apart: one hides for 1-3 s, not two in a row
            color = tuple(int(c) for c in rng.uniform(60, 200, size=3))
            if index < settings.pillars:
                half = rng.uniform(15, 25)
                left, right = int(center - half), int(center + half)
                cv2.rectangle(mask, (left, 0), (right, height), 1, -1)
                for x in range(left, right + 1):  # cylinder shading and brick lines
                    shade = 0.6 + 0.5 * math.sin(math.pi * (x - left + 0.5) / (right - left + 1))
                    image[:, x] = tuple(int(min(255, c * shade)) for c in color)
                image[:: int(rng.integers(9, 16)), left : right + 1] //= 2
            else:
                trunk, crown_r = rng.uniform(5, 8), rng.uniform(24, 38)
                crown_y = int(rng.uniform(0.25, 0.45) * self.height + self.offsets[:, 1].min())
                for target, fill in ((mask, 1), (image, (40, 60, 90))):
                    cv2.rectangle(
                        target, (int(center - trunk), crown_y), (int(center + trunk), height), fill, -1
                    )
                leaves = (int(rng.uniform(20, 70)), int(rng.uniform(90, 170)), int(rng.uniform(20, 70)))
                for target, fill in ((mask, 1), (image, leaves)):
                    cv2.circle(target, (int(center), crown_y), int(crown_r), fill, -1)
                spots = rng.integers(-int(crown_r), int(crown_r), size=(25, 2))
                for dx, dy in spots:  # leaf texture, only inside the crown
                    if dx * dx + dy * dy < (crown_r - 3) ** 2:
                        cv2.circle(
                            image, (int(center + dx), crown_y + int(dy)), 3, tuple(c // 2 for c in leaves), -1
                        )
        return image, mask.astype(bool)

    # ---------------------------------------------------------------------------------------- the agents
    def _perspective(self, y: float) -> float:
        low, high = self.ground
        t = min(max((y - low) / max(high - low, 1.0), 0.0), 1.0)
        return PERSPECTIVE[0] + t * (PERSPECTIVE[1] - PERSPECTIVE[0])

    def box(self, agent: Agent) -> np.ndarray:
        """The agent's world box (4,) xyxy: foot point at the bottom centre."""
        width = agent.base_width * self._perspective(agent.y)
        height = width / agent.aspect
        if agent.label == 0:  # walkers bob a little
            height *= 1.0 + 0.02 * math.sin(agent.age * 2 * math.pi * 1.8)
        return np.array([agent.x - width / 2, agent.y - height, agent.x + width / 2, agent.y])

    def _spawn(self, initial: bool = False, partner_of: Agent | None = None) -> Agent | None:
        rng, settings = self.rng, self.settings
        label = int(rng.choice(3, p=CLASS_PROBABILITIES)) if partner_of is None else partner_of.label
        (w_low, w_high), (a_low, a_high) = CLASS_SIZES[label]
        speed = rng.uniform(*SPEEDS[label]) * settings.speed_scale
        direction = 1.0 if rng.random() < 0.5 else -1.0
        if partner_of is not None:
            direction = -math.copysign(1.0, math.cos(partner_of.heading))
        offset = self.offsets[min(self.frame, len(self.offsets)) - 1]
        pan = self.pan_velocity[min(self.frame, len(self.pan_velocity)) - 1]
        relative = direction * speed - pan  # how fast it moves across the view
        if not initial and abs(relative) < 5.0:
            return None
        base_width = rng.uniform(w_low, w_high)
        if initial:
            x = offset[0] + rng.uniform(0, self.width)
        else:  # just outside the border it walks in from
            margin = 0.6 * base_width * PERSPECTIVE[1]
            x = offset[0] - margin if relative > 0 else offset[0] + self.width + margin
        if partner_of is not None:
            y = float(np.clip(partner_of.y + rng.choice([-1, 1]) * rng.uniform(3, 10), *self.ground))
        else:
            y = self._free_depth(direction, x, 3 * w_high)
        heading = 0.0 if direction > 0 else math.pi
        if label != 1:  # cars keep their lane
            heading += rng.uniform(-1, 1) * (0.04 if settings.depth_gap else 0.15)
        agent = Agent(self.next_id, label, base_width, rng.uniform(a_low, a_high), random_appearance(rng),
                      x, y, speed, heading)  # fmt: skip
        agent.phase0 = rng.uniform(0, 2 * math.pi)
        if settings.nonlinear:
            self._nonlinear_setup(agent)
        self.next_id += 1
        self.agents.append(agent)
        if partner_of is None and not initial and rng.random() < settings.crossing_probability and label != 1:
            self._spawn(partner_of=agent)
        return agent

    def _free_depth(self, direction: float, x: float, near: float, tries: int = 10) -> float:
        """A foot y in the ground band. With ``depth_gap`` it keeps away from the depth of objects walking the
        other way (they would cross deep in each other) and of objects within ``near`` pixels of ``x`` (they
        would walk along together, one hiding the other)."""
        y = self.rng.uniform(*self.ground)
        gap = self.settings.depth_gap
        for _ in range(tries if gap else 0):
            if all(
                abs(a.y - y) >= gap or (math.cos(a.heading) * direction > 0 and abs(a.x - x) > near)
                for a in self.agents
            ):
                break
            y = self.rng.uniform(*self.ground)
        return y

    def _nonlinear_setup(self, agent: Agent) -> None:
        rng = self.rng
        modes = ["accelerate", "weave"] if agent.label == 1 else ["turn", "accelerate", "weave"]
        chosen = set(rng.choice(modes, size=int(rng.integers(1, 3)), replace=False).tolist())
        agent.modes = frozenset(chosen)
        if "weave" in chosen:
            settings = self.settings
            agent.weave = (
                rng.uniform(*settings.weave_amplitude),
                rng.uniform(*settings.weave_period),
                rng.uniform(0, 2 * math.pi),
            )

    def _new_segment(self, agent: Agent) -> None:
        """Nonlinear motion comes in segments of 1.5-4 s with their own turn rate and acceleration."""
        rng = self.rng
        agent.segment_left = rng.uniform(1.5, 4.0)
        settings = self.settings
        if "turn" in agent.modes:
            agent.turn_rate = (
                rng.choice([-1, 1]) * rng.uniform(*settings.turn_rate) if rng.random() < 0.75 else 0.0
            )
        if settings.reverse_probability and rng.random() < settings.reverse_probability:
            agent.heading += math.pi
            agent.base_heading += math.pi
        if "accelerate" in agent.modes:
            agent.acceleration = rng.choice([-1, 1]) * rng.uniform(0.3, 0.9) * agent.base_speed

    def _move(self, agent: Agent) -> None:
        dt = self.dt
        weave_before = self._weave(agent)
        agent.age += dt
        if self.settings.nonlinear:
            agent.segment_left -= dt
            if agent.segment_left <= 0:
                self._new_segment(agent)
            agent.speed = float(np.clip(agent.speed + agent.acceleration * dt, 0.3 * agent.base_speed,
                                        2.5 * agent.base_speed))  # fmt: skip
            drift = math.remainder(agent.heading - agent.base_heading, 2 * math.pi)
            if abs(drift) > math.radians(70) and drift * agent.turn_rate > 0:
                agent.turn_rate = -agent.turn_rate  # keep crossing the scene rather than circling
            agent.heading += agent.turn_rate * dt
        agent.x += agent.speed * math.cos(agent.heading) * dt
        agent.y += agent.speed * math.sin(agent.heading) * dt + self._weave(agent) - weave_before
        low, high = self.ground
        if (agent.y < low and math.sin(agent.heading) < 0) or (
            agent.y > high and math.sin(agent.heading) > 0
        ):
            agent.heading, agent.turn_rate = -agent.heading, -agent.turn_rate  # bounce off the ground band

    @staticmethod
    def _weave(agent: Agent) -> float:
        amplitude, period, phase = agent.weave
        return amplitude * math.sin(2 * math.pi * agent.age / period + phase)

    # ------------------------------------------------------------------------------------ frame by frame
    def _view(self) -> tuple[int, int]:
        ox, oy = self.offsets[self.frame - 1]
        return int(ox), int(oy)

    def render(self) -> tuple[np.ndarray, FrameObjects]:
        """The current frame's (H, W, 3) uint8 BGR image and its annotated objects."""
        ox, oy = self._view()
        h, w = self.height, self.width
        img = self.background[oy : oy + h, ox : ox + w].copy()
        order = sorted(self.agents, key=lambda a: (a.y, a.track_id))  # far to near
        boxes = np.array([self.box(a) - (ox, oy, ox, oy) for a in order]).reshape(-1, 4)
        for agent, box in zip(order, boxes):
            if box[2] > 0 and box[0] < w and box[3] > 0 and box[1] < h:
                phase = agent.phase0 + agent.x / max(agent.base_width * 0.35, 1.0)
                facing = 1 if math.cos(agent.heading) >= 0 else -1
                draw_object(img, agent.label, box, agent.look, self.frame, phase, facing)
        occluded = self.occluder_mask[oy : oy + h, ox : ox + w]
        img[occluded] = self.occluder_image[oy : oy + h, ox : ox + w][occluded]
        visibility = self._visibility(boxes, occluded)
        clipped = np.clip(boxes, 0, [w, h, w, h])
        full_area = np.maximum(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1), 1e-9)
        in_view = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1) / full_area
        keep = ((clipped[:, 2] - clipped[:, 0]) >= MIN_GT_SIDE) & (
            (clipped[:, 3] - clipped[:, 1]) >= MIN_GT_SIDE
        )
        for agent, kept in zip(order, keep):
            agent.seen |= bool(kept)
        objects = FrameObjects(
            ids=np.array([a.track_id for a in order], dtype=np.int64)[keep],
            labels=np.array([a.label for a in order], dtype=np.int64)[keep],
            bboxes=boxes[keep],
            visibility=visibility[keep],
            in_view=in_view[keep],
        )
        return img, objects

    def _visibility(self, boxes: np.ndarray, occluded: np.ndarray) -> np.ndarray:
        """Per box (far-to-near order): visible share of its pixel area (rounded box), MOT's definition."""
        h, w = occluded.shape
        pixel_boxes = np.round(boxes).astype(np.int64)
        result = np.zeros(len(boxes))
        for index, (x1, y1, x2, y2) in enumerate(pixel_boxes):
            area = (x2 - x1) * (y2 - y1)
            cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
            if area <= 0 or cx2 <= cx1 or cy2 <= cy1:
                continue
            visible = ~occluded[cy1:cy2, cx1:cx2]
            for fx1, fy1, fx2, fy2 in pixel_boxes[index + 1 :]:  # nearer boxes cover this one
                ix1, iy1, ix2, iy2 = max(fx1, cx1), max(fy1, cy1), min(fx2, cx2), min(fy2, cy2)
                if ix2 > ix1 and iy2 > iy1:
                    visible[iy1 - cy1 : iy2 - cy1, ix1 - cx1 : ix2 - cx1] = False
            result[index] = visible.sum() / area
        return result

    def step(self) -> None:
        """Advance one frame: move, drop objects that left the view, spawn new ones at the borders."""
        for agent in self.agents:
            self._move(agent)
        self.frame += 1
        if self.frame > len(self.offsets):
            return
        ox, oy = self._view()
        alive = []
        for agent in self.agents:
            x1, y1, x2, y2 = self.box(agent) - (ox, oy, ox, oy)
            outside = x2 < -2 or x1 > self.width + 2 or y1 > self.height + 2 or y2 < -2
            if not (outside and (agent.seen or agent.age > 3.0)):
                alive.append(agent)
        self.agents = alive
        if len(alive) < self.target and self.rng.random() < SPAWN_PROBABILITY:
            self._spawn()
