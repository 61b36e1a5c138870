"""Linear interpolation of short gaps in tracking results (post-processing).

A track lost for a few frames (occlusion, a missed detection) and then recovered with the same id
leaves a gap in the result file; filling it with boxes interpolated linearly between the two
observations around it raises recall at almost no cost in precision (ByteTrack, Zhang et al. 2022,
Sec. 4; MMTracking's ``InterpolateTracklets``).

Rows are MOT result rows ``[frame, id, bb_left, bb_top, w, h, score, ...]`` (extra columns such as
the class are copied from the observation before the gap). Differences from MMTracking's
``InterpolateTracklets(min_num_frames, max_num_frames)``, stated so its settings can be carried over:

- ``max_gap`` counts *missing* frames: a gap is filled when at most ``max_gap`` frames are missing,
  where MMTracking fills when the frame difference is below ``max_num_frames`` — its default 20 is
  ``max_gap=18``;
- ``min_track_length`` is the least number of rows a track needs, where MMTracking needs more than
  ``min_num_frames`` rows — its default 5 is ``min_track_length=6``; shorter tracks are returned as
  they are (MMTracking drops tracks of 1-2 rows; we drop nothing);
- interpolated rows get the score ``interpolated_score``, 1.0 by default as in MMTracking.

:func:`interpolate_tracks_by_time` sets the gap in seconds and interpolates in time, for videos with
a variable frame rate or dropped frames.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["interpolate_results", "interpolate_tracks", "interpolate_tracks_by_time"]


def interpolate_tracks(
    rows: np.ndarray, max_gap: int = 20, min_track_length: int = 5, interpolated_score: float = 1.0
) -> np.ndarray:
    """Fill gaps of at most ``max_gap`` missing frames inside each track.

    Args:
        rows: (N, C >= 7) MOT result rows ``[frame, id, bb_left, bb_top, w, h, score, ...]``.
        max_gap: the most consecutive missing frames a filled gap may have.
        min_track_length: tracks with fewer rows are left untouched.
        interpolated_score: the score column of the added rows.

    Returns:
        (N + added, C) float64 rows, sorted by frame then id.
    """

    def fill(frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        gaps = []
        for left in np.flatnonzero((np.diff(frames) > 1) & (np.diff(frames) - 1 <= max_gap)):
            missing = np.arange(frames[left] + 1, frames[left + 1])
            gaps.append((left, missing, (missing - frames[left]) / (frames[left + 1] - frames[left])))
        return gaps

    return _interpolate(rows, fill, min_track_length, interpolated_score)


def interpolate_tracks_by_time(
    rows: np.ndarray,
    frame_times: Mapping[int, float] | np.ndarray,
    max_gap_seconds: float = 1.0,
    min_track_length: int = 5,
    interpolated_score: float = 1.0,
) -> np.ndarray:
    """Fill gaps lasting at most ``max_gap_seconds``, interpolating linearly in time.

    A gap lasts from the observation before it to the one after it. Only frames that exist in
    ``frame_times`` are filled (a frame dropped from the video gets no row); each box is placed at
    the fraction of elapsed *time*, not of frame numbers.

    Args:
        rows: (N, C >= 7) MOT result rows ``[frame, id, bb_left, bb_top, w, h, score, ...]``.
        frame_times: the sequence's frames and their times in seconds, as a ``{frame: seconds}``
            mapping or an (F, 2) ``[frame, seconds]`` array; every frame in ``rows`` must be there.
        max_gap_seconds: the longest gap that is filled.
        min_track_length: tracks with fewer rows are left untouched.
        interpolated_score: the score column of the added rows.

    Returns:
        (N + added, C) float64 rows, sorted by frame then id.
    """
    table = _frame_time_table(frame_times)
    all_frames, all_times = table[:, 0], table[:, 1]

    def time_of(frames: np.ndarray) -> np.ndarray:
        index = np.searchsorted(all_frames, frames)
        known = (index < len(all_frames)) & (all_frames[np.minimum(index, len(all_frames) - 1)] == frames)
        if not known.all():
            raise ValueError(f"frames {frames[~known][:5].tolist()} are not in frame_times")
        return all_times[index]

    def fill(frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        times = time_of(frames)
        gaps = []
        for left in range(len(frames) - 1):
            inside = (all_frames > frames[left]) & (all_frames < frames[left + 1])
            duration = times[left + 1] - times[left]
            if inside.any() and duration <= max_gap_seconds:
                fraction = (all_times[inside] - times[left]) / duration
                gaps.append((left, all_frames[inside], fraction))
        return gaps

    return _interpolate(rows, fill, min_track_length, interpolated_score)


def _frame_time_table(frame_times: Mapping[int, float] | np.ndarray) -> np.ndarray:
    """An (F, 2) ``[frame, seconds]`` table sorted by frame."""
    if isinstance(frame_times, Mapping):
        table = np.array(sorted(frame_times.items()), dtype=np.float64).reshape(-1, 2)
    else:
        table = np.asarray(frame_times, dtype=np.float64).reshape(-1, 2)
        table = table[np.argsort(table[:, 0], kind="stable")]
    if np.any(np.diff(table[:, 1]) <= 0):
        raise ValueError("frame_times must increase strictly with the frame number")
    return table


def _interpolate(rows: np.ndarray, fill, min_track_length: int, interpolated_score: float) -> np.ndarray:
    """Apply ``fill(frames) -> [(left row index, new frames, fractions)]`` to every long-enough track."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] < 7:
        raise ValueError(f"rows must be (N, >= 7) MOT result rows, got shape {rows.shape}")
    pieces = [rows]
    for track_id in np.unique(rows[:, 1]):
        track = rows[rows[:, 1] == track_id]
        track = track[np.argsort(track[:, 0], kind="stable")]
        if len(track) < min_track_length:
            continue
        for left, frames, fraction in fill(track[:, 0]):
            new = np.repeat(track[left][None], len(frames), axis=0)
            start, end = track[left, 2:6], track[left + 1, 2:6]
            new[:, 0] = frames
            new[:, 2:6] = start + fraction[:, None] * (end - start)
            new[:, 6] = interpolated_score
            pieces.append(new)
    result = np.concatenate(pieces, axis=0)
    return result[np.lexsort((result[:, 1], result[:, 0]))]


def interpolate_results(rows: np.ndarray, frames: np.ndarray | None = None, **options) -> np.ndarray:
    """:func:`interpolate_tracks` per class of result rows ``[frame, id, x1, y1, x2, y2, score, class]`` (ids
    may repeat across classes), keeping only rows of ``frames`` when given (a dropped frame gets none). Boxes may
    be xyxy: linear interpolation commutes with the (linear) xyxy -> MOT box conversion.

    Args:
        rows: (N, 8) result rows, the class in column 7.
        frames: the frame numbers that were processed, or None.
        **options: :func:`interpolate_tracks`' keyword arguments.
    """
    parts = [interpolate_tracks(rows[rows[:, 7] == c], **options) for c in np.unique(rows[:, 7])]
    rows = np.concatenate(parts) if parts else rows
    return rows if frames is None else rows[np.isin(rows[:, 0], np.asarray(frames))]
