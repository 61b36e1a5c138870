"""A deterministic synthetic semantic-segmentation dataset: textured regions with shapes on top.

Each ``image_size`` x ``image_size`` image is a scene of eight classes:

* four "stuff" classes (``grass``, ``water``, ``sand``, ``brick``) tile the whole image: a few seed
  points, each with a stuff class, split the image into Voronoi cells whose borders are bent by a
  smooth random displacement field, so regions are large blobs;
* four "thing" classes (``circle``, ``triangle``, ``square``, ``star``) are pasted on top, three to
  six shapes per image, rotated, each covering 2-7% of the image; later shapes occlude earlier ones.

Every class has its own appearance family, randomised per region within a band: a hue / saturation /
value range and a texture (grass: vertical blade streaks; water: horizontal waves; sand: fine grain;
brick: a brick wall with mortar; circle: a radial highlight; triangle: diagonal stripes; square: a
checkerboard; star: flat with a soft gradient). Classes differ in colour *and* texture, so a small
CNN can tell them apart from local appearance, with the shapes' outlines as extra context. The label
of a pixel is the class painted there (the map and the image come from the same rasterised masks);
a light blur and sensor noise are added to the image afterwards.

Layout (MMSegmentation's plain layout)::

    <out>/img_dir/train/000000.jpg   <out>/ann_dir/train/000000.png   (uint8 class ids, no ignore)
    <out>/img_dir/val/000000.jpg     <out>/ann_dir/val/000000.png
    <out>/meta.json                  {"classes": [...], "palette": [[R, G, B], ...]}

Images are JPEG (quality 95, no chroma subsampling where OpenCV supports it); image ``i`` of a split
is drawn from ``default_rng([seed, split, i])``, so the same seed gives byte-identical files. Use it
with :class:`~visionstack.tasks.segmentation.datasets.SynthSegDataset`.
"""

from __future__ import annotations

import colorsys
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "SEG_CLASSES",
    "SEG_PALETTE",
    "STUFF_CLASSES",
    "THING_CLASSES",
    "render_segmentation_scene",
    "write_synthetic_segmentation",
]

STUFF_CLASSES = ("grass", "water", "sand", "brick")
THING_CLASSES = ("circle", "triangle", "square", "star")
SEG_CLASSES = STUFF_CLASSES + THING_CLASSES
# RGB display colours (for overlays), close to each class's appearance.
SEG_PALETTE = [
    [40, 150, 40],
    [40, 90, 210],
    [220, 200, 150],
    [160, 60, 40],
    [210, 40, 210],
    [255, 150, 0],
    [0, 200, 200],
    [250, 230, 0],
]

# Per class: (hue range in degrees, saturation range, value range) of its base colour.
COLOR_BANDS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "grass": ((95, 135), (0.55, 0.85), (0.35, 0.6)),
    "water": ((200, 230), (0.6, 0.9), (0.45, 0.7)),
    "sand": ((35, 50), (0.18, 0.32), (0.72, 0.9)),
    "brick": ((4, 18), (0.55, 0.75), (0.45, 0.62)),
    "circle": ((285, 315), (0.6, 0.85), (0.65, 0.9)),
    "triangle": ((24, 34), (0.85, 1.0), (0.85, 1.0)),
    "square": ((172, 190), (0.6, 0.85), (0.55, 0.8)),
    "star": ((52, 62), (0.8, 1.0), (0.88, 1.0)),
}
NUM_SEEDS = (3, 6)  # stuff cells per image, inclusive
NUM_THINGS = (3, 6)  # shapes per image, inclusive
THING_AREA = (0.02, 0.07)  # each shape's area as a fraction of the image
STAR_INNER_RADIUS = 0.45
JPEG_QUALITY = 95


