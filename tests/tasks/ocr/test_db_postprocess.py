"""db_postprocess on hand-drawn probability maps: contours, box scores, unclip offsets, quads."""

from __future__ import annotations

import numpy as np
import pyclipper
import pytest
from shapely.geometry import Polygon

from visionstack.tasks.ocr.postprocess import db_postprocess, offset_polygon, region_score, unclip_distance


def two_rectangles() -> np.ndarray:
    """Rectangle A (x 10..49, y 10..19) at 0.9 and rectangle B (x 60..89, y 40..51) at 0.6."""
    prob = np.zeros((64, 96), dtype=np.float32)
    prob[10:20, 10:50] = 0.9
    prob[40:52, 60:90] = 0.6
    return prob


def as_boxes(polygons: list[np.ndarray]) -> list[tuple[float, float, float, float]]:
    return sorted((p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()) for p in polygons)


def test_two_rectangles_give_two_quads_with_the_hand_computed_unclip():
    # A's contour runs through the pixel centres (10, 10)-(49, 19): area 39 * 9 = 351, perimeter
    # 2 * (39 + 9) = 96, unclip D = 351 * 1.5 / 96 = 5.484 -> edges at 4.52 and 54.48 in x, 4.52 and
    # 24.48 in y, which pyclipper rounds to 5, 54, 5, 24. B: 29 x 11, D = 319 * 1.5 / 80 = 5.981
    # -> 54.02, 94.98, 34.02, 56.98 -> 54, 95, 34, 57.
    polygons, scores = db_postprocess(two_rectangles(), text_repr_type="quad")
    assert len(polygons) == 2 and all(p.shape == (4, 2) and p.dtype == np.float32 for p in polygons)
    assert as_boxes(polygons) == [(5, 5, 54, 24), (54, 34, 95, 57)]
    score_of = {as_boxes([p])[0]: float(s) for p, s in zip(polygons, scores)}
    assert score_of == {(5, 5, 54, 24): pytest.approx(0.9), (54, 34, 95, 57): pytest.approx(0.6)}
    assert scores.dtype == np.float32


def test_unclip_distance_is_area_times_ratio_over_perimeter():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=np.float32)
    assert unclip_distance(square, 1.5) == pytest.approx(100 * 1.5 / 40)


def test_scale_divides_the_coordinates():
    polygons, _ = db_postprocess(two_rectangles(), text_repr_type="quad")
    scaled, _ = db_postprocess(two_rectangles(), text_repr_type="quad", scale=(2.0, 0.5))
    for original, rescaled in zip(polygons, scaled):
        np.testing.assert_allclose(rescaled, original / np.array([2.0, 0.5], dtype=np.float32))


def test_poly_mode_returns_the_pyclipper_unclipped_contour():
    polygons, _ = db_postprocess(two_rectangles(), text_repr_type="poly")
    contour_a = np.array([[10, 10], [10, 19], [49, 19], [49, 10]])
    offsetter = pyclipper.PyclipperOffset()
    offsetter.AddPath(contour_a, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    expected = np.array(offsetter.Execute(351 * 1.5 / 96)[0], dtype=np.float32)
    matches = [p for p in polygons if p[:, 1].max() < 30]
    assert len(matches) == 1
    np.testing.assert_array_equal(matches[0], expected)
    # the rounded expansion is close to Shapely's exact buffer (within the integer rounding)
    exact = Polygon(contour_a).buffer(351 * 1.5 / 96).area
    assert Polygon(matches[0]).area == pytest.approx(exact, rel=0.08)


def test_low_scores_and_thin_quads_are_dropped():
    prob = two_rectangles()
    polygons, scores = db_postprocess(prob, text_repr_type="quad", min_text_score=0.7)
    assert len(polygons) == 1 and scores[0] == pytest.approx(0.9)
    # both quads are 19-23 px tall: a 20 px minimum width keeps only B
    polygons, _ = db_postprocess(prob, text_repr_type="quad", min_text_width=20)
    assert as_boxes(polygons) == [(54, 34, 95, 57)]


def test_mask_threshold_and_max_candidates():
    prob = two_rectangles()
    polygons, _ = db_postprocess(prob, mask_thr=0.7)  # B (0.6) is no longer text
    assert len(polygons) == 1
    polygons, _ = db_postprocess(prob, max_candidates=0)  # MMOCR examines index 0 only
    assert len(polygons) == 1
    assert db_postprocess(np.zeros((32, 32), np.float32))[0] == []


def test_box_score_is_the_mean_inside_the_polygon():
    prob = np.zeros((20, 20), dtype=np.float32)
    prob[5:10, 5:15] = np.arange(10, dtype=np.float32) / 10  # varies along x
    points = np.array([[5, 5], [14, 5], [14, 9], [5, 9]])
    assert region_score(prob, points) == pytest.approx(prob[5:10, 5:15].mean())


def test_offset_polygon_reports_split_results_as_empty(dumbbell):
    # a dumbbell: shrinking by 3 cuts the 4-px bar and leaves two separate squares
    assert offset_polygon(dumbbell, -3).shape == (0, 2)
    assert offset_polygon(dumbbell, -1).shape[1] == 2 and len(offset_polygon(dumbbell, -1)) >= 4


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="text_repr_type"):
        db_postprocess(two_rectangles(), text_repr_type="box")
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        db_postprocess(np.zeros((1, 8, 8), np.float32))
