"""PyAV video reading: every frame in order with its pts time, frame-accurate random seeks, variable frame rate."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.tasks.tracking.mot_format import frame_paths, frame_timestamps, read_seqinfo
from visionstack.tasks.tracking.video import (
    VideoReader,
    read_frame,
    read_video,
    video_info,
    video_to_sequence,
    write_video,
)

NUM_FRAMES = 50


def _encoded(index: int) -> np.ndarray:
    """A 48x64 frame whose index is its two base-16 digits as grey levels of the left and right halves
    (levels 16 apart, so lossy coding cannot move a digit)."""
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, :32] = (index // 16) * 16 + 8
    image[:, 32:] = (index % 16) * 16 + 8
    return image


def _decoded(image: np.ndarray) -> int:
    high = int(round((image[8:40, 4:28].mean() - 8) / 16))
    low = int(round((image[8:40, 36:60].mean() - 8) / 16))
    return 16 * high + low


@pytest.mark.parametrize("codec", ["mpeg4", "libx264"])
def test_every_frame_in_order_and_random_seeks(tmp_path, codec):
    path = write_video(
        tmp_path / f"{codec}.mp4", (_encoded(i) for i in range(NUM_FRAMES)), fps=10, codec=codec
    )
    frames = list(read_video(path))
    assert [index for index, _, _ in frames] == list(range(NUM_FRAMES))
    assert [_decoded(image) for _, _, image in frames] == list(range(NUM_FRAMES))
    np.testing.assert_allclose([seconds for _, seconds, _ in frames], np.arange(NUM_FRAMES) / 10, atol=1e-6)
    rng = np.random.default_rng(0)
    with VideoReader(path) as reader:
        assert len(reader) == NUM_FRAMES
        for index in [NUM_FRAMES - 1, 0, *rng.integers(0, NUM_FRAMES, 12).tolist(), 13, 12, 11]:
            assert _decoded(reader[index]) == index
        assert _decoded(reader[-1]) == NUM_FRAMES - 1
    assert _decoded(read_frame(path, 37)) == 37


def test_variable_frame_rate_keeps_pts_times(tmp_path):
    stamps = np.cumsum(np.r_[0.0, np.random.default_rng(1).choice([0.1, 0.2, 0.3], NUM_FRAMES - 1)])
    path = write_video(
        tmp_path / "vfr.mp4", (_encoded(i) for i in range(NUM_FRAMES)), fps=10, timestamps=stamps
    )
    seconds = [t for _, t, _ in read_video(path)]
    np.testing.assert_allclose(seconds, stamps, atol=1e-3)
    info = video_info(path)
    assert (info.width, info.height, info.num_frames) == (64, 48, NUM_FRAMES)
    assert info.duration == pytest.approx(stamps[-1], abs=1e-3)
    assert _decoded(read_frame(path, 21)) == 21


def test_odd_size_is_padded(tmp_path):
    path = write_video(tmp_path / "odd.mp4", [np.full((31, 45, 3), 128, np.uint8)] * 3, fps=5)
    info = video_info(path)
    assert (info.width, info.height, info.num_frames) == (46, 32, 3)


def test_video_to_sequence(tmp_path):
    stamps = [0.0, 0.1, 0.3, 0.4, 0.7]
    path = write_video(tmp_path / "v.mp4", (_encoded(i) for i in range(5)), fps=10, timestamps=stamps)
    info = video_to_sequence(path, tmp_path / "seq", name="CAM-1")
    assert read_seqinfo(tmp_path / "seq") == info and info.name == "CAM-1" and info.seq_length == 5
    assert [frame for frame, _ in frame_paths(tmp_path / "seq")] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(list(frame_timestamps(tmp_path / "seq").values()), stamps, atol=1e-3)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no video file"):
        VideoReader(tmp_path / "missing.mp4")
    path = write_video(tmp_path / "v.mp4", (_encoded(i) for i in range(3)), fps=10)
    with pytest.raises(IndexError, match="frame 3 out of range for 3 frames"):
        read_frame(path, 3)
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "empty.mp4", [], fps=10)
