"""The ground-truth database: object points round trip, the index, the filters, collision-free sampling."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from shapely.geometry import Polygon

from visionstack.tasks.det3d.boxes import bev_corners, lidar_to_camera_boxes, points_in_boxes
from visionstack.tasks.det3d.gt_database import (
    DataBaseSampler,
    box_collision_test,
    create_gt_database,
    kitti_difficulty,
    main,
    read_lidar_label,
)
from visionstack.tasks.det3d.kitti import read_calib, read_points, write_calib, write_label, write_points

# KITTI training frame 000000's calibration.
P2 = [[721.5377, 0, 609.5593, 44.85728], [0, 721.5377, 172.854, 0.2163791], [0, 0, 1, 0.002745884]]
R0 = [
    [0.9999239, 0.00983776, -0.007445048],
    [-0.009869795, 0.9999421, -0.004278459],
    [0.007402527, 0.004351614, 0.9999631],
]
TR = [
    [0.007533745, -0.9999714, -0.000616602, -0.004069766],
    [0.01480249, 0.0007280733, -0.9998902, -0.07631618],
    [0.9998621, 0.00752379, 0.01480755, -0.2717806],
]

# Per frame: (name, LiDAR box, 2D box height px, occluded, truncated) -> expected difficulty.
FRAMES = {
    "000000": [
        ("Car", [10.0, 2.0, -1.7, 3.9, 1.6, 1.5, 0.3], 50, 0, 0.0),  # easy
        ("Pedestrian", [8.0, -3.0, -1.7, 0.8, 0.6, 1.7, 1.2], 30, 1, 0.2),  # moderate
        ("DontCare", [30.0, 9.0, -1.7, 1.0, 1.0, 1.0, 0.0], 20, 0, 0.0),
    ],
    "000001": [
        ("Car", [15.0, -4.0, -1.6, 4.2, 1.7, 1.5, -2.5], 26, 2, 0.4),  # hard
        ("Cyclist", [12.0, 5.0, -1.6, 1.8, 0.6, 1.7, 2.0], 20, 0, 0.0),  # too small: -1
        ("Van", [25.0, 0.0, -1.6, 5.0, 2.0, 2.2, 0.0], 45, 0, 0.0),
    ],
    "000002": [("Car", [20.0, 0.0, -1.6, 4.0, 1.7, 1.5, 0.0], 60, 0, 0.0)],  # validation only
}
DIFFICULTY = {("000000", 0): 0, ("000000", 1): 1, ("000001", 0): 2, ("000001", 1): -1, ("000001", 2): 0}


def _points_for(boxes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Background points plus 30 points well inside each box (0.8 of its half sizes: robust to rounding)."""
    parts = [np.c_[rng.uniform([0, -20, -2], [40, 20, 0], (200, 3)), rng.uniform(0, 1, 200)]]
    for box in boxes:
        local = rng.uniform(-0.4, 0.4, (30, 3)) * box[3:6] + [0, 0, 0.5 * box[5]]
        cos, sin = np.cos(box[6]), np.sin(box[6])
        xyz = np.c_[local[:, 0] * cos - local[:, 1] * sin, local[:, 0] * sin + local[:, 1] * cos, local[:, 2]]
        parts.append(np.c_[xyz + box[:3], rng.uniform(0, 1, 30)])
    return np.concatenate(parts).astype(np.float32)


def write_tiny_kitti(root: str) -> None:
    """A three-frame KITTI layout (train 000000, 000001; val 000002) with KITTI's calibration."""
    rng = np.random.default_rng(0)
    for sub in ("velodyne", "label_2", "calib"):
        os.makedirs(os.path.join(root, "training", sub), exist_ok=True)
    os.makedirs(os.path.join(root, "ImageSets"))
    calib = {"P2": np.array(P2), "R0_rect": np.array(R0), "Tr_velo_to_cam": np.array(TR)}
    for frame_id, objects in FRAMES.items():
        calib_path = os.path.join(root, "training", "calib", f"{frame_id}.txt")
        write_calib(calib_path, calib)
        boxes = np.array([obj[1] for obj in objects])
        cam = lidar_to_camera_boxes(boxes, read_calib(calib_path)["lidar2cam"])
        anno = {
            "name": np.array([obj[0] for obj in objects]),
            "truncated": np.array([obj[4] for obj in objects]),
            "occluded": np.array([obj[3] for obj in objects]),
            "alpha": np.zeros(len(objects)),
            "bbox": np.array([[100, 100, 150, 100 + obj[2]] for obj in objects], dtype=np.float64),
            "dimensions": cam[:, 3:6],
            "location": cam[:, :3],
            "rotation_y": cam[:, 6],
        }
        write_label(os.path.join(root, "training", "label_2", f"{frame_id}.txt"), anno)
        write_points(os.path.join(root, "training", "velodyne", f"{frame_id}.bin"), _points_for(boxes, rng))
    with open(os.path.join(root, "ImageSets", "train.txt"), "w") as handle:
        handle.write("000000\n000001\n")


