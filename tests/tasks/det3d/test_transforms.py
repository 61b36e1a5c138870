"""Point-cloud transforms: points and boxes move together, filters, sampling without collisions, packing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from visionstack.registry import TRANSFORMS, build
from visionstack.tasks.det3d.boxes import bev_corners, points_in_boxes
from visionstack.tasks.det3d.gt_database import box_collision_test
from visionstack.tasks.det3d.kitti import write_points
from visionstack.tasks.det3d.transforms import (
    GlobalRotScaleTrans,
    LoadAnnotations3D,
    LoadPointsFromFile,
    ObjectNameFilter,
    ObjectNoise,
    ObjectRangeFilter,
    ObjectSample,
    Pack3DDetInputs,
    PointShuffle,
    PointsRangeFilter,
    RandomFlip3D,
)

BOXES = np.array(
    [
        [10.0, 2.0, -1.7, 3.9, 1.6, 1.5, 0.3],
        [8.0, -3.0, -1.7, 0.8, 0.6, 1.7, 1.2],
        [20.0, 6.0, -1.6, 4.2, 1.7, 1.5, -2.5],
    ],
    dtype=np.float32,
)


def _scene(seed: int = 0) -> dict:
    """Points well inside the boxes (0.8 of the half sizes) and background points well outside them."""
    rng = np.random.default_rng(seed)
    parts = []
    for box in BOXES.astype(np.float64):
        local = rng.uniform(-0.4, 0.4, (40, 3)) * box[3:6] + [0, 0, 0.5 * box[5]]
        cos, sin = np.cos(box[6]), np.sin(box[6])
        xyz = np.c_[local[:, 0] * cos - local[:, 1] * sin, local[:, 0] * sin + local[:, 1] * cos, local[:, 2]]
        parts.append(xyz + box[:3])
    background = rng.uniform([0, -20, -2.5], [40, 20, 1], (600, 3))
    grown = BOXES.copy()
    grown[:, 2] -= 0.3
    grown[:, 3:6] += 0.6
    parts.append(background[~points_in_boxes(background, grown).any(1)])
    xyz = np.concatenate(parts)
    points = np.c_[xyz, rng.uniform(0, 1, len(xyz))].astype(np.float32)
    return {
        "points": points,
        "gt_bboxes_3d": BOXES.copy(),
        "gt_labels_3d": np.array([2, 0, 2], dtype=np.int64),
    }


def _membership(results: dict) -> np.ndarray:
    return points_in_boxes(results["points"], results["gt_bboxes_3d"])


def test_load_points_and_annotations(tmp_path):
    points = np.arange(20, dtype=np.float32).reshape(4, 5)
    write_points(tmp_path / "a.bin", points)
    loaded = LoadPointsFromFile(load_dim=5, use_dim=[0, 1, 2, 4])({"lidar_path": str(tmp_path / "a.bin")})
    np.testing.assert_array_equal(loaded["points"], points[:, [0, 1, 2, 4]])
    by_image = LoadPointsFromFile(load_dim=5, use_dim=4)({"img_path": str(tmp_path / "a.bin")})
    np.testing.assert_array_equal(by_image["points"], points[:, :4])
    assert by_image["lidar_path"] == str(tmp_path / "a.bin")
    with pytest.raises(KeyError, match="lidar_path"):
        LoadPointsFromFile()({})
    with pytest.raises(ValueError, match="load_dim"):
        LoadPointsFromFile(load_dim=4, use_dim=5)
    annotations = LoadAnnotations3D()(
        {"gt_bboxes_3d": BOXES.astype(np.float64).tolist(), "gt_labels_3d": [2, 0, 2]}
    )
    assert annotations["gt_bboxes_3d"].dtype == np.float32 and annotations["gt_bboxes_3d"].shape == (3, 7)
    assert annotations["gt_labels_3d"].dtype == np.int64
    empty = LoadAnnotations3D()({"gt_bboxes_3d": [], "gt_labels_3d": []})
    assert empty["gt_bboxes_3d"].shape == (0, 7)
    with pytest.raises(KeyError, match="gt_labels_3d"):
        LoadAnnotations3D()({"gt_bboxes_3d": BOXES})


def test_global_rot_scale_trans_hand_case():
    results = {"points": np.array([[1.0, 0, 0, 0.5]], np.float32), "gt_bboxes_3d": BOXES[:1].copy()}
    np.random.seed(0)
    out = GlobalRotScaleTrans(rot_range=[np.pi / 2, np.pi / 2], scale_ratio_range=[2, 2])(results)
    np.testing.assert_allclose(out["points"], [[0, 2, 0, 0.5]], atol=1e-6)  # counter-clockwise, scaled
    np.testing.assert_allclose(
        out["gt_bboxes_3d"][0], [-4, 20, -3.4, 7.8, 3.2, 3.0, 0.3 + np.pi / 2], atol=1e-5
    )
    assert out["pcd_rotation"] == pytest.approx(np.pi / 2) and out["pcd_scale_factor"] == 2
    np.testing.assert_array_equal(out["pcd_trans"], [0, 0, 0])


@pytest.mark.parametrize(
    "transform",
    [
        GlobalRotScaleTrans(
            rot_range=[-3.1, 3.1], scale_ratio_range=[0.9, 1.1], translation_std=[0.5, 0.5, 0.2]
        ),
        RandomFlip3D(flip_ratio_bev_horizontal=1.0),
        RandomFlip3D(flip_ratio_bev_horizontal=0.0, flip_ratio_bev_vertical=1.0),
        RandomFlip3D(flip_ratio_bev_horizontal=1.0, flip_ratio_bev_vertical=1.0),
    ],
    ids=["rot_scale_trans", "flip_h", "flip_v", "flip_hv"],
)
def test_geometric_transforms_keep_points_in_their_boxes(transform):
    for seed in range(5):
        np.random.seed(seed)
        scene = _scene(seed)
        before = _membership(scene)
        out = transform(dict(scene))
        np.testing.assert_array_equal(_membership(out), before)
        assert (out["gt_bboxes_3d"][:, 6] >= -np.pi).all() and (out["gt_bboxes_3d"][:, 6] < np.pi).all()
        assert out["points"].dtype == np.float32 and out["gt_bboxes_3d"].dtype == np.float32


def test_random_flip_hand_case():
    results = {"points": np.array([[1.0, 2, 3, 0.5]], np.float32), "gt_bboxes_3d": BOXES[:1].copy()}
    out = RandomFlip3D(flip_ratio_bev_horizontal=1.0)(dict(results))
    np.testing.assert_allclose(out["points"], [[1, -2, 3, 0.5]])
    np.testing.assert_allclose(out["gt_bboxes_3d"][0], [10, -2, -1.7, 3.9, 1.6, 1.5, -0.3], atol=1e-6)
    assert out["pcd_horizontal_flip"] and not out["pcd_vertical_flip"]
    out = RandomFlip3D(flip_ratio_bev_horizontal=0.0, flip_ratio_bev_vertical=1.0)(dict(results))
    np.testing.assert_allclose(out["points"], [[-1, 2, 3, 0.5]])
    np.testing.assert_allclose(out["gt_bboxes_3d"][0, [0, 1, 6]], [-10, 2, np.pi - 0.3], atol=1e-6)
    # The mirrored box's BEV corners are the mirrored corners (as a set).
    mirrored = bev_corners(BOXES[:1])[0] * [-1, 1]
    corners = bev_corners(out["gt_bboxes_3d"])[0]
    assert np.abs(corners[:, None] - mirrored[None]).sum(-1).min(1).max() < 1e-5


def test_range_filters_and_name_filter():
    scene = _scene()
    point_range = [5, -5, -2, 15, 5, 0]
    kept = PointsRangeFilter(point_range)(dict(scene))["points"]
    expected = [
        p for p in scene["points"] if all(point_range[i] < p[i] < point_range[i + 3] for i in range(3))
    ]
    np.testing.assert_array_equal(kept, np.array(expected))
    boxes = np.array(
        [[5.0, 0, 0, 1, 1, 1, 4.0], [5.01, 0, 0, 1, 1, 1, 4.0], [14.9, -4.9, 9, 1, 1, 1, -4.0]], np.float32
    )
    out = ObjectRangeFilter(point_range)({"gt_bboxes_3d": boxes, "gt_labels_3d": np.array([0, 1, 2])})
    np.testing.assert_array_equal(out["gt_labels_3d"], [1, 2])  # a centre on the limit is out; z not tested
    np.testing.assert_allclose(out["gt_bboxes_3d"][:, 6], [4.0 - 2 * np.pi, -4.0 + 2 * np.pi], atol=1e-6)
    named = ObjectNameFilter(["Pedestrian", "Cyclist", "Car"])(
        {"gt_bboxes_3d": np.zeros((4, 7), np.float32), "gt_labels_3d": np.array([2, -1, 0, 3])}
    )
    np.testing.assert_array_equal(named["gt_labels_3d"], [2, 0])
    assert named["gt_bboxes_3d"].shape == (2, 7)


def test_point_shuffle_keeps_the_set():
    scene = _scene()
    np.random.seed(0)
    shuffled = PointShuffle()(dict(scene))["points"]
    assert not np.array_equal(shuffled, scene["points"])
    np.testing.assert_array_equal(np.unique(shuffled, axis=0), np.unique(scene["points"], axis=0))


def test_object_noise_moves_points_with_boxes_without_collisions():
    for seed in range(5):
        np.random.seed(seed)
        scene = _scene(seed)
        before = _membership(scene)
        noise = ObjectNoise(
            translation_std=[1.0, 1.0, 0.1], global_rot_range=[-0.1, 0.1], rot_range=[-0.5, 0.5]
        )
        out = noise(dict(scene))
        assert not np.allclose(out["gt_bboxes_3d"], BOXES, atol=1e-3)
        in_a_box = before.any(1)  # a moved box may cover background points: test the others
        np.testing.assert_array_equal(_membership(out)[in_a_box], before[in_a_box])
        np.testing.assert_array_equal(out["points"][~in_a_box], scene["points"][~in_a_box])
        corners = bev_corners(out["gt_bboxes_3d"])
        assert not (box_collision_test(corners, corners) & ~np.eye(3, dtype=bool)).any()
    # A hand case: global turn pi/2 about the sensor, local turn pi/2, translation 0.
    single = {"points": np.array([[11.0, 2.0, -1.0, 0.5]], np.float32), "gt_bboxes_3d": BOXES[:1].copy()}
    out = ObjectNoise([0, 0, 0], [np.pi / 2, np.pi / 2], [np.pi / 2, np.pi / 2], num_try=1)(single)
    np.testing.assert_allclose(
        out["gt_bboxes_3d"][0], [-2, 10, -1.7, 3.9, 1.6, 1.5, 0.3 + np.pi - 2 * np.pi], atol=1e-5
    )
    np.testing.assert_allclose(out["points"], [[-3, 10, -1, 0.5]], atol=1e-5)  # (1, 0) turned by pi: (-1, 0)
    # Two boxes on top of each other block every candidate of the first: it stays where it is.
    stuck = {"points": np.zeros((0, 4), np.float32), "gt_bboxes_3d": BOXES[[0, 0]]}
    np.testing.assert_array_equal(ObjectNoise(num_try=5)(stuck)["gt_bboxes_3d"], BOXES[[0, 0]])


def _database(root) -> dict:
    """A JSON index of three objects (two cars, one pedestrian) with their points, relative to the box."""
    infos = {"Car": [], "Pedestrian": []}
    objects = [("Car", [11.0, 2.5, -1.7, 3.9, 1.6, 1.5, 0.0]), ("Car", [30.0, -8.0, -1.7, 4.0, 1.6, 1.5, 1.0]),
               ("Pedestrian", [25.0, 10.0, -1.7, 0.8, 0.6, 1.7, 0.0])]  # fmt: skip
    for i, (name, box) in enumerate(objects):
        local = np.random.default_rng(i).uniform(-0.3, 0.3, (20, 4)) * [*box[3:5], 0, 1] + [0, 0, 0.8, 0.5]
        cos, sin = np.cos(box[6]), np.sin(box[6])
        local[:, :2] = local[:, :2] @ np.array([[cos, sin], [-sin, cos]])  # into the box's heading
        write_points(root / f"{i}.bin", local)
        infos[name].append(
            {
                "name": name,
                "path": f"{i}.bin",
                "box3d_lidar": box,
                "num_points_in_gt": 20,
                "difficulty": 0,
                "group_id": i,
            }
        )
    (root / "db.json").write_text(json.dumps(infos))
    return dict(info_path="db.json", data_root=str(root), sample_groups=dict(Car=3, Pedestrian=2))


def test_object_sample_pastes_without_collisions(tmp_path):
    np.random.seed(0)
    config = dict(
        type="ObjectSample",
        db_sampler=dict(**_database(tmp_path), points_loader=dict(type="LoadPointsFromFile")),
    )
    transform = build(config, TRANSFORMS)
    assert isinstance(transform.db_sampler.points_loader, LoadPointsFromFile)
    scene = _scene()
    out = transform(dict(scene))
    # The car at (11, 2.5) overlaps the scene's car at (10, 2): only the other car and the pedestrian come.
    np.testing.assert_array_equal(out["gt_labels_3d"], [2, 0, 2, 2, 0])
    np.testing.assert_allclose(out["gt_bboxes_3d"][3:, :2], [[30, -8], [25, 10]])
    corners = bev_corners(out["gt_bboxes_3d"])
    assert not (box_collision_test(corners, corners) & ~np.eye(5, dtype=bool)).any()
    # Pasted points first, in their boxes; the scene's points in the pasted boxes are gone.
    inside = points_in_boxes(out["points"], out["gt_bboxes_3d"])
    assert inside[:40, 3:].any(1).all() and not inside[40:, 3:].any()
    scene_kept = scene["points"][~points_in_boxes(scene["points"], out["gt_bboxes_3d"][3:]).any(1)]
    np.testing.assert_array_equal(out["points"][40:], scene_kept)
    assert len(scene_kept) < len(scene["points"])  # background points under the pasted boxes
    assert out["points"].dtype == np.float32 and out["gt_labels_3d"].dtype == np.int64


def test_pack3d_det_inputs():
    scene = _scene()
    scene.update(lidar_path="a.bin", sample_idx=3, frame_id="000003", pcd_rotation=0.1, unrelated=1)
    packed = Pack3DDetInputs()(scene)
    assert packed["inputs"]["points"].dtype == torch.float32 and packed["inputs"]["points"].shape == (
        len(scene["points"]),
        4,
    )
    gt = packed["data_samples"].gt_instances_3d
    assert gt.bboxes_3d.dtype == torch.float32 and gt.bboxes_3d.shape == (3, 7)
    assert gt.labels_3d.dtype == torch.int64 and gt.labels_3d.tolist() == [2, 0, 2]
    meta = packed["data_samples"].metainfo
    assert meta["box_type_3d"] == "LiDAR" and meta["frame_id"] == "000003" and meta["pcd_rotation"] == 0.1
    assert "unrelated" not in meta
    bare = Pack3DDetInputs(keys=["points"])({"points": scene["points"]})
    assert bare["data_samples"].gt_instances_3d.bboxes_3d.shape == (0, 7)
    with pytest.raises(KeyError, match="points"):
        Pack3DDetInputs()({})


def test_frames_without_boxes(tmp_path):
    empty = {
        "points": _scene()["points"],
        "gt_bboxes_3d": np.zeros((0, 7), np.float32),
        "gt_labels_3d": np.zeros(0, np.int64),
    }
    pipeline = [
        GlobalRotScaleTrans(),
        RandomFlip3D(1.0, 1.0),
        ObjectNoise(),
        ObjectSample(_database(tmp_path)),
        PointsRangeFilter([0, -40, -3, 70.4, 40, 1]),
        ObjectRangeFilter([0, -40, -3, 70.4, 40, 1]),
        ObjectNameFilter(["Pedestrian", "Cyclist", "Car"]),
        PointShuffle(),
        Pack3DDetInputs(),
    ]
    np.random.seed(0)
    results = dict(empty)
    for transform in pipeline:
        results = transform(results)
    gt = results["data_samples"].gt_instances_3d
    assert (
        len(gt.bboxes_3d) == len(gt.labels_3d) >= 1
    )  # sampled objects, unless the flips put them out of range
    with pytest.raises(ValueError, match="backend_args"):
        LoadPointsFromFile(backend_args=dict(backend="petrel"))
