"""Editing pictures: side-by-side panels, mask overlays, sample grids (geometry and pixels)."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.tasks.editing.drawing import (
    SEPARATOR_COLOR,
    draw_mask_overlay,
    image_grid,
    side_by_side,
    to_bgr_uint8,
)


def random_image(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_side_by_side_layout_and_nearest_enlargement():
    lq, gt = random_image((8, 10, 3)), random_image((32, 40, 3), 1)
    picture = side_by_side([("input x4", lq), ("ground truth", gt)], separator=2)
    band = picture.shape[0] - 32
    assert band > 0 and picture.shape == (band + 32, 40 + 2 + 40, 3) and picture.dtype == np.uint8
    # the x4 input is shown as 4 x 4 blocks of its pixels, the ground truth unchanged
    np.testing.assert_array_equal(picture[band:, :40], lq.repeat(4, axis=0).repeat(4, axis=1))
    np.testing.assert_array_equal(picture[band:, 42:], gt)
    assert (picture[:, 40:42] == SEPARATOR_COLOR).all()
    # the titles are written: dark ink on the white bands
    assert picture[:band, :40].min() < 100 and picture[:band, 42:].min() < 100
    assert (picture[:band, :40] == 255).mean() > 0.5


def test_side_by_side_height_gray_and_float_panels():
    gray = random_image((10, 20))
    noisy = np.array([[-20.0, 300.0, 127.5, 128.4]], dtype=np.float32).repeat(4, axis=0)
    picture = side_by_side([("gray", gray), ("noisy", noisy)], height=40, separator=0)
    band = picture.shape[0] - 40
    assert picture.shape[1] == 80 + 40  # widths follow the aspect ratios, no separator
    np.testing.assert_array_equal(picture[band:, :80, 1], gray.repeat(4, axis=0).repeat(4, axis=1))
    shown = picture[band, 80:, 0][::10]
    np.testing.assert_array_equal(shown, [0, 255, 128, 128])  # clipped, rounded half to even
    with pytest.raises(ValueError, match="no panel"):
        side_by_side([])
    with pytest.raises(ValueError, match="panel 'bad'"):
        side_by_side([("bad", np.zeros((4, 4, 2), np.uint8))])


def test_side_by_side_shortens_long_titles():
    picture = side_by_side(
        [("a very long title that cannot fit in a narrow panel", random_image((40, 30, 3)))]
    )
    assert picture.shape[1] == 30  # the panel's width, the title shortened to fit


def test_mask_overlay_tints_holes_and_leaves_the_rest():
    image = random_image((30, 40, 3))
    mask = np.zeros((30, 40), np.uint8)
    mask[10:20, 5:25] = 1
    out = draw_mask_overlay(image, mask, color=(0, 0, 255), alpha=0.5, outline=1)
    outside = mask == 0
    np.testing.assert_array_equal(out[outside], image[outside])
    inner = np.zeros_like(mask, dtype=bool)
    inner[11:19, 6:24] = True  # the hole minus its one-pixel boundary
    expected = np.round(image[inner] * 0.5 + np.array([0, 0, 255]) * 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out[inner], expected)
    boundary = (mask == 1) & ~inner
    assert (out[boundary] == [0, 0, 255]).all()
    assert image.max() > 0 and not np.shares_memory(out, image)


def test_mask_overlay_outline_only_and_errors():
    image = random_image((12, 12))
    mask = np.zeros((1, 12, 12), np.uint8)  # a (1, H, W) mask, as in the data samples
    mask[0, 3:9, 3:9] = 255
    out = draw_mask_overlay(image, mask, color=(0, 255, 0), alpha=0.0)
    np.testing.assert_array_equal(out[4:8, 4:8], to_bgr_uint8(image)[4:8, 4:8])
    assert (out[3, 3:9] == [0, 255, 0]).all()
    with pytest.raises(ValueError, match="mask of shape"):
        draw_mask_overlay(image, mask[:, :5])
    with pytest.raises(ValueError, match="alpha"):
        draw_mask_overlay(image, mask, alpha=1.5)


def test_image_grid_layout():
    tiles = [np.full((4, 5), value, np.uint8) for value in (10, 20, 30, 40, 50)]
    grid = image_grid(tiles, nrow=3, pad=1, pad_value=255, scale=2)
    assert grid.shape == (2 * (8 + 1) + 1, 3 * (10 + 1) + 1, 3)
    for index, value in enumerate((10, 20, 30, 40, 50)):
        row, column = divmod(index, 3)
        top, left = 1 + row * 9, 1 + column * 11
        assert (grid[top : top + 8, left : left + 10] == value).all()
    assert (grid[10:18, 23:33] == 255).all()  # the empty sixth place
    assert (grid[0] == 255).all() and (grid[:, 11] == 255).all()
    assert image_grid(tiles[:2], nrow=8).shape == (4 + 4, 2 * 5 + 6, 3)
    with pytest.raises(ValueError, match="share one size"):
        image_grid([tiles[0], np.zeros((4, 6), np.uint8)])
    with pytest.raises(ValueError, match="no image"):
        image_grid([])
