"""Pictures of action predictions: a top-k panel on a frame, a timeline of windows, a labelled video.

NumPy, OpenCV and Pillow (for legible text) only, no torch: the deploy runtime can draw too. Colours
are BGR and per class (:func:`visionstack.visualization.class_color`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ...utils.video_io import write_video
from ...visualization.primitives import as_bgr, class_color
from .records import _window, ranked_classes

__all__ = ["draw_action", "draw_timeline", "frame_scores_from_windows", "write_labelled_video"]

MIN_SIDE = 320  # text on an 80x80 clip cannot be read: frames are enlarged to this shorter side first
MIN_FONT_SIZE = 9
PANEL_MAX_WIDTH = 0.6  # of the frame width: the panel stays in the top-left corner, off the centre
PANEL_MAX_HEIGHT = 0.4  # of the frame height
SCORE_LINE_LEGEND = "top-1 score (0 to 1)"


def draw_action(
    image: np.ndarray,
    scores: Any,
    class_names: Sequence[str] | None = None,
    topk: int = 3,
    min_side: int = MIN_SIDE,
) -> np.ndarray:
    """Return a copy of the frame with a top-k panel in its top-left corner.

    Each of the ``topk`` best classes gets a line ``class name   0.81`` and a bar of its class
    colour whose length is the score (0..1), on a translucent dark box. The box is at most 60 % of
    the width and 40 % of the height, so the centre of the frame stays visible. Frames whose
    shorter side is below ``min_side`` are first enlarged by a whole factor (nearest neighbour).

    Args:
        image: (H, W, 3) uint8 BGR frame (or (H, W) grayscale).
        scores: (num_classes,) scores, probabilities for the bars.
        class_names: names by label; None writes the labels.
        topk: classes to show, best first.
        min_side: enlarge smaller frames to at least this shorter side (0 keeps the size).

    Returns:
        (H', W', 3) uint8 BGR; (H', W') = k * (H, W) with the smallest whole k reaching ``min_side``.
    """
    canvas = _enlarged(as_bgr(image, "draw_action"), min_side)
    ranked = ranked_classes(scores, class_names, topk)
    return _draw_panel(canvas, ranked)


def _enlarged(image: np.ndarray, min_side: int) -> np.ndarray:
    shorter = min(image.shape[:2])
    if min_side <= 0 or shorter >= min_side:
        return image.copy()
    factor = math.ceil(min_side / shorter)
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)


def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def _draw_panel(image: np.ndarray, ranked: list[dict[str, Any]]) -> np.ndarray:
    height, width = image.shape[:2]
    max_w, max_h = int(width * PANEL_MAX_WIDTH), int(height * PANEL_MAX_HEIGHT)
    lines = [(str(item["class"]), f"{item['score']:.2f}") for item in ranked]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    size = max(MIN_FONT_SIZE, min(height, width) // 20)
    while True:
        font = _font(size)
        pad, gap, bar_h = max(3, size // 3), max(2, size // 5), max(3, size // 3)
        name_w = max(probe.textlength(name, font=font) for name, _ in lines)
        score_w = probe.textlength("0.00", font=font)
        row_h = size + gap + bar_h + gap
        panel_w = int(name_w + score_w + 3 * pad)
        panel_h = row_h * len(lines) + 2 * pad
        if size <= MIN_FONT_SIZE or (panel_w <= max_w and panel_h <= max_h):
            break
        size -= 1
    panel_w = min(panel_w, width)
    canvas = Image.fromarray(np.ascontiguousarray(image[..., ::-1])).convert("RGBA")
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, 0, panel_w - 1, min(panel_h, height) - 1), fill=(0, 0, 0, 170))
    bar_w = panel_w - 2 * pad
    for row, ((name, score_text), item) in enumerate(zip(lines, ranked)):
        top = pad + row * row_h
        draw.text((pad, top), name, font=font, fill=(255, 255, 255, 255))
        draw.text((panel_w - pad, top), score_text, font=font, fill=(255, 255, 255, 255), anchor="ra")
        bar_top = top + size + gap
        draw.rectangle((pad, bar_top, pad + bar_w - 1, bar_top + bar_h - 1), fill=(255, 255, 255, 60))
        filled = int(round(bar_w * min(max(item["score"], 0.0), 1.0)))
        if filled > 0:
            blue, green, red = class_color(item["label"])
            draw.rectangle(
                (pad, bar_top, pad + filled - 1, bar_top + bar_h - 1), fill=(red, green, blue, 255)
            )
    rgb = np.asarray(Image.alpha_composite(canvas, overlay).convert("RGB"))
    return np.ascontiguousarray(rgb[..., ::-1])


# ---- timeline -----------------------------------------------------------------------------------------
def draw_timeline(
    windows: Sequence[tuple[float, float, Any]],
    class_names: Sequence[str] | None = None,
    width: int = 960,
    height: int = 240,
) -> np.ndarray:
    """A picture of a long video's predictions: the top-1 class of each window over time.

    A horizontal band shows, at every time, the class colour of the top-1 class of the window that
    covers it (of overlapping windows, the one whose centre is nearest; gaps stay dark grey); the
    top-1 score is drawn as a white line over the band (bottom = 0, top = 1). Below: a time axis in
    seconds and a legend of the classes that occur, in label order.

    Args:
        windows: ``(start_seconds, end_seconds, scores)`` per window, scores (num_classes,).
        class_names: names by label; None writes the labels.
        width: picture width in pixels (at least 200).
        height: picture height in pixels (at least 120).

    Returns:
        (height, width, 3) uint8 BGR.
    """
    if width < 200 or height < 120:
        raise ValueError(f"draw_timeline: the picture must be at least 200x120, got {width}x{height}")
    if not windows:
        raise ValueError("draw_timeline: no windows")
    checked = [_window(window, i, "draw_timeline") for i, window in enumerate(windows)]
    tops = [ranked_classes(scores, class_names, 1)[0] for _, _, scores in checked]
    t0, t1 = min(w[0] for w in checked), max(w[1] for w in checked)
    t1 = t1 if t1 > t0 else t0 + 1.0

    size = max(MIN_FONT_SIZE, min(16, height // 14))
    font = _font(size)
    margin = max(6, size // 2)
    band_left, band_right = margin, width - margin
    band_top, band_h = margin, max(20, int(height * 0.4))
    axis_y = band_top + band_h
    columns = np.arange(band_left, band_right)
    times = t0 + (columns - band_left + 0.5) / (band_right - band_left) * (t1 - t0)
    owner = _covering_window(times, [(s, e) for s, e, _ in checked])

    picture = np.full((height, width, 3), 255, dtype=np.uint8)
    band = picture[band_top:axis_y, band_left:band_right]
    band[:] = 64
    for column, index in enumerate(owner):
        if index >= 0:
            band[:, column] = class_color(tops[index]["label"])
    score_line = np.array(
        [(band_left + c, axis_y - 1 - tops[i]["score"] * (band_h - 1)) for c, i in enumerate(owner) if i >= 0]
    )
    if len(score_line):
        cv2.polylines(
            picture, [np.round(score_line).astype(np.int32).reshape(-1, 1, 2)], False, (255, 255, 255), 2
        )
    cv2.rectangle(picture, (band_left, band_top), (band_right - 1, axis_y - 1), (0, 0, 0), 1)
    return _timeline_text(picture, (t0, t1), (band_left, band_right, band_top, axis_y), tops, font, size)


def _covering_window(times: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    """For each time, the index of the window covering it (ends included) with the nearest centre; the
    earlier window on equal distance; -1 where none covers it."""
    starts = np.array([s for s, _ in spans])[None, :]
    ends = np.array([e for _, e in spans])[None, :]
    distance = np.abs(times[:, None] - (starts + ends) / 2)
    covered = (times[:, None] >= starts) & (times[:, None] <= ends)
    distance = np.where(covered, distance, np.inf)
    owner = distance.argmin(axis=1)
    return np.where(np.isfinite(distance.min(axis=1)), owner, -1)


def _timeline_text(
    picture: np.ndarray,
    span: tuple[float, float],
    band: tuple[int, int, int, int],
    tops: list[dict[str, Any]],
    font: Any,
    size: int,
) -> np.ndarray:
    """Time ticks under the band and the legend below them."""
    (t0, t1), (left, right, _, axis_y) = span, band
    height = picture.shape[0]
    canvas = Image.fromarray(np.ascontiguousarray(picture[..., ::-1]))
    draw = ImageDraw.Draw(canvas)
    step = _tick_step((t1 - t0) / max(2, (right - left) // (6 * size)))
    tick = math.ceil(t0 / step) * step
    while tick <= t1 + 1e-9:
        x = left + (tick - t0) / (t1 - t0) * (right - left - 1)
        draw.line((x, axis_y, x, axis_y + size // 2), fill=(0, 0, 0))
        text = f"{tick:g} s"
        half = draw.textlength(text, font=font) / 2
        x = min(max(x, half + 1), picture.shape[1] - half - 1)  # the end labels stay inside the picture
        draw.text((x, axis_y + size // 2 + 1), text, font=font, fill=(0, 0, 0), anchor="ma")
        tick += step
    legend_top = axis_y + 2 * size + 4
    seen = {item["label"]: item["class"] for item in tops}
    x, y, swatch = left, legend_top, size
    for label in [*sorted(seen), None]:
        text = SCORE_LINE_LEGEND if label is None else str(seen[label])
        item_w = swatch + 4 + int(draw.textlength(text, font=font)) + 2 * size
        if x + item_w > right and x > left:
            x, y = left, y + int(size * 1.5)
        if y + size > height:
            break  # no room left: the band and the axis are what matter
        if label is None:  # the score line's entry: a white stroke on the band's grey
            draw.rectangle((x, y, x + swatch - 1, y + swatch - 1), fill=(64, 64, 64))
            draw.line(
                (x + 1, y + swatch // 2, x + swatch - 2, y + swatch // 2), fill=(255, 255, 255), width=2
            )
        else:
            blue, green, red = class_color(label)
            draw.rectangle((x, y, x + swatch - 1, y + swatch - 1), fill=(red, green, blue), outline=(0, 0, 0))
        draw.text((x + swatch + 4, y + swatch // 2), text, font=font, fill=(0, 0, 0), anchor="lm")
        x += item_w
    return np.ascontiguousarray(np.asarray(canvas)[..., ::-1])


def _tick_step(rough: float) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) at least ``rough``."""
    power = 10 ** math.floor(math.log10(rough)) if rough > 0 else 1.0
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


