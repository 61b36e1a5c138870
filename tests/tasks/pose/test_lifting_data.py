"""The lifting data: the synthetic writer (determinism, geometry, units, held-out cameras and subjects), the
sequence format and its errors, the COCO path, windows with edge padding, and the runtime preprocessing
against the PyTorch pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from visionstack.data.human_motion.skeleton import H36M_JOINT_NAMES, H36M_PARENTS
from visionstack.registry import FUNCTIONS, MODELS, TRANSFORMS, build
from visionstack.tasks.pose.lifting.camera import (
    PinholeCamera,
    image_coordinates,
    normalize_screen_coordinates,
)
from visionstack.tasks.pose.lifting.datasets import Pose3dSequenceDataset, training_mean_pose
from visionstack.tasks.pose.lifting.runtime import LiftingRuntimePreprocessor
from visionstack.tasks.pose.lifting.sequences import (
    read_keypoint_sequence,
    sequence_from_pose_records,
    write_keypoint_sequence,
)
from visionstack.tasks.pose.lifting.synthetic import write_pose3d_synthetic
from visionstack.tasks.pose.metainfo import H36M_KEYPOINTS, coco_to_h36m

OPTIONS = {"num_train": 2, "num_val": 1, "num_frames": 30, "actions": ("walking", "squatting")}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("pose3d")
    assert write_pose3d_synthetic(root, seed=3, **OPTIONS) == {"train": 16, "val": 4, "frames": 600}
    return root


def test_the_writer_is_deterministic(data_root, tmp_path):
    write_pose3d_synthetic(tmp_path, seed=3, **OPTIONS)
    for name in ("train/S5_squatting.cam_2.npz", "val/S9_walking.cam_5.npz"):
        first, second = np.load(data_root / name), np.load(tmp_path / name)
        assert sorted(first.files) == sorted(second.files)
        for key in first.files:
            np.testing.assert_array_equal(first[key], second[key])
    assert (data_root / "train.json").read_text() == (tmp_path / "train.json").read_text()


def test_val_cameras_and_subjects_are_held_out(data_root):
    cameras = json.loads((data_root / "cameras.json").read_text())
    splits = {
        split: json.loads((data_root / f"{split}.json").read_text())["data_list"]
        for split in ("train", "val")
    }
    used = {split: {entry["camera"] for entry in entries} for split, entries in splits.items()}
    subjects = {split: {entry["subject"] for entry in entries} for split, entries in splits.items()}
    assert used == {"train": {"cam_0", "cam_1", "cam_2", "cam_3"}, "val": {"cam_4", "cam_5"}}
    assert subjects == {"train": {"S1", "S5"}, "val": {"S9"}}
    assert all(cameras[name]["split"] == split for split, names in used.items() for name in names)
    centers = {name: np.asarray(camera["center"]) for name, camera in cameras.items()}
    assert min(np.linalg.norm(centers[v] - centers[t]) for v in used["val"] for t in used["train"]) > 1000


def test_the_motion_skeleton_is_the_h36m_metainfo():
    """The data layer's kinematic tree (visionstack/data/human_motion) and the pose task's H36M layout agree."""
    assert H36M_JOINT_NAMES == tuple(H36M_KEYPOINTS["keypoint_names"])
    tree = {(parent, child) for child, parent in enumerate(H36M_PARENTS) if parent >= 0}
    assert tree == {tuple(pair) for pair in H36M_KEYPOINTS["skeleton"]}


def test_the_geometry_and_units_of_a_sequence(data_root):
    sequence = read_keypoint_sequence(data_root / "val/S9_walking.cam_4.npz")
    extras = sequence.extras
    camera = PinholeCamera.from_dict("cam_4", json.loads((data_root / "cameras.json").read_text())["cam_4"])
    np.testing.assert_allclose(extras["intrinsics"], [camera.fx, camera.fy, camera.cx, camera.cy])
    world = extras["keypoints_3d_world"].astype(np.float64)
    np.testing.assert_allclose(camera.world_to_camera(world), sequence.keypoints_3d, atol=0.05)  # mm, float32
    np.testing.assert_allclose(
        camera.project(sequence.keypoints_3d), extras["keypoints_2d_projected"], atol=0.01
    )
    error = np.linalg.norm(sequence.keypoints_2d - extras["keypoints_2d_projected"], axis=-1)
    assert 2 < np.median(error) < 15  # detector-like noise, in pixels
    bones = np.linalg.norm(world[:, 1:] - world[:, list(H36M_PARENTS[1:])], axis=-1)
    assert np.ptp(bones, axis=0).max() < 0.01  # rigid limbs: each bone keeps its length in every frame
    assert 350 < bones[0, 1] < 550  # a thigh, in millimetres
    assert np.all(world[..., 2].min(axis=1) > 0)  # above the floor (z up)
    assert np.all(sequence.keypoints_3d[..., 2] > 1000)  # in front of the camera (z = depth)
    train_bones = read_keypoint_sequence(data_root / "train/S1_walking.cam_0.npz").extras[
        "keypoints_3d_world"
    ]
    assert abs(np.linalg.norm(train_bones[0, 2] - train_bones[0, 1]) - bones[0, 1]) > 1  # subjects differ


def test_screen_normalisation_is_videopose3ds():
    points = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0]])
    normalised = normalize_screen_coordinates(points, 1000, 1002)
    np.testing.assert_allclose(normalised, [[-1, -1.002], [1, 1.002], [0, 0]], atol=1e-6)
    np.testing.assert_allclose(image_coordinates(normalised, 1000, 1002), points, atol=1e-3)


def test_sequence_errors_name_the_file_and_key(tmp_path):
    path = write_keypoint_sequence(tmp_path / "bad.npz", np.zeros((4, 16, 2)), (100, 100))
    with pytest.raises(ValueError, match=r"bad\.npz.*'keypoints_2d' has shape \(4, 16, 2\)"):
        read_keypoint_sequence(path)
    np.savez(tmp_path / "nosize.npz", keypoints_2d=np.zeros((4, 17, 2)))
    with pytest.raises(ValueError, match=r"nosize\.npz.* has no 'image_size'"):
        read_keypoint_sequence(tmp_path / "nosize.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        read_keypoint_sequence(tmp_path / "missing.npz")


def test_coco_sequences_are_read_in_the_h36m_order(tmp_path):
    rng = np.random.default_rng(0)
    coco, scores = rng.uniform(0, 640, size=(6, 17, 2)), rng.uniform(size=(6, 17))
    for suffix in (".npz", ".json"):
        path = write_keypoint_sequence(
            tmp_path / f"clip{suffix}", coco, (640, 480), scores, keypoint_layout="coco"
        )
        sequence = read_keypoint_sequence(path)
        expected, expected_scores = coco_to_h36m(coco, scores)
        np.testing.assert_allclose(sequence.keypoints_2d, expected, rtol=1e-6)
        np.testing.assert_allclose(sequence.keypoint_scores, expected_scores, rtol=1e-6)
        assert sequence.image_size == (640, 480)


def test_a_2d_pose_models_records_become_one_tracked_person():
    def person(x, score):
        return {
            "bbox": [x, 0, x + 50, 100],
            "bbox_score": score,
            "keypoints": [[x + 1.0, 2.0]] * 17,
            "keypoint_scores": [0.9] * 17,
        }

    records = [
        {"img_path": "f0.png", "people": [person(0, 0.5), person(300, 0.9)]},
        {"img_path": "f1.png", "people": []},
        {"img_path": "f2.png", "people": [person(10, 0.99), person(290, 0.4)]},
    ]
    keypoints, scores = sequence_from_pose_records(records)
    assert keypoints.shape == (3, 17, 2)
    np.testing.assert_array_equal(
        keypoints[:, 0, 0], [301, 301, 291]
    )  # followed the best-scored first person
    np.testing.assert_array_equal(scores[:, 0], np.array([0.9, 0.0, 0.9], np.float32))


@pytest.mark.parametrize("causal", [False, True])
def test_windows_are_edge_padded_and_centred_or_causal(data_root, causal):
    dataset = Pose3dSequenceDataset("train.json", data_root=str(data_root), receptive_field=9, causal=causal)
    assert len(dataset) == 16 * 30
    sequence = read_keypoint_sequence(data_root / "train/S1_walking.cam_0.npz")  # the first sequence
    inputs, targets = sequence.normalized_inputs(), sequence.root_relative_3d()
    for frame in (0, 2, 15, 29):
        info = dataset.get_data_info(frame)
        first = frame - (8 if causal else 4)
        expected = inputs[np.clip(np.arange(first, first + 9), 0, 29)]
        np.testing.assert_array_equal(info["keypoints_2d"], expected)
        np.testing.assert_array_equal(info["keypoints_3d"], targets[frame : frame + 1])
        assert info["frame_offset"] == frame and info["num_frames"] == 1
    whole = Pose3dSequenceDataset(
        "val.json",
        data_root=str(data_root),
        receptive_field=9,
        causal=causal,
        sample_unit="sequence",
        test_mode=True,
    )
    assert len(whole) == 4 and whole.get_data_info(0)["keypoints_2d"].shape == (38, 17, 2)
    chunks = Pose3dSequenceDataset(
        "train.json", data_root=str(data_root), receptive_field=9, frames_per_sample=8
    )
    info = chunks.get_data_info(3)  # 0, 8, 16, then the last 8 frames (22..29) overlapping
    assert (info["frame_offset"], info["keypoints_2d"].shape, info["keypoints_3d"].shape) == (
        22,
        (16, 17, 2),
        (8, 17, 3),
    )


def test_mean_pose_and_selection(data_root):
    dataset = Pose3dSequenceDataset(
        "train.json", data_root=str(data_root), actions=("walking",), cameras=("cam_1",)
    )
    assert len(dataset.sequences) == 2 and len(dataset) == 60
    mean = training_mean_pose(dataset)
    expected = (
        np.concatenate([loaded.targets for loaded in dataset.sequences]).astype(np.float64).mean(axis=0)
    )
    np.testing.assert_allclose(mean, expected)
    assert np.all(mean[0] == 0) and mean[10, 1] < -400  # the head is above the pelvis: camera y points down
    with pytest.raises(ValueError, match="no sequence left"):
        Pose3dSequenceDataset("train.json", data_root=str(data_root), subjects=("S99",))


def test_runtime_preprocessing_equals_the_pytorch_pipeline(data_root):
    paths = [str(data_root / "val/S9_walking.cam_4.npz"), str(data_root / "val/S9_squatting.cam_5.npz")]
    pipeline = [
        build(dict(type="LoadKeypointSequence", receptive_field=27), TRANSFORMS),
        build(dict(type="PackLiftingInputs"), TRANSFORMS),
    ]
    packed = []
    for path in paths:
        results = {"img_path": path}
        for transform in pipeline:
            results = transform(results)
        packed.append(results)
    short = {
        "inputs": packed[1]["inputs"][:20],
        "data_samples": packed[1]["data_samples"],
    }  # a shorter second one
    batch = FUNCTIONS.get("pseudo_collate")([packed[0], short])
    expected = build(dict(type="LiftingDataPreprocessor"), MODELS)(batch)["inputs"]
    runtime = LiftingRuntimePreprocessor({"receptive_field": 27, "causal": False})
    prepared = [runtime.image(runtime.read(path)) for path in paths]
    assert prepared[0][1]["num_frames"] == 30 and prepared[0][1]["image_size"] == (1000, 1000)
    array = runtime.batch([prepared[0][0], prepared[1][0][:20]])
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, expected.numpy())
    assert torch.equal(packed[0]["data_samples"].gt_instances.keypoints[:, 0], torch.zeros(30, 3))


def test_videopose3d_h36m_archives_convert_to_camera_frame_millimetres(tmp_path):
    from scipy.spatial.transform import Rotation

    from visionstack.tasks.pose.lifting.h36m import H36M_KEPT_JOINTS, convert_videopose3d_h36m

    rng = np.random.default_rng(0)
    to_world = Rotation.from_euler("xyz", [100, 10, 30], degrees=True)  # a camera looking sideways
    center = np.array([1800.0, -3500.0, 1600.0])  # mm
    quaternion_xyzw = to_world.as_quat()
    camera = {
        "id": "54138969",
        "center": [512.5, 515.4],
        "focal_length": [1145.0, 1143.8],
        "res_w": 1000,
        "res_h": 1002,
        "orientation": [quaternion_xyzw[3], *quaternion_xyzw[:3]],
        "translation": center.tolist(),
    }
    positions_3d, positions_2d = {}, {}
    for subject in ("S1", "S9"):
        world = rng.normal(scale=0.4, size=(6, 32, 3)) + [0.0, 0.0, 1.0]  # metres
        in_camera = to_world.inv().apply(world.reshape(-1, 3) * 1000 - center).reshape(6, 32, 3)
        pixels = in_camera[..., :2] / in_camera[..., 2:] * camera["focal_length"] + camera["center"]
        positions_3d[subject] = {"Walking 1": world}
        positions_2d[subject] = {"Walking 1": [pixels[:, list(H36M_KEPT_JOINTS)]] + [pixels[:2, :17]] * 3}
    np.savez(tmp_path / "data_3d.npz", positions_3d=np.array(positions_3d, dtype=object))
    np.savez(tmp_path / "data_2d.npz", positions_2d=np.array(positions_2d, dtype=object))
    cameras = {subject: [camera] for subject in ("S1", "S9")}
    summary = convert_videopose3d_h36m(
        tmp_path / "data_3d.npz",
        tmp_path / "data_2d.npz",
        cameras,
        tmp_path / "out",
        splits={"train": ("S1",), "val": ("S9",)},
    )
    assert summary == {"train": 1, "val": 1}
    sequence = read_keypoint_sequence(tmp_path / "out/val/S9_Walking_1.S9_54138969.npz")
    fx, fy, cx, cy = sequence.extras["intrinsics"]
    joints = sequence.keypoints_3d.astype(np.float64)
    projected = joints[..., :2] / joints[..., 2:] * [fx, fy] + [cx, cy]
    np.testing.assert_allclose(projected, sequence.keypoints_2d, atol=1e-2)  # pixels: the conventions agree
    world = positions_3d["S9"]["Walking 1"][:, list(H36M_KEPT_JOINTS)] * 1000
    np.testing.assert_allclose(sequence.extras["keypoints_3d_world"], world, atol=0.05)
    assert sequence.image_size == (1000, 1002)
