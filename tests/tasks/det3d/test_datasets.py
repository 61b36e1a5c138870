"""Tests of the KITTI raw-layout dataset and the LiDAR-only folder dataset, on tiny written frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visionstack.data.base_dataset import DatasetError
from visionstack.registry import DATASETS
from visionstack.tasks.det3d.boxes import count_points_in_boxes, lidar_to_camera_boxes
from visionstack.tasks.det3d.datasets import KittiDataset, LidarOnlyDataset
from visionstack.tasks.det3d.kitti import (
    empty_anno,
    read_calib,
    write_calib,
    write_label,
    write_lidar_label,
    write_points,
)

R0_RECT = [
    [9.999239e-01, 9.837760e-03, -7.445048e-03],
    [-9.869795e-03, 9.999421e-01, -4.278459e-03],
    [7.402527e-03, 4.351614e-03, 9.999631e-01],
]
TR_VELO_TO_CAM = [
    [7.533745e-03, -9.999714e-01, -6.166020e-04, -4.069766e-03],
    [1.480249e-02, 7.280733e-04, -9.998902e-01, -7.631618e-02],
    [9.998621e-01, 7.523790e-03, 1.480755e-02, -2.717806e-01],
]
P2 = [
    [7.215377e02, 0.0, 6.095593e02, 4.485728e01],
    [0.0, 7.215377e02, 1.728540e02, 2.163791e-01],
    [0.0, 0.0, 1.0, 2.745884e-03],
]
CALIB = {"P2": np.array(P2), "R0_rect": np.array(R0_RECT), "Tr_velo_to_cam": np.array(TR_VELO_TO_CAM)}

# Per frame: (type, LiDAR box (x, y, z, dx, dy, dz, yaw), points put inside).
FRAMES = {
    "000000": [
        ("Car", (10.0, 2.0, -1.7, 4.0, 1.8, 1.5, 0.3), 7),
        ("Pedestrian", (8.0, -3.0, -1.6, 0.8, 0.6, 1.7, 0.0), 3),
    ],
    "000003": [("Van", (15.0, 0.0, -1.7, 5.0, 2.0, 2.0, 0.0), 4), ("DontCare", None, 0)],
    "000007": [
        ("Cyclist", (20.0, 5.0, -1.6, 1.8, 0.6, 1.7, -1.0), 5),
        ("Truck", (30.0, -5.0, -1.7, 8.0, 2.5, 3.0, 0.1), 2),
    ],
}


def box_points(box, count, rng):
    """``count`` points well inside the LiDAR box (bottom centre), intensity 0.5."""
    x, y, z, dx, dy, dz, yaw = box
    local = rng.uniform([-0.4, -0.4, 0.1], [0.4, 0.4, 0.9], size=(count, 3)) * [dx, dy, dz]
    cos, sin = np.cos(yaw), np.sin(yaw)
    world = np.stack(
        [
            x + local[:, 0] * cos - local[:, 1] * sin,
            y + local[:, 0] * sin + local[:, 1] * cos,
            z + local[:, 2],
        ],
        1,
    )
    return np.concatenate([world, np.full((count, 1), 0.5)], axis=1)


def make_kitti(root, frames=FRAMES, images=("000000",), split="train"):
    """Write a tiny KITTI tree: image set, calib, labels (from LiDAR boxes), points, some images."""
    rng = np.random.default_rng(0)
    for folder in (
        "ImageSets",
        "training/velodyne",
        "training/calib",
        "training/label_2",
        "training/image_2",
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / f"{split}.txt").write_text("".join(f"{frame}\n" for frame in frames))
    lidar2cam = read_calib_from(CALIB, root)["lidar2cam"]
    for frame, objects in frames.items():
        write_calib(root / "training/calib" / f"{frame}.txt", CALIB)
        anno = empty_anno()
        rows = {key: [] for key in anno}
        points = [rng.uniform([-5, -5, -5, 0], [-1, 5, 5, 1], size=(20, 4))]  # behind, far from every box
        for name, box, count in objects:
            if box is None:  # DontCare: KITTI's placeholders
                cam = np.array([-1000.0, -1000.0, -1000.0, -1.0, -1.0, -1.0, -10.0])
            else:
                cam = lidar_to_camera_boxes(np.array([box]), lidar2cam)[0]
                points.append(box_points(box, count, rng))
            for key, value in (
                ("name", name),
                ("truncated", 0.0),
                ("occluded", 0),
                ("alpha", -1.0),
                ("bbox", [100, 120, 200, 220]),
                ("dimensions", cam[3:6]),
                ("location", cam[:3]),
                ("rotation_y", cam[6]),
                ("num_points_in_gt", -1),
            ):
                rows[key].append(value)
        write_label(
            root / "training/label_2" / f"{frame}.txt", {key: np.array(value) for key, value in rows.items()}
        )
        write_points(root / "training/velodyne" / f"{frame}.bin", np.concatenate(points).astype(np.float32))
        if frame in images:
            cv2.imwrite(str(root / "training/image_2" / f"{frame}.png"), np.zeros((30, 50, 3), np.uint8))
    return root


def read_calib_from(calib, root):
    write_calib(root / "calib_tmp.txt", calib)
    return read_calib(root / "calib_tmp.txt")


def test_kitti_records(tmp_path):
    root = make_kitti(tmp_path)
    dataset = KittiDataset(str(root), filter_empty_gt=False)
    assert len(dataset) == 3 and dataset.metainfo["classes"] == ("Pedestrian", "Cyclist", "Car")
    info = dataset.get_data_info(0)
    assert info["frame_id"] == "000000" and info["sample_idx"] == 0
    assert info["lidar_path"].endswith("training/velodyne/000000.bin")
    assert info["cam_img_path"].endswith("training/image_2/000000.png") and info["img_shape"] == (30, 50)
    assert info["img_path"] == info["lidar_path"]  # the input file, as infer and export --verify read it
    assert info["gt_bboxes_3d"].dtype == np.float32 and info["gt_labels_3d"].dtype == np.int64
    assert info["gt_labels_3d"].tolist() == [2, 0]
    expected = np.array([box for _, box, _ in FRAMES["000000"]])
    np.testing.assert_allclose(info["gt_bboxes_3d"], expected, atol=0.02)  # labels hold 2 decimals
    calib = read_calib(root / "training/calib/000000.txt")
    np.testing.assert_allclose(info["lidar2cam"], calib["lidar2cam"])
    np.testing.assert_allclose(info["cam2img"], calib["cam2img"])
    assert "eval_ann_info" not in info  # training mode
    other = dataset.get_data_info(1)
    assert other["cam_img_path"] is None and other["img_shape"] == (375, 1242) and other["sample_idx"] == 3
    assert other["gt_labels_3d"].tolist() == [-1]  # the Van; DontCare is not a GT box
    assert dataset.get_data_info(2)["gt_labels_3d"].tolist() == [1, -1]


def test_kitti_filter_empty_gt_and_test_mode(tmp_path):
    root = make_kitti(tmp_path)
    train = KittiDataset(str(root))
    assert [train.get_data_info(i)["frame_id"] for i in range(len(train))] == ["000000", "000007"]
    test = KittiDataset(str(root), test_mode=True)
    assert len(test) == 3
    anno = test.get_data_info(1)["eval_ann_info"]
    assert anno["name"].tolist() == ["Van", "DontCare"]
    assert anno["num_points_in_gt"].tolist() == [4, -1]
    assert anno["dimensions"].shape == (2, 3) and anno["bbox"].shape == (2, 4)
    first = test.get_data_info(0)["eval_ann_info"]
    assert first["num_points_in_gt"].tolist() == [7, 3]
    points = np.fromfile(root / "training/velodyne/000000.bin", dtype=np.float32).reshape(-1, 4)
    np.testing.assert_array_equal(count_points_in_boxes(points, first["lidar_boxes"]), [7, 3])
    # Counting happens on access: the stored records still say -1.
    assert test._records[0]["ann_info"]["num_points_in_gt"].tolist() == [-1, -1]


def test_kitti_pipeline_registry_and_classes(tmp_path):
    root = make_kitti(tmp_path)
    dataset = DATASETS.build(
        dict(type="KittiDataset", data_root=str(root), metainfo=dict(classes=("Car",)), filter_empty_gt=True),
        pipeline=[lambda results: {**results, "seen": True}],
    )
    assert len(dataset) == 1  # only frame 000000 holds a Car
    sample = dataset[0]
    assert sample["seen"] and sample["gt_labels_3d"].tolist() == [0, -1]


def test_kitti_missing_files_named(tmp_path):
    root = make_kitti(tmp_path)
    (root / "training/velodyne/000003.bin").unlink()
    with pytest.raises(DatasetError, match=r"000003.bin"):
        KittiDataset(str(root))
    dataset = KittiDataset(str(root), skip_bad_samples=True, filter_empty_gt=False)
    assert len(dataset) == 2 and dataset.bad_sample_count == 1
    (root / "training/calib/000000.txt").unlink()
    with pytest.raises(DatasetError, match=r"calibration file .*000000.txt"):
        KittiDataset(str(root))
    with pytest.raises(FileNotFoundError, match=r"val.txt"):
        KittiDataset(str(root), ann_file="ImageSets/val.txt")


def test_kitti_without_labels(tmp_path):
    root = make_kitti(tmp_path)
    for path in (root / "training/label_2").iterdir():
        path.unlink()
    with pytest.raises(DatasetError, match=r"label file"):
        KittiDataset(str(root))
    dataset = KittiDataset(str(root), with_label=False, test_mode=True)
    info = dataset.get_data_info(2)
    assert info["gt_bboxes_3d"].shape == (0, 7) and info["eval_ann_info"]["name"].shape == (0,)


def make_lidar_only(root):
    rng = np.random.default_rng(1)
    (root / "points").mkdir(parents=True)
    (root / "labels").mkdir()
    for frame, objects in (("scan_2", FRAMES["000000"]), ("scan_10", FRAMES["000007"]), ("scan_1", [])):
        points = [rng.uniform([-5, -5, -5, 0], [-1, 5, 5, 1], size=(10, 4))]
        points += [box_points(box, count, rng) for _, box, count in objects]
        write_points(root / "points" / f"{frame}.bin", np.concatenate(points))
        write_lidar_label(root / "labels" / f"{frame}.txt", [o[0] for o in objects], [o[1] for o in objects])
    return root


def test_lidar_only_dataset(tmp_path):
    root = make_lidar_only(tmp_path)
    dataset = LidarOnlyDataset(str(root), test_mode=True)
    assert [dataset.get_data_info(i)["frame_id"] for i in range(3)] == ["scan_1", "scan_2", "scan_10"]
    info = dataset.get_data_info(1)
    assert info["sample_idx"] == 1 and "lidar2cam" not in info and "cam_img_path" not in info
    np.testing.assert_allclose(info["gt_bboxes_3d"], [box for _, box, _ in FRAMES["000000"]], atol=1e-4)
    assert info["gt_labels_3d"].tolist() == [2, 0]
    anno = info["eval_ann_info"]
    assert anno["name"].tolist() == ["Car", "Pedestrian"] and anno["num_points_in_gt"].tolist() == [7, 3]
    assert anno["lidar_boxes"].shape == (2, 7)
    assert dataset.get_data_info(2)["gt_labels_3d"].tolist() == [1, -1]
    train = LidarOnlyDataset(str(root))
    assert len(train) == 2  # the empty scan is filtered in training
    (root / "labels" / "scan_10.txt").write_text("Car 1 2 3\n")
    with pytest.raises(DatasetError, match=r"scan_10.txt, line 1"):
        LidarOnlyDataset(str(root))
