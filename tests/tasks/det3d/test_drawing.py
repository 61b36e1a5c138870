"""Tests of the 3D detection pictures: the bird's-eye view and boxes projected on the image."""

from __future__ import annotations

import numpy as np

from visionstack.tasks.det3d.boxes import box_corners, project_to_image
from visionstack.tasks.det3d.drawing import GT_COLOR, PRED_PALETTE, bev_pixels, draw_bev, draw_boxes_on_image

RANGE = (0.0, -20.0, 40.0, 20.0)
P2 = np.array([[700.0, 0, 600.0, 0], [0, 700.0, 180.0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
LIDAR2CAM = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])


def close(pixel: np.ndarray, color, tolerance: int = 40) -> bool:
    """The pixel has the colour (anti-aliased lines blend a little with the background)."""
    return bool(np.abs(pixel.astype(int) - np.array(color)).max() <= tolerance)


def test_bev_pixels_forward_is_up_and_left_is_left():
    pixels = bev_pixels(np.array([[40.0, 20.0], [0.0, -20.0], [10.0, 0.0]]), RANGE, 0.1)
    np.testing.assert_allclose(pixels, [[0, 0], [400, 400], [200, 300]])


def test_draw_bev_shape_points_and_gt_box():
    points = np.array([[30.05, 5.05, 0.0, 0.5], [50.0, 0.0, 0.0, 0.5], [0.55, 15.05, -3.0, 0.5]], np.float32)
    gt = np.array([[10.0, 0.0, -1.7, 4.0, 2.0, 1.5, 0.0]])
    picture = draw_bev(points, point_range=RANGE, resolution=0.1, gt_boxes=gt)
    assert picture.shape == (400, 400, 3) and picture.dtype == np.uint8
    # The point 30 m ahead and 5 m left sits at column (20 - 5.05) / 0.1, row (40 - 30.05) / 0.1.
    assert picture[99, 149].any() and not np.array_equal(picture[99, 149], GT_COLOR)
    # Points are coloured by height: the high and the low points differ.
    assert not np.array_equal(picture[99, 149], picture[394, 49])
    # The GT box (x 8..12, y -1..1) is outlined in green: its front edge at row 280, its left at column 190.
    assert close(picture[280, 195], GT_COLOR) and close(picture[295, 190], GT_COLOR)
    assert not picture[295, 195].any()  # the inside of the box is empty (no points there)


def test_draw_bev_predictions_threshold_and_heading():
    boxes = np.array([[22.0, 3.0, -1.7, 4.0, 2.0, 1.5, 0.0], [15.0, -5.0, -1.7, 4.0, 2.0, 1.5, np.pi / 2]])
    empty = np.zeros((0, 4), np.float32)
    both = draw_bev(empty, RANGE, 0.1, pred_boxes=boxes, pred_scores=[0.9, 0.2], pred_labels=[2, 0])
    high = draw_bev(
        empty, RANGE, 0.1, pred_boxes=boxes, pred_scores=[0.9, 0.2], pred_labels=[2, 0], score_thr=0.5
    )
    car, pedestrian = PRED_PALETTE[2], PRED_PALETTE[0]
    # The car (label 2, column 170) heads forward: the tick runs from its centre (row 180) up to its front (160).
    assert close(high[170, 170], car) and close(high[162, 170], car)
    assert not high[190, 170].any()  # no tick behind the centre
    # The second box (score 0.2, centre row 250, column 250) is drawn only without the threshold; it heads
    # left (yaw pi/2): the tick runs from the centre to the left edge (column 230).
    assert close(both[250, 240], pedestrian) and not high[250, 240].any()
    assert not both[250, 260].any()


def test_draw_boxes_on_image_projection_and_behind_camera():
    image = np.zeros((375, 1242, 3), np.uint8)
    lidar2img = P2 @ LIDAR2CAM
    ahead = np.array([[10.0, 0.0, -1.0, 4.0, 2.0, 1.5, 0.0]])
    drawn = draw_boxes_on_image(image, ahead, lidar2img, colors=(0, 0, 255), thickness=1)
    assert drawn.shape == image.shape and not image.any()  # a copy
    corners, depth = project_to_image(box_corners(ahead)[0], lidar2img)
    assert (depth > 0).all()
    for column, row in np.round(corners).astype(int):
        assert drawn[max(row - 1, 0) : row + 2, max(column - 1, 0) : column + 2, 2].max() > 0
    # The front face (corners 4-7) is crossed: its centre is drawn, the back face's centre is not.
    front_centre = np.round(corners[4:].mean(axis=0)).astype(int)
    back_centre = np.round(corners[:4].mean(axis=0)).astype(int)
    assert drawn[front_centre[1] - 1 : front_centre[1] + 2, front_centre[0] - 1 : front_centre[0] + 2].any()
    assert not drawn[back_centre[1], back_centre[0]].any()
    behind = np.array([[-10.0, 0.0, -1.0, 4.0, 2.0, 1.5, 0.0], [0.5, 0.0, -1.0, 4.0, 2.0, 1.5, 0.0]])
    assert not draw_boxes_on_image(image, behind, lidar2img).any()
    two = draw_boxes_on_image(
        image, np.concatenate([ahead, behind]), lidar2img, colors=[(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    )
    assert two[..., 0].any() and not two[..., 1].any() and not two[..., 2].any()
