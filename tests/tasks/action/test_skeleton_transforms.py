"""Skeleton transforms: PYSKL's uniform sampling, normalisation, bone / motion features, GCN input layout."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from visionstack.tasks.action.skeleton_transforms import (
    BONE_PAIRS,
    FormatGCNInput,
    GenSkeFeat,
    PoseDecode,
    PreNormalize2D,
    UniformSampleFrames,
)
from visionstack.tasks.action.transforms import PackActionInputs


def reference_uniform(n, clip_len, num_clips, test_mode):
    """PYSKL's UniformSampleFrames restated one clip at a time, drawing from the global generator."""
    indices = []
    for clip in range(num_clips):
        if n < clip_len:
            if test_mode:
                start = clip if n < num_clips else clip * n // num_clips
            else:
                start = np.random.randint(0, n)
            chosen = [start + t for t in range(clip_len)]
        elif n < 2 * clip_len:
            skipped = set(np.random.choice(clip_len + 1, n - clip_len, replace=False).tolist())
            shift, chosen = 0, []
            for t in range(clip_len):
                shift += t in skipped
                chosen.append(t + shift)
        else:
            chosen = []
            for t in range(clip_len):
                low, high = t * n // clip_len, (t + 1) * n // clip_len
                chosen.append(low + np.random.randint(high - low))
        indices.extend(value % n for value in chosen)
    return indices


@pytest.mark.parametrize("test_mode", [False, True])
def test_uniform_sample_frames_matches_pyskl(test_mode):
    for n, clip_len, num_clips in itertools.product(
        [1, 3, 7, 10, 15, 19, 20, 21, 64, 150], [1, 4, 10], [1, 2, 5]
    ):
        sampler = UniformSampleFrames(clip_len, num_clips, test_mode=test_mode, seed=255)
        for seed in range(3):
            np.random.seed(seed)
            out = sampler({"total_frames": n, "start_index": 2})
            np.random.seed(255 if test_mode else seed)
            expected = [value + 2 for value in reference_uniform(n, clip_len, num_clips, test_mode)]
            assert out["frame_inds"].tolist() == expected, (n, clip_len, num_clips, seed)
            assert out["frame_inds"].dtype == np.int64 and out["num_clips"] == num_clips
            assert out["clip_len"] == clip_len and out["frame_interval"] is None


