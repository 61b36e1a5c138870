"""Videos as MOT sequences (the reading and writing itself is :mod:`visionstack.utils.video_io`).

Frames are numbered 0-based in presentation order there; a MOT frame number is ``index + 1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from ...utils.video_io import VideoInfo, VideoReader, read_frame, read_video, video_info, write_video
from .mot_format import SequenceInfo, write_seqinfo, write_timestamps

__all__ = [
    "VideoInfo",
    "VideoReader",
    "read_frame",
    "read_video",
    "video_info",
    "video_to_sequence",
    "write_video",
]


def video_to_sequence(
    video_path: str | os.PathLike, seq_dir: str | os.PathLike, name: str | None = None, im_ext: str = ".jpg"
) -> SequenceInfo:
    """Decode a video into a MOT sequence folder: ``img1/000001.jpg ...``, ``seqinfo.ini`` and
    ``timestamps.txt`` (each frame's pts time, so variable frame rate survives)."""
    seq_dir = Path(seq_dir)
    (seq_dir / "img1").mkdir(parents=True, exist_ok=True)
    stamps = {}
    with VideoReader(video_path) as reader:
        info = reader.info
        for index, seconds, image in reader:
            frame_path = seq_dir / "img1" / f"{index + 1:06d}{im_ext}"
            if not cv2.imwrite(str(frame_path), image):
                raise OSError(f"video_to_sequence: could not write {frame_path}")
            stamps[index + 1] = seconds
    seq_info = SequenceInfo(
        name=name or Path(video_path).stem,
        frame_rate=round(info.fps, 3) if info.fps else 25.0,
        seq_length=len(stamps),
        im_width=info.width,
        im_height=info.height,
        im_ext=im_ext,
    )
    write_seqinfo(seq_dir, seq_info)
    write_timestamps(seq_dir / "timestamps.txt", stamps)
    return seq_info
