"""``visionstack data synth action``: deterministic synthetic action videos (and skeletons) that need time.

Layout (MMAction2's list files; paths relative to ``<out>``)::

    <out>/classes.txt                       one class name per line, line i = label i
    <out>/videos_train/000000.mp4 ...       80x80 px, 32 frames, 16 fps, H.264 (crf 15) or MPEG-4 part 2
    <out>/videos_val/...
    <out>/train_list_videos.txt             "videos_train/000000.mp4 3" per line
    <out>/val_list_videos.txt
    <out>/rawframes_{train,val}/000000/img_00001.jpg ...   only with rawframes=True (1-based, JPEG 95)
    <out>/{train,val}_list_rawframes.txt    "rawframes_val/000000 32 3" (frame_dir total_frames label)
    <out>/skeleton/...                      see :mod:`.synthetic_skeleton`

Ten classes in five time-reversed pairs (:data:`PAIRS`): move_right / move_left (the object translates along
+x / -x of the image), rotate_clockwise / rotate_anticlockwise (on screen), grow / shrink (in place),
approach / recede (perspective on a ground plane: the object grows, slides down towards the bottom edge and
casts a shadow), appear / disappear (a fade or a wipe over part of the clip, the object still).

No single frame tells a class from its partner: a clip's whole scene (:class:`Scene`: shape, colours,
background, start and end states, timing, distractors, camera jitter, sensor noise) is drawn from one
distribution per *pair* by :func:`draw_scene` and rendered in the pair's forward direction by
:func:`render_scene`; the partner class is the same frames in reverse order (:func:`render_clip`). The set of
frames of a clip therefore has the same distribution in both classes, and a model that averages per-frame
features (TSN) stays at chance within each pair; only the order of the frames carries the class. Timing is
symmetric in time too (the motion takes 16-30 frames, a fade or wipe 10-24, starting anywhere it fits, linear
or smoothstep). Rotations use shapes without rotational symmetry (an arrow, an L), so a turn between two
sampled frames has one direction.

Hard cases, at rates a from-scratch model learns through in minutes on a CPU: textured backgrounds (pulled to
10-35 % of their contrast), 0-2 small distractor shapes drifting in random directions (in front of or behind
the subject; 30 % of the clips have one or two), partial exits from the frame, camera jitter, Gaussian sensor
noise, low-contrast clips (object colour near the background in 5 %, the whole frame's contrast compressed in
6 %). With the backgrounds at full contrast and distractors in 60 % of the clips, TSM and R(2+1)D sat at
chance-like accuracy for 10+ epochs (docs/results.md). Clip ``i`` of a split draws
from ``np.random.default_rng([seed, split, i])`` (split 0 = train, 1 = val); the order of the labels from
``default_rng([seed, split])``; the same arguments write byte-identical files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...data.synthetic_shapes import SHAPE_CLASSES, UNIT_OUTLINES, textured_background
from ...utils.video_io import write_video
from .synthetic_skeleton import write_synthetic_skeleton

__all__ = [
    "CLASSES",
    "FPS",
    "NUM_FRAMES",
    "PAIRS",
    "SIZE",
    "Layer",
    "RenderedClip",
    "Scene",
    "draw_scene",
    "render_clip",
    "render_scene",
    "write_synthetic_action",
]

SIZE = 80  # frame width = height, pixels
NUM_FRAMES = 32
FPS = 16
MARGIN = 4  # the canvas extends this far past every edge so that camera jitter never shows its border
CANVAS = SIZE + 2 * MARGIN
JPEG_QUALITY = 95
# pair -> (forward class, its time reversal)
PAIRS: dict[str, tuple[str, str]] = {
    "move": ("move_right", "move_left"),
    "rotate": ("rotate_clockwise", "rotate_anticlockwise"),
    "size": ("grow", "shrink"),
    "depth": ("approach", "recede"),
    "visibility": ("appear", "disappear"),
}
CLASSES = (
    "move_left",
    "move_right",
    "rotate_clockwise",
    "rotate_anticlockwise",
    "grow",
    "shrink",
    "approach",
    "recede",
    "appear",
    "disappear",
)
PAIR_OF = {name: pair for pair, members in PAIRS.items() for name in members}
SPLITS = {"train": 0, "val": 1}

# shapes without rotational symmetry, in addition to the shared ones (unit radius, counter-clockwise)
_EXTRA_OUTLINES = {
    "arrow": np.array([(-1, -0.22), (0.3, -0.22), (0.3, -0.6), (1, 0), (0.3, 0.6), (0.3, 0.22), (-1, 0.22)]),
    "ell": np.array([(-0.8, -1), (-0.2, -1), (-0.2, 0.4), (0.8, 0.4), (0.8, 1), (-0.8, 1)]),
}
OUTLINES = {**{name: UNIT_OUTLINES[name] for name in SHAPE_CLASSES}, **_EXTRA_OUTLINES}


@dataclass
class Layer:
    """One shape over the clip (frame coordinates: pixels, x right, y down, angles clockwise on screen).

    ``centers`` (T, 2), ``radii`` (T,), ``angles`` (T,) radians, ``alphas`` (T,) in [0, 1]; ``mark`` a BGR
    colour for a disc near the outline's first vertex (it makes symmetric shapes show their rotation);
    ``wipe`` ((2,) unit direction, (T,) edge positions in radii): the part whose projection on the direction
    lies past the edge is hidden; ``shadow``: a soft dark ellipse under the shape's lowest point.
    """

    outline: np.ndarray
    colour: np.ndarray
    centers: np.ndarray
    radii: np.ndarray
    angles: np.ndarray
    alphas: np.ndarray
    mark: np.ndarray | None = None
    wipe: tuple[np.ndarray, np.ndarray] | None = None
    shadow: bool = False


@dataclass
class Scene:
    """Everything one clip shows, in the forward direction of its ``pair``.

    ``background`` (CANVAS, CANVAS, 3) float32 BGR; ``subject`` the acting shape; ``behind`` / ``front`` the
    distractors; ``jitter`` (T, 2) camera offsets (px); ``contrast`` scales the frame about the background's
    mean; ``noise_sigma`` the sensor noise drawn from ``default_rng(noise_seed)``.
    """

    pair: str
    background: np.ndarray
    subject: Layer
    behind: list[Layer]
    front: list[Layer]
    jitter: np.ndarray
    contrast: float
    noise_sigma: float
    noise_seed: int


@dataclass
class RenderedClip:
    """``frames`` (T, SIZE, SIZE, 3) uint8 BGR; ``subject_masks`` (T, SIZE, SIZE) float32 coverage of the
    subject (after alpha and wipe, before occlusion by distractors); ``subject`` its per-frame states."""

    frames: np.ndarray
    subject_masks: np.ndarray
    subject: Layer


# ---- drawing a scene ---------------------------------------------------------------------------------------
def _progress(rng: np.random.Generator, shortest: float, longest: float) -> np.ndarray:
    """(T,) 0 -> 1: the motion takes ``shortest``-``longest`` frames and starts anywhere it fits; linear or
    smoothstep. The law is symmetric under time reversal (``1 - u[::-1]`` has the same distribution)."""
    duration = min(rng.uniform(shortest, longest), NUM_FRAMES - 1.0)
    start = rng.uniform(0, NUM_FRAMES - 1 - duration)
    u = np.clip((np.arange(NUM_FRAMES) - start) / duration, 0.0, 1.0)
    return u * u * (3 - 2 * u) if rng.random() < 0.5 else u


def _colour_against(rng: np.random.Generator, reference: np.ndarray, low_contrast: bool) -> np.ndarray:
    """A BGR colour at least 70 (Euclidean, 0-255) from ``reference``, or 20-40 from it when ``low_contrast``."""
    if low_contrast:
        direction = rng.normal(size=3)
        colour = reference + direction / np.linalg.norm(direction) * rng.uniform(20, 40)
        return np.clip(colour, 0, 255).astype(np.float32)
    for _ in range(20):
        colour = rng.uniform(0, 255, size=3)
        if np.linalg.norm(colour - reference) >= 70:
            break
    return colour.astype(np.float32)


def _still(value: float | np.ndarray, count: int = NUM_FRAMES) -> np.ndarray:
    return np.repeat(np.asarray(value, np.float64)[None], count, axis=0)


def _subject(rng: np.random.Generator, pair: str, background: np.ndarray, horizon: dict | None) -> Layer:
    """The acting shape of ``pair`` in its forward direction (see the module docstring)."""
    # rotations use shapes without rotational symmetry, so a turn between sampled frames has one direction
    names = list(_EXTRA_OUTLINES) if pair == "rotate" else list(OUTLINES)
    name = names[int(rng.integers(len(names)))]
    outline = OUTLINES[name]
    low_contrast = rng.random() < 0.05
    colour = _colour_against(rng, background.reshape(-1, 3).mean(axis=0), low_contrast)
    needs_mark = pair == "rotate" and name not in _EXTRA_OUTLINES
    mark = _colour_against(rng, colour, False) if needs_mark or rng.random() < 0.3 else None
    angle0 = rng.uniform(0, 2 * math.pi)
    if pair == "move":
        u = _progress(rng, 16, 30)
        radius = rng.uniform(10, 18)
        distance = rng.uniform(36, 64)
        x_mid = rng.uniform(distance / 2 - 0.45 * radius, SIZE - distance / 2 + 0.45 * radius)
        y0, drift = rng.uniform(0.6 * radius, SIZE - 0.6 * radius), rng.uniform(-0.2, 0.2) * distance
        centers = np.stack([x_mid + distance * (u - 0.5), y0 + drift * (u - 0.5)], axis=1)
        return Layer(outline, colour, centers, _still(radius), _still(angle0), _still(1.0), mark)
    if pair == "rotate":
        u = _progress(rng, 16, 30)
        radius = rng.uniform(14, 22)
        center = rng.uniform(0.7 * radius, SIZE - 0.7 * radius, size=2)
        angles = angle0 + math.radians(rng.uniform(120, 220)) * u
        return Layer(outline, colour, _still(center), _still(radius), angles, _still(1.0), mark)
    if pair == "size":
        u = _progress(rng, 16, 30)
        radius, factor = rng.uniform(6, 11), rng.uniform(2.4, 3.4)
        center = rng.uniform(18, SIZE - 18, size=2)
        return Layer(outline, colour, _still(center), radius * factor**u, _still(angle0), _still(1.0), mark)
    if pair == "depth":
        return _approaching(rng, outline, colour, mark, horizon)
    u = _progress(rng, 10, 24)  # visibility: a fade or a wipe, the object still
    radius = rng.uniform(10, 20)
    center = rng.uniform(0.5 * radius, SIZE - 0.5 * radius, size=2)
    layer = Layer(outline, colour, _still(center), _still(radius), _still(angle0), _still(1.0), mark)
    if rng.random() < 0.7:
        layer.alphas = u
    else:
        direction = rng.normal(size=2)
        layer.wipe = (direction / np.linalg.norm(direction), -1.1 + 2.2 * u)
    return layer


def _approaching(
    rng: np.random.Generator, outline: np.ndarray, colour: np.ndarray, mark: np.ndarray | None, horizon: dict
) -> Layer:
    """A shape standing on the ground plane, coming closer at a constant speed in depth.

    With the camera one unit above the ground, a point at depth z appears ``s = f / z`` pixels below the
    horizon, ``s * X`` pixels right of the vanishing point for lateral offset X, and a shape of radius R
    (ground units) has ``s * R`` pixels: size, height in the image and spread all follow ``s``.
    """
    u = _progress(rng, 18, 32)
    near = rng.uniform(0.65, 1.05) * (SIZE - horizon["y"])
    far = near / rng.uniform(2.0, 4.0)
    scale = 1.0 / (1.0 / far + (1.0 / near - 1.0 / far) * u)  # depth linear in time, scale = 1 / depth
    size = rng.uniform(0.22, 0.45)  # shape radius / camera height
    lateral = (rng.uniform(6, SIZE - 6) - horizon["x"]) / near
    angle = rng.uniform(-0.3, 0.3) + rng.choice([0.0, math.pi / 2, math.pi, 1.5 * math.pi])
    bottom = (outline @ _rotation(angle))[:, 1].max()  # the lowest point of the outline sits on the ground
    radii = size * scale
    centers = np.stack([horizon["x"] + lateral * scale, horizon["y"] + scale - bottom * radii], axis=1)
    return Layer(outline, colour, centers, radii, _still(angle), _still(1.0), mark, shadow=True)


def _ground_background(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A textured sky over a checkered ground plane in perspective (3x supersampled), and its horizon
    (``y``, vanishing point ``x``, frame coordinates)."""
    horizon = {"y": rng.uniform(14, 34), "x": rng.uniform(15, SIZE - 15)}
    sky = _background(rng)
    ground = rng.uniform(30, 220, size=3)
    other = np.clip(ground + rng.normal(0, 35, size=3), 0, 255)
    cell = rng.uniform(0.4, 1.2)
    supersample = 3
    axis = (np.arange(CANVAS * supersample) + 0.5) / supersample - 0.5 - MARGIN
    ys, xs = np.meshgrid(axis, axis, indexing="ij")
    below = np.maximum(ys - horizon["y"], 1e-3)
    depth, lateral = 1.0 / below, (xs - horizon["x"]) / below  # scaled by the focal length: any f works
    checker = (np.floor(lateral / cell) + np.floor(depth * 40 / cell)) % 2
    haze = np.exp(-below / 6.0)[..., None]  # far ground fades into the sky's colour
    sky_mean = sky.reshape(-1, 3).mean(axis=0)
    floor = (ground + checker[..., None] * (other - ground)) * (1 - haze) + sky_mean * haze
    floor = cv2.resize(floor.astype(np.float32), (CANVAS, CANVAS), interpolation=cv2.INTER_AREA)
    cover = cv2.resize(
        (ys > horizon["y"]).astype(np.float32), (CANVAS, CANVAS), interpolation=cv2.INTER_AREA
    )[..., None]
    return sky * (1 - cover) + floor * cover, horizon


