"""MMAction2's clip sampling formulas (NumPy only): ``SampleFrames`` uses them, and so does the deploy runtime, so
the two backends pick the same frames.

A clip spans ``clip_len * frame_interval`` frames (``(clip_len - 1) * frame_interval + 1`` in test mode). Training:
the video is cut into ``num_clips`` equal segments and each clip starts at a random offset in its segment (TSN);
shorter videos fall back to sorted random starts, evenly spaced starts, or all zeros. Test mode is deterministic:
one clip centred, or ``num_clips`` starts spread evenly from the first to the last possible start (one frame per
segment centre when ``clip_len == 1``). Indices past the end wrap around (``loop``) or repeat the clip's last frame
(``repeat_last``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "OUT_OF_BOUND_OPTIONS",
    "clip_span",
    "fit_out_of_bound",
    "frame_indices",
    "sample_frames",
    "test_offsets",
    "train_offsets",
]

OUT_OF_BOUND_OPTIONS = ("loop", "repeat_last")


def clip_span(
    clip_len: int,
    frame_interval: int,
    test_mode: bool,
    target_fps: float | None = None,
    fps_scale_ratio: float = 1.0,
) -> float:
    """The number of frames one clip covers (``ori_clip_len`` in MMAction2)."""
    if target_fps is not None:
        return float(max(1.0, clip_len * frame_interval * fps_scale_ratio))
    if test_mode:
        return (clip_len - 1) * frame_interval + 1
    return clip_len * frame_interval


def train_offsets(num_frames: int, span: float, num_clips: int, keep_tail_frames: bool = False) -> np.ndarray:
    """The (num_clips,) random start frames of the clips in training (NumPy's global generator)."""
    if keep_tail_frames:
        segment = (num_frames - span + 1) / float(num_clips)
        if num_frames > span - 1:
            starts = np.arange(num_clips) * segment + np.random.uniform(0, segment, num_clips)
            return starts.astype(np.int64)
        return np.zeros(num_clips, dtype=np.int64)
    segment = (num_frames - span + 1) // num_clips
    if segment > 0:
        return np.arange(num_clips) * segment + np.random.randint(int(segment), size=num_clips)
    if num_frames > max(num_clips, span):
        return np.sort(np.random.randint(int(num_frames - span + 1), size=num_clips))
    if segment == 0:
        ratio = (num_frames - span + 1.0) / num_clips
        return np.around(np.arange(num_clips) * ratio)
    return np.zeros(num_clips, dtype=np.int64)


def test_offsets(
    num_frames: int,
    span: float,
    clip_len: int,
    num_clips: int,
    twice_sample: bool = False,
    target_fps: float | None = None,
) -> np.ndarray:
    """The deterministic start frames of the clips in test mode (twice as many with ``twice_sample``)."""
    if clip_len == 1:  # 2D models: the centre of each segment (and its start with twice_sample)
        segment = num_frames / float(num_clips)
        starts = np.arange(num_clips) * segment
        shifted = starts + segment / 2.0
        return np.concatenate([shifted, starts]) if twice_sample else shifted
    max_offset = max(num_frames - span, 0)
    count = num_clips * (2 if twice_sample else 1)
    if count == 1:
        return np.array([max_offset // 2])
    step = max_offset / float(num_clips - 1)
    if target_fps is not None:  # PySlowFast's spacing
        return np.arange(count) * np.floor(step)
    return np.round(np.arange(count) * step)


def fit_out_of_bound(frame_inds: np.ndarray, total_frames: int, option: str) -> np.ndarray:
    """Bring (num_clips, clip_len) indices past the end back in: wrap around, or repeat each clip's last."""
    if option == "loop":
        return np.mod(frame_inds, total_frames)
    inside = frame_inds < total_frames
    last = np.max(np.where(inside, frame_inds, 0), axis=1, keepdims=True)
    return np.where(inside, frame_inds, last)


def frame_indices(
    offsets: np.ndarray,
    total_frames: int,
    clip_len: int,
    frame_interval: int,
    out_of_bound_opt: str = "loop",
    span: float | None = None,
    target_fps: float | None = None,
    temporal_jitter: bool = False,
) -> np.ndarray:
    """The (clips * clip_len,) int64 frame indices of clips starting at ``offsets`` (0-based)."""
    if target_fps is not None:
        steps = np.linspace(0, float(span) - 1, clip_len).astype(np.int64)
    else:
        steps = np.arange(clip_len) * frame_interval
    inds = (np.asarray(offsets)[:, None] + steps[None, :]).reshape(-1)
    if temporal_jitter:
        inds = inds + np.random.randint(frame_interval, size=len(inds))
    inds = fit_out_of_bound(inds.reshape(-1, clip_len), total_frames, out_of_bound_opt)
    return inds.reshape(-1).astype(np.int64)


def sample_frames(
    total_frames: int,
    clip_len: int = 1,
    frame_interval: int = 1,
    num_clips: int = 1,
    test_mode: bool = True,
    twice_sample: bool = False,
    keep_tail_frames: bool = False,
    out_of_bound_opt: str = "loop",
) -> np.ndarray:
    """``SampleFrames``' 0-based indices for a video of ``total_frames`` (without ``target_fps`` and jitter)."""
    span = clip_span(clip_len, frame_interval, test_mode)
    if test_mode:
        offsets = test_offsets(total_frames, span, clip_len, num_clips, twice_sample)
    else:
        offsets = train_offsets(total_frames, span, num_clips, keep_tail_frames)
    return frame_indices(offsets, total_frames, clip_len, frame_interval, out_of_bound_opt)
