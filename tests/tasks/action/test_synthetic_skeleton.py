"""The synthetic skeleton sequences: the MMAction2/PYSKL pickle's structure, shapes and dtypes, missing
keypoints, byte determinism, the COCO-17 conversion of the H36M body, and walking left/right on screen."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest

from visionstack.data.human_motion.motions import perform
from visionstack.data.human_motion.skeleton import MEAN_BONE_LENGTHS, forward_kinematics, rest_offsets
from visionstack.tasks.action.synthetic import write_synthetic_action
from visionstack.tasks.action.synthetic_skeleton import (
    SKELETON_CLASSES,
    SKELETON_FILE,
    h36m_to_coco,
    synthesize_skeleton_sample,
    write_synthetic_skeleton,
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("action")
    summary = write_synthetic_action(
        root, seed=1, num_skeleton_train=10, num_skeleton_val=5, kinds=("skeleton",)
    )
    assert summary == {"skeleton_classes": 5, "skeleton_train": 10, "skeleton_val": 5}
    return root / "skeleton"


@pytest.fixture(scope="module")
def data(data_root):
    with open(data_root / SKELETON_FILE, "rb") as handle:
        return pickle.load(handle)


def test_the_pickle_structure(data_root, data):
    assert not (data_root.parent / "videos_train").exists()  # kinds=("skeleton",) writes no videos
    assert tuple((data_root / "classes.txt").read_text().splitlines()) == SKELETON_CLASSES
    assert set(data) == {"split", "annotations"}
    assert data["split"]["xsub_train"] == [f"train_{i:06d}" for i in range(10)]
    assert data["split"]["xsub_val"] == [f"val_{i:06d}" for i in range(5)]
    records = {record["frame_dir"]: record for record in data["annotations"]}
    assert len(records) == 15
    labels = [records[name]["label"] for name in data["split"]["xsub_train"]]
    assert Counter(labels) == Counter({label: 2 for label in range(5)})
    people = set()
    for record in data["annotations"]:
        keypoint, score = record["keypoint"], record["keypoint_score"]
        people.add(keypoint.shape[0])
        frames = record["total_frames"]
        assert 40 <= frames <= 100 and isinstance(record["label"], int)
        assert keypoint.dtype == np.float32 and score.dtype == np.float32
        assert keypoint.shape == (keypoint.shape[0], frames, 17, 2) and score.shape == keypoint.shape[:3]
        height, width = record["img_shape"]
        assert record["original_shape"] == (height, width) and min(height, width) >= 720
        assert np.all((score >= 0) & (score <= 1))
        seen = score > 0
        assert np.all(keypoint[~seen] == 0)  # missing: coordinates 0, score 0 (MMAction2's NTU data)
        assert np.all((keypoint[seen] >= 0) & (keypoint[seen] < (width, height)))
        assert seen.mean() > 0.4
    assert people == {1, 2}


def test_missing_keypoints_exist_and_have_score_zero(data):
    scores = np.concatenate([record["keypoint_score"].ravel() for record in data["annotations"]])
    assert 0.005 < np.mean(scores == 0) < 0.3
    assert scores[scores > 0].min() >= 0.05


def test_the_same_arguments_write_the_same_bytes(data_root, tmp_path):
    write_synthetic_skeleton(tmp_path, seed=1, num_train=10, num_val=5)
    assert (tmp_path / SKELETON_FILE).read_bytes() == (data_root / SKELETON_FILE).read_bytes()
    write_synthetic_skeleton(tmp_path / "other", seed=2, num_train=10, num_val=5)
    assert (tmp_path / "other" / SKELETON_FILE).read_bytes() != (data_root / SKELETON_FILE).read_bytes()


def _mid_hips(sample):
    keypoint, score = sample["keypoint"][0], sample["keypoint_score"][0]
    seen = (score[:, 11] > 0) & (score[:, 12] > 0)
    return ((keypoint[:, 11] + keypoint[:, 12]) / 2)[seen]


@pytest.mark.parametrize(("class_name", "sign"), [("walking_left", -1), ("walking_right", 1)])
def test_walking_goes_left_or_right_on_screen(class_name, sign):
    for index in range(8):
        sample = synthesize_skeleton_sample(np.random.default_rng([5, index]), class_name)
        hips = _mid_hips(sample)
        width = sample["img_shape"][1]
        assert sign * (hips[-1, 0] - hips[0, 0]) > 0.1 * width, (index, hips[0], hips[-1])
        # the world path is straight: the pelvis stays on the line through its first and last positions
        floor = sample["world"][:, 0, :2]
        line = (floor[-1] - floor[0]) / np.linalg.norm(floor[-1] - floor[0])
        relative = floor - floor[0]
        off_line = np.abs(relative[:, 0] * line[1] - relative[:, 1] * line[0])
        assert off_line.max() < 60  # mm: gait sway only


def test_the_others_stay_roughly_in_place():
    for class_name in ("waving", "squatting", "jumping"):
        sample = synthesize_skeleton_sample(np.random.default_rng([6, 0]), class_name)
        hips = _mid_hips(sample)
        assert np.ptp(hips[:, 0]) < 0.5 * sample["img_shape"][1]


def test_coco_keypoints_of_the_rest_pose():
    offsets = rest_offsets(MEAN_BONE_LENGTHS)
    world = forward_kinematics(
        offsets, np.zeros((1, 3)), np.eye(3)[None], np.broadcast_to(np.eye(3), (1, 17, 3, 3))
    )
    coco = h36m_to_coco(world)[0]  # body frame: x = the subject's right, y = forward, z = up
    np.testing.assert_array_equal(coco[5], world[0, 11])  # left shoulder
    np.testing.assert_array_equal(coco[16], world[0, 3])  # right ankle = H36M right foot
    np.testing.assert_array_equal(coco[0], world[0, 9])  # nose = H36M neck/nose
    assert coco[1, 0] < coco[0, 0] < coco[2, 0]  # left eye on the subject's left (-x), right eye on the right
    assert coco[3, 0] < coco[1, 0] and coco[4, 0] > coco[2, 0]  # ears outside the eyes
    assert coco[3, 1] < coco[1, 1] < coco[0, 1]  # ears behind the eyes, eyes behind the nose
    assert coco[1, 2] > coco[0, 2]  # eyes above the nose


def test_extra_motions_and_errors():
    rng = np.random.default_rng(0)
    standing = perform("standing", MEAN_BONE_LENGTHS, 60, 30.0, rng)
    assert standing.shape == (60, 17, 3) and np.ptp(standing[:, 0, :2], axis=0).max() < 300
    with pytest.raises(KeyError, match="unknown action 'flying'"):
        perform("flying", MEAN_BONE_LENGTHS, 10, 30.0, rng)
    with pytest.raises(KeyError, match="unknown class 'running'"):
        synthesize_skeleton_sample(rng, "running")