def _background(rng: np.random.Generator) -> np.ndarray:
    """A shared texture (noise, gradient or stripes) pulled toward its mean colour: a scene's clutter is its
    distractors, not a background as contrasty as the subject."""
    texture = textured_background(rng, CANVAS, CANVAS).astype(np.float32)
    mean = texture.reshape(-1, 3).mean(axis=0)
    return mean + rng.uniform(0.1, 0.35) * (texture - mean)


def _distractor(rng: np.random.Generator) -> Layer:
    """A small shape drifting at a constant velocity (symmetric in time: its middle position is uniform)."""
    name = SHAPE_CLASSES[int(rng.integers(len(SHAPE_CLASSES)))]
    middle = rng.uniform(0, SIZE, size=2)
    velocity = rng.normal(0, 0.5, size=2)
    times = np.arange(NUM_FRAMES) - (NUM_FRAMES - 1) / 2
    angles = rng.uniform(0, 2 * math.pi) + rng.normal(0, 0.05) * times
    colour = rng.uniform(0, 255, size=3).astype(np.float32)
    radius = _still(rng.uniform(3, 6.5))
    return Layer(UNIT_OUTLINES[name], colour, middle + velocity * times[:, None], radius, angles, _still(1.0))


def draw_scene(rng: np.random.Generator, pair: str) -> Scene:
    """Draw one clip of ``pair`` (a key of :data:`PAIRS`); the draw does not depend on the class."""
    if pair not in PAIRS:
        raise KeyError(f"draw_scene: unknown pair {pair!r}; known: {', '.join(PAIRS)}")
    horizon = None
    if pair == "depth":
        background, horizon = _ground_background(rng)
    else:
        background = _background(rng)
    subject = _subject(rng, pair, background, horizon)
    distractors = [_distractor(rng) for _ in range(int(rng.choice(3, p=[0.7, 0.25, 0.05])))]
    in_front = rng.random(len(distractors)) < 0.5
    jitter = rng.normal(0, rng.uniform(0, 0.3), size=(NUM_FRAMES, 2)).clip(-MARGIN + 1, MARGIN - 1)
    contrast = rng.uniform(0.4, 0.6) if rng.random() < 0.06 else 1.0
    noise_sigma = rng.uniform(0, 2.0) if rng.random() < 0.8 else rng.uniform(2.0, 4.0)
    return Scene(
        pair,
        background,
        subject,
        [layer for layer, front in zip(distractors, in_front) if not front],
        [layer for layer, front in zip(distractors, in_front) if front],
        jitter,
        contrast,
        noise_sigma,
        int(rng.integers(2**31)),
    )


