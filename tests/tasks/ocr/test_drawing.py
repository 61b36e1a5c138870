"""OCR pictures: outlines where the polygons are, texts inside their regions, red for a wrong reading."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visionstack.tasks.ocr.drawing import (
    IGNORED_COLOR,
    POLYGON_COLOR,
    draw_ocr_side_by_side,
    draw_recognition,
    draw_text_polygons,
    text_box,
)


def gray_image(height=120, width=200):
    return np.full((height, width, 3), 128, np.uint8)


def test_outlines_follow_the_polygons_and_keep_the_input():
    image = gray_image()
    polygons = [
        np.array([[20, 40], [90, 40], [90, 70], [20, 70]], np.float32),
        [120, 80, 180, 80, 180, 110, 120, 110],
    ]
    out = draw_text_polygons(image, polygons, texts=["word", "###"])
    assert out.shape == image.shape and (image == 128).all()
    # anti-aliased outlines: the edge pixel is within a few levels of the colour
    assert np.abs(out[55, 20].astype(int) - POLYGON_COLOR).max() <= 16  # left edge of the first polygon
    assert np.abs(out[95, 180].astype(int) - IGNORED_COLOR).max() <= 16  # right edge of the ignored one
    assert (out[55, 50] == 128).all()  # inside stays untouched
    labelled = draw_text_polygons(image, polygons[:1], scores=np.array([0.87]))
    assert (labelled[25:39, 20:60] != 128).any()  # the score label sits above the top-left corner
    with pytest.raises(ValueError, match="1 polygons but 2 scores"):
        draw_text_polygons(image, polygons[:1], scores=[0.1, 0.2])


@pytest.mark.parametrize("angle", [0.0, 30.0, -45.0, 89.0, 90.0, 135.0])
def test_text_box_reads_left_to_right_without_mirroring(angle):
    corners = cv2.boxPoints(((100.0, 80.0), (60.0, 20.0), angle))
    box = text_box(corners)
    along, across = box[1] - box[0], box[3] - box[0]
    assert np.linalg.norm(along) == pytest.approx(60, abs=0.01) and np.linalg.norm(across) == pytest.approx(
        20, abs=0.01
    )
    assert along[0] > 0 or (along[0] == 0 and along[1] < 0)  # rightwards (a vertical word reads upwards)
    assert (
        along[0] * across[1] - along[1] * across[0] > 0
    )  # "down" is clockwise of "along": rotated, not mirrored
    np.testing.assert_allclose(box.mean(axis=0), [100, 80], atol=1e-3)


def test_side_by_side_writes_each_text_inside_its_region():
    image = gray_image()
    polygons = [
        np.array([[10, 10], [110, 10], [110, 40], [10, 40]], np.float32),
        cv2.boxPoints(((150.0, 80.0), (70.0, 22.0), -30.0)),
        np.array([[20, 80], [60, 80], [60, 100], [20, 100]], np.float32),
    ]
    out = draw_ocr_side_by_side(image, polygons, ["Hello", "$12.50", "###"])
    assert out.shape == (120, 400, 3)
    right = out[:, 200:]
    ink = right.max(axis=2) < 100  # dark glyph pixels on the white canvas (outlines are light grey)
    assert ink.sum() > 100
    inside = np.zeros(ink.shape, np.uint8)
    for polygon in polygons[:2]:
        cv2.fillPoly(inside, [np.round(polygon).astype(np.int32)], 1)
    inside = cv2.dilate(inside, np.ones((5, 5), np.uint8)).astype(bool)
    assert not (ink & ~inside).any()  # every glyph pixel lies in (or within 2 px of) a written region
    assert not ink[80:101, 20:61].any()  # the ignored region gets no text
    with pytest.raises(ValueError, match="3 polygons but 2 texts"):
        draw_ocr_side_by_side(image, polygons, ["a", "b"])


def test_recognition_card_is_red_when_wrong():
    crop = np.full((32, 100, 3), 200, np.uint8)

    def red(card):
        return ((card[..., 2] > 150) & (card[..., 1] < 80) & (card[..., 0] < 80)).sum()

    def green(card):
        return ((card[..., 1] > 100) & (card[..., 2] < 80) & (card[..., 0] < 80)).sum()

    wrong = draw_recognition(crop, "He1lo", 0.71, gt="Hello")
    right = draw_recognition(crop, "Hello", 0.97, gt="Hello")
    plain = draw_recognition(crop[..., 0], "Hello", None)
    assert wrong.shape[1] >= 240 and wrong.shape[0] > 64 + 2 * 20
    assert red(wrong) > 20 and green(wrong) == 0
    assert green(right) > 20 and red(right) == 0
    assert red(plain) == 0 and green(plain) == 0 and plain.shape[0] < wrong.shape[0]  # no gt line
    assert (wrong[8:72, 70:170] == 200).all()  # the crop, enlarged 2x to 64 px high, centred
