"""Tests of the 3D box helpers: conversions, corners, points in boxes, projection, 2D boxes, alpha."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from shapely.geometry import Point, Polygon

from visionstack.tasks.det3d.boxes import (
    alpha_from_camera,
    bev_corners,
    box_2d_from_camera_boxes,
    box_corners,
    camera_box_corners,
    camera_to_lidar_boxes,
    count_points_in_boxes,
    lidar_to_camera_boxes,
    limit_period,
    points_in_boxes,
    project_to_image,
)
from visionstack.tasks.det3d.kitti import extend_matrix

# KITTI training frame 000000's calibration (R0_rect, Tr_velo_to_cam, P2).
R0_RECT = np.array(
    [
        [9.999239e-01, 9.837760e-03, -7.445048e-03],
        [-9.869795e-03, 9.999421e-01, -4.278459e-03],
        [7.402527e-03, 4.351614e-03, 9.999631e-01],
    ]
)
TR_VELO_TO_CAM = np.array(
    [
        [7.533745e-03, -9.999714e-01, -6.166020e-04, -4.069766e-03],
        [1.480249e-02, 7.280733e-04, -9.998902e-01, -7.631618e-02],
        [9.998621e-01, 7.523790e-03, 1.480755e-02, -2.717806e-01],
    ]
)
P2 = np.array(
    [
        [7.215377e02, 0.0, 6.095593e02, 4.485728e01],
        [0.0, 7.215377e02, 1.728540e02, 2.163791e-01],
        [0.0, 0.0, 1.0, 2.745884e-03],
    ]
)
LIDAR2CAM = extend_matrix(R0_RECT) @ extend_matrix(TR_VELO_TO_CAM)
# The pure axis swap LiDAR (x fwd, y left, z up) -> camera (x right, y down, z fwd), plus a shift.
AXIS_SWAP = np.array([[0, -1, 0, 0.1], [0, 0, -1, -0.2], [1, 0, 0, 0.3], [0, 0, 0, 1]], dtype=np.float64)


def random_lidar_boxes(rng: np.random.Generator, count: int) -> np.ndarray:
    centre = rng.uniform([0, -30, -3], [60, 30, 1], size=(count, 3))
    size = rng.uniform(0.5, 5, size=(count, 3))
    yaw = rng.uniform(-np.pi, np.pi, size=(count, 1))
    return np.concatenate([centre, size, yaw], axis=1)


def test_limit_period_numpy_and_torch():
    values = np.array([-np.pi, np.pi, 3 * np.pi / 2, -3 * np.pi / 2, 0.1, 7.0])
    expected = np.array([-np.pi, -np.pi, -np.pi / 2, np.pi / 2, 0.1, 7.0 - 2 * np.pi])
    np.testing.assert_allclose(limit_period(values), expected, atol=1e-12)
    np.testing.assert_allclose(limit_period(torch.tensor(values)).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(limit_period(np.array([2.0]), 0, np.pi), [2.0])
    np.testing.assert_allclose(limit_period(np.array([4.0]), 0, np.pi), [4.0 - np.pi])


def test_lidar_to_camera_hand_case():
    # A car 10 m ahead, 2 m left, heading forward (yaw 0) -> camera x = -2 (+0.1), ry = -pi/2.
    boxes = np.array([[10.0, 2.0, -1.0, 4.0, 1.8, 1.5, 0.0]])
    cam = lidar_to_camera_boxes(boxes, AXIS_SWAP)
    np.testing.assert_allclose(cam, [[-1.9, 0.8, 10.3, 4.0, 1.5, 1.8, -np.pi / 2]], atol=1e-12)
    # Heading left (yaw pi/2) -> facing camera -x -> ry = -pi (limited into [-pi, pi)).
    cam = lidar_to_camera_boxes(np.array([[10.0, 2.0, -1.0, 4.0, 1.8, 1.5, np.pi / 2]]), AXIS_SWAP)
    assert cam[0, 6] == pytest.approx(-np.pi)


def test_camera_lidar_round_trip_kitti_calibration():
    rng = np.random.default_rng(0)
    lidar = random_lidar_boxes(rng, 200)
    back = camera_to_lidar_boxes(lidar_to_camera_boxes(lidar, LIDAR2CAM), LIDAR2CAM)
    np.testing.assert_allclose(back[:, :6], lidar[:, :6], atol=1e-6)
    np.testing.assert_allclose(limit_period(back[:, 6] - lidar[:, 6]), 0, atol=1e-6)
    cam = lidar_to_camera_boxes(lidar, LIDAR2CAM)
    again = lidar_to_camera_boxes(camera_to_lidar_boxes(cam, LIDAR2CAM), LIDAR2CAM)
    np.testing.assert_allclose(again, cam, atol=1e-6)


def test_box_corners_hand_case_and_order():
    boxes = np.array([[0.0, 0.0, 0.0, 4.0, 2.0, 1.0, 0.0], [1.0, 2.0, 3.0, 4.0, 2.0, 1.0, np.pi / 2]])
    corners = box_corners(boxes)
    assert corners.shape == (2, 8, 3)
    expected = [
        [-2, -1, 0],
        [-2, -1, 1],
        [-2, 1, 1],
        [-2, 1, 0],
        [2, -1, 0],
        [2, -1, 1],
        [2, 1, 1],
        [2, 1, 0],
    ]
    np.testing.assert_allclose(corners[0], expected, atol=1e-12)
    # Turned 90 degrees left: the front-right corner (2, -1) goes to (1, 2), shifted by (1, 2, 3).
    np.testing.assert_allclose(corners[1, 4], [2.0, 4.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(corners[1, 2], [-1.0 + 1, -2.0 + 2, 4.0], atol=1e-12)


def test_corners_torch_equals_numpy_and_bev_is_counter_clockwise():
    rng = np.random.default_rng(1)
    boxes = random_lidar_boxes(rng, 50)
    corners = box_corners(boxes)
    torch_corners = box_corners(torch.tensor(boxes))
    assert isinstance(torch_corners, torch.Tensor)
    np.testing.assert_allclose(torch_corners.numpy(), corners, atol=1e-12)
    bev = bev_corners(boxes)
    np.testing.assert_allclose(bev, corners[:, [0, 4, 7, 3], :2], atol=1e-12)
    np.testing.assert_allclose(bev_corners(torch.tensor(boxes)).numpy(), bev, atol=1e-12)
    np.testing.assert_allclose(bev_corners(boxes[:, [0, 1, 3, 4, 6]]), bev, atol=1e-12)
    x, y = bev[..., 0], bev[..., 1]
    signed_area = 0.5 * (x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1)
    np.testing.assert_allclose(signed_area, boxes[:, 3] * boxes[:, 4], rtol=1e-9)  # positive: CCW


def test_camera_box_corners_match_lidar_corners():
    rng = np.random.default_rng(2)
    lidar = random_lidar_boxes(rng, 30)
    lidar_corners = box_corners(lidar).reshape(-1, 3)
    expected = lidar_corners @ AXIS_SWAP[:3, :3].T + AXIS_SWAP[:3, 3]
    cam_corners = camera_box_corners(lidar_to_camera_boxes(lidar, AXIS_SWAP))
    np.testing.assert_allclose(cam_corners.reshape(-1, 3), expected, atol=1e-9)


def slow_points_in_boxes(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    result = np.zeros((len(points), len(boxes)), dtype=bool)
    for j, (cx, cy, cz, dx, dy, dz, yaw) in enumerate(boxes):
        rotation = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
        for i, (px, py, pz) in enumerate(points[:, :3]):
            local = np.linalg.solve(rotation, [px - cx, py - cy])
            result[i, j] = abs(local[0]) < dx / 2 and abs(local[1]) < dy / 2 and cz <= pz <= cz + dz
    return result


def test_points_in_boxes_equals_slow_loop_and_shapely():
    rng = np.random.default_rng(3)
    boxes = random_lidar_boxes(rng, 6)
    boxes[:, :2] = rng.uniform(-5, 5, size=(6, 2))
    boxes[:, 2] = -1
    points = np.concatenate(
        [rng.uniform([-8, -8, -2], [8, 8, 4], size=(400, 3)), rng.random((400, 1))], axis=1
    )
    inside = points_in_boxes(points, boxes)
    assert inside.shape == (400, 6) and inside.dtype == bool
    np.testing.assert_array_equal(inside, slow_points_in_boxes(points, boxes))
    assert inside.any()
    for j, polygon in enumerate(Polygon(c) for c in bev_corners(boxes)):
        in_height = (points[:, 2] >= boxes[j, 2]) & (points[:, 2] <= boxes[j, 2] + boxes[j, 5])
        in_polygon = np.array([polygon.contains(Point(p[:2])) for p in points])
        np.testing.assert_array_equal(inside[:, j], in_polygon & in_height)
    np.testing.assert_array_equal(count_points_in_boxes(points, boxes), inside.sum(axis=0))


def test_points_in_boxes_edges_and_empty():
    box = np.array([[0.0, 0.0, 0.0, 2.0, 2.0, 1.0, 0.0]])
    points = np.array(
        [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.01], [1.0, 0.0, 0.5], [0.99, 0.99, 0.5]]
    )
    np.testing.assert_array_equal(points_in_boxes(points, box)[:, 0], [True, True, False, False, True])
    assert points_in_boxes(points, np.zeros((0, 7))).shape == (5, 0)
    assert count_points_in_boxes(np.zeros((0, 4)), box).tolist() == [0]


def test_projection_of_a_point_on_the_optical_axis():
    camera = np.array([[700.0, 0, 600.0, 0], [0, 700.0, 180.0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    on_axis_camera = np.array([[0.0, 0.0, 12.0]])
    pixels, depth = project_to_image(on_axis_camera, camera)
    np.testing.assert_allclose(pixels, [[600.0, 180.0]])
    np.testing.assert_allclose(depth, [12.0])
    # The same point given in the LiDAR frame through lidar2img = cam2img @ lidar2cam.
    on_axis_lidar = (np.linalg.inv(LIDAR2CAM) @ np.array([0.0, 0.0, 12.0, 1.0]))[None, :3]
    pixels, depth = project_to_image(on_axis_lidar, camera @ LIDAR2CAM)
    np.testing.assert_allclose(pixels, [[600.0, 180.0]], atol=1e-9)
    np.testing.assert_allclose(depth, [12.0], atol=1e-12)
    # KITTI's P2 (with its small baseline offset): u = (fx * x + cx * z + tx) / (z + tz).
    pixels, depth = project_to_image(np.array([[1.0, 0.5, 20.0]]), extend_matrix(P2))
    u = (P2[0, 0] * 1.0 + P2[0, 2] * 20.0 + P2[0, 3]) / (20.0 + P2[2, 3])
    assert pixels[0, 0] == pytest.approx(u) and depth[0] == pytest.approx(20.0 + P2[2, 3])


def test_box_2d_from_camera_boxes_hand_case_and_clipping():
    camera = np.array([[700.0, 0, 600.0, 0], [0, 700.0, 180.0, 0], [0, 0, 1, 0]])
    # Straight ahead, bottom at y = 1, l = 2 along x (ry = 0), w = 2, h = 1: x in [-1, 1], z in [9, 11].
    boxes = np.array([[0.0, 1.0, 10.0, 2.0, 1.0, 2.0, 0.0], [-30.0, 1.0, 10.0, 2.0, 1.0, 2.0, 0.0]])
    box_2d = box_2d_from_camera_boxes(boxes, camera, (375, 1242))
    np.testing.assert_allclose(box_2d[0], [600 - 700 / 9, 180, 600 + 700 / 9, 180 + 700 / 9])
    # The second is far left: clipped at x = 0 (both x1 and x2).
    np.testing.assert_allclose(box_2d[1, [0, 2]], [0.0, 0.0])
    assert box_2d_from_camera_boxes(np.zeros((0, 7)), camera, (375, 1242)).shape == (0, 4)


def test_alpha_hand_cases_and_mmdet3d_lidar_form():
    # Straight ahead: alpha = ry; 45 degrees to the right, driving away (ry = -pi/2): alpha = -3pi/4.
    cam = np.array([[0.0, 1.5, 10.0, 4, 1.5, 1.8, 0.7], [10.0, 1.5, 10.0, 4, 1.5, 1.8, -np.pi / 2]])
    np.testing.assert_allclose(alpha_from_camera(cam), [0.7, -3 * np.pi / 4], atol=1e-12)
    rng = np.random.default_rng(4)
    lidar = random_lidar_boxes(rng, 20)
    lidar[:, 0] = np.abs(lidar[:, 0]) + 5
    cam = lidar_to_camera_boxes(lidar, AXIS_SWAP)
    centre = lidar[:, :3] + np.array([0.3, -0.1, -0.2])  # undo AXIS_SWAP's shift, in LiDAR axes
    mmdet3d_form = limit_period(-np.arctan2(-centre[:, 1], centre[:, 0]) + cam[:, 6])
    np.testing.assert_allclose(alpha_from_camera(cam), mmdet3d_form, atol=1e-9)
