"""Tests of KITTI's file readers and writers: calibration, labels, points, image sets."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.tasks.det3d.kitti import (
    KITTI_TYPES,
    empty_anno,
    extend_matrix,
    read_calib,
    read_image_set,
    read_label,
    read_lidar_label,
    read_points,
    write_calib,
    write_label,
    write_lidar_label,
    write_points,
)

# The first lines of a real KITTI calibration file (training/calib/000000.txt, P1/P3 shortened to zeros).
CALIB_TEXT = """P0: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 0.000000000000e+00 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P1: 0 0 0 0 0 0 0 0 0 0 0 0
P2: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 4.485728000000e+01 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 2.163791000000e-01 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 2.745884000000e-03
P3: 0 0 0 0 0 0 0 0 0 0 0 0
R0_rect: 9.999239000000e-01 9.837760000000e-03 -7.445048000000e-03 -9.869795000000e-03 9.999421000000e-01 -4.278459000000e-03 7.402527000000e-03 4.351614000000e-03 9.999631000000e-01
Tr_velo_to_cam: 7.533745000000e-03 -9.999714000000e-01 -6.166020000000e-04 -4.069766000000e-03 1.480249000000e-02 7.280733000000e-04 -9.998902000000e-01 -7.631618000000e-02 9.998621000000e-01 7.523790000000e-03 1.480755000000e-02 -2.717806000000e-01
Tr_imu_to_velo: 9.999976000000e-01 7.553071000000e-04 -2.035826000000e-03 -8.086759000000e-01 -7.854027000000e-04 9.998898000000e-01 -1.482298000000e-02 3.195559000000e-01 2.024406000000e-03 1.482454000000e-02 9.998881000000e-01 -7.997231000000e-01

