"""``write_synthetic_ocr``: deterministic synthetic scene text in the ICDAR 2015, Total-Text and recognition
list formats.

Layout (paths relative to ``out_dir``)::

    ch4_training_images/img_{i}.jpg                  i from 1; image_size x image_size scenes, JPEG quality 95
    ch4_training_localization_transcription_gt/gt_img_{i}.txt
                                                     ICDAR 2015: "x1,y1,...,x4,y4,text" (UTF-8 with BOM, CRLF)
    ch4_test_images/img_{i}.jpg
    Challenge4_Test_Task1_GT/gt_img_{i}.txt
    totaltext/Groundtruth/Polygon/{Train,Test}/poly_gt_img_{i}.txt
                                                     Total-Text legacy txt of the same images, one word a line:
                                                     x: [[x1 ... xn]], y: [[y1 ... yn]], ornt: [u'c'], transcriptions: [u'WORD']
    textrecog/{train,test}/word_{i}.png              one word per crop, at its natural size (height ~24-64 px)
    textrecog/{train,test}_list.txt                  "train/word_1.png Hello" (path relative to textrecog/)
    textrecog/lexicon_test.txt                       the distinct test words, sorted, one a line
    textrecog/noisy_test_list.txt                    the test crops with the strongest degradation
    fonts.json                                       {"train": {family: [files]}, "test": {...}}

Scenes (:func:`render_scene`): a textured background (:func:`.synthetic_render.scene_background`), clutter
(lines, rectangles, circles) on a third of them, then 2-6 non-overlapping words (rejected and re-placed on
overlap) 14-48 px tall, rotated up to 30 degrees (most within 5), with mild perspective; ~20 % of the words
are curved along an arc. Text colours keep a luma gap of 80-200 to the background under the word. Hard cases,
each a minority: ~5 % tiny words (5-8 px) and ~5 % heavily blurred words, both labelled ``###`` (Total-Text
``#``); ~5 % low-contrast words (luma gap 40-60); ~5 % words cut by the image border (axis-aligned, at most a
third of their height or a quarter of it along the reading direction, so they stay legible and keep their
text; the polygon is clipped to the image). Some images get a mild blur (sigma <= 0.9) or noise (sigma <= 6).

Polygons (Total-Text files): 4 points for straight words, 7 along the top and 7 back along the bottom for
curved ones; the ICDAR files hold the straight words' quads and the curved words' ``cv2.minAreaRect``, both
clockwise from the top-left. Coordinates are written rounded to integers, as the official files do.

Recognition crops (:func:`render_word_crop`): one word (train fonts for train, test fonts for test; 10 %
curved; rotated within 2 degrees, 15 % within 6) on a textured background, cropped around its polygon's box
with a 4-20 % margin per side. ~30 % get one or two degradations (blur, noise, JPEG, low contrast); the test crops
whose degradation scores highest (a fifth of them, at most 100) are listed in ``noisy_test_list.txt``.

Item ``i`` of a split draws from ``np.random.default_rng([seed, split, i])`` (split 0/1 the detection
train/test scenes, 2/3 the recognition train/test crops): the same arguments and fonts write byte-identical
files (the fonts found are recorded in ``fonts.json``).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .fonts import font_family, split_fonts
from .synthetic_render import (
    composite,
    contrasting_colour,
    font_size_for_height,
    load_font,
    min_area_quad,
    render_arc,
    render_straight,
    scene_background,
    transform_points,
    warp_word,
    word_homography,
)
from .wordlist import random_text

__all__ = [
    "IGNORE_TEXT",
    "SceneWord",
    "Scene",
    "WordCrop",
    "render_scene",
    "render_word_crop",
    "write_synthetic_ocr",
]

IGNORE_TEXT = "###"
JPEG_QUALITY = 95
SPLITS = {"det_train": 0, "det_test": 1, "recog_train": 2, "recog_test": 3}
# word kinds in a scene and their probabilities (the rest are normal words)
_KIND_PROBABILITIES = {"tiny": 0.05, "blurred": 0.05, "low_contrast": 0.05, "clipped": 0.05}
_CURVED_PROBABILITY = 0.22  # of the words that may curve (all but tiny and clipped): ~20 % of all words
_PLACEMENT_TRIES = 30


@dataclass
class SceneWord:
    """One word of a scene. ``text``: its label (``###`` when ignored); ``rendered``: the characters drawn;
    ``polygon`` (P, 2) float32 (4 points, or 14 when curved); ``quad`` (4, 2) float32 ICDAR quadrilateral,
    clockwise from the top-left; ``alpha`` (H, W) float32 the glyph coverage before blur; ``kind`` one of
    normal, tiny, blurred, low_contrast, clipped; ``orientation`` Total-Text's h (horizontal), m
    (multi-oriented), c (curved) or # (ignored)."""

    text: str
    rendered: str
    polygon: np.ndarray
    quad: np.ndarray
    curved: bool
    ignore: bool
    kind: str
    orientation: str
    alpha: np.ndarray


@dataclass
class Scene:
    """``image`` (H, W, 3) uint8 BGR and its ``words``."""

    image: np.ndarray
    words: list[SceneWord]


@dataclass
class WordCrop:
    """``image`` (H, W, 3) uint8 BGR of one word; ``severity`` 0 when clean, higher when more degraded."""

    image: np.ndarray
    text: str
    severity: float
    curved: bool


@functools.lru_cache(maxsize=8)
def _by_family(fonts: tuple[Path, ...]) -> tuple[tuple[str, ...], ...]:
    families = sorted({font_family(path) for path in fonts})
    return tuple(tuple(str(path) for path in fonts if font_family(path) == family) for family in families)


def _pick_font(rng: np.random.Generator, fonts: list[Path]) -> str:
    """A family uniformly, then one of its files: DejaVu's many files do not outweigh the single TeX fonts."""
    groups = _by_family(tuple(fonts))
    members = groups[int(rng.integers(len(groups)))]
    return members[int(rng.integers(len(members)))]


def _fitting_text(rng: np.random.Generator, font: str, height: float, max_width: float) -> tuple[str, float]:
    """A text and a height at which its glyph box fits ``max_width``; long texts are shrunk, or redrawn when
    that would take them under 14 px (0.7 x ``height`` for tiny words)."""
    floor = min(14.0, 0.7 * height)
    for _ in range(20):
        text = random_text(rng)
        left, top, right, bottom = load_font(font, 100).getbbox(text, anchor="ls")
        width = (right - left) * height / max(bottom - top, 1)
        fitted = height * min(1.0, max_width / max(width, 1.0))
        if fitted >= floor:
            return text, fitted
    return text, floor


def _word_kind(rng: np.random.Generator) -> str:
    draw, start = rng.random(), 0.0
    for kind, probability in _KIND_PROBABILITIES.items():
        start += probability
        if draw < start:
            return kind
    return "normal"


def _orientation(polygon: np.ndarray, curved: bool, ignore: bool) -> str:
    if ignore:
        return "#"
    if curved:
        return "c"
    dx, dy = polygon[1] - polygon[0]
    return "h" if abs(math.degrees(math.atan2(dy, dx))) < 5 else "m"


def _candidate_shift(
    rng: np.random.Generator, polygon: np.ndarray, size: int, clipped: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A translation putting the (origin-centred) polygon inside the image, or over one border when
    ``clipped``, and the polygon moved by it (clipped words: clamped to the image, exact for their
    axis-aligned boxes)."""
    low, high = polygon.min(axis=0), polygon.max(axis=0)
    shift = np.array([rng.uniform(1 - low[i], size - 2 - high[i]) for i in range(2)])
    if clipped:
        height = high[1] - low[1]
        side = int(rng.integers(4))  # left, right, top, bottom
        axis = side // 2
        cut = height * (rng.uniform(0.1, 0.25) if axis == 0 else rng.uniform(0.15, 0.33))
        shift[axis] = -0.5 - low[axis] - cut if side % 2 == 0 else size - 0.5 - high[axis] + cut
    moved = polygon + shift.astype(np.float32)
    if clipped:
        moved = np.clip(moved, -0.5, size - 0.5)
    return shift, moved


def _footprint(polygon: np.ndarray, size: int, margin: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    points = [np.rint(polygon).astype(np.int32)]
    cv2.fillPoly(mask, points, 1)
    cv2.polylines(mask, points, True, 1, thickness=2 * margin + 1)
    return mask


def _scene_word(
    rng: np.random.Generator, image: np.ndarray, occupied: np.ndarray, fonts: list[Path]
) -> SceneWord | None:
    """Draw one word into ``image`` (float32, in place) where ``occupied`` is free; None when it finds no room."""
    size = image.shape[0]
    kind = _word_kind(rng)
    curved = kind not in ("tiny", "clipped") and rng.random() < _CURVED_PROBABILITY
    font = _pick_font(rng, fonts)
    height = rng.uniform(5, 8.5) if kind == "tiny" else 14 + 34 * rng.random() ** 1.5
    text, height = _fitting_text(rng, font, height, 0.85 * size * (0.8 if curved else 1.0))
    font_size = font_size_for_height(text, font, height)
    if curved:
        word = render_arc(text, font, font_size, span=rng.uniform(0.5, 1.4), smile=rng.random() < 0.5)
    else:
        word = render_straight(text, font, font_size)
    if kind == "clipped":
        matrix = word_homography(rng, word.polygon, 0.0, 0.0)
    else:
        max_angle = 5.0 if rng.random() < 0.6 else 30.0
        matrix = word_homography(
            rng, word.polygon, max_angle, 0.06, (0.9, 1.1), 0.1 if rng.random() < 0.2 else 0
        )
    centred = transform_points(matrix, word.polygon)
    for _ in range(_PLACEMENT_TRIES):
        shift, polygon = _candidate_shift(rng, centred, size, kind == "clipped")
        footprint = _footprint(polygon, size, margin=3)
        if not np.any(footprint & occupied):
            break
    else:
        return None
    occupied |= footprint
    placed = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]]) @ matrix
    alpha, _ = warp_word(word, placed, (size, size))
    under = alpha > 0.3
    background = image[under].mean(axis=0) if under.any() else image.reshape(-1, 3).mean(axis=0)
    gap = (40, 60) if kind == "low_contrast" else (80, 200)
    colour = contrasting_colour(rng, background, *gap)
    drawn = alpha
    if kind == "blurred":
        drawn = cv2.GaussianBlur(alpha, (0, 0), sigmaX=rng.uniform(0.25, 0.4) * height)
    composite(image, drawn, colour)
    ignore = kind in ("tiny", "blurred")
    quad = min_area_quad(polygon) if curved else polygon
    return SceneWord(
        text=IGNORE_TEXT if ignore else text,
        rendered=text,
        polygon=polygon.astype(np.float32),
        quad=quad.astype(np.float32),
        curved=curved,
        ignore=ignore,
        kind=kind,
        orientation=_orientation(polygon, curved, ignore),
        alpha=alpha,
    )


def _clutter(rng: np.random.Generator, image: np.ndarray) -> None:
    """1-3 lines, rectangle outlines or circles: edges that are not text."""
    size = image.shape[0]
    for _ in range(int(rng.integers(1, 4))):
        colour = rng.uniform(0, 255, size=3).tolist()
        thickness = int(rng.integers(1, 4))
        a, b = rng.integers(0, size, size=(2, 2))
        shape = int(rng.integers(3))
        if shape == 0:
            cv2.line(image, tuple(map(int, a)), tuple(map(int, b)), colour, thickness, cv2.LINE_AA)
        elif shape == 1:
            cv2.rectangle(image, tuple(map(int, a)), tuple(map(int, b)), colour, thickness, cv2.LINE_AA)
        else:
            cv2.circle(
                image, tuple(map(int, a)), int(rng.integers(5, size // 4)), colour, thickness, cv2.LINE_AA
            )


def render_scene(rng: np.random.Generator, fonts: list[Path], size: int = 320) -> Scene:
    """One ``size`` x ``size`` scene with 2-6 words (fewer when some find no room; see the module docstring)."""
    image = scene_background(rng, size, size)
    if rng.random() < 0.35:
        _clutter(rng, image)
    occupied = np.zeros((size, size), np.uint8)
    words = []
    for _ in range(int(rng.integers(2, 7))):
        word = _scene_word(rng, image, occupied, fonts)
        if word is not None:
            words.append(word)
    if rng.random() < 0.25:
        image = cv2.GaussianBlur(image, (0, 0), sigmaX=rng.uniform(0.4, 0.9))
    if rng.random() < 0.3:
        image = image + rng.normal(0, rng.uniform(2, 6), size=image.shape).astype(np.float32)
    return Scene(np.clip(np.rint(image), 0, 255).astype(np.uint8), words)


def _degrade(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, float]:
    """One or two of blur, noise, JPEG, low contrast; the severity sums 0.5 + 0.5 x each one's level in [0, 1]."""
    severity = 0.0
    for name in rng.permutation(["blur", "noise", "jpeg", "contrast"])[: int(rng.integers(1, 3))]:
        level = rng.random()
        if name == "blur":
            image = cv2.GaussianBlur(image, (0, 0), sigmaX=0.5 + 1.0 * level)
        elif name == "noise":
            image = image + rng.normal(0, 4 + 10 * level, size=image.shape).astype(np.float32)
        elif name == "contrast":
            mean = image.reshape(-1, 3).mean(axis=0)
            image = mean + (0.6 - 0.25 * level) * (image - mean)
        else:
            quality = int(round(50 - 35 * level))
            clipped = np.clip(np.rint(image), 0, 255).astype(np.uint8)
            encoded = cv2.imencode(".jpg", clipped, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
            image = cv2.imdecode(encoded, cv2.IMREAD_COLOR).astype(np.float32)
        severity += 0.5 + 0.5 * level
    return image, severity


def render_word_crop(rng: np.random.Generator, fonts: list[Path]) -> WordCrop:
    """One recognition crop (see the module docstring): (H, W, 3) uint8, H ~ 24-64 px."""
    font = _pick_font(rng, fonts)
    curved = rng.random() < 0.1
    text, height = _fitting_text(rng, font, rng.uniform(18, 44), 600.0)
    font_size = font_size_for_height(text, font, height)
    if curved:
        word = render_arc(text, font, font_size, span=rng.uniform(0.3, 0.8), smile=rng.random() < 0.5)
    else:
        word = render_straight(text, font, font_size, stroke=int(font_size >= 28 and rng.random() < 0.1))
    max_angle = 2.0 if rng.random() < 0.85 else 6.0
    matrix = word_homography(
        rng, word.polygon, max_angle, 0.04, (0.85, 1.15), 0.15 if rng.random() < 0.25 else 0
    )
    centred = transform_points(matrix, word.polygon)
    low, high = centred.min(axis=0), centred.max(axis=0)
    word_height = float(high[1] - low[1])
    margins = rng.uniform(0.04, 0.2, size=4) * word_height  # left, top, right, bottom
    shift = np.array([margins[0], margins[1]]) - low
    width = int(math.ceil(high[0] - low[0] + margins[0] + margins[2]))
    height_px = int(math.ceil(word_height + margins[1] + margins[3]))
    placed = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]]) @ matrix
    alpha, _ = warp_word(word, placed, (height_px, width))
    image = scene_background(rng, height_px, width)
    under = alpha > 0.3
    background = image[under].mean(axis=0) if under.any() else image.reshape(-1, 3).mean(axis=0)
    composite(image, alpha, contrasting_colour(rng, background, 80, 200))
    severity = 0.0
    if rng.random() < 0.3:
        image, severity = _degrade(rng, image)
    return WordCrop(np.clip(np.rint(image), 0, 255).astype(np.uint8), text, severity, curved)


