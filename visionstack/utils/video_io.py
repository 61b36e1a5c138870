"""Frame-accurate video reading and writing with PyAV (FFmpeg); NumPy + OpenCV, no PyTorch.

Frames are numbered 0-based in presentation order (``index``). A frame's
time is its presentation timestamp ``(pts - start) * time_base`` in seconds, so variable frame rate videos and
streams with gaps keep their real timing. Random access does not trust the container's frame rate:
:class:`VideoReader` lists every packet's pts once (demuxing only, no decoding), sorts them into presentation
order, and ``reader[index]`` seeks to the keyframe at or before that pts and decodes forward until the frame
whose pts equals it, so the frame returned is exactly the ``index``-th one even with B-frames.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

__all__ = [
    "VideoInfo",
    "VideoReader",
    "read_frame",
    "read_video",
    "video_info",
    "write_video",
]


@dataclass
class VideoInfo:
    """A video stream's size, frame count (counted from packets), mean frame rate and duration (seconds)."""

    width: int
    height: int
    num_frames: int
    fps: float
    duration: float
    codec: str


class VideoReader:
    """Sequential and frame-accurate random reading of a video's first video stream.

    ``len(reader)`` frames; ``reader[index]`` is the (H, W, 3) uint8 BGR image of frame ``index``;
    ``reader.timestamps`` the (N,) float64 seconds of every frame; iteration yields
    ``(index, seconds, image)``. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"VideoReader: no video file {self.path}")
        self._container = av.open(str(self.path))
        if not self._container.streams.video:
            raise ValueError(f"VideoReader: {self.path} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._pts = self._packet_pts()
        start = (
            self._stream.start_time
            if self._stream.start_time is not None
            else self._pts[0]
            if len(self._pts)
            else 0
        )
        self._start = int(start)
        self._index_of_pts = {int(pts): index for index, pts in enumerate(self._pts)}

    def _packet_pts(self) -> np.ndarray:
        """Every frame's pts in presentation order, from one demux pass (packets carry pts, no decoding)."""
        pts = [
            packet.pts
            for packet in self._container.demux(self._stream)
            if packet.pts is not None and packet.size
        ]
        self._container.seek(0)
        return np.sort(np.asarray(pts, dtype=np.int64))

    @property
    def timestamps(self) -> np.ndarray:
        """(N,) float64 seconds of each frame from the stream start."""
        return (self._pts - self._start).astype(np.float64) * float(self._stream.time_base)

    @property
    def info(self) -> VideoInfo:
        stamps = self.timestamps
        count = len(stamps)
        duration = float(stamps[-1] - stamps[0]) if count > 1 else 0.0
        fps = (count - 1) / duration if duration > 0 else float(self._stream.average_rate or 0)
        ctx = self._stream.codec_context
        return VideoInfo(ctx.width, ctx.height, count, fps, duration, ctx.name)

    def __len__(self) -> int:
        return len(self._pts)

    def _seconds(self, pts: int) -> float:
        return float((pts - self._start) * self._stream.time_base)

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        self._container.seek(0)
        index = 0
        for frame in self._container.decode(self._stream):
            pts = frame.pts
            index = self._index_of_pts.get(int(pts), index) if pts is not None else index
            seconds = self._seconds(pts) if pts is not None else index / float(self._stream.average_rate or 1)
            yield index, seconds, frame.to_ndarray(format="bgr24")
            index += 1

    def __getitem__(self, index: int) -> np.ndarray:
        count = len(self._pts)
        if not -count <= index < count:
            raise IndexError(f"VideoReader: frame {index} out of range for {count} frames of {self.path}")
        target = int(self._pts[index])
        # seek lands on the keyframe at or before target (backward=True); decode forward to the exact pts
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        for frame in self._container.decode(self._stream):
            if frame.pts is None:
                continue
            if frame.pts == target:
                return frame.to_ndarray(format="bgr24")
            if frame.pts > target:
                break
        raise RuntimeError(f"VideoReader: could not decode frame {index} (pts {target}) of {self.path}")

    def get_frames(self, indices: Iterable[int]) -> list[np.ndarray]:
        """The (H, W, 3) uint8 BGR images of frames ``indices``, in the order asked (repeats allowed).

        One seek to the keyframe at or before the earliest frame asked, then one forward decode up
        to the latest, keeping the frames asked for: a clip costs one seek instead of one per frame.
        Negative indices count from the end, as in ``reader[index]``.

        Raises:
            IndexError: an index is out of range.
            RuntimeError: a frame asked for was not decoded (a damaged stream).
        """
        count = len(self._pts)
        asked = [int(index) for index in indices]
        bad = [index for index in asked if not -count <= index < count]
        if bad:
            raise IndexError(f"VideoReader: frames {bad[:5]} out of range for {count} frames of {self.path}")
        if not asked:
            return []
        wanted = {int(self._pts[index]) for index in asked}
        last = max(wanted)
        self._container.seek(min(wanted), stream=self._stream, backward=True, any_frame=False)
        decoded: dict[int, np.ndarray] = {}
        for frame in self._container.decode(self._stream):
            if frame.pts is None:
                continue
            if frame.pts in wanted:
                decoded[int(frame.pts)] = frame.to_ndarray(format="bgr24")
            if frame.pts >= last:
                break
        missing = sorted(index % count for index in asked if int(self._pts[index]) not in decoded)
        if missing:
            raise RuntimeError(f"VideoReader: could not decode frames {missing[:5]} of {self.path}")
        # a repeated index shares one decoded array; copy so that callers may edit frames in place
        seen: set[int] = set()
        frames = []
        for index in asked:
            pts = int(self._pts[index])
            frames.append(decoded[pts] if pts not in seen else decoded[pts].copy())
            seen.add(pts)
        return frames

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_video(path: str | os.PathLike) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, seconds, image)`` for every frame: 0-based index, pts time, (H, W, 3) uint8 BGR."""
    with VideoReader(path) as reader:
        yield from reader


def read_frame(path: str | os.PathLike, index: int) -> np.ndarray:
    """The (H, W, 3) uint8 BGR image of frame ``index`` (0-based, presentation order), frame-accurate."""
    with VideoReader(path) as reader:
        return reader[index]


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Size, frame count, mean frame rate, duration and codec of a video."""
    with VideoReader(path) as reader:
        return reader.info


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float,
    codec: str = "mpeg4",
    timestamps: Iterable[float] | None = None,
    quality: int = 4,
    gop_size: int = 12,
) -> Path:
    """Encode (H, W, 3) uint8 BGR frames to a video (yuv420p); odd sides are padded by one edge pixel.

    Args:
        path: the output file (its extension picks the container, e.g. ``.mp4``).
        frames: the images, all the same size.
        fps: the nominal frame rate.
        codec: ``"mpeg4"`` or ``"libx264"`` (any FFmpeg encoder PyAV has).
        timestamps: optional seconds per frame (increasing) for variable frame rate; default ``i / fps``.
        quality: mpeg4's qscale (1 best .. 31) or x264's crf / 6; lower is better.
        gop_size: frames between keyframes (a random read decodes at most this many frames).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    time_base = Fraction(1, 1000) if timestamps is not None else 1 / rate
    stamps = iter(timestamps) if timestamps is not None else None
    with av.open(str(path), mode="w") as container:
        stream = None
        for number, image in enumerate(frames):
            image = np.ascontiguousarray(image)
            if stream is None:
                height, width = image.shape[:2]
                stream = container.add_stream(codec, rate=rate)
                stream.width, stream.height = width + width % 2, height + height % 2
                stream.pix_fmt = "yuv420p"
                stream.time_base = time_base
                stream.codec_context.time_base = time_base
                if codec == "libx264":
                    stream.options = {"crf": str(6 * quality)}
                else:
                    stream.codec_context.qscale = quality  # also sets FFmpeg's fixed-quality flag
                stream.codec_context.gop_size = gop_size
            if image.shape[0] % 2 or image.shape[1] % 2:
                image = cv2.copyMakeBorder(
                    image, 0, image.shape[0] % 2, 0, image.shape[1] % 2, cv2.BORDER_REPLICATE
                )
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            seconds = next(stamps) if stamps is not None else None
            frame.pts = int(round(seconds / time_base)) if seconds is not None else number
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        if stream is None:
            raise ValueError(f"write_video: no frames to write to {path}")
        container.mux(stream.encode())
    return path
