"""Prediction windows over a video (NumPy only: ``infer`` and the deploy runtime both cut videos with it).

A window is ``window`` seconds of frames, one every ``stride`` seconds, by the frames' presentation times (so
variable frame rate videos are cut by time, not by frame count). A video no longer than one window is one
window of all its frames; the last window always ends at the last frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["DEFAULT_STRIDE", "DEFAULT_WINDOW", "frame_windows"]

DEFAULT_WINDOW = 2.0  # seconds
DEFAULT_STRIDE = 1.0


def frame_windows(
    timestamps: Sequence[float] | np.ndarray, window: float = DEFAULT_WINDOW, stride: float = DEFAULT_STRIDE
) -> list[tuple[int, int, float, float]]:
    """``(first frame, frame count, start seconds, end seconds)`` of each window, in time order.

    Args:
        timestamps: (N,) seconds of the frames, increasing.
        window: seconds per window (> 0).
        stride: seconds between window starts (> 0).
    """
    if window <= 0 or stride <= 0:
        raise ValueError(f"frame_windows: window and stride must be positive, got {window} and {stride}")
    stamps = np.asarray(timestamps, dtype=np.float64)
    count = len(stamps)
    if count == 0:
        raise ValueError("frame_windows: the video has no frames")
    step = float(np.median(np.diff(stamps))) if count > 1 else 0.0
    if stamps[-1] - stamps[0] + step <= window + 1e-9:
        return [(0, count, float(stamps[0]), float(stamps[-1] + step))]
    windows: list[tuple[int, int, float, float]] = []
    start_time = float(stamps[0])
    while True:
        first = int(np.searchsorted(stamps, start_time - 1e-9))
        last = int(np.searchsorted(stamps, start_time + window - 1e-9))
        if last >= count:  # the final window: ``window`` seconds that end at the last frame
            first = int(np.searchsorted(stamps, stamps[-1] + step - window - 1e-9))
            last = count
        if not windows or (first, last) != windows[-1][:2]:
            windows.append((first, last, float(stamps[first]), float(stamps[last - 1] + step)))
        if last == count:
            break
        start_time += stride
    return [(first, last - first, start, end) for first, last, start, end in windows]