@pytest.fixture
def kitti_root(tmp_path):
    root = str(tmp_path / "kitti")
    write_tiny_kitti(root)
    return root


def test_database_round_trips_object_points(kitti_root):
    infos = create_gt_database(kitti_root)
    assert {name: len(items) for name, items in infos.items()} == {
        "Car": 2,
        "Pedestrian": 1,
        "Cyclist": 1,
        "Van": 1,
    }  # DontCare and the validation frame are left out
    for items in infos.values():
        for info in items:
            frame = info["frame_id"]
            points = read_points(os.path.join(kitti_root, "training", "velodyne", f"{frame}.bin"))
            box = np.array(info["box3d_lidar"])
            np.testing.assert_allclose(box, FRAMES[frame][info["gt_idx"]][1], atol=0.03)  # 2-decimal labels
            expected = points[points_in_boxes(points, box[None])[:, 0]]
            assert len(expected) == 30 == info["num_points_in_gt"]
            stored = read_points(os.path.join(kitti_root, info["path"]))
            assert info["path"] == f"kitti_gt_database/{frame}_{info['name']}_{info['gt_idx']}.bin"
            np.testing.assert_allclose(stored[:, :3] + box[:3], expected[:, :3], atol=1e-5)
            np.testing.assert_array_equal(stored[:, 3], expected[:, 3])
            assert info["difficulty"] == DIFFICULTY[(frame, info["gt_idx"])]
            assert info["image_idx"] == int(frame)
    group_ids = [info["group_id"] for items in infos.values() for info in items]
    assert sorted(group_ids) == list(range(5))
    with open(os.path.join(kitti_root, "kitti_dbinfos_train.json")) as handle:
        assert json.load(handle) == infos


def test_database_keeps_only_the_given_classes(kitti_root):
    infos = create_gt_database(kitti_root, classes=["Car", "Pedestrian"], info_path="db.json")
    assert sorted(infos) == ["Car", "Pedestrian"]
    files = sorted(os.listdir(os.path.join(kitti_root, "kitti_gt_database")))
    assert files == ["000000_Car_0.bin", "000000_Pedestrian_1.bin", "000001_Car_0.bin"]


def test_kitti_difficulty_hand_cases():
    anno = {
        "bbox": np.array([[0, 0, 10, 41], [0, 0, 10, 40], [0, 0, 10, 30], [0, 0, 10, 30], [0, 0, 10, 30]]),
        "occluded": np.array([0, 0, 2, 3, 0]),
        "truncated": np.array([0.15, 0.0, 0.5, 0.0, 0.51]),
    }
    # 40 px is not taller than 40 (moderate); occlusion 3 and truncation 0.51 meet no level.
    np.testing.assert_array_equal(kitti_difficulty(anno), [0, 1, 2, -1, -1])


def test_lidar_only_database_and_cli(tmp_path, capsys):
    root = tmp_path / "lidar_only"
    (root / "points").mkdir(parents=True)
    (root / "labels").mkdir()
    boxes = np.array([[10.0, 2.0, -1.7, 3.9, 1.6, 1.5, 0.3], [8.0, -3.0, -1.7, 0.8, 0.6, 1.7, 1.2]])
    write_points(root / "points" / "a.bin", _points_for(boxes, np.random.default_rng(1)))
    (root / "labels" / "a.txt").write_text(
        "Car 10 2 -1.7 3.9 1.6 1.5 0.3\nPedestrian 8 -3 -1.7 0.8 0.6 1.7 1.2\n"
    )
    infos = main([str(root), "--dataset", "lidar_only", "--out-dir", "db", "--info-path", "db.json"])
    assert "Car: 1 objects" in capsys.readouterr().out
    assert infos["Car"][0]["box3d_lidar"] == boxes[0].tolist()
    assert infos["Pedestrian"][0]["num_points_in_gt"] == 30 and infos["Pedestrian"][0]["difficulty"] == 0
    (root / "labels" / "b.txt").write_text("Car 1 2 3\n")
    with pytest.raises(ValueError, match=r"b\.txt, line 1: expected 8 values"):
        read_lidar_label(root / "labels" / "b.txt")


