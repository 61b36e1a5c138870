"""Raster kernels: image, map and mask warps against NumPy references; pads with offsets."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.data.transforms import affine_matrix, pad_results, warp_results
from visionstack.structures import BitmapMasks, PolygonMasks


def noise(height: int = 16, width: int = 16) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic"])
def test_identity_warp_keeps_the_image(interpolation):
    img = noise()
    out = warp_results({"img": img.copy()}, np.eye(3), interpolation=interpolation)
    np.testing.assert_array_equal(out["img"], img)


def test_integer_translation_moves_pixels_and_fills_the_border():
    img = noise(10, 12)
    out = warp_results({"img": img.copy()}, np.float64([[1, 0, 3], [0, 1, 2]]), pad_val={"img": (1, 2, 3)})
    np.testing.assert_array_equal(out["img"][2:, 3:], img[:-2, :-3])
    assert out["img"][0, 0].tolist() == [1, 2, 3] and out["img"][9, 2].tolist() == [1, 2, 3]


def test_quarter_turn_about_the_centre_is_rot90():
    img = noise(16, 16)
    seg = np.arange(256, dtype=np.uint8).reshape(16, 16)
    masks = BitmapMasks(np.random.default_rng(2).integers(0, 2, (2, 16, 16)), 16, 16)
    matrix = affine_matrix(rotate_degree=90, in_center=(8, 8), out_center=(8, 8))
    out = warp_results({"img": img, "gt_seg_map": seg, "gt_masks": masks}, matrix, interpolation="nearest")
    np.testing.assert_array_equal(out["img"], np.rot90(img, k=-1))  # clockwise on screen
    np.testing.assert_array_equal(out["gt_seg_map"], np.rot90(seg, k=-1))
    np.testing.assert_array_equal(out["gt_masks"].masks, np.rot90(masks.masks, k=-1, axes=(1, 2)))


def test_warp_fills_maps_with_the_ignore_index_and_masks_with_zero():
    seg = np.zeros((10, 10), np.uint8)
    masks = BitmapMasks(np.ones((1, 10, 10)), 10, 10)
    matrix = np.float64([[1, 0, 4], [0, 1, 0]])
    out = warp_results({"img": noise(10, 10), "gt_seg_map": seg, "gt_masks": masks}, matrix, size=(14, 12))
    assert out["gt_seg_map"].shape == (12, 14) and out["img_shape"] == (12, 14)
    assert (out["gt_seg_map"][:, :4] == 255).all() and (out["gt_seg_map"][:10, 4:] == 0).all()
    assert out["gt_masks"].masks[0, :, :4].sum() == 0 and out["gt_masks"].masks[0, :10, 4:].all()
    with pytest.raises(ValueError, match=r"\(2, 3\) or \(3, 3\)"):
        warp_results({"img": noise()}, np.eye(2))


def test_bitmap_and_polygon_masks_warp_alike():
    polygon = np.float64([6, 4, 20, 6, 18, 18, 5, 15])
    polygons = PolygonMasks([[polygon]], 24, 28)
    bitmaps = polygons.to_bitmap()
    matrix = affine_matrix(
        rotate_degree=25, scale=1.2, shear_degrees=(5, -3), in_center=(14, 12), out_center=(15, 12)
    )
    warped_polygons = warp_results({"img_shape": (24, 28), "gt_masks": polygons}, matrix, size=(30, 24))
    warped_bitmaps = warp_results({"img_shape": (24, 28), "gt_masks": bitmaps}, matrix, size=(30, 24))
    a = warped_polygons["gt_masks"].to_ndarray()[0].astype(bool)
    b = warped_bitmaps["gt_masks"].masks[0].astype(bool)
    assert (a & b).sum() / (a | b).sum() > 0.85


def test_pad_with_an_offset_moves_everything():
    img = noise(6, 8)
    seg = np.ones((6, 8), np.uint8)
    masks = BitmapMasks(np.ones((1, 6, 8)), 6, 8)
    results = {"img": img, "gt_seg_map": seg, "gt_masks": masks, "gt_bboxes": np.float32([[1, 1, 3, 3]])}
    out = pad_results(results, (12, 9), offset=(3, 2), pad_val={"img": 7})
    np.testing.assert_array_equal(out["img"][2:8, 3:11], img)
    assert (out["img"][:2] == 7).all() and (out["gt_seg_map"][:2] == 255).all()
    assert out["gt_masks"].masks[0, 2:8, 3:11].all() and out["gt_masks"].masks[0].sum() == 48
    np.testing.assert_array_equal(out["gt_bboxes"], [[4, 3, 6, 5]])
    with pytest.raises(ValueError, match="smaller size"):
        pad_results({"img": noise(6, 8)}, (10, 9), offset=(3, 0))
