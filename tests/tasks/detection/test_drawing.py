"""draw_detections: box outlines in the class colour, blended masks, the score threshold, ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.structures import BitmapMasks, InstanceData, PolygonMasks
from visionstack.tasks.detection.drawing import draw_detections
from visionstack.visualization.primitives import class_color

NAMES = ["circle", "square", "triangle"]
PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]  # (B, G, R) per label
GRAY = 100


def gray_image(height: int = 120, width: int = 160) -> np.ndarray:
    return np.full((height, width, 3), GRAY, dtype=np.uint8)


def predictions(scores=(0.9, 0.2), masks=None) -> InstanceData:
    fields = dict(
        bboxes=torch.tensor([[20.0, 40.0, 80.0, 100.0], [100.0, 50.0, 150.0, 110.0]]),
        labels=torch.tensor([2, 1]),
        scores=torch.tensor(scores),
    )
    if masks is not None:
        fields["masks"] = masks
    return InstanceData(**fields)


def test_box_edges_take_the_class_colour_and_the_input_is_untouched():
    image = gray_image()
    before = image.copy()
    drawn = draw_detections(image, predictions(), NAMES, score_thr=0.0, palette=PALETTE)
    np.testing.assert_array_equal(image, before)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    # box [20, 80) x [40, 100): outline on columns 20 and 79, rows 40 and 99
    red, green = np.array(PALETTE[2]), np.array(PALETTE[1])
    for row, col in [(99, 50), (70, 20), (70, 79), (99, 21)]:
        np.testing.assert_array_equal(drawn[row, col], red)
    np.testing.assert_array_equal(drawn[109, 120], green)  # bottom edge of the second box
    np.testing.assert_array_equal(drawn[70, 50], [GRAY] * 3)  # inside the box: no mask, untouched
    np.testing.assert_array_equal(drawn[70, 81], [GRAY] * 3)  # just outside the right edge
    # the caption "triangle 0.90" sits on a red box just above the first box
    caption = drawn[25:40, 20:60]
    assert (caption == red).all(axis=2).sum() > 100 and (caption != red).any(axis=2).sum() > 20


def test_nothing_is_drawn_below_the_score_threshold():
    drawn = draw_detections(
        gray_image(), predictions(scores=(0.9, 0.2)), NAMES, score_thr=0.5, palette=PALETTE
    )
    np.testing.assert_array_equal(drawn[:, 95:], gray_image()[:, 95:])  # the 0.2 box is absent
    assert (drawn[99, 20:80] == PALETTE[2]).all()
    none = draw_detections(gray_image(), predictions(scores=(0.4, 0.2)), NAMES, score_thr=0.5)
    np.testing.assert_array_equal(none, gray_image())


@pytest.mark.parametrize("kind", ["tensor", "array", "bitmap", "polygon"])
def test_mask_pixels_are_blended_with_the_class_colour(kind):
    bitmap = np.zeros((2, 120, 160), dtype=bool)
    bitmap[0, 60:80, 30:60] = True  # a rectangle inside the first box
    masks = {
        "tensor": torch.from_numpy(bitmap),
        "array": bitmap.astype(np.uint8),
        "bitmap": BitmapMasks(bitmap, 120, 160),
        # the same rectangle as a polygon, and an empty one for the second instance
        "polygon": PolygonMasks([[np.array([30.0, 60.0, 60.0, 60.0, 60.0, 80.0, 30.0, 80.0])], []], 120, 160),
    }[kind]
    drawn = draw_detections(
        gray_image(), predictions(masks=masks), NAMES, score_thr=0.0, palette=PALETTE, alpha=0.5
    )
    expected = np.rint(0.5 * GRAY + 0.5 * np.array(PALETTE[2])).astype(np.uint8)  # (50, 50, 178)
    np.testing.assert_array_equal(drawn[65:75, 35:55], np.broadcast_to(expected, (10, 20, 3)))
    np.testing.assert_array_equal(drawn[85:95, 35:55], gray_image()[85:95, 35:55])  # outside the mask


def test_ground_truth_without_scores_is_drawn_with_class_names_only():
    gt = InstanceData(bboxes=torch.tensor([[10.0, 30.0, 70.0, 90.0]]), labels=torch.tensor([0]))
    drawn = draw_detections(gray_image(), gt, NAMES, score_thr=0.99, palette=PALETTE)
    np.testing.assert_array_equal(drawn[89, 40], PALETTE[0])  # score_thr does not apply to gt
    scored = InstanceData(bboxes=gt.bboxes, labels=gt.labels, scores=torch.tensor([1.0]))
    with_score = draw_detections(gray_image(), scored, NAMES, score_thr=0.0, palette=PALETTE)
    # "circle 1.00" needs a wider caption box than "circle"
    caption_width = lambda image: int((image[:30] == PALETTE[0]).all(axis=2).any(axis=0).sum())  # noqa: E731
    assert caption_width(with_score) > caption_width(drawn) > 10


def test_generated_palette_gives_distinct_colours_and_thick_outlines_grow_inward():
    colors = {class_color(label) for label in range(20)}
    assert len(colors) == 20
    image = np.full((1000, 1000, 3), GRAY, dtype=np.uint8)
    box = InstanceData(bboxes=torch.tensor([[100.0, 100.0, 300.0, 300.0]]), labels=torch.tensor([3]))
    drawn = draw_detections(image, box)
    color = np.array(class_color(3))
    assert (drawn[200, 100:104] == color).all() and (drawn[200, 96:100] == GRAY).all()  # 4 px, inside


def test_errors_name_the_problem():
    with pytest.raises(KeyError, match="bboxes"):
        draw_detections(gray_image(), InstanceData(labels=torch.tensor([0])))
    wrong_size = torch.zeros(2, 60, 80, dtype=torch.bool)
    with pytest.raises(ValueError, match="masks are 80x60 but the image is 160x120"):
        draw_detections(gray_image(), predictions(masks=wrong_size))
    with pytest.raises(TypeError, match="uint8"):
        draw_detections(gray_image().astype(np.float32), predictions())
