"""Tests of the synthetic KITTI-layout LiDAR dataset writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely.geometry

from visionstack.tasks.det3d.boxes import (
    alpha_from_camera,
    bev_corners,
    box_2d_from_camera_boxes,
    camera_to_lidar_boxes,
    points_in_boxes,
)
from visionstack.tasks.det3d.kitti import read_calib, read_image_set, read_label, read_points
from visionstack.tasks.det3d.lidar_sim import Scanner
from visionstack.tasks.det3d.synthetic import (
    CAM2IMG,
    IMAGE_SHAPE,
    LIDAR2CAM,
    make_frame,
    write_synthetic_det3d,
)

NUM_TRAIN, NUM_VAL = 4, 2


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth_det3d")
    return root, write_synthetic_det3d(root, seed=5, num_train=NUM_TRAIN, num_val=NUM_VAL)


def _camera_boxes(anno: dict) -> np.ndarray:
    return np.concatenate([anno["location"], anno["dimensions"], anno["rotation_y"][:, None]], axis=1)


def test_layout_and_meta(dataset):
    root, meta = dataset
    train = read_image_set(root / "ImageSets" / "train.txt")
    val = read_image_set(root / "ImageSets" / "val.txt")
    assert train == [f"{i:06d}" for i in range(NUM_TRAIN)]
    assert val == [f"{i:06d}" for i in range(NUM_TRAIN, NUM_TRAIN + NUM_VAL)]
    for frame_id in train + val:
        for folder, suffix in (("velodyne", "bin"), ("label_2", "txt"), ("calib", "txt"), ("image_2", "png")):
            assert (root / "training" / folder / f"{frame_id}.{suffix}").is_file()
    assert sorted(p.stem for p in (root / "lidar_only" / "points").iterdir()) == val
    assert json.loads((root / "meta.json").read_text()) == meta
    for split, ids in (("train", train), ("val", val)):
        counted: dict[str, int] = {}
        for frame_id in ids:
            for name in read_label(root / "training" / "label_2" / f"{frame_id}.txt")["name"]:
                counted[str(name)] = counted.get(str(name), 0) + 1
        assert counted == meta["counts"][split]
    assert meta["counts"]["train"]["Car"] >= 3 * NUM_TRAIN  # 6-13 cars drawn per frame
    assert 10_000 < meta["mean_points_per_frame"] < 30_000


def test_same_seed_same_bytes(dataset, tmp_path):
    root, _ = dataset
    write_synthetic_det3d(tmp_path, seed=5, num_train=NUM_TRAIN, num_val=NUM_VAL)
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for relative in files:
        assert (root / relative).read_bytes() == (tmp_path / relative).read_bytes(), relative


def test_calibration_is_kitti(dataset):
    root, _ = dataset
    calib = read_calib(root / "training" / "calib" / "000000.txt")
    np.testing.assert_allclose(calib["lidar2cam"], LIDAR2CAM, rtol=0, atol=1e-15)
    np.testing.assert_allclose(calib["cam2img"], CAM2IMG, rtol=0, atol=1e-12)
    assert calib["P2"][0, 0] == 707.0493 and calib["P2"][0, 3] == 45.75831
    assert calib["Tr_velo_to_cam"][2, 3] == -0.3321029


def test_labels_are_the_cast_boxes(dataset):
    """The written 2-decimal labels, read back, are the boxes the points were cast from."""
    root, _ = dataset
    scanner = Scanner(horizontal_fov=(-55.0, 55.0), azimuth_step_deg=0.3, max_range=80.0)
    for index in range(NUM_TRAIN):
        frame = make_frame(np.random.default_rng([5, index]), scanner)
        anno = read_label(root / "training" / "label_2" / f"{index:06d}.txt")
        objects = anno["name"] != "DontCare"
        lidar = camera_to_lidar_boxes(_camera_boxes(anno)[objects], LIDAR2CAM)
        np.testing.assert_allclose(lidar, frame["lidar_boxes"], atol=1e-9)
        points = read_points(root / "training" / "velodyne" / f"{index:06d}.bin")
        np.testing.assert_array_equal(points, frame["points"])
        # Every labelled object has points on it (surface points may sit 2 cm out: range noise).
        grown = lidar.copy()
        grown[:, 3:6] += 0.2
        grown[:, 2] -= 0.1
        assert (points_in_boxes(points[:, :3], grown).sum(axis=0) >= frame["num_points"]).all()
        assert (frame["num_points"] > 0).all()


def test_label_fields_are_consistent(dataset):
    root, _ = dataset
    seen_truncation = seen_occlusion = False
    for index in range(NUM_TRAIN + NUM_VAL):
        anno = read_label(root / "training" / "label_2" / f"{index:06d}.txt")
        objects = anno["name"] != "DontCare"
        cam = _camera_boxes(anno)[objects]
        assert set(anno["name"]) <= {"Car", "Van", "Pedestrian", "Cyclist", "DontCare"}
        np.testing.assert_allclose(anno["alpha"][objects], alpha_from_camera(cam), atol=0.0051 + 1e-9)
        boxes_2d = box_2d_from_camera_boxes(cam, CAM2IMG, IMAGE_SHAPE)
        np.testing.assert_allclose(anno["bbox"][objects], boxes_2d, atol=0.0051)
        assert ((anno["truncated"][objects] >= 0) & (anno["truncated"][objects] <= 1)).all()
        assert np.isin(anno["occluded"][objects], [0, 1, 2]).all()
        seen_truncation |= bool((anno["truncated"][objects] > 0).any())
        seen_occlusion |= bool((anno["occluded"][objects] > 0).any())
        # Objects are in front of the sensor and inside the default range.
        lidar = camera_to_lidar_boxes(cam, LIDAR2CAM)
        assert (lidar[:, 0] > 0).all() and (np.abs(lidar[:, 1]) < 40).all()
        # No two objects overlap (Shapely polygons of the BEV footprints).
        polygons = [shapely.geometry.Polygon(c) for c in bev_corners(lidar)]
        for i in range(len(polygons)):
            for j in range(i + 1, len(polygons)):
                assert polygons[i].intersection(polygons[j]).area == 0.0
        dontcare = ~objects
        assert (anno["location"][dontcare] == -1000).all() and (anno["rotation_y"][dontcare] == -10).all()
    assert seen_truncation and seen_occlusion


def test_lidar_only_copy_matches(dataset):
    root, _ = dataset
    for index in range(NUM_TRAIN, NUM_TRAIN + NUM_VAL):
        frame_id = f"{index:06d}"
        velodyne = root / "training" / "velodyne" / f"{frame_id}.bin"
        assert (root / "lidar_only" / "points" / f"{frame_id}.bin").read_bytes() == velodyne.read_bytes()
        anno = read_label(root / "training" / "label_2" / f"{frame_id}.txt")
        objects = anno["name"] != "DontCare"
        lines = (root / "lidar_only" / "labels" / f"{frame_id}.txt").read_text().splitlines()
        assert [line.split()[0] for line in lines] == list(anno["name"][objects])
        boxes = np.array([[float(v) for v in line.split()[1:]] for line in lines]).reshape(-1, 7)
        expected = camera_to_lidar_boxes(_camera_boxes(anno)[objects], LIDAR2CAM)
        np.testing.assert_allclose(boxes, expected, atol=1e-6)


def test_image_shows_the_scene(dataset):
    import cv2

    root, _ = dataset
    image = cv2.imread(str(root / "training" / "image_2" / "000000.png"))
    assert image.shape == (*IMAGE_SHAPE, 3)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10  # sky, road, and painted faces


def test_range_option_crops_points_and_objects(tmp_path):
    meta = write_synthetic_det3d(
        tmp_path, seed=1, num_train=2, num_val=0, point_cloud_range=(0, -20, -3, 40, 20, 1), with_images=False
    )
    assert not (tmp_path / "training" / "image_2").exists()
    for index in range(2):
        points = read_points(tmp_path / "training" / "velodyne" / f"{index:06d}.bin")
        assert points[:, 0].min() >= 0 and points[:, 0].max() < 40 and np.abs(points[:, 1]).max() <= 20
        anno = read_label(tmp_path / "training" / "label_2" / f"{index:06d}.txt")
        objects = anno["name"] != "DontCare"
        lidar = camera_to_lidar_boxes(_camera_boxes(anno)[objects], LIDAR2CAM)
        assert (lidar[:, 0] < 40.01).all() and (np.abs(lidar[:, 1]) < 20.01).all()
    assert meta["point_cloud_range"] == [0, -20, -3, 40, 20, 1]
