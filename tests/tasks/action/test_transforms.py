"""Action transforms: MMAction2's sampling formulas, one draw per clip, multi-crop, formatting and packing."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest
import torch

from visionstack.data.transforms import (
    CenterCrop,
    ColorJitter,
    Pad,
    RandomCrop,
    RandomFlip,
    RandomResizedCrop,
    Resize,
    ResizeEdge,
)
from visionstack.registry import TRANSFORMS, build
from visionstack.tasks.action.transforms import (
    DenseSampleFrames,
    FormatShape,
    PackActionInputs,
    SampleFrames,
    TemporalPerturb,
    TenCrop,
    ThreeCrop,
)


# ---- a slow re-statement of MMAction2's SampleFrames, one draw at a time ---------------------------
def reference_offsets(n, clip_len, interval, num_clips, test_mode, keep_tail=False, twice=False):
    if test_mode:
        if clip_len == 1:
            segment = n / num_clips
            offsets = [i * segment + segment / 2 for i in range(num_clips)]
            return offsets + ([i * segment for i in range(num_clips)] if twice else [])
        span = (clip_len - 1) * interval + 1
        max_offset = max(n - span, 0)
        count = num_clips * (2 if twice else 1)
        if count == 1:
            return [max_offset // 2]
        return [round(i * max_offset / (num_clips - 1)) for i in range(count)]
    span = clip_len * interval
    if keep_tail:
        segment = (n - span + 1) / num_clips
        if n > span - 1:
            return [int(i * segment + np.random.uniform(0, segment)) for i in range(num_clips)]
        return [0] * num_clips
    segment = (n - span + 1) // num_clips
    if segment > 0:
        return [i * segment + np.random.randint(segment) for i in range(num_clips)]
    if n > max(num_clips, span):
        return sorted(np.random.randint(n - span + 1) for _ in range(num_clips))
    if segment == 0:
        return [round(i * (n - span + 1) / num_clips) for i in range(num_clips)]
    return [0] * num_clips


def reference_frame_inds(n, clip_len, interval, num_clips, test_mode, option, start, jitter=False, **kwargs):
    offsets = reference_offsets(n, clip_len, interval, num_clips, test_mode, **kwargs)
    clips = [[offset + t * interval for t in range(clip_len)] for offset in offsets]
    if jitter:
        clips = [[value + np.random.randint(interval) for value in clip] for clip in clips]
    result = []
    for clip in clips:
        if option == "loop":
            clip = [value % n for value in clip]
        else:
            last = max([value for value in clip if value < n], default=0)
            clip = [value if value < n else last for value in clip]
        result.extend(int(value) + start for value in clip)
    return result


GRID = list(itertools.product([1, 2, 3, 5, 7, 8, 16, 31, 64], [1, 2, 4, 8], [1, 2, 3], [1, 3, 5]))


@pytest.mark.parametrize("option", ["loop", "repeat_last"])
@pytest.mark.parametrize("keep_tail", [False, True])
def test_sample_frames_train_matches_mmaction2(option, keep_tail):
    for n, clip_len, interval, num_clips in GRID:
        for jitter in (False, True):
            sampler = SampleFrames(clip_len, interval, num_clips, temporal_jitter=jitter, out_of_bound_opt=option,
                                   keep_tail_frames=keep_tail)  # fmt: skip
            for seed in range(3):
                np.random.seed(seed)
                out = sampler({"total_frames": n, "start_index": 1})
                np.random.seed(seed)
                expected = reference_frame_inds(n, clip_len, interval, num_clips, False, option, 1, jitter,
                                                keep_tail=keep_tail)  # fmt: skip
                case = (n, clip_len, interval, num_clips, jitter, seed)
                assert out["frame_inds"].tolist() == expected, case
                assert out["frame_inds"].dtype == np.int64
                assert out["num_clips"] == num_clips and out["clip_len"] == clip_len
                assert out["frame_inds"].min() >= 1 and out["frame_inds"].max() <= n


@pytest.mark.parametrize("option", ["loop", "repeat_last"])
def test_sample_frames_test_mode_matches_mmaction2_and_is_deterministic(option):
    for n, clip_len, interval, num_clips in GRID:
        twice_options = (False, True) if (clip_len == 1 or num_clips > 1) else (False,)
        for twice in twice_options:
            sampler = SampleFrames(clip_len, interval, num_clips, twice_sample=twice, out_of_bound_opt=option,
                                   test_mode=True)  # fmt: skip
            np.random.seed(0)
            first = sampler({"total_frames": n, "start_index": 0})["frame_inds"]
            np.random.seed(1)
            second = sampler({"total_frames": n, "start_index": 0})["frame_inds"]
            expected = reference_frame_inds(n, clip_len, interval, num_clips, True, option, 0, twice=twice)
            assert first.tolist() == second.tolist() == expected, (n, clip_len, interval, num_clips, twice)
    assert sampler({"total_frames": 9, "start_index": 0})["num_clips"] == 2 * 5


def test_sample_frames_hand_checked_values():
    # test mode, one clip of 4 frames every 2 in 20 frames: span 7, centred start (20 - 7) // 2 = 6
    out = SampleFrames(4, 2, test_mode=True)({"total_frames": 20, "start_index": 0})
    assert out["frame_inds"].tolist() == [6, 8, 10, 12]
    # 5 frames, clip of 4 every 2: indices 0 2 4 6 -> loop 0 2 4 1, repeat_last 0 2 4 4
    loop = SampleFrames(4, 2, test_mode=True)({"total_frames": 5, "start_index": 0})["frame_inds"]
    last = SampleFrames(4, 2, test_mode=True, out_of_bound_opt="repeat_last")(
        {"total_frames": 5, "start_index": 0}
    )
    assert loop.tolist() == [0, 2, 4, 1] and last["frame_inds"].tolist() == [0, 2, 4, 4]
    # TSN test: 3 segments of 30 frames, the centre frame of each
    tsn = SampleFrames(1, 1, 3, test_mode=True)({"total_frames": 30, "start_index": 0})
    assert tsn["frame_inds"].tolist() == [5, 15, 25]
    # target_fps: a 30 fps video sampled at 15 fps spans twice the frames
    fps = SampleFrames(4, 1, test_mode=True, target_fps=15)(
        {"total_frames": 100, "start_index": 0, "avg_fps": 30}
    )
    assert fps["frame_inds"].tolist() == [46, 48, 50, 53]


def test_sample_frames_argument_errors():
    with pytest.raises(ValueError, match="out_of_bound_opt"):
        SampleFrames(4, out_of_bound_opt="clamp")
    with pytest.raises(ValueError, match="clip_len"):
        SampleFrames(0)
    with pytest.raises(ValueError, match="twice_sample"):
        SampleFrames(4, num_clips=1, twice_sample=True, test_mode=True)
    with pytest.raises(ValueError, match="no frames"):
        SampleFrames(4)({"total_frames": 0, "start_index": 0})


def test_dense_sample_frames_matches_mmaction2():
    for n, num_clips, sample_range in itertools.product([10, 64, 65, 200], [1, 2, 4], [32, 64]):
        sampler = DenseSampleFrames(4, 2, num_clips, sample_range=sample_range)
        np.random.seed(n)
        out = sampler({"total_frames": n, "start_index": 0})["frame_inds"]
        np.random.seed(n)
        positions = max(1, 1 + n - sample_range)
        start = 0 if positions == 1 else np.random.randint(0, positions - 1)
        interval = sample_range // num_clips
        expected = [((i * interval + start) % n + t * 2) % n for i in range(num_clips) for t in range(4)]
        assert out.tolist() == expected
        test = DenseSampleFrames(
            4, 2, num_clips, sample_range=sample_range, num_sample_positions=3, test_mode=True
        )
        result = test({"total_frames": n, "start_index": 0})
        starts = np.linspace(0, positions - 1, num=3, dtype=int)
        expected = [
            ((i * interval + s) % n + t * 2) % n for s in starts for i in range(num_clips) for t in range(4)
        ]
        assert result["frame_inds"].tolist() == expected and result["num_clips"] == 3 * num_clips


def test_temporal_perturb_modes():
    base = {"frame_inds": np.arange(12, dtype=np.int64), "clip_len": 4, "num_clips": 3, "sample_idx": 7}
    assert TemporalPerturb("none")(dict(base))["frame_inds"].tolist() == list(range(12))
    reverse = TemporalPerturb("reverse")(dict(base))["frame_inds"]
    assert reverse.tolist() == [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8]
    freeze = TemporalPerturb("freeze")(dict(base))["frame_inds"]
    assert freeze.tolist() == [2] * 4 + [6] * 4 + [10] * 4
    shuffled = TemporalPerturb("shuffle", seed=3)(dict(base))["frame_inds"]
    again = TemporalPerturb("shuffle", seed=3)(dict(base))["frame_inds"]
    other_video = TemporalPerturb("shuffle", seed=3)(dict(base, sample_idx=8))["frame_inds"]
    assert shuffled.tolist() == again.tolist()
    assert shuffled.tolist() != other_video.tolist()
    for clip in range(3):  # a permutation inside each clip
        assert sorted(shuffled[clip * 4 : clip * 4 + 4].tolist()) == list(range(clip * 4, clip * 4 + 4))
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    TemporalPerturb("shuffle")(dict(base))
    assert np.array_equal(np.random.get_state()[1], before)  # the global generator is untouched
    # TSN/TSM segments (clips of one frame) are one sequence: reversed and frozen as a whole
    segments = {"frame_inds": np.arange(8, dtype=np.int64), "clip_len": 1, "num_clips": 8, "sample_idx": 0}
    assert TemporalPerturb("reverse")(dict(segments))["frame_inds"].tolist() == list(range(7, -1, -1))
    assert TemporalPerturb("freeze")(dict(segments))["frame_inds"].tolist() == [4] * 8
    assert sorted(TemporalPerturb("shuffle")(dict(segments))["frame_inds"].tolist()) == list(range(8))
    with pytest.raises(ValueError, match="mode"):
        TemporalPerturb("scramble")
    with pytest.raises(ValueError, match="after the sampler"):
        TemporalPerturb("reverse")(dict(base, imgs=[]))


# ---- one draw per clip -------------------------------------------------------------------------------
def _clip(frames=5, height=24, width=32):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(frames)]


CLIP_TRANSFORMS = [
    Resize(scale=(20, 14)),
    Resize(scale=(-1, 16)),
    ResizeEdge(16),
    RandomResizedCrop(12),
    CenterCrop(16),
    CenterCrop(40, auto_pad=True),
    RandomFlip(0.5),
    RandomCrop((12, 10)),
    Pad(size_divisor=7),
    ColorJitter(0.4, 0.4, 0.4, 0.1),
]


@pytest.mark.parametrize("transform", CLIP_TRANSFORMS, ids=lambda t: repr(t)[:40])
def test_clip_transform_equals_the_image_transform_with_the_same_draw(transform):
    frames = _clip()
    for seed in range(4):
        np.random.seed(seed)
        out = transform({"imgs": [f.copy() for f in frames], "img_shape": (24, 32), "ori_shape": (24, 32)})
        assert "img" not in out
        for frame, result in zip(frames, out["imgs"], strict=True):
            np.random.seed(seed)
            single = transform({"img": frame.copy(), "img_shape": (24, 32), "ori_shape": (24, 32)})
            np.testing.assert_array_equal(result, single["img"])
            assert tuple(out["img_shape"]) == tuple(single["img_shape"]) == result.shape[:2]


def test_resize_minus_one_keeps_the_ratio_like_mmaction2():
    out = Resize(scale=(-1, 16))({"imgs": _clip(2), "img_shape": (24, 32)})
    # MMCV's rescale with (inf, 16): factor 16 / 24, width int(32 * 2 / 3 + 0.5) = 21
    assert out["img_shape"] == (16, 21) and out["imgs"][0].shape == (16, 21, 3)


def test_color_jitter_changes_the_clip_and_keeps_single_images_working():
    frames = _clip(3)
    np.random.seed(0)
    out = ColorJitter(brightness=0.5)({"imgs": [f.copy() for f in frames]})
    assert not np.array_equal(out["imgs"][0], frames[0])
    with pytest.raises(TypeError, match="uint8"):
        ColorJitter(brightness=0.5)({"imgs": [frames[0].astype(np.float32)]})


# ---- multi-crop ----------------------------------------------------------------------------------------
def _coordinate_frames(frames, height, width):
    """Frames whose pixel (y, x) holds (x, y, frame)."""
    ys, xs = np.mgrid[0:height, 0:width]
    return [np.stack([xs, ys, np.full_like(xs, t)], axis=-1).astype(np.uint8) for t in range(frames)]


def test_three_crop_positions_and_count():
    out = ThreeCrop((8, 8))({"imgs": _coordinate_frames(2, 8, 14), "img_shape": (8, 14)})
    assert len(out["imgs"]) == 6 and out["num_crops"] == 3 and out["img_shape"] == (8, 8)
    # (14 - 8) // 2 = 3: left, right, middle; each crop holds both frames in order
    assert [int(img[0, 0, 0]) for img in out["imgs"]] == [0, 0, 6, 6, 3, 3]
    assert [int(img[0, 0, 2]) for img in out["imgs"]] == [0, 1, 0, 1, 0, 1]
    vertical = ThreeCrop(8)({"imgs": _coordinate_frames(1, 13, 8), "img_shape": (13, 8)})
    assert [int(img[0, 0, 1]) for img in vertical["imgs"]] == [0, 4, 2]
    with pytest.raises(ValueError, match="full height or width"):
        ThreeCrop(8)({"imgs": _coordinate_frames(1, 12, 12)})


def test_ten_crop_positions_flips_and_count():
    out = TenCrop(8)({"imgs": _coordinate_frames(2, 12, 16), "img_shape": (12, 16), "num_crops": 1})
    assert len(out["imgs"]) == 20 and out["num_crops"] == 10
    corners = [(0, 0), (8, 0), (0, 4), (8, 4), (4, 2)]  # steps (16 - 8) // 4 = 2, (12 - 8) // 4 = 1
    for index, (x, y) in enumerate(corners):
        plain = out["imgs"][index * 4 : index * 4 + 2]
        flipped = out["imgs"][index * 4 + 2 : index * 4 + 4]
        for frame in range(2):
            assert (int(plain[frame][0, 0, 0]), int(plain[frame][0, 0, 1])) == (x, y)
            assert int(flipped[frame][0, 0, 0]) == x + 7  # mirrored: the crop's right column first
            np.testing.assert_array_equal(flipped[frame], plain[frame][:, ::-1])
            assert int(plain[frame][0, 0, 2]) == frame
    assert out["crop_bbox"].shape == (20, 4) and out["crop_bbox"][4].tolist() == [8, 0, 16, 8]


# ---- formatting and packing ------------------------------------------------------------------------------
def _tagged(count, height=4, width=5):
    return [
        np.full((height, width, 3), index, dtype=np.uint8) + np.arange(3, dtype=np.uint8)
        for index in range(count)
    ]


def test_format_shape_nchw_and_ncthw():
    nchw = FormatShape("NCHW")({"imgs": _tagged(6), "num_clips": 3, "clip_len": 2})["imgs"]
    assert nchw.shape == (6, 3, 4, 5) and nchw.dtype == np.uint8
    assert nchw[:, 0, 0, 0].tolist() == list(range(6)) and nchw[0, :, 0, 0].tolist() == [0, 1, 2]
    # 2 crops x 3 clips x 2 frames, crop-major
    results = FormatShape("NCTHW")({"imgs": _tagged(12), "num_clips": 3, "clip_len": 2})
    ncthw = results["imgs"]
    assert ncthw.shape == (6, 3, 2, 4, 5) and results["input_shape"] == (6, 3, 2, 4, 5)
    for view in range(6):
        assert ncthw[view, 0, :, 0, 0].tolist() == [2 * view, 2 * view + 1]
        assert ncthw[view, :, 0, 0, 0].tolist() == [2 * view, 2 * view + 1, 2 * view + 2]
    collapsed = FormatShape("NCTHW", collapse=True)({"imgs": _tagged(4), "num_clips": 1, "clip_len": 4})
    assert collapsed["imgs"].shape == (3, 4, 4, 5)
    with pytest.raises(ValueError, match="whole sets"):
        FormatShape("NCTHW")({"imgs": _tagged(5), "num_clips": 1, "clip_len": 2})
    with pytest.raises(ValueError, match="input_format"):
        FormatShape("NCHW_Flow")


def test_pack_action_inputs_images_and_keypoints():
    results = FormatShape("NCTHW")({"imgs": _tagged(4), "num_clips": 1, "clip_len": 4})
    results.update(label=3, filename="/data/a.mp4", img_shape=(4, 5), ori_shape=(8, 10), sample_idx=2)
    packed = PackActionInputs()(results)
    assert packed["inputs"].shape == (1, 3, 4, 4, 5) and packed["inputs"].dtype == torch.uint8
    sample = packed["data_samples"]
    assert sample.gt_label.label.tolist() == [3]
    meta = sample.metainfo
    assert meta["img_path"] == "/data/a.mp4" and meta["num_crops"] == 1 and meta["num_clips"] == 1
    assert meta["clip_len"] == 4 and meta["sample_idx"] == 2 and meta["ori_shape"] == (8, 10)
    skeleton = PackActionInputs()(
        {
            "keypoint": np.zeros((2, 2, 10, 17, 3), np.float32),
            "label": -1,
            "frame_dir": "S001",
            "num_clips": 2,
        }
    )
    assert skeleton["inputs"].shape == (2, 2, 10, 17, 3) and skeleton["inputs"].dtype == torch.float32
    assert (
        "gt_label" not in skeleton["data_samples"] and skeleton["data_samples"].metainfo["img_path"] == "S001"
    )
    with pytest.raises(KeyError, match="neither `imgs` nor `keypoint`"):
        PackActionInputs()({"label": 1})


@pytest.mark.skipif(
    importlib.util.find_spec("visionstack.tasks.action.sampling") is None,
    reason="a registry lookup imports every action module; runtime.py needs action/sampling.py",
)
def test_registered_names_build():
    for name in ("SampleFrames", "DenseSampleFrames", "TemporalPerturb", "PyAVInit", "PyAVDecode", "DecordInit",
                 "DecordDecode", "OpenCVInit", "OpenCVDecode", "RawFrameDecode", "ThreeCrop", "TenCrop",
                 "FormatShape", "PackActionInputs"):  # fmt: skip
        assert name in TRANSFORMS
    assert isinstance(
        build({"type": "SampleFrames", "clip_len": 8, "frame_interval": 4}, TRANSFORMS), SampleFrames
    )
