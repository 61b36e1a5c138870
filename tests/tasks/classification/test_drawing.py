"""draw_classification writes the top-k predictions onto a copy of the image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.structures import LabelData
from visionstack.tasks.classification.drawing import draw_classification

NAMES = ["airplane", "bird", "cat", "dog"]


def gray_image(height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), 128, dtype=np.uint8)


def test_text_goes_top_left_and_the_input_is_untouched():
    image = gray_image(300, 400)
    before = image.copy()
    score = torch.tensor([0.1, 0.6, 0.2, 0.1])
    drawn = draw_classification(image, LabelData(score=score, label=torch.tensor([1])), NAMES, topk=3)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    np.testing.assert_array_equal(image, before)
    assert (drawn[:40, :100] != 128).any()  # the text box
    np.testing.assert_array_equal(drawn[200:, 250:], image[200:, 250:])  # the rest is untouched


def test_more_lines_for_larger_topk():
    score = torch.tensor([0.1, 0.6, 0.2, 0.1])
    one = draw_classification(gray_image(300, 400), {"score": score}, NAMES, topk=1)
    three = draw_classification(gray_image(300, 400), {"score": score}, NAMES, topk=3)
    rows_changed = lambda drawn: int((drawn != 128).any(axis=(1, 2)).sum())  # noqa: E731
    assert rows_changed(three) > 2 * rows_changed(one)


def test_small_and_grayscale_images_are_enlarged_to_bgr():
    drawn = draw_classification(np.zeros((32, 24), np.uint8), LabelData(label=torch.tensor([2])), NAMES)
    assert drawn.shape == (320, 240, 3)
    kept = draw_classification(
        np.zeros((32, 24), np.uint8), LabelData(label=torch.tensor([2])), NAMES, min_side=0
    )
    assert kept.shape == (32, 24, 3)


def test_errors():
    with pytest.raises(ValueError, match="3 class names but the score has 4 classes"):
        draw_classification(gray_image(64, 64), {"score": torch.ones(4)}, NAMES[:3])
    with pytest.raises(ValueError, match="neither `score` nor `label`"):
        draw_classification(gray_image(64, 64), {}, NAMES)
    with pytest.raises(TypeError, match="uint8"):
        draw_classification(np.zeros((64, 64, 3), np.float32), {"score": torch.ones(4)}, NAMES)
