"""BitmapMasks, PolygonMasks and the RLE / polygon conversions."""

from __future__ import annotations

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from visionstack.structures import InstanceData
from visionstack.structures.masks import (
    BitmapMasks,
    PolygonMasks,
    bitmap_to_polygons,
    clip_polygon,
    polygons_to_bitmap,
    rle_to_bitmap,
)


def block_masks() -> BitmapMasks:
    """Three 8x10 (h x w) masks: a 2x3 block, a single pixel, and an empty mask."""
    masks = np.zeros((3, 8, 10), dtype=np.uint8)
    masks[0, 1:3, 2:5] = 1
    masks[1, 6, 9] = 1
    return BitmapMasks(masks, 8, 10)


def test_bitmap_boxes_areas_and_tensor():
    masks = block_masks()
    np.testing.assert_array_equal(masks.get_bboxes(), [[2, 1, 5, 3], [9, 6, 10, 7], [0, 0, 0, 0]])
    np.testing.assert_array_equal(masks.areas, [6, 1, 0])
    tensor = masks.to_tensor(torch.float32)
    assert tensor.shape == (3, 8, 10) and tensor.dtype == torch.float32 and tensor.sum() == 7


@pytest.mark.parametrize(
    "index, expected",
    [
        (1, [1]),
        (-1, [2]),
        (slice(0, 2), [0, 1]),
        (np.array([True, False, True]), [0, 2]),
        (torch.tensor([False, True, True]), [1, 2]),
        (torch.tensor([2, 0]), [2, 0]),
        ([1, 1], [1, 1]),
    ],
)
def test_indexing_bitmap_and_polygon(index, expected):
    bitmaps = block_masks()
    picked = bitmaps[index]
    np.testing.assert_array_equal(picked.masks, bitmaps.masks[expected])
    polygons = PolygonMasks([[np.arange(6.0) + i] for i in range(3)], 8, 10)
    assert [p[0][0] for p in polygons[index].masks] == [float(i) for i in expected]


def test_index_errors():
    with pytest.raises(IndexError):
        block_masks()[3]
    with pytest.raises(IndexError):
        block_masks()[np.array([True, False])]


def test_cat_and_instance_data_carry_masks():
    masks = block_masks()
    joined = BitmapMasks.cat([masks, masks[0]])
    assert len(joined) == 4 and np.array_equal(joined.masks[3], masks.masks[0])
    with pytest.raises(ValueError, match="one size"):
        BitmapMasks.cat([masks, BitmapMasks(np.zeros((1, 4, 4)), 4, 4)])
    instances = InstanceData(labels=torch.tensor([0, 1, 2]), masks=masks)
    kept = instances[instances.labels != 1]
    assert isinstance(kept.masks, BitmapMasks) and np.array_equal(kept.masks.masks, masks.masks[[0, 2]])
    both = InstanceData.cat([instances, kept])
    assert len(both) == 5 and len(both.masks) == 5


def test_bitmap_resize_flip_crop_pad_expand_translate_by_hand():
    masks = block_masks()
    resized = masks.resize((20, 16))  # twice the size
    np.testing.assert_array_equal(resized.get_bboxes()[0], [4, 2, 10, 6])
    assert masks.rescale(0.5).masks.shape == (3, 4, 5)
    np.testing.assert_array_equal(masks.flip("horizontal").get_bboxes()[0], [10 - 5, 1, 10 - 2, 3])
    np.testing.assert_array_equal(masks.flip("vertical").get_bboxes()[0], [2, 8 - 3, 5, 8 - 1])
    np.testing.assert_array_equal(masks.flip("diagonal").get_bboxes()[1], [0, 1, 1, 2])
    cropped = masks.crop((3, 0, 10, 6))
    assert (cropped.height, cropped.width) == (6, 7)
    np.testing.assert_array_equal(cropped.get_bboxes()[0], [0, 1, 2, 3])
    assert cropped.areas[1] == 0  # the pixel at row 6 lies below the window
    padded = masks.pad((12, 11))
    assert padded.masks.shape == (3, 11, 12) and np.array_equal(padded.masks[:, :8, :10], masks.masks)
    expanded = masks.expand((15, 12), (4, 3))
    np.testing.assert_array_equal(expanded.get_bboxes()[0], [6, 4, 9, 6])
    with pytest.raises(ValueError, match="does not fit"):
        masks.expand((10, 8), (1, 0))
    np.testing.assert_array_equal(masks.translate(3).get_bboxes()[0], [5, 1, 8, 3])
    np.testing.assert_array_equal(masks.translate(-2, "vertical").get_bboxes()[0], [2, 0, 5, 1])
    assert masks.translate(3).areas[1] == 0  # pushed out of the image


def test_bitmap_crop_keeps_pixel_inside():
    cropped = block_masks().crop((3, 0, 10, 8))
    np.testing.assert_array_equal(cropped.get_bboxes()[1], [6, 6, 7, 7])