# ---- files ------------------------------------------------------------------------------------------------
def _icdar_lines(words: list[SceneWord]) -> str:
    rows = []
    for word in words:
        coordinates = ",".join(str(int(v)) for v in np.rint(word.quad).reshape(-1))
        rows.append(f"{coordinates},{word.text}")
    return "".join(row + "\r\n" for row in rows)


def _totaltext_lines(words: list[SceneWord]) -> str:
    rows = []
    for word in words:
        xs, ys = (" ".join(str(int(v)) for v in np.rint(word.polygon[:, axis])) for axis in (0, 1))
        text = "#" if word.ignore else word.text
        # Python 2's unicode repr, as the legacy files were written: u'...' or u"..." when the text holds a '
        rows.append(f"x: [[{xs}]], y: [[{ys}]], ornt: [u'{word.orientation}'], transcriptions: [u{text!r}]")
    return "".join(row + "\n" for row in rows)


def _write_scenes(
    out: Path, split: str, count: int, seed: int, fonts: list[Path], size: int
) -> dict[str, int]:
    image_dir, gt_dir, poly_dir = {
        "det_train": ("ch4_training_images", "ch4_training_localization_transcription_gt", "Train"),
        "det_test": ("ch4_test_images", "Challenge4_Test_Task1_GT", "Test"),
    }[split]
    poly_path = out / "totaltext" / "Groundtruth" / "Polygon" / poly_dir
    for directory in (out / image_dir, out / gt_dir, poly_path):
        directory.mkdir(parents=True, exist_ok=True)
    stats = {"images": count, "words": 0, "ignored": 0, "curved": 0}
    for i in range(1, count + 1):
        scene = render_scene(np.random.default_rng([seed, SPLITS[split], i]), fonts, size)
        cv2.imwrite(
            str(out / image_dir / f"img_{i}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        )
        with open(out / gt_dir / f"gt_img_{i}.txt", "w", encoding="utf-8-sig", newline="") as file:
            file.write(_icdar_lines(scene.words))
        with open(poly_path / f"poly_gt_img_{i}.txt", "w", encoding="utf-8", newline="") as file:
            file.write(_totaltext_lines(scene.words))
        stats["words"] += len(scene.words)
        stats["ignored"] += sum(word.ignore for word in scene.words)
        stats["curved"] += sum(word.curved for word in scene.words)
    return stats


def _write_crops(
    out: Path, split: str, count: int, seed: int, fonts: list[Path]
) -> tuple[list[str], list[float]]:
    name = split.removeprefix("recog_")
    (out / "textrecog" / name).mkdir(parents=True, exist_ok=True)
    lines, severities = [], []
    for i in range(1, count + 1):
        crop = render_word_crop(np.random.default_rng([seed, SPLITS[split], i]), fonts)
        cv2.imwrite(str(out / "textrecog" / name / f"word_{i}.png"), crop.image)
        lines.append(f"{name}/word_{i}.png {crop.text}")
        severities.append(crop.severity)
    _write_text(out / "textrecog" / f"{name}_list.txt", lines)
    return lines, severities


def _write_text(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_synthetic_ocr(
    out_dir: str | Path,
    seed: int = 0,
    num_train: int = 600,
    num_val: int = 100,
    num_recog_train: int = 24000,
    num_recog_test: int = 500,
    image_size: int = 320,
) -> dict:
    """Write the synthetic OCR data under ``out_dir`` (layout in the module docstring).

    Args:
        out_dir: the root folder (created).
        seed: the same seed and fonts give byte-identical files.
        num_train / num_val: scene images of the detection train / test splits (the test split is the val set;
            ``visionstack data synth ocr --num-train N --num-val M``).
        num_recog_train / num_recog_test: word crops of the recognition splits.
        image_size: the scenes' side in pixels.

    Returns:
        A summary: ``det_train`` / ``det_test`` (images, words, ignored, curved), ``recog_train`` /
        ``recog_test`` / ``noisy_test`` / ``lexicon_test`` (counts), ``fonts`` ({split: {family: [files]}})
        and ``paths`` (name -> path of the main folders and files).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    split = split_fonts()
    font_table = {
        name: {
            family: sorted(p.name for p in paths if font_family(p) == family)
            for family in sorted({font_family(p) for p in paths})
        }
        for name, paths in split.items()
    }
    (out / "fonts.json").write_text(json.dumps(font_table, indent=2) + "\n", encoding="utf-8")
    summary: dict = {
        "det_train": _write_scenes(out, "det_train", num_train, seed, split["train"], image_size),
        "det_test": _write_scenes(out, "det_test", num_val, seed, split["test"], image_size),
    }
    _write_crops(out, "recog_train", num_recog_train, seed, split["train"])
    test_lines, severities = _write_crops(out, "recog_test", num_recog_test, seed, split["test"])
    noisy_count = min(100, num_recog_test // 5)
    noisy = sorted(np.argsort(-np.asarray(severities), kind="stable")[:noisy_count].tolist())
    _write_text(out / "textrecog" / "noisy_test_list.txt", [test_lines[i] for i in noisy])
    lexicon = sorted({line.split(" ", 1)[1] for line in test_lines})
    _write_text(out / "textrecog" / "lexicon_test.txt", lexicon)
    summary.update(
        recog_train=num_recog_train,
        recog_test=num_recog_test,
        noisy_test=noisy_count,
        lexicon_test=len(lexicon),
        fonts=font_table,
        paths={
            "icdar_train_images": str(out / "ch4_training_images"),
            "icdar_train_gt": str(out / "ch4_training_localization_transcription_gt"),
            "icdar_test_images": str(out / "ch4_test_images"),
            "icdar_test_gt": str(out / "Challenge4_Test_Task1_GT"),
            "totaltext_gt": str(out / "totaltext" / "Groundtruth" / "Polygon"),
            "textrecog": str(out / "textrecog"),
            "fonts": str(out / "fonts.json"),
        },
    )
    return summary