def test_uniform_sample_frames_test_mode_is_deterministic_and_leaves_the_global_generator():
    sampler = UniformSampleFrames(10, 3, test_mode=True)
    np.random.seed(1)
    before = np.random.get_state()[1].copy()
    first = sampler({"total_frames": 57})["frame_inds"]
    assert np.array_equal(np.random.get_state()[1], before)
    np.random.seed(2)
    assert first.tolist() == sampler({"total_frames": 57})["frame_inds"].tolist()
    # every clip has one frame from each of the 10 segments of 57 frames
    bounds = [t * 57 // 10 for t in range(11)]
    for clip in first.reshape(3, 10):
        assert all(bounds[t] <= value < bounds[t + 1] for t, value in enumerate(clip))


def _skeleton(people=1, frames=6, joints=17, seed=0):
    rng = np.random.default_rng(seed)
    keypoint = rng.uniform(0, 100, (people, frames, joints, 2)).astype(np.float32)
    score = rng.uniform(0.1, 1, (people, frames, joints)).astype(np.float32)
    return keypoint, score


def test_pose_decode_picks_frames_and_offset():
    keypoint, score = _skeleton(2, 8)
    out = PoseDecode()(
        {"keypoint": keypoint.astype(np.float16), "keypoint_score": score, "frame_inds": np.array([5, 1, 1])}
    )
    np.testing.assert_array_equal(
        out["keypoint"], keypoint.astype(np.float16)[:, [5, 1, 1]].astype(np.float32)
    )
    np.testing.assert_array_equal(out["keypoint_score"], score[:, [5, 1, 1]])
    assert out["keypoint"].dtype == np.float32
    shifted = PoseDecode()({"keypoint": keypoint, "frame_inds": np.array([0, 1]), "offset": 3})
    np.testing.assert_array_equal(shifted["keypoint"], keypoint[:, [3, 4]])
    every = PoseDecode()({"keypoint": keypoint})
    assert every["keypoint"].shape == keypoint.shape and every["total_frames"] == 8


def test_pre_normalize_2d():
    keypoint = np.array([[[[0, 0], [960, 540], [1920, 1080], [480, 270]]]], dtype=np.float32)
    score = np.array([[[1.0, 1.0, 1.0, 0.0]]], dtype=np.float32)
    out = PreNormalize2D()({"keypoint": keypoint, "keypoint_score": score})
    assert "keypoint_score" not in out and out["keypoint"].shape == (1, 1, 4, 3)
    np.testing.assert_allclose(
        out["keypoint"][0, 0, :, :2], [[-1, -1], [0, 0], [1, 1], [0, 0]]
    )  # last: score 0
    np.testing.assert_allclose(out["keypoint"][0, 0, :, 2], [1, 1, 1, 0])
    own = PreNormalize2D()({"keypoint": keypoint[..., :2] / 10, "img_shape": (108, 192)})
    np.testing.assert_allclose(own["keypoint"][0, 0, 2], [1, 1])


def test_gen_ske_feat_joint_bone_and_motion_values():
    keypoint, score = _skeleton(2, 5)
    joints = GenSkeFeat(dataset="coco", feats=("j",))({"keypoint": keypoint.copy(), "keypoint_score": score})
    assert joints["keypoint"].shape == (2, 5, 17, 3) and "keypoint_score" not in joints
    np.testing.assert_array_equal(joints["keypoint"][..., 2], score)
    out = GenSkeFeat(dataset="coco", feats=("j", "b", "jm", "bm"))(
        {"keypoint": keypoint, "keypoint_score": score}
    )
    features = out["keypoint"]
    assert features.shape == (2, 5, 17, 12)
    j, b, jm, bm = (features[..., 3 * k : 3 * k + 3] for k in range(4))
    # COCO bones, written out: the left wrist (9) hangs from the left elbow (7), the left eye (1) from the nose
    np.testing.assert_allclose(b[..., 9, :2], keypoint[..., 9, :] - keypoint[..., 7, :], rtol=1e-6)
    np.testing.assert_allclose(b[..., 1, :2], keypoint[..., 1, :] - keypoint[..., 0, :], rtol=1e-6)
    np.testing.assert_allclose(b[..., 16, 2], (score[..., 16] + score[..., 14]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(b[..., 0, :2], 0)  # the root
    np.testing.assert_allclose(b[..., 0, 2], score[..., 0], rtol=1e-6)
    for joint, parent in BONE_PAIRS["coco"]:
        np.testing.assert_allclose(
            b[..., joint, :2], j[..., joint, :2] - j[..., parent, :2], rtol=1e-6, atol=1e-5
        )
    np.testing.assert_allclose(jm[:, :4, :, :2], j[:, 1:, :, :2] - j[:, :4, :, :2], rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(jm[:, :4, :, 2], (score[:, :4] + score[:, 1:]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(jm[:, 4], 0)
    np.testing.assert_allclose(bm[:, :4, :, :2], b[:, 1:, :, :2] - b[:, :4, :, :2], rtol=1e-6, atol=1e-5)
    assert len(BONE_PAIRS["coco"]) == 17 and sorted(joint for joint, _ in BONE_PAIRS["coco"]) == list(
        range(17)
    )


def test_gen_ske_feat_errors():
    with pytest.raises(ValueError, match="feats"):
        GenSkeFeat(feats=("x",))
    with pytest.raises(ValueError, match="dataset"):
        GenSkeFeat(dataset="openpose-25")
    keypoint, score = _skeleton()
    with pytest.raises(ValueError, match="2D keypoints"):
        GenSkeFeat()({"keypoint": np.concatenate([keypoint, keypoint[..., :1]], -1), "keypoint_score": score})


def test_format_gcn_input_pads_cuts_and_splits_clips():
    keypoint = np.arange(1 * 6 * 3 * 2, dtype=np.float32).reshape(1, 6, 3, 2)
    zero = FormatGCNInput(num_person=2)({"keypoint": keypoint, "num_clips": 2})["keypoint"]
    assert zero.shape == (2, 2, 3, 3, 2) and zero.dtype == np.float32
    np.testing.assert_array_equal(zero[1, 0], keypoint[0, 3:])  # clip 1 = frames 3..5
    np.testing.assert_array_equal(zero[:, 1], 0)
    loop = FormatGCNInput(num_person=3, mode="loop")({"keypoint": keypoint})["keypoint"]
    assert loop.shape == (1, 3, 6, 3, 2)
    np.testing.assert_array_equal(loop[0, 2], keypoint[0])
    many = np.random.default_rng(0).normal(size=(4, 6, 3, 2)).astype(np.float32)
    cut = FormatGCNInput(num_person=2)({"keypoint": many, "keypoint_score": np.ones((4, 6, 3), np.float32)})
    assert cut["keypoint"].shape == (1, 2, 6, 3, 3)
    np.testing.assert_array_equal(cut["keypoint"][0, :, :, :, :2], many[:2])
    with pytest.raises(ValueError, match="num_clips=4"):
        FormatGCNInput()({"keypoint": keypoint, "num_clips": 4})


def test_skeleton_pipeline_end_to_end():
    keypoint, score = _skeleton(1, 30)
    results = {"keypoint": keypoint, "keypoint_score": score, "total_frames": 30, "img_shape": (100, 100)}
    results.update(label=2, frame_dir="S001C001", start_index=0, sample_idx=0)
    for step in (
        PreNormalize2D(),
        GenSkeFeat(dataset="coco", feats=("j",)),
        UniformSampleFrames(8, num_clips=2, test_mode=True),
        PoseDecode(),
        FormatGCNInput(num_person=2),
        PackActionInputs(),
    ):
        results = step(results)
    assert tuple(results["inputs"].shape) == (2, 2, 8, 17, 3)
    assert results["data_samples"].gt_label.label.tolist() == [2]
    assert float(results["inputs"][..., :2].abs().max()) <= 1.0