def _random_boxes(rng: np.random.Generator, num: int) -> np.ndarray:
    return np.c_[
        rng.uniform(-4, 4, (num, 2)),
        np.zeros(num),
        rng.uniform(0.3, 4, (num, 2)),
        np.ones(num),
        rng.uniform(-4, 4, num),
    ]


def test_box_collision_test_equals_shapely():
    rng = np.random.default_rng(3)
    a, b = _random_boxes(rng, 40), _random_boxes(rng, 30)
    a[:3] = b[:3]  # identical boxes collide
    a[3] = [40.0, 40.0, 0, 2, 1, 1, np.pi / 4]  # 45 degrees
    b[3] = [40.0, 41.0, 0, 2, 1, 1, 0.0]
    ours = box_collision_test(bev_corners(a), bev_corners(b))
    polygons_a = [Polygon(c) for c in bev_corners(a)]
    polygons_b = [Polygon(c) for c in bev_corners(b)]
    expected = np.array([[pa.intersection(pb).area > 1e-9 for pb in polygons_b] for pa in polygons_a])
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(ours, expected)
    touching = np.array([[0.0, 0, 0, 2, 2, 1, 0], [2.0, 0, 0, 2, 2, 1, 0]])
    assert not box_collision_test(bev_corners(touching[:1]), bev_corners(touching[1:]))[0, 0]


def _sampler(root: str, **kwargs) -> DataBaseSampler:
    create_gt_database(root)
    defaults = dict(
        info_path="kitti_dbinfos_train.json",
        data_root=root,
        prepare=dict(filter_by_difficulty=[-1], filter_by_min_points=dict(Car=5, Pedestrian=5)),
        sample_groups=dict(Car=4, Pedestrian=2),
        classes=("Pedestrian", "Cyclist", "Car"),
    )
    return DataBaseSampler(**{**defaults, **kwargs})


def test_sampler_filters(kitti_root):
    sampler = _sampler(kitti_root)
    assert {name: len(items) for name, items in sampler.db_infos.items()} == {
        "Car": 2,
        "Pedestrian": 1,
        "Cyclist": 0,  # difficulty -1
        "Van": 1,
    }
    strict = _sampler(kitti_root, prepare=dict(filter_by_min_points=dict(Car=31)))
    assert len(strict.db_infos["Car"]) == 0 and len(strict.db_infos["Cyclist"]) == 1
    with pytest.raises(ValueError, match="not in classes"):
        _sampler(kitti_root, sample_groups=dict(Truck=2))


def test_sampler_avoids_collisions_and_is_seeded(kitti_root):
    np.random.seed(0)
    sampler = _sampler(kitti_root)
    far = np.array([[50.0, 30.0, -1.7, 4.0, 1.7, 1.5, 0.0]])  # collides with no database object
    first = sampler.sample_all(far, np.array([2]))
    # Cars: 4 wanted - 1 present = 3 drawn from 2 database cars that do not collide -> 2; pedestrian: 1.
    assert sorted(first["gt_labels_3d"].tolist()) == [0, 2, 2]
    boxes = np.concatenate([far, first["gt_bboxes_3d"]])
    collisions = box_collision_test(bev_corners(boxes), bev_corners(boxes))
    assert not (collisions & ~np.eye(len(boxes), dtype=bool)).any()
    assert len(first["points"]) == 30 * 3
    assert points_in_boxes(first["points"], first["gt_bboxes_3d"]).any(1).all()
    # An existing box on top of the database's first car: that car is never pasted.
    blocking = np.array([FRAMES["000000"][0][1]])
    for _ in range(5):
        result = sampler.sample_all(blocking, np.array([1]))
        cars = result["gt_bboxes_3d"][result["gt_labels_3d"] == 2]
        assert not box_collision_test(bev_corners(cars), bev_corners(blocking)).any()
    np.random.seed(0)
    again = _sampler(kitti_root).sample_all(far, np.array([2]))
    np.testing.assert_array_equal(again["gt_bboxes_3d"], first["gt_bboxes_3d"])
    assert _sampler(kitti_root, rate=0.0).sample_all(far, np.array([2])) is None