# ---- labelled video -----------------------------------------------------------------------------------
def frame_scores_from_windows(
    windows: Sequence[tuple[float, float, Any]], num_frames: int, fps: float
) -> list[np.ndarray | None]:
    """The scores shown on each frame: those of the window covering frame ``i`` (at ``i / fps`` s)
    (ends included) with the nearest centre, the earlier one on equal distance, or None where no
    window covers the frame."""
    if fps <= 0:
        raise ValueError(f"frame_scores_from_windows: fps must be > 0, got {fps}")
    checked = [_window(window, i, "frame_scores_from_windows") for i, window in enumerate(windows)]
    if not checked:
        return [None] * num_frames
    owner = _covering_window(np.arange(num_frames) / fps, [(s, e) for s, e, _ in checked])
    return [checked[i][2] if i >= 0 else None for i in owner]


def write_labelled_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float,
    frame_scores: Sequence[Any | None],
    class_names: Sequence[str] | None = None,
    topk: int = 3,
    codec: str = "mpeg4",
) -> Path:
    """Write the frames, each with the top-k panel of its scores (:func:`draw_action`), as a video.

    Args:
        path: the output file (``.mp4``).
        frames: (H, W, 3) uint8 BGR frames, all one size.
        fps: frame rate.
        frame_scores: one (num_classes,) score array per frame (None: the frame is written
            enlarged but without a panel); :func:`frame_scores_from_windows` makes it from windows.
        class_names: names by label.
        topk: classes per panel.
        codec: see :func:`visionstack.utils.video_io.write_video`.

    Returns:
        ``path`` as a Path.

    Raises:
        ValueError: when the number of frames and of ``frame_scores`` differ.
    """
    return write_video(path, _labelled_frames(frames, frame_scores, class_names, topk), fps, codec=codec)


def _labelled_frames(
    frames: Iterable[np.ndarray],
    frame_scores: Sequence[Any | None],
    class_names: Sequence[str] | None,
    topk: int,
) -> Iterator[np.ndarray]:
    count = 0
    for count, frame in enumerate(frames, start=1):
        if count > len(frame_scores):
            raise ValueError(f"write_labelled_video: more frames than the {len(frame_scores)} frame_scores")
        scores = frame_scores[count - 1]
        frame = as_bgr(frame, "write_labelled_video")
        yield _enlarged(frame, MIN_SIDE) if scores is None else draw_action(frame, scores, class_names, topk)
    if count != len(frame_scores):
        raise ValueError(f"write_labelled_video: {count} frames but {len(frame_scores)} frame_scores")
