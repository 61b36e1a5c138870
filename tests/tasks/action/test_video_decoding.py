"""Frame-accurate video decoding (H.264 with B-frames, MPEG-4 Part 2): seeking equals sequential decoding."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from visionstack.tasks.action.transforms import (
    DecordDecode,
    DecordInit,
    OpenCVDecode,
    OpenCVInit,
    PyAVDecode,
    PyAVInit,
    SampleFrames,
)
from visionstack.utils.video_io import VideoReader, read_video, write_video

NUM_FRAMES = 40


def _drawn_frames(count=NUM_FRAMES, height=48, width=64):
    """Frames that differ a lot from each other: the index written large on a background of its own colour."""
    frames = []
    for index in range(count):
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[:] = ((index * 37) % 200, (index * 91) % 200, (index * 53) % 200)
        cv2.putText(frame, str(index), (4, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
        frames.append(frame)
    return frames


@pytest.fixture(scope="module", params=["libx264", "mpeg4"])
def video(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param) / f"drawn_{request.param}.mp4"
    frames = _drawn_frames()
    write_video(path, frames, fps=16, codec=request.param, quality=2, gop_size=8)
    sequential = [image for _, _, image in read_video(path)]
    return path, frames, sequential


def test_sequential_decoding_is_complete_repeatable_and_in_order(video):
    path, frames, sequential = video
    assert len(sequential) == NUM_FRAMES
    again = [image for _, _, image in read_video(path)]
    for first, second in zip(sequential, again, strict=True):
        np.testing.assert_array_equal(first, second)
    # each decoded frame is closest to the frame of its own index (the encoder kept the order)
    for index, image in enumerate(sequential):
        errors = [np.abs(image.astype(int) - frame.astype(int)).mean() for frame in frames]
        assert int(np.argmin(errors)) == index


def test_h264_file_has_b_frames(video):
    path = video[0]
    if "libx264" not in path.name:
        pytest.skip("MPEG-4 Part 2 is written without B-frames")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = [packet.pts for packet in container.demux(stream) if packet.size]
    assert pts != sorted(pts)  # stored out of presentation order: seeking must reorder


def test_random_access_equals_sequential_decoding(video):
    path, _, sequential = video
    with VideoReader(path) as reader:
        assert len(reader) == NUM_FRAMES
        for index in [*range(NUM_FRAMES), 17, 3, 39, 0, -1]:  # every frame, then backwards jumps
            np.testing.assert_array_equal(reader[index], sequential[index])
        rng = np.random.default_rng(0)
        for _ in range(5):
            indices = rng.integers(0, NUM_FRAMES, size=12).tolist()
            frames = reader.get_frames(indices)
            assert len(frames) == len(indices)
            for index, frame in zip(indices, frames, strict=True):
                np.testing.assert_array_equal(frame, sequential[index])
        repeated = reader.get_frames([5, 5, 2])
        repeated[0][:] = 0  # repeats are separate arrays
        np.testing.assert_array_equal(repeated[1], sequential[5])
        assert reader.get_frames([]) == []
        with pytest.raises(IndexError, match="out of range"):
            reader.get_frames([0, NUM_FRAMES])


@pytest.mark.parametrize(
    ("init", "decode"), [(PyAVInit, PyAVDecode), (DecordInit, DecordDecode), (OpenCVInit, OpenCVDecode)]
)
def test_decoders_return_the_sequential_frames_in_frame_inds_order(video, init, decode):
    path, _, sequential = video
    rng = np.random.default_rng(1)
    frame_inds = rng.integers(0, NUM_FRAMES, size=16)
    results = init()({"filename": str(path), "start_index": 0})
    assert results["total_frames"] == NUM_FRAMES and results["avg_fps"] == pytest.approx(16.0)
    results["frame_inds"] = frame_inds
    results = decode()(results)
    assert results["video_reader"] is None
    assert results["img_shape"] == results["ori_shape"] == (48, 64)
    for index, image in zip(frame_inds, results["imgs"], strict=True):
        assert image.dtype == np.uint8 and image.shape == (48, 64, 3)
        np.testing.assert_array_equal(image, sequential[index])


def test_sampled_clip_decodes_to_its_frames(video):
    path, _, sequential = video
    results = PyAVInit()({"filename": str(path), "start_index": 0})
    np.random.seed(0)
    results = SampleFrames(clip_len=8, frame_interval=3, num_clips=2)(results)
    results = PyAVDecode()(results)
    assert len(results["imgs"]) == 16
    for index, image in zip(results["frame_inds"], results["imgs"], strict=True):
        np.testing.assert_array_equal(image, sequential[index])


def test_decoder_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        PyAVInit()({"filename": str(tmp_path / "missing.mp4")})
    with pytest.raises(ValueError, match="io_backend"):
        DecordInit(io_backend="petrel")
    with pytest.raises(KeyError, match="frame_inds"):
        PyAVDecode()({"filename": str(tmp_path / "missing.mp4")})
