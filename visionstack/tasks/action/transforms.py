"""Action recognition transforms (MMAction2's names and keys): frame sampling, decoding, multi-crop, formatting.

A video pipeline is ``sampler -> decoder -> spatial transforms -> FormatShape -> PackActionInputs``::

    SampleFrames(clip_len=8, frame_interval=4, num_clips=1)   # writes frame_inds
    PyAVInit() ; PyAVDecode()                                 # writes imgs: list of (H, W, 3) uint8 BGR
    Resize(scale=(-1, 128)) ; RandomResizedCrop(112) ; RandomFlip(0.5)
    FormatShape("NCTHW") ; PackActionInputs()

Importing this module registers the annotation kernel of ``imgs`` (a list of frames), so the shared
geometric transforms (Resize, ResizeEdge, RandomResizedCrop, CenterCrop, RandomFlip, RandomCrop, Pad)
move every frame of a clip with one drawn set of parameters; ``ColorJitter`` likewise draws once per clip.

Frame indices: samplers write ``frame_inds`` ((num_clips * clip_len,) int64) with the record's
``start_index`` added, as MMAction2: 0-based frame numbers for videos, file numbers (1-based) for raw
frames. Samplers draw from NumPy's global generator (seeded per worker by the runner), as the shared
transforms do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ...data.transforms import ImageKernel, SequenceKernel, annotation_kernels, register_annotation_kernel
from ...data.transforms.base import BaseTransform
from ...data.transforms.formatting import to_label_tensor
from ...registry import TRANSFORMS
from ...structures import DataSample, LabelData
from ...utils.image_io import read_image
from ...utils.video_io import VideoReader
from . import sampling
from .sampling import OUT_OF_BOUND_OPTIONS

__all__ = [
    "ACTION_META_KEYS",
    "DecordDecode",
    "DecordInit",
    "DenseSampleFrames",
    "FormatShape",
    "OpenCVDecode",
    "OpenCVInit",
    "PackActionInputs",
    "PyAVDecode",
    "PyAVInit",
    "RawFrameDecode",
    "SampleFrames",
    "TemporalPerturb",
    "TenCrop",
    "ThreeCrop",
]

if "imgs" not in annotation_kernels():
    register_annotation_kernel("imgs", SequenceKernel(ImageKernel()))

# The metainfo a packed action sample keeps by default.
ACTION_META_KEYS = (
    "sample_idx",
    "img_path",
    "img_shape",
    "ori_shape",
    "num_clips",
    "clip_len",
    "num_crops",
    "flip",
    "flip_direction",
    "window_seconds",
    "frames_per_view",
)


@TRANSFORMS.register()
class SampleFrames(BaseTransform):
    """Sample ``num_clips`` clips of ``clip_len`` frames, ``frame_interval`` apart (MMAction2's formulas).

    A clip spans ``clip_len * frame_interval`` frames (``(clip_len - 1) * frame_interval + 1`` in test
    mode). Training: the video is cut into ``num_clips`` equal segments and each clip starts at a
    random offset in its segment (TSN); shorter videos fall back to sorted random starts, evenly spaced
    starts, or all zeros. Test mode is deterministic: one clip centred, or ``num_clips`` starts spread
    evenly from the first to the last possible start (one frame per segment centre when
    ``clip_len == 1``). Indices past the end wrap around (``loop``) or repeat the clip's last frame
    (``repeat_last``).

    Writes ``frame_inds`` ((clips * clip_len,) int64, ``start_index`` added), ``clip_len``,
    ``frame_interval`` and ``num_clips``, the number of clips in ``frame_inds`` (MMAction2 writes the
    argument, which differs with ``twice_sample``).

    Args:
        clip_len: frames per clip.
        frame_interval: the step between a clip's frames.
        num_clips: clips per video.
        temporal_jitter: add a random offset in ``[0, frame_interval)`` to every index.
        twice_sample: test mode: also sample the clips without the half-segment shift (TSM).
        out_of_bound_opt: ``loop`` or ``repeat_last``.
        test_mode: deterministic test sampling.
        keep_tail_frames: training: spread the clips over the whole video with float segments, so
            the last frames can be sampled too.
        target_fps: resample to this frame rate (by the record's ``avg_fps``; none when it is absent):
            a clip spans ``clip_len * frame_interval * fps / target_fps`` frames, picked evenly.
    """

    def __init__(
        self,
        clip_len: int,
        frame_interval: int = 1,
        num_clips: int = 1,
        temporal_jitter: bool = False,
        twice_sample: bool = False,
        out_of_bound_opt: str = "loop",
        test_mode: bool = False,
        keep_tail_frames: bool = False,
        target_fps: float | None = None,
    ) -> None:
        name = type(self).__name__
        if out_of_bound_opt not in OUT_OF_BOUND_OPTIONS:
            raise ValueError(
                f"{name}: out_of_bound_opt must be one of {OUT_OF_BOUND_OPTIONS}, got {out_of_bound_opt!r}"
            )
        if min(clip_len, frame_interval, num_clips) < 1:
            raise ValueError(
                f"{name}: clip_len ({clip_len}), frame_interval ({frame_interval}) and num_clips "
                f"({num_clips}) must be >= 1"
            )
        if test_mode and twice_sample and clip_len > 1 and num_clips == 1:
            # MMAction2 divides by num_clips - 1 here; refuse rather than divide by zero
            raise ValueError(f"{name}: twice_sample with clip_len > 1 needs num_clips >= 2")
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)
        self.num_clips = int(num_clips)
        self.temporal_jitter = temporal_jitter
        self.twice_sample = twice_sample
        self.out_of_bound_opt = out_of_bound_opt
        self.test_mode = test_mode
        self.keep_tail_frames = keep_tail_frames
        self.target_fps = target_fps

    def clip_span(self, fps_scale_ratio: float = 1.0) -> float:
        """The number of frames one clip covers (``ori_clip_len`` in MMAction2)."""
        return sampling.clip_span(
            self.clip_len, self.frame_interval, self.test_mode, self.target_fps, fps_scale_ratio
        )

    def train_offsets(self, num_frames: int, span: float) -> np.ndarray:
        """The (num_clips,) random start frames of the clips in training."""
        return sampling.train_offsets(num_frames, span, self.num_clips, self.keep_tail_frames)

    def test_offsets(self, num_frames: int, span: float) -> np.ndarray:
        """The deterministic start frames of the clips in test mode (twice as many with ``twice_sample``)."""
        return sampling.test_offsets(
            num_frames, span, self.clip_len, self.num_clips, self.twice_sample, self.target_fps
        )

    def clip_offsets(self, num_frames: int, span: float) -> np.ndarray:
        """The start frames of the clips (training or test mode)."""
        return self.test_offsets(num_frames, span) if self.test_mode else self.train_offsets(num_frames, span)

    def transform(self, results: dict) -> dict:
        total_frames = int(results["total_frames"])
        if total_frames <= 0:
            raise ValueError(f"{type(self).__name__}: the video has no frames (total_frames={total_frames})")
        fps = results.get("avg_fps")
        ratio = fps / self.target_fps if self.target_fps is not None and fps else 1.0
        span = self.clip_span(ratio)
        offsets = self.clip_offsets(total_frames, span)
        frame_inds = sampling.frame_indices(
            offsets,
            total_frames,
            self.clip_len,
            self.frame_interval,
            self.out_of_bound_opt,
            span,
            self.target_fps,
            self.temporal_jitter,
        )
        results["frame_inds"] = frame_inds + int(results.get("start_index", 0))
        results["clip_len"] = self.clip_len
        results["frame_interval"] = self.frame_interval
        results["num_clips"] = len(offsets)
        # frames one view of a 2D model takes: twice_sample gives two views of num_clips segments each
        results["frames_per_view"] = self.num_clips * self.clip_len
        return results


@TRANSFORMS.register()
class DenseSampleFrames(SampleFrames):
    """Dense sampling (I3D / non-local): ``num_clips`` clips, ``sample_range // num_clips`` frames apart,
    inside a window of ``sample_range`` frames at a random start (MMAction2's formulas).

    Test mode takes ``num_sample_positions`` evenly spaced window starts, so it yields
    ``num_sample_positions * num_clips`` clips (``num_clips`` in the results counts them all).

    Args:
        sample_range: the window, in frames.
        num_sample_positions: window starts in test mode.
        *args, **kwargs: the :class:`SampleFrames` arguments (``target_fps`` is ignored).
    """

    def __init__(
        self, *args: Any, sample_range: int = 64, num_sample_positions: int = 10, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.target_fps = None  # MMAction2's dense sampling has no frame-rate resampling
        self.sample_range = int(sample_range)
        self.num_sample_positions = int(num_sample_positions)

    def clip_span(self, fps_scale_ratio: float = 1.0) -> float:
        return self.clip_len * self.frame_interval

    def train_offsets(self, num_frames: int, span: float) -> np.ndarray:
        positions = max(1, 1 + num_frames - self.sample_range)
        interval = self.sample_range // self.num_clips
        start = 0 if positions == 1 else np.random.randint(0, positions - 1)
        return (np.arange(self.num_clips) * interval + start) % num_frames

    def test_offsets(self, num_frames: int, span: float) -> np.ndarray:
        positions = max(1, 1 + num_frames - self.sample_range)
        interval = self.sample_range // self.num_clips
        starts = np.linspace(0, positions - 1, num=self.num_sample_positions, dtype=int)
        base = np.arange(self.num_clips) * interval
        return np.concatenate([(base + start) % num_frames for start in starts])


@TRANSFORMS.register()
class TemporalPerturb(BaseTransform):
    """Change the order of the frames inside each sampled clip (for temporal sensitivity analysis).

    A clip is ``clip_len`` frames; with ``clip_len == 1`` (TSN/TSM's segments, one frame each) the segments of
    the sample together are the clip, since the model sees them as one sequence. Put it right after a sampler
    (it edits ``frame_inds``, before any frame is decoded):

    * ``none``: no change;
    * ``shuffle``: each clip's frames in a random order, drawn from a generator seeded by
      ``(seed, sample_idx)``, so the same video gets the same shuffle on every run;
    * ``reverse``: each clip played backwards;
    * ``freeze``: every frame of a clip replaced by the clip's middle frame (``clip[clip_len // 2]``).

    A model that scores the same under ``shuffle`` or ``reverse`` ignores motion order.

    Args:
        mode: ``none``, ``shuffle``, ``reverse`` or ``freeze``.
        seed: the seed of the shuffles (combined with ``sample_idx``; 0 when the results have none).
    """

    MODES = ("none", "shuffle", "reverse", "freeze")

    def __init__(self, mode: str = "none", seed: int = 0) -> None:
        if mode not in self.MODES:
            raise ValueError(f"TemporalPerturb: mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode
        self.seed = int(seed)

    def transform(self, results: dict) -> dict:
        if "imgs" in results:
            raise ValueError(
                "TemporalPerturb: the frames are already decoded; put it right after the sampler"
            )
        inds = np.asarray(results["frame_inds"])
        clip_len = int(results.get("clip_len") or len(inds))
        clip_len = len(inds) if clip_len == 1 else clip_len  # segments of one frame: one sequence
        if len(inds) % clip_len:
            raise ValueError(f"TemporalPerturb: {len(inds)} frame_inds are not whole clips of {clip_len}")
        clips = inds.reshape(-1, clip_len)
        if self.mode == "shuffle":
            rng = np.random.default_rng([self.seed, int(results.get("sample_idx", 0))])
            clips = np.stack([clip[rng.permutation(clip_len)] for clip in clips])
        elif self.mode == "reverse":
            clips = clips[:, ::-1]
        elif self.mode == "freeze":
            clips = np.repeat(clips[:, clip_len // 2 : clip_len // 2 + 1], clip_len, axis=1)
        results["frame_inds"] = np.ascontiguousarray(clips).reshape(-1)
        results["temporal_perturb"] = self.mode
        return results


def _frame_inds(results: dict, owner: str) -> np.ndarray:
    if "frame_inds" not in results:
        raise KeyError(f"{owner}: the results have no `frame_inds`; put a sampler (SampleFrames ...) first")
    return np.asarray(results["frame_inds"]).reshape(-1).astype(np.int64)


def _set_frames(results: dict, imgs: list[np.ndarray]) -> dict:
    if not imgs:
        raise ValueError("no frames were decoded (empty frame_inds)")
    results["imgs"] = imgs
    results["img_shape"] = tuple(imgs[0].shape[:2])
    results["ori_shape"] = tuple(imgs[0].shape[:2])
    return results


@TRANSFORMS.register()
class PyAVInit(BaseTransform):
    """Open ``results["filename"]`` with :class:`~visionstack.utils.video_io.VideoReader` (PyAV).

    Writes ``video_reader``, ``total_frames`` (counted from the packets, so exact) and ``avg_fps``. A record
    with ``frame_window = (first, count)`` (``infer``'s windows over a long video) is sampled as if the video
    were only those frames: ``start_index = first`` and ``total_frames = count``.

    Args:
        io_backend: only ``disk``.
        **kwargs: accepted for MMAction2 configs (file-client options); unused.
    """

    def __init__(self, io_backend: str = "disk", **kwargs: Any) -> None:
        if io_backend != "disk":
            raise ValueError(
                f"{type(self).__name__}: only io_backend='disk' is supported, got {io_backend!r}"
            )
        self.io_backend = io_backend
        self.kwargs = kwargs

    def transform(self, results: dict) -> dict:
        reader = VideoReader(results["filename"])
        if len(reader) == 0:
            reader.close()
            raise ValueError(f"{type(self).__name__}: video {results['filename']!r} has no frames")
        results["video_reader"] = reader
        results["total_frames"] = len(reader)
        results["avg_fps"] = reader.info.fps
        window = results.get("frame_window")
        if window is not None:
            first, count = int(window[0]), int(window[1])
            if first < 0 or count < 1 or first + count > len(reader):
                reader.close()
                raise ValueError(
                    f"{type(self).__name__}: frame_window {tuple(window)} lies outside the {len(reader)} frames "
                    f"of {results['filename']}"
                )
            results["start_index"], results["total_frames"] = first, count
        return results


@TRANSFORMS.register()
class PyAVDecode(BaseTransform):
    """Decode the frames ``frame_inds`` of the opened video, frame-accurately, as BGR.

    One seek and one forward decode per call (:meth:`VideoReader.get_frames`); the reader is closed
    afterwards. Writes ``imgs`` (list of (H, W, 3) uint8 BGR frames in ``frame_inds`` order),
    ``img_shape`` and ``ori_shape``. Without a ``video_reader`` it opens ``filename`` itself.

    Args:
        multi_thread: accepted for MMAction2 configs; the reader always decodes with FFmpeg threads.
        mode: ``accurate`` or ``efficient``; both decode the exact frames here.
    """

    def __init__(self, multi_thread: bool = False, mode: str = "accurate") -> None:
        if mode not in ("accurate", "efficient"):
            raise ValueError(f"{type(self).__name__}: mode must be 'accurate' or 'efficient', got {mode!r}")
        self.multi_thread = multi_thread
        self.mode = mode

    def transform(self, results: dict) -> dict:
        inds = _frame_inds(results, type(self).__name__)
        reader = results.get("video_reader")
        reader = VideoReader(results["filename"]) if reader is None else reader
        try:
            imgs = reader.get_frames(inds)
        finally:
            reader.close()
            results["video_reader"] = None
        return _set_frames(results, imgs)


@TRANSFORMS.register()
class DecordInit(PyAVInit):
    """MMAction2's ``DecordInit`` name, so its configs run: opens the video with PyAV (decord is not used).

    Args:
        io_backend: only ``disk``.
        num_threads: accepted; FFmpeg picks its threads.
        **kwargs: accepted, unused.
    """

    def __init__(self, io_backend: str = "disk", num_threads: int = 1, **kwargs: Any) -> None:
        super().__init__(io_backend, **kwargs)
        self.num_threads = num_threads


@TRANSFORMS.register()
class DecordDecode(PyAVDecode):
    """MMAction2's ``DecordDecode`` name: exactly :class:`PyAVDecode` (decord is not used; frames are BGR).

    Args:
        mode: ``accurate`` or ``efficient``; both decode the exact frames.
    """

    def __init__(self, mode: str = "accurate") -> None:
        super().__init__(mode=mode)


@TRANSFORMS.register()
class OpenCVInit(PyAVInit):
    """MMAction2's ``OpenCVInit`` name: exactly :class:`PyAVInit` (OpenCV's reader is not used)."""


@TRANSFORMS.register()
class OpenCVDecode(PyAVDecode):
    """MMAction2's ``OpenCVDecode`` name: exactly :class:`PyAVDecode` (frames are BGR)."""

    def __init__(self) -> None:
        super().__init__()


@TRANSFORMS.register()
class RawFrameDecode(BaseTransform):
    """Read the frame files ``frame_dir / filename_tmpl.format(index + offset)`` for ``frame_inds``.

    A repeated index is read once (later copies are copied arrays). Writes ``imgs`` (list of
    (H, W, 3) uint8 BGR), ``img_shape`` and ``ori_shape``. Only the ``RGB`` modality.

    Args:
        io_backend: only ``disk``.
        decoding_backend: accepted for MMAction2 configs; OpenCV decodes.
        **kwargs: accepted, unused.
    """

    def __init__(self, io_backend: str = "disk", decoding_backend: str = "cv2", **kwargs: Any) -> None:
        if io_backend != "disk":
            raise ValueError(f"RawFrameDecode: only io_backend='disk' is supported, got {io_backend!r}")
        self.io_backend = io_backend
        self.decoding_backend = decoding_backend
        self.kwargs = kwargs

    def transform(self, results: dict) -> dict:
        modality = results.get("modality", "RGB")
        if modality != "RGB":
            raise ValueError(f"RawFrameDecode: only the RGB modality is supported, got {modality!r}")
        template = results.get("filename_tmpl", "img_{:05d}.jpg")
        offset = int(results.get("offset", 0))
        cache: dict[int, np.ndarray] = {}
        imgs = []
        for index in _frame_inds(results, "RawFrameDecode"):
            if index in cache:
                imgs.append(cache[index].copy())
                continue
            cache[index] = read_image(
                os.path.join(results["frame_dir"], template.format(int(index) + offset))
            )
            imgs.append(cache[index])
        return _set_frames(results, imgs)


def _crop_size(crop_size: int | Sequence[int], owner: str) -> tuple[int, int]:
    size = (crop_size, crop_size) if isinstance(crop_size, (int, np.integer)) else tuple(crop_size)
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"{owner}: crop_size must be a positive int or a (w, h) pair, got {crop_size!r}")
    return int(size[0]), int(size[1])


def _multi_crop(results: dict, boxes: list[tuple[int, int]], size: tuple[int, int], flip: bool) -> dict:
    """Cut every frame at each top-left corner of ``boxes``; crops follow one another (crop-major)."""
    crop_w, crop_h = size
    imgs, crop_boxes = [], []
    for x, y in boxes:
        crops = [img[y : y + crop_h, x : x + crop_w] for img in results["imgs"]]
        views = [crops, [np.ascontiguousarray(crop[:, ::-1]) for crop in crops]] if flip else [crops]
        for view in views:
            imgs.extend(view)
            crop_boxes.extend([(x, y, x + crop_w, y + crop_h)] * len(view))
    results["imgs"] = imgs
    results["crop_bbox"] = np.asarray(crop_boxes, dtype=np.int64)
    results["img_shape"] = (crop_h, crop_w)
    results["num_crops"] = int(results.get("num_crops", 1)) * len(boxes) * (2 if flip else 1)
    return results


@TRANSFORMS.register()
class ThreeCrop(BaseTransform):
    """Three crops along the long side of every frame (test time): start, end, middle (MMAction2).

    The crop must span the frame's full height (crops move left to right) or full width (top to
    bottom), e.g. ``Resize(scale=(-1, 256))`` then ``ThreeCrop(256)``. The output holds the three crops'
    frames one crop after another (3x the frames) and ``num_crops`` is multiplied by 3. Only ``imgs``
    is cropped.

    Args:
        crop_size: ``(w, h)`` of a crop (an int means square).
    """

    def __init__(self, crop_size: int | tuple[int, int]) -> None:
        self.crop_size = _crop_size(crop_size, "ThreeCrop")

    def transform(self, results: dict) -> dict:
        height, width = results["imgs"][0].shape[:2]
        crop_w, crop_h = self.crop_size
        if crop_h == height and crop_w <= width:
            step = (width - crop_w) // 2
            boxes = [(0, 0), (2 * step, 0), (step, 0)]
        elif crop_w == width and crop_h <= height:
            step = (height - crop_h) // 2
            boxes = [(0, 0), (0, 2 * step), (0, step)]
        else:
            raise ValueError(
                f"ThreeCrop: a {crop_w}x{crop_h} crop must span the full height or width of the "
                f"{width}x{height} frames (resize the short side to the crop size first)"
            )
        return _multi_crop(results, boxes, self.crop_size, flip=False)


@TRANSFORMS.register()
class TenCrop(BaseTransform):
    """Ten crops of every frame (test time): the four corners and the centre, each also flipped (MMAction2).

    Order: upper left, upper right, lower left, lower right, centre, each followed by its horizontal
    mirror; corners sit at multiples of ``(size - crop) // 4``. The output holds 10x the frames, one
    crop after another, and ``num_crops`` is multiplied by 10. Only ``imgs`` is cropped.

    Args:
        crop_size: ``(w, h)`` of a crop (an int means square).
    """

    def __init__(self, crop_size: int | tuple[int, int]) -> None:
        self.crop_size = _crop_size(crop_size, "TenCrop")

    def transform(self, results: dict) -> dict:
        height, width = results["imgs"][0].shape[:2]
        crop_w, crop_h = self.crop_size
        if crop_w > width or crop_h > height:
            raise ValueError(
                f"TenCrop: the {crop_w}x{crop_h} crop is larger than the {width}x{height} frames"
            )
        w_step, h_step = (width - crop_w) // 4, (height - crop_h) // 4
        boxes = [(0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step), (2 * w_step, 2 * h_step)]
        return _multi_crop(results, boxes, self.crop_size, flip=True)


@TRANSFORMS.register()
class FormatShape(BaseTransform):
    """Stack the clip frames into the model's layout (frames are crop-major, then clip, then time).

    * ``NCHW`` (2D models): (num_crops * num_clips * clip_len, C, H, W);
    * ``NCTHW`` (3D models): (num_crops * num_clips, C, clip_len, H, W).

    The dtype is kept (uint8 stays uint8; the data preprocessor normalises). Writes ``imgs`` (an
    array) and ``input_shape``.

    Args:
        input_format: ``NCHW`` or ``NCTHW``.
        collapse: drop the leading axis when it is 1 (one clip, one crop).
    """

    FORMATS = ("NCHW", "NCTHW")

    def __init__(self, input_format: str, collapse: bool = False) -> None:
        if input_format not in self.FORMATS:
            raise ValueError(f"FormatShape: input_format must be one of {self.FORMATS}, got {input_format!r}")
        self.input_format = input_format
        self.collapse = collapse

    def transform(self, results: dict) -> dict:
        imgs = np.stack(results["imgs"]) if not isinstance(results["imgs"], np.ndarray) else results["imgs"]
        if imgs.ndim == 3:  # single-channel frames
            imgs = imgs[..., None]
        if self.input_format == "NCHW":
            imgs = imgs.transpose(0, 3, 1, 2)
        else:
            clip_len = int(results["clip_len"])
            num_clips = int(results.get("num_clips", 1))
            if len(imgs) % (num_clips * clip_len):
                raise ValueError(
                    f"FormatShape: {len(imgs)} frames are not whole sets of num_clips={num_clips} x "
                    f"clip_len={clip_len}"
                )
            imgs = imgs.reshape((-1, num_clips, clip_len) + imgs.shape[1:])  # crops, clips, T, H, W, C
            imgs = imgs.transpose(0, 1, 5, 2, 3, 4).reshape((-1, imgs.shape[-1], clip_len) + imgs.shape[3:5])
        if self.collapse:
            if imgs.shape[0] != 1:
                raise ValueError(
                    f"FormatShape: collapse=True needs one clip and one crop, got {imgs.shape[0]}"
                )
            imgs = imgs[0]
        results["imgs"] = np.ascontiguousarray(imgs)
        results["input_shape"] = results["imgs"].shape
        return results


@TRANSFORMS.register()
class PackActionInputs(BaseTransform):
    """Make ``{"inputs": tensor, "data_samples": DataSample}`` from a clip or a skeleton sequence.

    ``inputs`` is ``imgs`` (after :class:`FormatShape`; a list of frames is stacked to (N, H, W, C)),
    or ``keypoint`` (float32, after ``FormatGCNInput``) when there is no ``imgs``; the dtype is kept.
    ``label`` (an int >= 0) becomes ``gt_label = LabelData(label=(1,) int64)``; a sample without one
    (-1 or absent) gets no ``gt_label``. Metainfo: ``meta_keys`` found in the results, ``img_path``
    (the video's ``filename`` or the ``frame_dir``) and ``num_crops`` (1 unless a multi-crop set it).

    Args:
        meta_keys: results keys copied into the sample's metainfo (missing ones are skipped).
    """

    def __init__(self, meta_keys: Sequence[str] = ACTION_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        if results.get("imgs") is not None:
            imgs = results["imgs"]
            inputs = torch.from_numpy(
                np.ascontiguousarray(imgs if isinstance(imgs, np.ndarray) else np.stack(imgs))
            )
        elif results.get("keypoint") is not None:
            inputs = torch.from_numpy(np.ascontiguousarray(results["keypoint"], dtype=np.float32))
        else:
            raise KeyError(
                f"PackActionInputs: the results have neither `imgs` nor `keypoint` (keys: {sorted(results)}); "
                "put a decoder (PyAVDecode, RawFrameDecode, PoseDecode) first"
            )
        extra = {"img_path": results.get("filename") or results.get("frame_dir"), "num_crops": 1}
        available = {**{k: v for k, v in extra.items() if v is not None}, **results}
        sample = DataSample(metainfo={key: available[key] for key in self.meta_keys if key in available})
        label = results.get("label")
        if label is not None and int(np.asarray(label).reshape(-1)[0]) >= 0:
            sample.gt_label = LabelData(label=to_label_tensor(label))
        return {"inputs": inputs, "data_samples": sample}
