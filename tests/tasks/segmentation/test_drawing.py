"""draw_sem_seg: exact palette blending (RGB palette on a BGR image), ignore pixels, names inside regions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.structures import PixelData
from visionstack.tasks.segmentation.drawing import draw_sem_seg, seg_palette_bgr

PALETTE = [[200, 0, 50], [0, 100, 250], [10, 220, 30]]  # [R, G, B] per class, as dataset metainfo
GRAY = 100


def sample_map(height: int = 60, width: int = 80) -> np.ndarray:
    """Left half class 0, right half class 2, a 10x10 ignore block, a class-1 square."""
    seg = np.zeros((height, width), dtype=np.int64)
    seg[:, width // 2 :] = 2
    seg[5:15, 5:15] = 255
    seg[30:50, 50:70] = 1
    return seg


def test_alpha_one_paints_the_palette_colour_in_bgr_and_leaves_ignore_pixels():
    image = np.full((60, 80, 3), GRAY, dtype=np.uint8)
    before = image.copy()
    seg = sample_map()
    drawn = draw_sem_seg(image, seg, PALETTE, alpha=1.0, with_labels=False)
    np.testing.assert_array_equal(image, before)  # the input is not modified
    assert drawn.shape == (60, 80, 3) and drawn.dtype == np.uint8
    for label, (red, green, blue) in enumerate(PALETTE):
        assert (drawn[seg == label] == [blue, green, red]).all(), label
    assert (drawn[seg == 255] == GRAY).all()


def test_alpha_half_blends_and_rounds():
    image = np.full((60, 80, 3), GRAY, dtype=np.uint8)
    image[..., 2] = 51  # the red channel
    seg = sample_map()
    drawn = draw_sem_seg(image, seg, PALETTE, alpha=0.5, with_labels=False)
    # class 0 = RGB (200, 0, 50): B (100 + 50) / 2 = 75, G (100 + 0) / 2 = 50, R (51 + 200) / 2 = 125.5 -> 126
    assert (drawn[seg == 0] == [75, 50, 126]).all()
    # class 1 = RGB (0, 100, 250): B 175, G 100, R 25.5 -> 26 (round half to even)
    assert (drawn[seg == 1] == [175, 100, 26]).all()
    assert (drawn[seg == 255] == [GRAY, GRAY, 51]).all()
    untouched = draw_sem_seg(image, seg, PALETTE, alpha=0.0, with_labels=False)
    np.testing.assert_array_equal(untouched, image)


def test_names_are_written_inside_each_region():
    image = np.full((120, 160, 3), GRAY, dtype=np.uint8)
    seg = np.kron(sample_map(), np.ones((2, 2), dtype=np.int64))  # 120x160, regions twice as large
    plain = draw_sem_seg(image, seg, PALETTE, with_labels=False)
    named = draw_sem_seg(image, seg, PALETTE, classes=["wall", "car", "tree"])
    changed = np.any(named != plain, axis=2)
    # the class-1 square [60, 100) x [100, 140) gets its name around its centre (80, 120)
    ys, xs = np.nonzero(changed[60:100, 100:140])
    assert len(ys) > 20 and abs(ys.mean() + 60 - 80) < 6 and abs(xs.mean() + 100 - 120) < 8
    assert not changed[seg == 255].any()  # names stay off the ignore block
    assert (changed & (seg == 0)).sum() > 20 and (changed & (seg == 2)).sum() > 20  # one name per class
    # the name's box takes the class colour at full strength (B, G, R) = (250, 100, 0)
    assert (named[60:100, 100:140] == [250, 100, 0]).all(axis=2).sum() > 20


def test_accepts_tensors_pixel_data_and_grayscale_images():
    gray = np.full((60, 80), GRAY, dtype=np.uint8)
    seg = torch.from_numpy(sample_map())[None]  # (1, H, W) as in pred_sem_seg.data
    from_tensor = draw_sem_seg(gray, seg, PALETTE, alpha=1.0, with_labels=False)
    from_pixel_data = draw_sem_seg(gray, PixelData(data=seg), PALETTE, alpha=1.0, with_labels=False)
    assert from_tensor.shape == (60, 80, 3)
    np.testing.assert_array_equal(from_tensor, from_pixel_data)
    generated = draw_sem_seg(gray, seg, None, alpha=1.0, with_labels=False)
    assert len({tuple(generated[0, 0]), tuple(generated[40, 60]), tuple(generated[0, 79])}) == 3


def test_all_ignore_returns_the_image_and_bad_inputs_are_named():
    image = np.full((6, 8, 3), GRAY, dtype=np.uint8)
    np.testing.assert_array_equal(draw_sem_seg(image, np.full((6, 8), 255), PALETTE), image)
    with pytest.raises(ValueError, match=r"seg_map is 9x6 but the image is 8x6"):
        draw_sem_seg(image, np.zeros((6, 9)), PALETTE)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        draw_sem_seg(image, np.zeros((6, 8)), PALETTE, alpha=1.5)
    with pytest.raises(ValueError, match=r"\(H, W\) or \(1, H, W\)"):
        draw_sem_seg(image, np.zeros((2, 6, 8)), PALETTE)


def test_palette_is_reversed_to_bgr_and_cycled():
    colors = seg_palette_bgr(5, PALETTE)
    np.testing.assert_array_equal(colors[0], [50, 0, 200])
    np.testing.assert_array_equal(colors[4], colors[1])
    with pytest.raises(ValueError, match="0..255"):
        seg_palette_bgr(2, [[300, 0, 0]])
