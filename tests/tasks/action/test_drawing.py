"""Action pictures: the top-k panel, the timeline and the labelled video."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.tasks.action.drawing import (
    MIN_SIDE,
    draw_action,
    draw_timeline,
    frame_scores_from_windows,
    write_labelled_video,
)
from visionstack.utils.video_io import VideoReader
from visionstack.visualization import class_color

CLASSES = ("move_left", "move_right", "rotate_clockwise", "rotate_anticlockwise", "grow", "shrink")


def frame(size: int = 80, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_draw_action_enlarges_and_draws_the_panel_off_centre():
    image = frame()
    scores = np.array([0.05, 0.1, 0.6, 0.2, 0.03, 0.02])
    out = draw_action(image, scores, CLASSES, topk=3)
    assert out.shape == (MIN_SIDE, MIN_SIDE, 3) and out.dtype == np.uint8
    plain = np.repeat(np.repeat(image, 4, axis=0), 4, axis=1)  # the nearest-neighbour enlargement
    changed = np.any(out != plain, axis=2)
    assert changed[:40, :40].mean() > 0.9  # the panel's corner
    assert not changed[MIN_SIDE // 4 * 3 :, :].any() and not changed[:, MIN_SIDE // 4 * 3 :].any()
    assert not changed[MIN_SIDE // 2 - 20 : MIN_SIDE // 2 + 20, MIN_SIDE // 2 - 20 : MIN_SIDE // 2 + 20].any()
    rows, columns = np.nonzero(changed)
    assert rows.max() < 0.4 * MIN_SIDE and columns.max() < 0.6 * MIN_SIDE
    # the best class's bar is drawn in its colour
    assert np.all(out == np.array(class_color(2), dtype=np.uint8), axis=2).sum() > 50
    assert np.array_equal(image, frame())  # the input is not modified


def test_draw_action_keeps_large_frames_and_accepts_grayscale():
    big = np.zeros((360, 480, 3), dtype=np.uint8)
    assert draw_action(big, [0.5, 0.5], None, topk=5).shape == (360, 480, 3)
    assert draw_action(np.zeros((40, 60), dtype=np.uint8), [1.0], ["x"]).shape == (320, 480, 3)
    with pytest.raises(TypeError, match="draw_action: expected a uint8 image"):
        draw_action(big.astype(np.float32), [1.0])


def test_draw_timeline_colours_the_top1_class_per_window():
    windows = [(0.0, 2.0, [0.9, 0.05, 0.05]), (2.0, 4.0, [0.1, 0.1, 0.8]), (6.0, 8.0, [0.2, 0.7, 0.1])]
    picture = draw_timeline(windows, CLASSES[:3], width=800, height=200)
    assert picture.shape == (200, 800, 3) and picture.dtype == np.uint8
    band_row = picture[20]  # inside the band, above the score line of these scores
    for label, x in ((0, 150), (2, 300), (1, 700)):
        assert tuple(int(v) for v in band_row[x]) == class_color(label), label
    assert tuple(int(v) for v in band_row[500]) == (64, 64, 64)  # 4 s to 6 s: no window
    legend = picture[130:]
    for label in range(3):
        assert np.all(legend == np.array(class_color(label), dtype=np.uint8), axis=2).any()
    with pytest.raises(ValueError, match="at least 200x120"):
        draw_timeline(windows, None, width=100, height=100)
    with pytest.raises(ValueError, match="no windows"):
        draw_timeline([], None)


def test_frame_scores_follow_the_nearest_covering_window():
    windows = [(0.0, 1.0, [1.0, 0.0]), (0.5, 1.5, [0.0, 1.0])]
    per_frame = frame_scores_from_windows(windows, num_frames=10, fps=4.0)  # frames at 0, 0.25 ... 2.25 s
    owners = [None if s is None else int(np.argmax(s)) for s in per_frame]
    assert owners == [0, 0, 0, 0, 1, 1, 1, None, None, None]  # 0.75 s: equally near, the earlier


def test_write_labelled_video_has_every_frame(tmp_path):
    frames = [frame(seed=i) for i in range(9)]
    scores = frame_scores_from_windows(
        [(0.0, 0.5, np.eye(6)[1]), (0.5, 1.0, np.eye(6)[4])], len(frames), fps=8.0
    )
    scores[-1] = None  # a frame no window covers is written without a panel
    path = write_labelled_video(tmp_path / "labelled.mp4", frames, 8.0, scores, CLASSES, topk=2)
    with VideoReader(path) as reader:
        assert len(reader) == len(frames)
        assert (reader.info.width, reader.info.height) == (MIN_SIDE, MIN_SIDE)
        first, last = reader[0], reader[len(frames) - 1]
    # mpeg4 is lossy: each decoded frame is much nearer to what was meant than to the alternative
    panel = (slice(0, 100), slice(0, 160))
    for decoded, image, labelled in ((first, frames[0], True), (last, frames[-1], False)):
        drawn = draw_action(image, scores[0], CLASSES, topk=2)[panel].astype(float)
        plain = np.repeat(np.repeat(image, 4, axis=0), 4, axis=1)[panel].astype(float)
        meant, other = (drawn, plain) if labelled else (plain, drawn)
        assert np.abs(decoded[panel] - meant).mean() < 0.5 * np.abs(decoded[panel] - other).mean()
    with pytest.raises(ValueError, match="9 frames but 10 frame_scores"):
        write_labelled_video(tmp_path / "bad.mp4", frames, 8.0, [*scores, None], CLASSES)