"""
LABEL_TEXT = """Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01
Car 0.88 3 -0.69 0.00 192.37 402.31 374.00 1.60 1.57 3.23 -2.70 1.74 3.68 -1.29
DontCare -1 -1 -10.00 503.89 169.71 590.61 190.13 -1 -1 -1 -1000.00 -1000.00 -1000.00 -10.00
"""


def test_read_calib_matrices(tmp_path):
    path = tmp_path / "000000.txt"
    path.write_text(CALIB_TEXT)
    calib = read_calib(path)
    assert calib["P2"].shape == (3, 4) and calib["R0_rect"].shape == (3, 3)
    assert calib["Tr_velo_to_cam"].shape == (3, 4) and calib["Tr_imu_to_velo"].shape == (3, 4)
    assert calib["P2"][0, 3] == 44.85728 and calib["R0_rect"][2, 2] == 0.9999631
    expected = extend_matrix(calib["R0_rect"]) @ extend_matrix(calib["Tr_velo_to_cam"])
    np.testing.assert_array_equal(calib["lidar2cam"], expected)
    np.testing.assert_array_equal(calib["cam2img"][:3], calib["P2"])
    np.testing.assert_array_equal(calib["cam2img"][3], [0, 0, 0, 1])
    np.testing.assert_allclose(calib["lidar2img"], calib["cam2img"] @ calib["lidar2cam"])
    # A LiDAR point 10 m ahead is about 10.3 m in front of the camera, near the image centre.
    point = calib["lidar2cam"] @ np.array([10.0, 0.0, 0.0, 1.0])
    assert 9.5 < point[2] < 10.5 and abs(point[0]) < 0.2


def test_calib_round_trip_exact(tmp_path):
    rng = np.random.default_rng(0)
    # Values with 13 significant digits (what %.12e keeps, and more than KITTI's files have) are exact.
    rounded = np.vectorize(lambda v: float(f"{v:.12e}"))
    calib = {
        "P2": rounded(rng.normal(size=(3, 4)) * 700),
        "R0_rect": rounded(rng.normal(size=(3, 3))),
        "Tr_velo_to_cam": rounded(rng.normal(size=(3, 4)) * 1e-3),
    }
    write_calib(tmp_path / "c.txt", calib)
    back = read_calib(tmp_path / "c.txt")
    for key, value in calib.items():
        np.testing.assert_array_equal(back[key], value)
    np.testing.assert_array_equal(back["P0"], np.zeros((3, 4)))
    lines = (tmp_path / "c.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "P0",
        "P1",
        "P2",
        "P3",
        "R0_rect",
        "Tr_velo_to_cam",
        "Tr_imu_to_velo",
    ]
    assert len(lines[4].split()) == 10  # R0_rect: 9 numbers
    # A written file read again writes the same text (the 4x4 forms are not written).
    write_calib(tmp_path / "d.txt", back)
    assert (tmp_path / "d.txt").read_text() == (tmp_path / "c.txt").read_text()


def test_read_calib_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(CALIB_TEXT.replace("R0_rect: 9.999239000000e-01 ", "R0_rect: "))
    with pytest.raises(ValueError, match=r"bad.txt, line 5: R0_rect needs 9 numbers, got 8"):
        read_calib(path)
    path.write_text("P2: 1 2 x 4 5 6 7 8 9 10 11 12\n")
    with pytest.raises(ValueError, match=r"bad.txt, line 1"):
        read_calib(path)
    path.write_text(CALIB_TEXT.splitlines()[0] + "\n")
    with pytest.raises(ValueError, match=r"missing"):
        read_calib(path)
    with pytest.raises(FileNotFoundError):
        read_calib(tmp_path / "none.txt")


def test_read_label_reorders_dimensions(tmp_path):
    path = tmp_path / "000000.txt"
    path.write_text(LABEL_TEXT)
    anno = read_label(path)
    assert anno["name"].tolist() == ["Pedestrian", "Car", "DontCare"]
    np.testing.assert_array_equal(anno["dimensions"][0], [1.20, 1.89, 0.48])  # (l, h, w)
    np.testing.assert_array_equal(anno["location"][1], [-2.70, 1.74, 3.68])
    np.testing.assert_array_equal(anno["bbox"][0], [712.40, 143.00, 810.73, 307.92])
    assert anno["occluded"].tolist() == [0, 3, -1] and anno["occluded"].dtype == np.int64
    np.testing.assert_array_equal(anno["truncated"], [0.0, 0.88, -1])
    np.testing.assert_array_equal(anno["alpha"], [-0.2, -0.69, -10])
    np.testing.assert_array_equal(anno["rotation_y"], [0.01, -1.29, -10])
    assert anno["num_points_in_gt"].tolist() == [-1, -1, -1]
    assert "score" not in anno


def test_label_round_trip_exact(tmp_path):
    (tmp_path / "a.txt").write_text(LABEL_TEXT)
    anno = read_label(tmp_path / "a.txt")
    write_label(tmp_path / "b.txt", anno)
    back = read_label(tmp_path / "b.txt")
    for key in anno:
        np.testing.assert_array_equal(back[key], anno[key])
    # The written lines equal the originals up to KITTI's own formatting of -1 (-1.00 here).
    written = (tmp_path / "b.txt").read_text().splitlines()
    assert written[0] == LABEL_TEXT.splitlines()[0]
    assert written[1] == LABEL_TEXT.splitlines()[1]


def test_label_with_scores_and_empty(tmp_path):
    anno = read_label_from_text(tmp_path, LABEL_TEXT)
    anno["score"] = np.array([0.91234, 0.5, 0.0001])
    write_label(tmp_path / "s.txt", anno)
    line = (tmp_path / "s.txt").read_text().splitlines()[0]
    assert len(line.split()) == 16 and line.endswith(" 0.9123")
    back = read_label(tmp_path / "s.txt")
    np.testing.assert_array_equal(back["score"], [0.9123, 0.5, 0.0001])
    write_label(tmp_path / "e.txt", empty_anno(with_score=True))
    assert (tmp_path / "e.txt").read_text() == ""
    empty = read_label(tmp_path / "e.txt")
    assert empty["dimensions"].shape == (0, 3) and empty["bbox"].shape == (0, 4) and len(empty["name"]) == 0


def read_label_from_text(tmp_path, text):
    (tmp_path / "x.txt").write_text(text)
    return read_label(tmp_path / "x.txt")


def test_read_label_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(LABEL_TEXT + "Car 0 0 0 1 2 3\n")
    with pytest.raises(ValueError, match=r"bad.txt, line 4: expected 15 or 16 values, got 7"):
        read_label(path)
    path.write_text(LABEL_TEXT.replace("-0.69", "abc"))
    with pytest.raises(ValueError, match=r"bad.txt, line 2"):
        read_label(path)


def test_points_round_trip_and_dims(tmp_path):
    rng = np.random.default_rng(1)
    points = rng.normal(size=(100, 4)).astype(np.float32)
    write_points(tmp_path / "p.bin", points)
    assert (tmp_path / "p.bin").stat().st_size == 100 * 16
    back = read_points(tmp_path / "p.bin")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, points)
    np.testing.assert_array_equal(read_points(tmp_path / "p.bin", load_dim=4, use_dim=3), points[:, :3])
    np.testing.assert_array_equal(read_points(tmp_path / "p.bin", use_dim=[0, 1, 2, 3]), points)
    np.testing.assert_array_equal(
        read_points(tmp_path / "p.bin", load_dim=2, use_dim=2), points.reshape(-1, 2)
    )


def test_points_bad_size_names_file(tmp_path):
    (tmp_path / "bad.bin").write_bytes(b"\0" * 20)
    with pytest.raises(ValueError, match=r"bad.bin.*20 bytes"):
        read_points(tmp_path / "bad.bin")
    with pytest.raises(FileNotFoundError):
        read_points(tmp_path / "none.bin")


def test_read_image_set(tmp_path):
    (tmp_path / "train.txt").write_text("000000\n000003\n\n000007\n")
    assert read_image_set(tmp_path / "train.txt") == ["000000", "000003", "000007"]
    (tmp_path / "bad.txt").write_text("000000\n1 2\n")
    with pytest.raises(ValueError, match=r"bad.txt, line 2"):
        read_image_set(tmp_path / "bad.txt")
    assert "DontCare" in KITTI_TYPES and "Car" in KITTI_TYPES


def test_lidar_label_round_trip_and_errors(tmp_path):
    boxes = np.array([[10.1234, -2.5, -1.7, 4.0, 1.8, 1.5, 0.3], [5.0, 1.0, -1.0, 0.8, 0.6, 1.7, -3.1]])
    write_lidar_label(tmp_path / "a.txt", ["Car", "Pedestrian"], boxes)
    anno = read_lidar_label(tmp_path / "a.txt")
    assert anno["name"].tolist() == ["Car", "Pedestrian"] and "score" not in anno
    np.testing.assert_array_equal(anno["lidar_boxes"], boxes)
    write_lidar_label(tmp_path / "b.txt", ["Car", "Pedestrian"], boxes, scores=[0.5, 0.25])
    np.testing.assert_array_equal(read_lidar_label(tmp_path / "b.txt")["score"], [0.5, 0.25])
    write_lidar_label(tmp_path / "c.txt", [], np.zeros((0, 7)))
    assert read_lidar_label(tmp_path / "c.txt")["lidar_boxes"].shape == (0, 7)
    (tmp_path / "d.txt").write_text("Car 1 2 3 4 5 6 7\nCar 1 2\n")
    with pytest.raises(ValueError, match=r"d.txt, line 2"):
        read_lidar_label(tmp_path / "d.txt")
