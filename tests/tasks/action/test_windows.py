"""Prediction windows over a video: by time, covering every frame, the last one ending at the last frame."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.tasks.action.windows import frame_windows


def test_short_video_is_one_window():
    assert frame_windows(np.arange(32) / 16, window=2.0, stride=1.0) == [(0, 32, 0.0, 2.0)]


def test_windows_step_by_stride_and_end_at_the_last_frame():
    windows = frame_windows(np.arange(100) / 25, window=2.0, stride=1.0)
    assert [(first, count) for first, count, _, _ in windows] == [(0, 50), (25, 50), (50, 50)]
    assert windows[-1][0] + windows[-1][1] == 100
    ragged = frame_windows(np.arange(110) / 25, window=2.0, stride=1.5)
    assert ragged[-1][0] + ragged[-1][1] == 110 and all(count == 50 for _, count, _, _ in ragged)
    covered = np.zeros(110, bool)
    for first, count, _, _ in ragged:
        covered[first : first + count] = True
    assert covered.all()


def test_windows_follow_time_not_frame_count():
    # 10 fps for 2 s, then 40 fps for 2 s: every window still spans 2 s
    stamps = np.concatenate([np.arange(20) / 10, 2 + np.arange(80) / 40])
    for first, count, start, _ in frame_windows(stamps, window=2.0, stride=1.0):
        assert stamps[first + count - 1] - stamps[first] < 2.0
        assert start == pytest.approx(stamps[first])


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="positive"):
        frame_windows(np.arange(10), window=0)
    with pytest.raises(ValueError, match="no frames"):
        frame_windows([])
