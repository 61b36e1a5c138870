"""DBNet targets: the shrink offset, kernels against pyclipper, threshold map against a per-pixel loop."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pyclipper
import pytest
from shapely.geometry import Polygon

from visionstack.tasks.ocr.models.db_targets import (
    build_db_targets,
    draw_kernels,
    draw_threshold_map,
    is_polygon_too_small,
    point_segment_distance,
    shrink_distance,
)

RECT = np.array([[10, 10], [110, 10], [110, 30], [10, 30]], dtype=np.float32)  # 100 x 20


def slow_segment_distance(px: float, py: float, a: np.ndarray, b: np.ndarray) -> float:
    """Point-to-segment distance by projection, one point at a time."""
    ax, ay, bx, by = float(a[0]), float(a[1]), float(b[0]), float(b[1])
    length_sq = (bx - ax) ** 2 + (by - ay) ** 2
    t = 0.0 if length_sq == 0 else ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / length_sq
    t = min(max(t, 0.0), 1.0)
    return math.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)))


def test_shrink_offset_of_a_rectangle_is_hand_computed():
    # D = A (1 - r^2) / L = 2000 * 0.84 / 240 = 7
    assert shrink_distance(RECT, 0.4) == pytest.approx(7.0)
    assert shrink_distance(RECT, 0.5) == pytest.approx(2000 * 0.75 / 240)


def test_kernel_of_a_rectangle_is_the_rectangle_shrunk_by_7():
    kernel, ignored = draw_kernels((48, 128), [RECT], np.array([False]))
    assert not ignored.any()
    ys, xs = np.nonzero(kernel)
    # shrunk corners (17, 17) and (103, 23), filled inclusively: 87 x 7 pixels
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (17, 103, 17, 23)
    assert len(xs) == 87 * 7 and set(np.unique(kernel)) == {0.0, 1.0}


def test_kernel_of_a_rotated_quad_matches_pyclipper_directly():
    quad = np.array([[20, 40], [90, 12], [100, 38], [30, 66]], dtype=np.float32)
    kernel, _ = draw_kernels((80, 128), [quad], np.array([False]))
    shape = Polygon(quad.astype(np.int32))
    distance = int(shape.area * (1 - 0.16) / (shape.length + 0.001) + 0.5)
    offsetter = pyclipper.PyclipperOffset()
    offsetter.AddPath(quad.astype(np.int32), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    shrunk = np.array(offsetter.Execute(-distance)[0])
    expected = np.zeros((80, 128), dtype=np.uint8)
    cv2.fillPoly(expected, [shrunk.astype(np.int32)], 1)
    np.testing.assert_array_equal(kernel > 0, expected > 0)
    # and the shrunk polygon is Shapely's exact inward offset, up to pyclipper's integer rounding
    assert Polygon(shrunk).hausdorff_distance(shape.buffer(-distance, join_style="mitre")) < 1.0


def test_point_segment_distance_equals_the_slow_loop():
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(-10, 30, size=(2, 200))
    for start, end in [((0, 0), (20, 5)), ((3, 3), (3, 3)), ((10, -5), (2, 25))]:
        got = point_segment_distance(xs, ys, np.array(start, float), np.array(end, float))
        expected = [slow_segment_distance(x, y, np.array(start), np.array(end)) for x, y in zip(xs, ys)]
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_threshold_map_equals_a_per_pixel_reference():
    polygons = [
        np.array([[8, 8], [40, 10], [38, 24], [6, 20]], dtype=np.float32),
        np.array([[30, 20], [44, 40], [20, 42]], dtype=np.float32),  # overlaps the first one's border
    ]
    shape = (48, 52)
    thr_map, thr_mask = draw_threshold_map(shape, polygons, 0.4, 0.3, 0.7)
    reference = np.zeros(shape)
    for polygon in polygons:
        distance = shrink_distance(polygon, 0.4)
        for y in range(shape[0]):
            for x in range(shape[1]):
                nearest = min(
                    slow_segment_distance(x, y, polygon[i], polygon[(i + 1) % len(polygon)])
                    for i in range(len(polygon))
                )
                reference[y, x] = max(reference[y, x], 1 - min(nearest / distance, 1.0))
    reference = reference * 0.4 + 0.3
    inside = thr_mask > 0
    assert inside.sum() > 500
    np.testing.assert_allclose(thr_map[inside], reference[inside], atol=1e-6)
    # far from every polygon (beyond the border width) the map is thr_min
    far = reference == pytest.approx(0.3)
    assert np.allclose(thr_map[far & ~inside], 0.3)
    # on the edges the target is thr_max
    assert thr_map[8, 8] == pytest.approx(0.7) and thr_map.max() == pytest.approx(0.7)


def test_threshold_mask_is_the_expanded_polygon():
    _, thr_mask = draw_threshold_map((48, 128), [RECT])
    ys, xs = np.nonzero(thr_mask)
    # expanded by D = 7 with rounded corners: x 3..117, y 3..37
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (3, 117, 3, 37)
    assert thr_mask[3, 3] == 0  # the rounded corner leaves the box corner out


def test_ignored_and_too_small_polygons_are_masked_out():
    tiny = np.array([[60, 40], [70, 40], [70, 45], [60, 45]], dtype=np.float32)  # 5 px high < 8
    dont_care = np.array([[5, 40], [40, 40], [40, 60], [5, 60]], dtype=np.float32)
    assert is_polygon_too_small(tiny) and not is_polygon_too_small(RECT)
    targets = build_db_targets((64, 128), [RECT, tiny, dont_care], [False, False, True])
    assert targets.ignored.tolist() == [False, True, True]
    # the kept rectangle's kernel is text; the ignored ones are neither text nor counted
    assert targets.shrink_map[20, 60] == 1 and targets.shrink_map[50, 20] == 0
    assert targets.shrink_mask[50, 20] == 0 and targets.shrink_mask[42, 65] == 0
    assert targets.shrink_mask[20, 60] == 1 and targets.shrink_mask[62, 126] == 1
    # only the kept polygon has a threshold region
    assert targets.thr_mask[50, 20] == 0 and targets.thr_mask[10, 10] == 1
    assert all(
        m.dtype == np.float32 and m.shape == (64, 128)
        for m in (targets.shrink_map, targets.shrink_mask, targets.thr_map, targets.thr_mask)
    )


def test_polygons_that_split_when_shrunk_are_ignored(dumbbell):
    # two 20 x 20 squares joined by a 4 px bar: D = 880 * 0.84 / 192 -> 4 px cuts the bar in two
    assert not is_polygon_too_small(dumbbell)
    kernel, ignored = draw_kernels((24, 64), [dumbbell], np.array([False]))
    assert ignored.tolist() == [True] and kernel.sum() == 0
    targets = build_db_targets((24, 64), [dumbbell])
    assert targets.ignored.tolist() == [True] and targets.shrink_mask[10, 10] == 0


def test_no_polygons_and_bad_flags():
    targets = build_db_targets((16, 16), [])
    assert targets.shrink_map.sum() == 0 and targets.shrink_mask.min() == 1
    assert np.allclose(targets.thr_map, 0.3) and targets.thr_mask.sum() == 0
    with pytest.raises(ValueError, match="2 polygons but 1 ignore flags"):
        build_db_targets((16, 16), [RECT, RECT], [False])
