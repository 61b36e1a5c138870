"""Inpainting masks: determinism by seed, dtype and values, hole-fraction bounds, connected strokes, boxes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from visionstack.tasks.editing.masks import MASK_MODES, bbox_mask, free_form_mask, random_bbox, random_mask


@pytest.mark.parametrize("mode", MASK_MODES)
def test_random_mask_is_seeded_binary_uint8(mode):
    first = random_mask((96, 80), np.random.default_rng(0), mode=mode)
    second = random_mask((96, 80), np.random.default_rng(0), mode=mode)
    other = random_mask((96, 80), np.random.default_rng(1), mode=mode)
    assert first.dtype == np.uint8 and first.shape == (96, 80)
    assert set(np.unique(first)) == {0, 1}
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("mode", MASK_MODES)
@pytest.mark.parametrize("shape", [(128, 128), (40, 56)])
def test_hole_fraction_stays_in_range(mode, shape):
    fractions = [random_mask(shape, np.random.default_rng(seed), mode=mode).mean() for seed in range(15)]
    assert 0.05 <= min(fractions) and max(fractions) <= 0.5
    narrow = [
        random_mask(shape, np.random.default_rng(seed), mode=mode, hole_fraction=(0.1, 0.3)).mean()
        for seed in range(8)
    ]
    assert 0.1 <= min(narrow) and max(narrow) <= 0.3


def test_a_single_stroke_is_one_connected_region_of_round_walks():
    for seed in range(12):
        mask = free_form_mask(
            (128, 128), np.random.default_rng(seed), num_strokes=(1, 1), hole_fraction=(0.0, 1.0)
        )
        _, components = ndimage.label(mask)  # 4-connectivity: the thick segments overlap at the joints
        assert components == 1
        assert mask.sum() >= np.pi * 5**2 * 0.8  # at least a disc of the smallest brush (width 10)


def test_free_form_walk_respects_brush_width():
    """A one-segment stroke with a fixed brush is a capsule about the brush wide."""
    mask = free_form_mask(
        (100, 100),
        np.random.default_rng(3),
        num_vertices=(1, 1),
        brush_width=(9, 9),
        length_range=(40, 40),
        num_strokes=(1, 1),
        hole_fraction=(0.0, 1.0),
    )
    # the distance transform's maximum is the half width (4-5 pixels), never the wide blob of many strokes
    assert 3.5 <= ndimage.distance_transform_edt(np.pad(mask, 1)).max() <= 6.0


def test_free_form_shrinks_strokes_for_a_small_maximum():
    mask = free_form_mask((48, 48), np.random.default_rng(4), hole_fraction=(0.02, 0.08))
    assert 0.02 <= mask.mean() <= 0.08


def test_free_form_unreachable_fraction_is_an_error():
    with pytest.raises(ValueError, match="hole fraction"):
        free_form_mask((3, 3), np.random.default_rng(0), hole_fraction=(0.5, 0.5))  # 4.5 of 9 pixels


def test_bbox_mask_is_one_rectangle_within_margins():
    for seed in range(10):
        top, left, height, width = random_bbox(
            (64, 80), np.random.default_rng(seed), max_bbox_shape=(30, 40), max_bbox_delta=(10, 12), margin=5
        )
        assert 20 <= height <= 30 and 28 <= width <= 40
        assert top >= 5 and left >= 5 and top + height <= 59 and left + width <= 75
        mask = bbox_mask((64, 80), np.random.default_rng(seed), (30, 40), margin=5, max_bbox_delta=(10, 12))
        expected = np.zeros((64, 80), np.uint8)
        expected[top : top + height, left : left + width] = 1
        np.testing.assert_array_equal(mask, expected)
    default = bbox_mask((64, 64), np.random.default_rng(0))
    assert 0.0625 <= default.mean() <= 0.25
    with pytest.raises(ValueError, match="does not fit"):
        random_bbox((20, 20), np.random.default_rng(0), max_bbox_shape=(18, 18), margin=2)


def test_mixed_mask_contains_a_box_and_strokes():
    mask = random_mask((128, 128), np.random.default_rng(5), mode="mixed", num_strokes=(2, 2))
    box = random_mask((128, 128), np.random.default_rng(5), mode="bbox", hole_fraction=(0.0, 0.25))
    # the mixed mask starts from the same first box draw, then adds strokes around it
    assert np.all(mask[box == 1] == 1) and mask.sum() > box.sum()


def test_unknown_mode_and_options_are_errors():
    with pytest.raises(ValueError, match="unknown mode"):
        random_mask((32, 32), np.random.default_rng(0), mode="circles")
    with pytest.raises(TypeError, match="unknown stroke options"):
        random_mask((32, 32), np.random.default_rng(0), mode="mixed", brush=3)
