"""Box conversions: known values, round trips, (4,) vs (N, 4) shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.tasks.tracking.box_formats import (
    xyah_to_xyxy,
    xysr_to_xyxy,
    xywh_to_xyxy,
    xyxy_to_xyah,
    xyxy_to_xysr,
    xyxy_to_xywh,
)

BOX = np.array([10.0, 20.0, 40.0, 80.0])  # w 30, h 60, centre (25, 50)


def test_known_values():
    np.testing.assert_allclose(xyxy_to_xyah(BOX), [25, 50, 0.5, 60])
    np.testing.assert_allclose(xyxy_to_xysr(BOX), [25, 50, 1800, 0.5])
    np.testing.assert_allclose(xyxy_to_xywh(BOX), [10, 20, 30, 60])


@pytest.mark.parametrize(
    "forward, backward",
    [(xyxy_to_xyah, xyah_to_xyxy), (xyxy_to_xysr, xysr_to_xyxy), (xyxy_to_xywh, xywh_to_xyxy)],
)
def test_round_trip_and_shapes(forward, backward):
    rng = np.random.default_rng(0)
    top_left = rng.uniform(0, 500, (20, 2))
    boxes = np.concatenate([top_left, top_left + rng.uniform(1, 200, (20, 2))], axis=1)
    converted = forward(boxes)
    assert converted.shape == (20, 4) and converted.dtype == np.float64
    np.testing.assert_allclose(backward(converted), boxes, rtol=0, atol=1e-9)
    single = forward(boxes[3])
    assert single.shape == (4,)
    np.testing.assert_allclose(single, converted[3])
    assert forward(np.zeros((0, 4))).shape == (0, 4)


def test_negative_area_gives_degenerate_box():
    np.testing.assert_allclose(xysr_to_xyxy([5.0, 6.0, -3.0, 0.5]), [5, 6, 5, 6])


def test_wrong_shape_raises():
    with pytest.raises(ValueError, match=r"\(4,\) or \(N, 4\)"):
        xyxy_to_xyah(np.zeros((3, 5)))