def test_rle_compressed_and_uncompressed_decode_to_the_mask():
    rng = np.random.default_rng(0)
    mask = (rng.random((9, 13)) > 0.6).astype(np.uint8)
    compressed = mask_utils.encode(np.asfortranarray(mask))
    as_json = {"size": compressed["size"], "counts": compressed["counts"].decode("ascii")}
    np.testing.assert_array_equal(rle_to_bitmap(as_json, 9, 13), mask)
    # Uncompressed RLE: run lengths of the column-major flattening, starting with zeros.
    flat = mask.flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    if flat[0] == 1:
        runs = [0, *runs]
    np.testing.assert_array_equal(rle_to_bitmap({"size": [9, 13], "counts": runs}, 9, 13), mask)
    with pytest.raises(ValueError, match="does not match"):
        rle_to_bitmap(as_json, 13, 9)


def test_polygon_rasterisation_matches_fillpoly_on_a_rectangle():
    polygons = PolygonMasks([[[2, 1, 7, 1, 7, 5, 2, 5]], []], 8, 10)
    bitmap = polygons.to_bitmap()
    expected = np.zeros((8, 10), dtype=np.uint8)
    expected[1:5, 2:7] = 1
    np.testing.assert_array_equal(bitmap.masks[0], expected)
    assert bitmap.areas[1] == 0
    np.testing.assert_array_equal(polygons.areas, [20, 0])
    np.testing.assert_array_equal(polygons.get_bboxes(), [[2, 1, 7, 5], [0, 0, 0, 0]])
    np.testing.assert_array_equal(bitmap.get_bboxes()[0], polygons.get_bboxes()[0])


def test_polygon_geometry_by_hand():
    triangle = PolygonMasks([[[0, 0, 10, 0, 0, 10]]], 20, 30)
    np.testing.assert_allclose(triangle.resize((60, 10)).masks[0][0], [0, 0, 20, 0, 0, 5])
    np.testing.assert_allclose(triangle.flip("horizontal").masks[0][0], [30, 0, 20, 0, 30, 10])
    np.testing.assert_allclose(triangle.flip("vertical").masks[0][0], [0, 20, 10, 20, 0, 10])
    np.testing.assert_allclose(triangle.expand((40, 30), (3, 4)).masks[0][0], [3, 4, 13, 4, 3, 14])
    cropped = triangle.crop((5, 0, 25, 20))
    assert (cropped.width, cropped.height) == (20, 20)
    np.testing.assert_allclose(cropped.areas, [12.5])  # the corner x in [5, 10], y <= 10 - x
    np.testing.assert_allclose(cropped.get_bboxes(), [[0, 0, 5, 5]])
    assert triangle.crop((12, 12, 20, 20)).masks == [[]]  # cropped away, instance kept
    assert triangle.pad((40, 25)).height == 25
    np.testing.assert_allclose(triangle.translate(-5).areas, [12.5])


def test_clip_polygon_rasterises_like_cropping_the_raster():
    rng = np.random.default_rng(3)
    for _ in range(20):
        points = rng.uniform(-10, 70, size=(7, 2))
        hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)
        full = polygons_to_bitmap([hull.ravel()], 60, 60)
        clipped = clip_polygon(hull - [15, 10], 30, 40)
        assert clipped[:, 0].min() >= 0 and clipped[:, 0].max() <= 30 and clipped[:, 1].max() <= 40
        raster = polygons_to_bitmap([clipped.ravel()], 40, 30) if len(clipped) >= 3 else np.zeros((40, 30))
        reference = full[10:50, 15:45]
        union = np.logical_or(raster, reference).sum()
        if union > 20:
            assert np.logical_and(raster, reference).sum() / union > 0.95


def test_bitmap_to_polygons_round_trip_is_close():
    mask = np.zeros((40, 40), dtype=np.uint8)
    cv2.circle(mask, (20, 18), 12, 1, -1)
    back = polygons_to_bitmap(bitmap_to_polygons(mask), 40, 40)
    intersection, union = np.logical_and(back, mask).sum(), np.logical_or(back, mask).sum()
    assert intersection / union > 0.9


def test_polygon_and_bitmap_ops_commute():
    rng = np.random.default_rng(1)
    hull = cv2.convexHull(rng.uniform(5, 35, size=(6, 2)).astype(np.float32)).reshape(-1).astype(np.float64)
    polygons = PolygonMasks([[hull]], 40, 44)
    bitmap = polygons.to_bitmap()
    np.testing.assert_array_equal(
        polygons.expand((60, 50), (7, 3)).to_ndarray(), bitmap.expand((60, 50), (7, 3)).masks
    )
    np.testing.assert_array_equal(polygons.pad((50, 45)).to_ndarray(), bitmap.pad((50, 45)).masks)
    flipped_poly, flipped_bitmap = polygons.flip().to_ndarray(), bitmap.flip().masks
    assert np.logical_xor(flipped_poly, flipped_bitmap).sum() <= 0.05 * flipped_bitmap.sum()
    assert polygons.to_tensor().dtype == torch.bool


def test_polygon_constructor_errors():
    with pytest.raises(TypeError, match="list of polygons"):
        PolygonMasks([np.zeros(6)], 4, 4)
    with pytest.raises(ValueError, match="odd length"):
        PolygonMasks([[np.zeros(7)]], 4, 4)
