"""Gap interpolation on hand-made tracks, by frames and by seconds."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.tasks.tracking.interpolation import interpolate_tracks, interpolate_tracks_by_time


def _track(track_id: int, frames, start=(0.0, 0.0, 10.0, 20.0), step=(2.0, 1.0, 0.0, 0.0), cls=3.0):
    """MOT result rows of one track moving by ``step`` per frame: frame, id, x, y, w, h, score, class, -1, -1."""
    frames = np.asarray(frames, dtype=np.float64)
    boxes = np.asarray(start) + (frames[:, None] - frames[0]) * np.asarray(step)
    n = len(frames)
    return np.column_stack(
        [frames, np.full(n, track_id), boxes, np.full(n, 0.7), np.full(n, cls), -np.ones((n, 2))]
    )


def test_fills_a_short_gap_linearly():
    rows = _track(1, [1, 2, 3, 7, 8])  # frames 4, 5, 6 missing
    result = interpolate_tracks(rows, max_gap=3, min_track_length=5)
    assert result.shape == (8, 10)
    np.testing.assert_array_equal(result[:, 0], np.arange(1, 9))
    # the track moves 2 px right and 1 px down per frame, so the interpolation is exact
    np.testing.assert_allclose(result[:, 2:6], _track(1, np.arange(1, 9))[:, 2:6])
    added = np.isin(result[:, 0], [4, 5, 6])
    np.testing.assert_array_equal(result[added, 6], 1.0)  # MMTracking's score for interpolated rows
    np.testing.assert_array_equal(result[~added, 6], 0.7)
    np.testing.assert_array_equal(result[:, 7], 3.0)  # the class is carried over
    np.testing.assert_array_equal(result[:, 8:], -1.0)


def test_gap_limit_length_limit_and_other_ids():
    rows = np.concatenate(
        [
            _track(1, [1, 2, 3, 7, 8]),  # 3 missing frames
            _track(2, [1, 2, 3, 4, 10, 11]),  # 5 missing frames
            _track(3, [1, 3, 5]),  # too short
        ]
    )
    result = interpolate_tracks(rows, max_gap=4, min_track_length=5, interpolated_score=0.5)
    per_id = {i: result[result[:, 1] == i] for i in (1, 2, 3)}
    assert len(per_id[1]) == 8 and len(per_id[2]) == 6 and len(per_id[3]) == 3
    assert np.count_nonzero(interpolate_tracks(rows, max_gap=5, min_track_length=5)[:, 1] == 2) == 11
    assert np.count_nonzero(interpolate_tracks(rows, max_gap=20, min_track_length=3)[:, 1] == 3) == 5
    np.testing.assert_array_equal(per_id[1][3:6, 6], 0.5)
    # sorted by frame, then id
    order = np.lexsort((result[:, 1], result[:, 0]))
    np.testing.assert_array_equal(order, np.arange(len(result)))


def test_unordered_input_and_errors():
    rows = _track(4, [1, 2, 3, 6, 7])[::-1]
    result = interpolate_tracks(rows)
    np.testing.assert_array_equal(result[:, 0], np.arange(1, 8))
    with pytest.raises(ValueError, match=r"\(N, >= 7\)"):
        interpolate_tracks(np.zeros((3, 6)))


def test_by_time_interpolates_in_time_and_skips_dropped_frames():
    # 10 frames/s with frame 5 dropped from the video; the object moves 2 px per 0.1 s.
    frame_times = {f: (f - 1) / 10 for f in range(1, 12) if f != 5}
    rows = _track(1, [1, 2, 3, 8, 9])
    result = interpolate_tracks_by_time(rows, frame_times, max_gap_seconds=0.5, min_track_length=5)
    np.testing.assert_array_equal(result[:, 0], [1, 2, 3, 4, 6, 7, 8, 9])  # no row for the dropped frame
    np.testing.assert_allclose(result[:, 2], 2 * (result[:, 0] - 1))

    # A non-uniform clock: frame 4 lies at 80 % of the time from frame 3 to frame 5.
    frame_times = {1: 0.0, 2: 0.1, 3: 0.2, 4: 0.36, 5: 0.4, 6: 0.5}
    rows = _track(2, [1, 2, 3, 5, 6], step=(10.0, 0.0, 0.0, 0.0))  # x = 0, 10, 20, 40, 50
    result = interpolate_tracks_by_time(rows, frame_times, max_gap_seconds=0.2)
    assert result[result[:, 0] == 4][0, 2] == pytest.approx(20 + 0.8 * 20)
    # the gap lasts 0.2 s: not filled with a 0.15 s limit
    assert len(interpolate_tracks_by_time(rows, frame_times, max_gap_seconds=0.15)) == 5
    # frame_times as an (F, 2) array
    table = np.array(sorted(frame_times.items()))
    np.testing.assert_allclose(interpolate_tracks_by_time(rows, table, 0.2), result)


def test_by_time_errors():
    rows = _track(1, [1, 2, 3, 5, 6])
    with pytest.raises(ValueError, match="not in frame_times"):
        interpolate_tracks_by_time(rows, {1: 0.0, 2: 0.1, 3: 0.2, 5: 0.4}, 1.0)
    with pytest.raises(ValueError, match="increase strictly"):
        interpolate_tracks_by_time(rows, {1: 0.0, 2: 0.1, 3: 0.1, 4: 0.3, 5: 0.4, 6: 0.5}, 1.0)