def _unit_outline(name: str) -> np.ndarray:
    """Vertices (K, 2) of a thing at unit circumradius (a circle as a 64-gon)."""
    if name == "circle":
        count, radii = 64, np.ones(64)
    elif name == "star":
        count, radii = 10, np.where(np.arange(10) % 2 == 0, 1.0, STAR_INNER_RADIUS)
    else:
        count = 3 if name == "triangle" else 4
        radii = np.ones(count)
    angles = np.arange(count) * 2 * math.pi / count - math.pi / 2
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


UNIT_OUTLINES = {name: _unit_outline(name) for name in THING_CLASSES}
UNIT_AREAS = {name: _polygon_area(outline) for name, outline in UNIT_OUTLINES.items()}


def _hsv_to_bgr(hue: float, saturation: float, value: float) -> np.ndarray:
    red, green, blue = colorsys.hsv_to_rgb((hue % 360) / 360.0, saturation, value)
    return np.array([blue, green, red], dtype=np.float32) * 255.0


def _base_color(rng: np.random.Generator, name: str) -> np.ndarray:
    """A BGR colour (float32, 0..255) drawn from the class's band."""
    hues, saturations, values = COLOR_BANDS[name]
    return _hsv_to_bgr(rng.uniform(*hues), rng.uniform(*saturations), rng.uniform(*values))


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """(size, size) float32 smooth noise in about [-1, 1]: a ``cells`` x ``cells`` grid upsampled bicubically."""
    grid = rng.normal(0.0, 1.0, size=(cells, cells)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


# ---- textures: each returns an (S, S, 3) float32 BGR image of the class's appearance ---------------
Texture = Callable[[np.random.Generator, int, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _grass(
    rng: np.random.Generator, size: int, color: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> np.ndarray:
    noise = rng.normal(0.0, 1.0, size=(size, size)).astype(np.float32)
    length = int(rng.integers(5, 10))
    blades = cv2.blur(noise, (1, length)) * math.sqrt(length)  # vertical streaks, unit variance again
    return color + rng.uniform(22, 34) * np.clip(blades, -2.5, 2.5)[..., None]


def _water(
    rng: np.random.Generator, size: int, color: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> np.ndarray:
    period = rng.uniform(5.0, 9.0)
    wobble = rng.uniform(1.0, 3.0) * np.sin(
        2 * math.pi * xs / rng.uniform(20, 40) + rng.uniform(0, 2 * math.pi)
    )
    waves = np.sin(2 * math.pi * (ys + wobble) / period + rng.uniform(0, 2 * math.pi))
    return color + rng.uniform(25, 38) * waves[..., None]


def _sand(
    rng: np.random.Generator, size: int, color: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> np.ndarray:
    grain = rng.normal(0.0, rng.uniform(10, 16), size=(size, size)).astype(np.float32)
    dark = (rng.random((size, size)) < 0.04).astype(np.float32) * rng.uniform(40, 60)  # sparse dark grains
    return color + (grain - dark)[..., None]


def _brick(
    rng: np.random.Generator, size: int, color: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> np.ndarray:
    row_height = int(rng.integers(7, 11))
    brick_width = int(rng.integers(14, 21))
    offset_x, offset_y = rng.integers(0, brick_width), rng.integers(0, row_height)
    rows = (ys.astype(np.int64) + offset_y) // row_height
    shifted = xs.astype(np.int64) + offset_x + (rows % 2) * (brick_width // 2)
    mortar = ((ys.astype(np.int64) + offset_y) % row_height < 2) | (shifted % brick_width < 2)
    brick_id = rows * 1000 + shifted // brick_width
    _, inverse = np.unique(brick_id, return_inverse=True)
    shade = rng.uniform(-18, 18, size=int(inverse.max()) + 1).astype(np.float32)[inverse.reshape(size, size)]
    img = color + shade[..., None] + rng.normal(0, 5, size=(size, size, 1)).astype(np.float32)
    mortar_color = np.float32(rng.uniform(175, 210)) + rng.uniform(-8, 8, size=3).astype(np.float32)
    return np.where(mortar[..., None], mortar_color, img)


def _stripes(
    rng: np.random.Generator, size: int, color: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> np.ndarray:
    angle = rng.choice([1, -1]) * rng.uniform(math.pi / 6, math.pi / 3)
    period = rng.uniform(5.0, 8.0)
    along = xs * math.cos(angle) + ys * math.sin(angle)
    stripe = (np.sin(2 * math.pi * along / period + rng.uniform(0, 2 * math.pi)) > 0).astype(np.float32)
    return color * (0.55 + 0.45 * stripe)[..., None]


def _checker(
    rng: np.random.Generator, size: int, color: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> np.ndarray:
    cell = int(rng.integers(4, 7))
    ox, oy = rng.integers(0, cell, size=2)
    parity = (((xs.astype(np.int64) + ox) // cell + (ys.astype(np.int64) + oy) // cell) % 2).astype(
        np.float32
    )
    return color * (0.5 + 0.5 * parity)[..., None]


def _flat(
    rng: np.random.Generator, size: int, color: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> np.ndarray:
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (xs * math.cos(angle) + ys * math.sin(angle)) / size
    return color * (0.9 + 0.12 * ramp)[..., None]


TEXTURES: dict[str, Texture] = {
    "grass": _grass,
    "water": _water,
    "sand": _sand,
    "brick": _brick,
    "triangle": _stripes,
    "square": _checker,
    "star": _flat,
}


def _radial(
    rng: np.random.Generator,
    color: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    center: np.ndarray,
    radius: float,
) -> np.ndarray:
    """The circle's appearance: bright at an off-centre highlight, darker towards the rim."""
    highlight = center + rng.uniform(-0.3, 0.3, size=2) * radius
    distance = np.sqrt((xs - highlight[0]) ** 2 + (ys - highlight[1]) ** 2) / radius
    return color * np.clip(1.15 - 0.55 * distance, 0.4, 1.2)[..., None]


def _stuff_partition(rng: np.random.Generator, size: int) -> np.ndarray:
    """(S, S) int: the stuff class of each pixel (warped Voronoi cells of a few seeds)."""
    count = int(rng.integers(NUM_SEEDS[0], NUM_SEEDS[1] + 1))
    seeds = rng.uniform(0, size, size=(count, 2)).astype(np.float32)
    classes = rng.integers(0, len(STUFF_CLASSES), size=count)
    classes[1] = (classes[0] + rng.integers(1, len(STUFF_CLASSES))) % len(STUFF_CLASSES)  # at least two
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    strength = 0.15 * size
    warped_x = xs + strength * _smooth_noise(rng, size, 4)
    warped_y = ys + strength * _smooth_noise(rng, size, 4)
    distances = (warped_x[None] - seeds[:, 0, None, None]) ** 2 + (
        warped_y[None] - seeds[:, 1, None, None]
    ) ** 2
    return classes[np.argmin(distances, axis=0)]


def _thing_mask(rng: np.random.Generator, size: int, name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """A rotated shape of a random area: its (S, S) bool mask, centre (x, y) and circumradius."""
    area = rng.uniform(*THING_AREA) * size * size
    radius = math.sqrt(area / UNIT_AREAS[name])
    angle = rng.uniform(0, 2 * math.pi)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    center = rng.uniform(0.1 * size, 0.9 * size, size=2)
    outline = UNIT_OUTLINES[name] @ rotation.T * radius + center
    mask = np.zeros((size, size), dtype=np.uint8)
    # fixed-point vertices (4 fractional bits) so the outline is rasterised at sub-pixel precision
    cv2.fillPoly(mask, [np.round(outline * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool), center, radius


def render_segmentation_scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw one scene (see the module docstring).

    Returns:
        the (S, S, 3) uint8 BGR image and the (S, S) uint8 label map (indices into ``SEG_CLASSES``).
    """
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    label = _stuff_partition(rng, size).astype(np.uint8)
    img = np.zeros((size, size, 3), dtype=np.float32)
    for index, name in enumerate(STUFF_CLASSES):
        region = label == index
        if region.any():
            texture = TEXTURES[name](rng, size, _base_color(rng, name), xs, ys)
            img[region] = texture[region]
    for _ in range(int(rng.integers(NUM_THINGS[0], NUM_THINGS[1] + 1))):
        offset = int(rng.integers(len(THING_CLASSES)))
        name = THING_CLASSES[offset]
        mask, center, radius = _thing_mask(rng, size, name)
        color = _base_color(rng, name)
        if name == "circle":
            texture = _radial(rng, color, xs, ys, center, radius)
        else:
            texture = TEXTURES[name](rng, size, color, xs, ys)
        img[mask] = texture[mask]
        label[mask] = len(STUFF_CLASSES) + offset
    img = cv2.GaussianBlur(img, (0, 0), sigmaX=rng.uniform(0.4, 0.7))
    img += rng.normal(0.0, rng.uniform(2.0, 5.0), size=img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), label


def _jpeg_params() -> list[int]:
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):  # OpenCV >= 4.5.5: keep full-resolution colour
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    return params


def _write(path: Path, img: np.ndarray, extension: str, params: list[int] | None = None) -> None:
    ok, encoded = cv2.imencode(extension, img, params or [])
    if not ok:
        raise OSError(f"write_synthetic_segmentation: OpenCV could not encode {path}")
    path.write_bytes(encoded.tobytes())


def _write_split(
    out: Path, split: str, count: int, image_size: int, seed: int, split_code: int
) -> np.ndarray:
    """Write one split; returns its per-class pixel counts."""
    img_dir, ann_dir = out / "img_dir" / split, out / "ann_dir" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    params = _jpeg_params()
    counts = np.zeros(len(SEG_CLASSES), dtype=np.int64)
    for index in range(count):
        img, label = render_segmentation_scene(np.random.default_rng([seed, split_code, index]), image_size)
        _write(img_dir / f"{index:06d}.jpg", img, ".jpg", params)
        _write(ann_dir / f"{index:06d}.png", label, ".png")
        counts += np.bincount(label.ravel(), minlength=len(SEG_CLASSES))
    return counts


def write_synthetic_segmentation(
    out_dir: str | os.PathLike,
    num_train: int = 1000,
    num_val: int = 100,
    image_size: int = 128,
    seed: int = 0,
) -> dict:
    """Write the dataset (see the module docstring) and return a summary.

    Args:
        out_dir: the output folder (created).
        num_train: training images.
        num_val: validation images.
        image_size: the side of the square images, in pixels (at least 32).
        seed: the seed; image ``i`` of a split uses ``default_rng([seed, split, i])``.

    Returns:
        ``{"out_dir", "meta_file", "classes", "train": {"images", "img_dir", "ann_dir"}, "val": {...},
        "class_frequencies": {name: fraction of the training pixels}}``.
    """
    if int(image_size) < 32:
        raise ValueError(f"write_synthetic_segmentation: image_size must be at least 32, got {image_size}")
    if num_train < 0 or num_val < 0:
        raise ValueError(f"write_synthetic_segmentation: negative image count ({num_train}, {num_val})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"out_dir": str(out), "classes": list(SEG_CLASSES)}
    train_counts = np.zeros(len(SEG_CLASSES), dtype=np.int64)
    for split, count, code in (("train", num_train, 0), ("val", num_val, 1)):
        counts = _write_split(out, split, int(count), int(image_size), int(seed), code)
        if split == "train":
            train_counts = counts
        summary[split] = {
            "images": int(count),
            "img_dir": str(out / "img_dir" / split),
            "ann_dir": str(out / "ann_dir" / split),
        }
    meta_file = out / "meta.json"
    meta = {"classes": list(SEG_CLASSES), "palette": [list(color) for color in SEG_PALETTE]}
    meta_file.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    summary["meta_file"] = str(meta_file)
    total = max(int(train_counts.sum()), 1)
    summary["class_frequencies"] = {name: float(c) / total for name, c in zip(SEG_CLASSES, train_counts)}
    return summary