# ---- rendering ---------------------------------------------------------------------------------------------
_SHIFT = 4  # OpenCV's fractional bits: vertices at 1/16 px


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round((np.asarray(points) + MARGIN) * (1 << _SHIFT)).astype(np.int32)


def _rotation(angle: float) -> np.ndarray:
    """Rows map unit outline points to frame offsets; positive angles turn +x towards +y (clockwise)."""
    return np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])


def _paint(image: np.ndarray, coverage: np.ndarray, colour: np.ndarray) -> None:
    image *= 1 - coverage[..., None]
    image += coverage[..., None] * colour


def _draw_layer(image: np.ndarray, layer: Layer, t: int) -> np.ndarray:
    """Composite frame ``t`` of ``layer`` onto the canvas ``image`` in place; return its coverage."""
    center, radius = layer.centers[t], float(layer.radii[t])
    points = center + radius * layer.outline @ _rotation(float(layer.angles[t]))
    if layer.shadow:
        shadow = np.zeros((CANVAS, CANVAS), np.uint8)
        axes = (round(1.1 * radius * (1 << _SHIFT)), round(0.22 * radius * (1 << _SHIFT)))
        foot = _fixed((center[0], points[:, 1].max()))
        cv2.ellipse(shadow, tuple(int(v) for v in foot), axes, 0, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
        shadow = cv2.GaussianBlur(shadow.astype(np.float32) / 255, (0, 0), max(0.3 * radius * 0.22, 0.5))
        image *= 1 - 0.55 * float(layer.alphas[t]) * shadow[..., None]
    mask = np.zeros((CANVAS, CANVAS), np.uint8)
    cv2.fillPoly(mask, [_fixed(points)], 255, cv2.LINE_AA, _SHIFT)
    coverage = mask.astype(np.float32) * (float(layer.alphas[t]) / 255)
    if layer.wipe is not None:
        direction, edges = layer.wipe
        grid = np.arange(CANVAS, dtype=np.float32) - MARGIN
        along = (grid[None, :] - center[0]) * direction[0] + (grid[:, None] - center[1]) * direction[1]
        coverage *= np.clip(edges[t] * radius - along + 0.5, 0, 1)
    _paint(image, coverage, layer.colour)
    if layer.mark is not None:
        spot = np.zeros((CANVAS, CANVAS), np.uint8)
        where = center + radius * 0.45 * layer.outline[0] @ _rotation(float(layer.angles[t]))
        size = int(round(0.22 * radius * (1 << _SHIFT)))
        cv2.circle(spot, tuple(int(v) for v in _fixed(where)), size, 255, -1, cv2.LINE_AA, _SHIFT)
        _paint(image, spot.astype(np.float32) / 255 * coverage, layer.mark)
    return coverage


def _camera_view(canvas: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The SIZE x SIZE window of the canvas seen by the camera shifted by ``offset`` (px, bilinear)."""
    warp = np.array([[1, 0, MARGIN + offset[0]], [0, 1, MARGIN + offset[1]]], np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(canvas, warp, (SIZE, SIZE), flags=flags, borderMode=cv2.BORDER_REFLECT)


def render_scene(scene: Scene) -> RenderedClip:
    """The clip of ``scene`` in its pair's forward direction (move_right, rotate_clockwise, grow, approach,
    appear)."""
    noise_rng = np.random.default_rng(scene.noise_seed)
    mean = scene.background.reshape(-1, 3).mean(axis=0)
    frames = np.empty((NUM_FRAMES, SIZE, SIZE, 3), np.uint8)
    masks = np.empty((NUM_FRAMES, SIZE, SIZE), np.float32)
    for t in range(NUM_FRAMES):
        canvas = scene.background.copy()
        for layer in scene.behind:
            _draw_layer(canvas, layer, t)
        coverage = _draw_layer(canvas, scene.subject, t)
        for layer in scene.front:
            _draw_layer(canvas, layer, t)
        view = _camera_view(canvas, scene.jitter[t])
        view = mean + scene.contrast * (view - mean)
        view += noise_rng.normal(0, scene.noise_sigma, size=view.shape).astype(np.float32)
        frames[t] = np.clip(np.rint(view), 0, 255).astype(np.uint8)
        masks[t] = _camera_view(coverage, scene.jitter[t])
    return RenderedClip(frames, masks, scene.subject)


def _reversed(layer: Layer) -> Layer:
    wipe = None if layer.wipe is None else (layer.wipe[0], layer.wipe[1][::-1])
    return Layer(
        layer.outline,
        layer.colour,
        layer.centers[::-1],
        layer.radii[::-1],
        layer.angles[::-1],
        layer.alphas[::-1],
        layer.mark,
        wipe,
        layer.shadow,
    )


def render_clip(scene: Scene, class_name: str) -> RenderedClip:
    """The frames of ``class_name`` for ``scene``: the forward rendering, reversed in time for the second
    class of the pair (so ``render_clip(s, "move_left").frames == render_clip(s, "move_right").frames[::-1]``)."""
    if PAIR_OF.get(class_name) != scene.pair:
        raise ValueError(
            f"render_clip: class {class_name!r} is not one of {PAIRS[scene.pair]} (the scene's pair)"
        )
    clip = render_scene(scene)
    if class_name == PAIRS[scene.pair][0]:
        return clip
    return RenderedClip(clip.frames[::-1].copy(), clip.subject_masks[::-1].copy(), _reversed(clip.subject))


# ---- writing the dataset -----------------------------------------------------------------------------------
def balanced_labels(count: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """(count,) int64 labels, each class ``count // num_classes`` or one more times, in a shuffled order."""
    labels = np.arange(count, dtype=np.int64) % num_classes
    return labels[rng.permutation(count)]


def _write_split(out_dir: Path, split: str, count: int, seed: int, codec: str, rawframes: bool) -> None:
    labels = balanced_labels(count, len(CLASSES), np.random.default_rng([seed, SPLITS[split]]))
    video_lines, frame_lines = [], []
    # libx264 crf 15 (write_video's quality is crf / 6), mpeg4 qscale 2: about 33 dB PSNR against the rendered
    # frames, most of it the 4:2:0 chroma of coloured edges (crf 12 adds 0.3 dB for 1.6x the bytes)
    quality = 2.5 if codec == "libx264" else 2
    for index, label in enumerate(labels):
        class_name = CLASSES[int(label)]
        rng = np.random.default_rng([seed, SPLITS[split], index])
        clip = render_clip(draw_scene(rng, PAIR_OF[class_name]), class_name)
        name = f"{index:06d}"
        write_video(
            out_dir / f"videos_{split}" / f"{name}.mp4", clip.frames, FPS, codec=codec, quality=quality
        )
        video_lines.append(f"videos_{split}/{name}.mp4 {label}\n")
        if rawframes:
            frame_dir = out_dir / f"rawframes_{split}" / name
            frame_dir.mkdir(parents=True, exist_ok=True)
            for number, frame in enumerate(clip.frames, start=1):
                path = frame_dir / f"img_{number:05d}.jpg"
                if not cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
                    raise OSError(f"write_synthetic_action: could not write {path}")
            frame_lines.append(f"rawframes_{split}/{name} {NUM_FRAMES} {label}\n")
    (out_dir / f"{split}_list_videos.txt").write_text("".join(video_lines))
    if rawframes:
        (out_dir / f"{split}_list_rawframes.txt").write_text("".join(frame_lines))


def write_synthetic_action(
    out_dir: str | Path,
    seed: int = 0,
    num_train: int = 1600,
    num_val: int = 200,
    num_skeleton_train: int = 600,
    num_skeleton_val: int = 200,
    rawframes: bool = False,
    codec: str = "libx264",
    kinds: Sequence[str] | str = ("video", "skeleton"),
) -> dict[str, int]:
    """Write the synthetic action dataset (layout: the module docstring) and return counts per part.

    Args:
        out_dir: the dataset folder (created).
        seed: everything follows from it; the same arguments write byte-identical files.
        num_train, num_val: videos per split (classes balanced to within one, order shuffled).
        num_skeleton_train, num_skeleton_val: skeleton samples per split (``skeleton/``).
        rawframes: also write every video's frames as JPEGs and the raw-frame list files.
        codec: ``"libx264"`` (H.264, crf 15) or ``"mpeg4"`` (qscale 2).
        kinds: which parts to write: ``"video"`` and/or ``"skeleton"`` (a comma-separated string works).
    """
    if isinstance(kinds, str):
        kinds = [kind.strip() for kind in kinds.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - {"video", "skeleton"})
    if unknown:
        raise ValueError(f"write_synthetic_action: unknown kinds {unknown} (kinds takes 'video', 'skeleton')")
    for key, value in (("num_train", num_train), ("num_val", num_val)):
        if value < 0:
            raise ValueError(f"write_synthetic_action: {key} must be >= 0, got {value}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, int] = {}
    if "video" in kinds:
        (out_dir / "classes.txt").write_text("".join(f"{name}\n" for name in CLASSES))
        for split, count in (("train", num_train), ("val", num_val)):
            _write_split(out_dir, split, count, seed, codec, rawframes)
        summary.update(classes=len(CLASSES), videos_train=num_train, videos_val=num_val)
    if "skeleton" in kinds:
        summary.update(
            write_synthetic_skeleton(out_dir / "skeleton", seed, num_skeleton_train, num_skeleton_val)
        )
    return summary
