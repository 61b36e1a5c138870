"""OCR transforms: polygons stay on their pixels through every geometric op, texts and flags follow instances,
MMOCR's recognition augmentations, packing."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import shapely
import torch
from shapely.geometry import Polygon

from visionstack.data.transforms import (
    PhotoMetricDistortion,
    RandomApply,
    RandomChoice,
    RandomCrop,
    RandomFlip,
    Resize,
    keep_instances,
)
from visionstack.registry import build
from visionstack.tasks.ocr.datasets import TextDetDataset
from visionstack.tasks.ocr.formats import write_icdar2015_gt
from visionstack.tasks.ocr.recog_transforms import (
    CropHeight,
    ImageContentJitter,
    PackTextRecogInputs,
    PadToWidth,
    RescaleToHeight,
    ReversePixels,
    ShearJitter,
    StrokeWidthJitter,
    TextRecogGeneralAug,
    mls_similarity_map,
)
from visionstack.tasks.ocr.transforms import (
    FixInvalidPolygon,
    LoadOCRAnnotations,
    PackTextDetInputs,
    RandomRotate,
    TextDetRandomCrop,
    polygon_area,
)


# ---- helpers ----------------------------------------------------------------------------------------
def _fill(img: np.ndarray, polygon: np.ndarray, value: int = 255) -> None:
    """Fill the pixels whose centres lie inside ``polygon`` (continuous coordinates: centre = index + 0.5)."""
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    img[shapely.contains_xy(Polygon(polygon), xs + 0.5, ys + 0.5)] = value


def _det_results(polygons, texts=None, ignore=None, size=(200, 120)) -> dict:
    width, height = size
    img = np.zeros((height, width, 3), np.uint8)
    for polygon in polygons:
        _fill(img, polygon)
    texts = texts or [f"w{i}" for i in range(len(polygons))]
    ignore = ignore or [False] * len(polygons)
    record = {
        "img": img,
        "img_path": "scene.png",
        "img_shape": (height, width),
        "ori_shape": (height, width),
        "instances": [
            {"polygon": np.asarray(p, np.float32), "text": t, "ignore": g}
            for p, t, g in zip(polygons, texts, ignore)
        ],
    }
    return LoadOCRAnnotations(with_label=True)(record)


def _assert_aligned(results: dict, tolerance: float = 1.5) -> None:
    """Every white pixel lies in some polygon (dilated by ``tolerance``), and each polygon's area matches its ink."""
    mask = results["img"][..., 0] > 127
    rows, cols = np.nonzero(mask)
    centres = np.stack([cols + 0.5, rows + 0.5], axis=1)
    shapes = [Polygon(p) for p in results["gt_polygons"]]
    covered = np.zeros(len(centres), bool)
    for shape in shapes:
        grown = shape.buffer(tolerance)
        covered |= shapely.contains_xy(grown, centres[:, 0], centres[:, 1])
    assert covered.all(), f"{(~covered).sum()} white pixels outside every polygon"
    total_area = sum(shape.area for shape in shapes)
    assert abs(mask.sum() - total_area) <= 0.06 * total_area + 30


TEXT_QUADS = [
    np.array([[20, 20], [80, 24], [78, 44], [18, 40]], np.float32),
    np.array([[110, 60], [180, 60], [180, 90], [110, 90]], np.float32),
    np.array([[30, 80], [70, 80], [70, 100], [30, 100]], np.float32),
]


# ---- loading and the texts kernel -------------------------------------------------------------------
def test_load_ocr_annotations_detection_keys():
    results = _det_results(TEXT_QUADS, texts=["a", "b", "###"], ignore=[False, False, True])
    assert [p.dtype for p in results["gt_polygons"]] == [np.float32] * 3
    np.testing.assert_array_equal(results["gt_polygons"][0], TEXT_QUADS[0])
    np.testing.assert_array_equal(results["gt_bboxes"][0], [18, 20, 80, 44])
    assert results["gt_bboxes"].dtype == np.float32 and results["gt_bboxes"].shape == (3, 4)
    assert results["gt_ignore_flags"].tolist() == [False, False, True]
    assert results["gt_texts"] == ["a", "b", "###"]
    assert results["gt_bboxes_labels"].tolist() == [0, 0, 0]


def test_load_ocr_annotations_recognition_record_and_errors():
    results = LoadOCRAnnotations()({"img_path": "w.png", "instances": [{"text": "Hello"}]})
    assert results["gt_text"] == "Hello" and results["gt_texts"] == ["Hello"] and "gt_polygons" not in results
    empty = LoadOCRAnnotations()({"img_path": "e.png", "instances": []})
    assert empty["gt_polygons"] == [] and empty["gt_bboxes"].shape == (0, 4) and empty["gt_texts"] == []
    with pytest.raises(KeyError, match="instance 0 of 'b.png' has no `polygon`"):
        LoadOCRAnnotations()({"img_path": "b.png", "instances": [{"bbox": [0, 0, 4, 4], "text": "x"}]})
    boxes_only = LoadOCRAnnotations(with_polygon=False)({"instances": [{"bbox": [0, 0, 4, 4], "text": "x"}]})
    assert boxes_only["gt_bboxes"].tolist() == [[0, 0, 4, 4]]
    with pytest.raises(KeyError, match="no `instances`"):
        LoadOCRAnnotations()({"img_path": "x.png"})


def test_texts_and_flags_survive_keep_instances_and_shared_crop():
    results = _det_results(TEXT_QUADS, texts=["a", "b", "c"], ignore=[False, True, False])
    keep_instances(results, np.array([True, False, True]))
    assert results["gt_texts"] == ["a", "c"] and results["gt_ignore_flags"].tolist() == [False, False]
    assert len(results["gt_polygons"]) == 2 and results["gt_bboxes_labels"].tolist() == [0, 0]
    np.random.seed(0)
    cropped = RandomCrop(crop_size=(90, 120))(_det_results(TEXT_QUADS, texts=["a", "b", "c"]))
    assert len(cropped["gt_texts"]) == len(cropped["gt_polygons"]) == len(cropped["gt_bboxes"])


def test_shared_transforms_handle_ocr_keys():
    np.random.seed(1)
    results = _det_results(TEXT_QUADS)
    results = RandomFlip(prob=1.0)(results)
    _assert_aligned(results)
    results = Resize(scale=(100, 80))(results)
    _assert_aligned(results, tolerance=1.0)
    assert results["gt_texts"] == ["w0", "w1", "w2"] and results["scale_factor"] == (0.5, 80 / 120)
    results = RandomChoice([[PhotoMetricDistortion()], [RandomApply(ReversePixels(), prob=0.0)]])(results)
    assert results["img"].dtype == np.uint8 and results["img"].shape == (80, 100, 3)
    recog = Resize(scale=(100, 32))({"img": np.zeros((20, 57, 3), np.uint8), "gt_text": "x"})
    assert recog["img"].shape == (32, 100, 3) and recog["gt_text"] == "x"


# ---- RandomRotate -----------------------------------------------------------------------------------
def test_random_rotate_matches_opencv_rotation_and_keeps_alignment():
    np.random.seed(3)
    results = _det_results(TEXT_QUADS)
    results = RandomRotate(max_angle=30, pad_with_fixed_color=True)(results)
    angle = results["rotated_angle"]
    assert -30 <= angle <= 30 and abs(angle) > 1
    matrix = cv2.getRotationMatrix2D((100.0, 60.0), angle, 1.0)  # MMOCR: counter-clockwise positive
    expected = cv2.transform(TEXT_QUADS[0][None].astype(np.float64), matrix)[0]
    np.testing.assert_allclose(results["gt_polygons"][0], expected, atol=1e-4)
    assert results["img"].shape == (120, 200, 3)
    _assert_aligned(results)
    np.testing.assert_allclose(
        results["gt_bboxes"][0],
        [*results["gt_polygons"][0].min(0), *results["gt_polygons"][0].max(0)],
        atol=1e-5,
    )


def test_random_rotate_canvas_holds_everything():
    corner = np.array([[0, 0], [60, 0], [60, 20], [0, 20]], np.float32)  # would be cut without a canvas
    for seed in range(3):
        np.random.seed(seed)
        results = RandomRotate(max_angle=45, use_canvas=True, pad_with_fixed_color=True, pad_value=(0, 0, 0))(
            _det_results([corner, *TEXT_QUADS])
        )
        angle = math.radians(results["rotated_angle"])
        width = math.ceil(200 * abs(math.cos(angle)) + 120 * abs(math.sin(angle)))
        height = math.ceil(200 * abs(math.sin(angle)) + 120 * abs(math.cos(angle)))
        assert results["img"].shape[:2] == (height, width) == results["img_shape"]
        assert len(results["gt_polygons"]) == 4
        for before, after in zip([corner, *TEXT_QUADS], results["gt_polygons"]):
            assert polygon_area(after) == pytest.approx(polygon_area(before), rel=1e-4)  # nothing clipped
        _assert_aligned(results)


def test_random_rotate_drops_polygons_that_leave_and_fills_corners():
    np.random.seed(5)
    far = np.array([[0, 0], [6, 0], [6, 6], [0, 6]], np.float32)
    results = _det_results([far, TEXT_QUADS[1]], texts=["gone", "kept"])
    results["img"][:] = np.where(results["img"] == 0, 50, results["img"])  # uniform grey background
    for _ in range(20):  # draw until the corner square leaves the image
        np.random.seed(np.random.randint(1 << 16))
        rotated = RandomRotate(max_angle=40)({**results, "gt_polygons": list(results["gt_polygons"])})
        if len(rotated["gt_texts"]) == 1:
            break
    assert rotated["gt_texts"] == ["kept"] and rotated["gt_ignore_flags"].tolist() == [False]
    # MMOCR's default fill: a patch of the image, here grey, never black
    assert rotated["img"][0, 0].tolist() in ([50, 50, 50], [255, 255, 255])
    assert not (rotated["img"] == 0).all(axis=2).any()


# ---- TextDetRandomCrop ------------------------------------------------------------------------------
def test_text_det_random_crop_positive_crops_hold_a_whole_word():
    quads = [q + np.float32([0, 0]) for q in TEXT_QUADS]
    for seed in range(15):
        np.random.seed(seed)
        results = TextDetRandomCrop(target_size=(90, 70), positive_sample_ratio=1.0)(_det_results(quads))
        assert results["img"].shape == (70, 90, 3) and results["img_shape"] == (70, 90)
        areas = sorted(polygon_area(p) for p in results["gt_polygons"])
        assert any(a == pytest.approx(polygon_area(q)) for a in areas for q in quads)  # one whole word
        assert len(results["gt_texts"]) == len(results["gt_polygons"]) == len(results["gt_bboxes"])
        _assert_aligned(results)


def test_text_det_random_crop_avoids_cutting_words():
    # Words 30 px wide, 40 px apart: a 100 px window can always avoid cutting one.
    quads = [np.array([[x, 50], [x + 30, 50], [x + 30, 70], [x, 70]], np.float32) for x in range(5, 400, 70)]
    for seed in range(10):
        np.random.seed(seed)
        results = TextDetRandomCrop(target_size=(100, 120), positive_sample_ratio=0.5)(
            _det_results(quads, size=(420, 120))
        )
        assert all(polygon_area(p) == pytest.approx(600.0) for p in results["gt_polygons"])
        _assert_aligned(results)


def test_text_det_random_crop_pads_small_images_and_skips_exact_size():
    results = TextDetRandomCrop(target_size=320)(_det_results(TEXT_QUADS))
    assert results["img"].shape == (320, 320, 3) and (results["img"][120:, :] == 0).all()
    for before, after in zip(TEXT_QUADS, results["gt_polygons"]):
        np.testing.assert_array_equal(before, after)
    same = _det_results(TEXT_QUADS)
    assert TextDetRandomCrop(target_size=(200, 120))(same) is same


# ---- FixInvalidPolygon ------------------------------------------------------------------------------
def test_fix_invalid_polygon_repairs_removes_and_flags():
    bowtie = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], np.float32)
    line = np.array([[0, 0], [5, 5], [10, 10]], np.float32)
    two_points = np.array([[0, 0], [5, 5]], np.float32)
    triangle = np.array([[20, 20], [30, 20], [25, 28]], np.float32)
    results = {
        "gt_polygons": [bowtie, line, two_points, triangle],
        "gt_bboxes": np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 0], [20, 20, 30, 28]], np.float32),
        "gt_ignore_flags": np.zeros(4, bool),
        "gt_texts": ["bow", "line", "pair", "tri"],
    }
    fixed = FixInvalidPolygon()(dict(results))
    assert fixed["gt_texts"] == ["bow", "line", "tri"]
    assert Polygon(fixed["gt_polygons"][0]).is_valid
    assert polygon_area(fixed["gt_polygons"][0]) == pytest.approx(
        100.0
    )  # both lobes' convex hull: the square
    np.testing.assert_array_equal(
        fixed["gt_polygons"][1], [[0, 0], [10, 0], [10, 10], [0, 10]]
    )  # from its box
    np.testing.assert_array_equal(fixed["gt_polygons"][2], triangle)
    no_box = FixInvalidPolygon(fix_from_bbox=False)(dict(results))
    assert no_box["gt_texts"] == ["bow", "tri"]
    flagged = FixInvalidPolygon(mode="ignore")(dict(results))
    assert flagged["gt_ignore_flags"].tolist() == [True, True, True, True]  # triangle: fewer than 4 points
    assert FixInvalidPolygon()({"gt_polygons": [two_points], "gt_texts": ["x"]}) is None


# ---- packing ----------------------------------------------------------------------------------------
def test_pack_text_det_inputs():
    results = Resize(scale=(100, 60))(
        _det_results(TEXT_QUADS, texts=["a", "b", "###"], ignore=[False, False, True])
    )
    packed = PackTextDetInputs()(results)
    assert packed["inputs"].shape == (3, 60, 100) and packed["inputs"].dtype == torch.uint8
    sample = packed["data_samples"]
    assert (
        sample.img_shape == (60, 100) and sample.ori_shape == (120, 200) and sample.scale_factor == (0.5, 0.5)
    )
    assert sample.img_path == "scene.png"
    instances = sample.gt_instances
    assert len(instances) == 3 and instances.texts == ["a", "b", "###"]
    assert instances.ignored.dtype == torch.bool and instances.ignored.tolist() == [False, False, True]
    assert instances.bboxes.dtype == torch.float32 and instances.bboxes.shape == (3, 4)
    np.testing.assert_allclose(instances.polygons[1], TEXT_QUADS[1] * 0.5)
    assert instances.polygons[0].dtype == np.float32
    bare = PackTextDetInputs()({"img": np.zeros((8, 8, 3), np.uint8)})["data_samples"]
    assert bare.scale_factor == (1.0, 1.0) and "gt_instances" not in bare


def test_pack_text_recog_inputs():
    results = PadToWidth(100)(
        RescaleToHeight(32, max_width=100)({"img": np.zeros((16, 30), np.uint8), "gt_text": "Hi"})
    )
    packed = PackTextRecogInputs()(results)
    assert packed["inputs"].shape == (1, 32, 100)
    sample = packed["data_samples"]
    assert sample.gt_text.item == "Hi" and sample.valid_ratio == pytest.approx(0.6)
    plain = PackTextRecogInputs()({"img": np.zeros((32, 100, 3), np.uint8), "gt_texts": ["Yo"]})[
        "data_samples"
    ]
    assert plain.valid_ratio == 1.0 and plain.gt_text.item == "Yo" and plain.img_shape == (32, 100)


# ---- recognition transforms -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "kwargs", "width"),
    [
        ((20, 55), dict(height=32), 88),  # ceil(32 / 20 * 55)
        ((20, 55), dict(height=32, width_divisor=16), 96),  # round(88 / 16) = 6 -> 96
        ((20, 55), dict(height=32, max_width=64), 64),
        ((40, 10), dict(height=32, min_width=16), 16),
        ((30, 7), dict(height=32), 8),  # ceil(7.466)
    ],
)
def test_rescale_to_height_widths(shape, kwargs, width):
    results = RescaleToHeight(**kwargs)({"img": np.zeros((*shape, 3), np.uint8)})
    assert results["img"].shape[:2] == (kwargs["height"], width) == results["img_shape"]


def test_pad_to_width():
    img = np.full((32, 40, 3), 9, np.uint8)
    results = PadToWidth(100, pad_val=7)({"img": img})
    assert results["img"].shape == (32, 100, 3) and results["valid_ratio"] == 0.4
    assert (results["img"][:, 40:] == 7).all() and (results["img"][:, :40] == 9).all()
    with pytest.raises(ValueError, match="put RescaleToHeight"):
        PadToWidth(30)({"img": img})


def _slow_mls(src, dst, v):
    """Schaefer et al.'s similarity MLS at one point, written out term by term."""
    weights = np.array([1.0 / np.sum((p - v) ** 2) for p in dst])
    p_star = (weights[:, None] * dst).sum(0) / weights.sum()
    q_star = (weights[:, None] * src).sum(0) / weights.sum()
    mu = sum(w * np.dot(p - p_star, p - p_star) for w, p in zip(weights, dst))
    result = np.zeros(2)
    d = v - p_star
    for w, p, q in zip(weights, dst, src):
        p_hat, q_hat = p - p_star, q - q_star
        left = np.array([p_hat, [p_hat[1], -p_hat[0]]])  # rows p_hat, -perp(p_hat)
        right = np.array([d, [d[1], -d[0]]])
        result += q_hat @ (w * left @ right.T)
    return result / mu + q_star


def test_mls_similarity_map_against_slow_reference_and_similarities():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 40, size=(6, 2))
    dst = src + rng.uniform(-4, 4, size=(6, 2))
    map_x, map_y = mls_similarity_map(src, dst, 40, 30)
    for x, y in [(0, 0), (13, 7), (39, 29), (20, 15)]:
        np.testing.assert_allclose(
            [map_x[y, x], map_y[y, x]], _slow_mls(src, dst, np.array([x, y], float)), atol=1e-3
        )
    # a control point maps exactly onto its source
    on_point = np.array([[0, 0], [10, 0], [10, 10]], float)
    map_x, map_y = mls_similarity_map(on_point + 2, on_point, 12, 12)
    assert (map_x[10, 10], map_y[10, 10]) == (12, 12)
    # similarity MLS reproduces a similarity exactly: dst = s R src + t  =>  f(v) = R^T (v - t) / s
    angle, scale, shift = 0.3, 1.2, np.array([3.0, -2.0])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = src @ (scale * rotation).T + shift
    map_x, map_y = mls_similarity_map(src, moved, 25, 20)
    ys, xs = np.mgrid[0:20, 0:25]
    expected = (np.stack([xs, ys], -1) - shift) @ rotation / scale
    np.testing.assert_allclose(np.stack([map_x, map_y], -1), expected, atol=1e-3)
    # an affine map is exact under the grid's bilinear interpolation
    coarse = np.stack(mls_similarity_map(src, moved, 25, 20, grid_size=7), -1)
    np.testing.assert_allclose(coarse, expected, atol=1e-3)
    # on a deformation, the grid agrees with the exact map at its nodes (every 7th pixel, and the last)
    exact = np.stack(mls_similarity_map(src, dst, 40, 30), -1)
    gridded = np.stack(mls_similarity_map(src, dst, 40, 30, grid_size=7), -1)
    nodes_y, nodes_x = [0, 7, 14, 21, 28, 29], [0, 7, 14, 21, 28, 35, 39]
    np.testing.assert_allclose(gridded[np.ix_(nodes_y, nodes_x)], exact[np.ix_(nodes_y, nodes_x)], atol=1e-4)
    assert np.abs(gridded - exact).max() < 2.0


def test_text_recog_general_aug():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(32, 100, 3), dtype=np.uint8)
    np.random.seed(0)
    first = TextRecogGeneralAug()({"img": img.copy()})
    np.random.seed(0)
    second = TextRecogGeneralAug()({"img": img.copy()})
    assert (
        first["img"].shape == img.shape and first["img"].dtype == np.uint8 and first["img_shape"] == (32, 100)
    )
    np.testing.assert_array_equal(first["img"], second["img"])
    assert not np.array_equal(first["img"], img)
    gray = TextRecogGeneralAug()({"img": img[..., 0].copy()})["img"]
    assert gray.shape == (32, 100)
    tiny = np.ones((4, 50, 3), np.uint8)
    np.testing.assert_array_equal(TextRecogGeneralAug()({"img": tiny})["img"], tiny)


def test_crop_height():
    img = np.arange(20)[:, None, None].repeat(5, 1).repeat(3, 2).astype(np.uint8)
    seen = set()
    for seed in range(30):
        np.random.seed(seed)
        out = CropHeight(min_pixels=2, max_pixels=4)({"img": img})["img"]
        cut = 20 - out.shape[0]
        assert 2 <= cut <= 4
        side = "top" if out[0, 0, 0] == cut else "bottom"
        np.testing.assert_array_equal(out, img[cut:] if side == "top" else img[: 20 - cut])
        seen.add(side)
    assert seen == {"top", "bottom"}
    assert CropHeight(5, 8)({"img": img[:3]})["img"].shape[0] == 1  # at least one row is kept


def test_image_content_jitter_matches_mmocr_loop():
    img = np.random.default_rng(2).integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
    np.random.seed(4)
    out = ImageContentJitter(jitter_ratio=0.2)({"img": img.copy()})["img"]
    np.random.seed(4)
    steps = int(np.random.random_sample() * 40 * 0.2)
    expected = img.copy()
    for i in range(steps):
        shifted = expected[: 40 - i, : 60 - i].copy()
        expected[i:, i:] = shifted
    assert steps > 1
    np.testing.assert_array_equal(out, expected)
    small = np.random.default_rng(3).integers(0, 256, size=(32, 100, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        ImageContentJitter()({"img": small.copy()})["img"], small
    )  # int(u * 0.32) = 0


def test_reverse_pixels():
    img = np.array([[[0, 10, 255]]], np.uint8)
    out = ReversePixels()({"img": img})["img"]
    assert out.dtype == np.uint8 and out.tolist() == [[[255, 245, 0]]]


# ---- a dataset through a config-built pipeline --------------------------------------------------------
def test_detection_pipeline_from_config(tmp_path):
    img = np.zeros((120, 200, 3), np.uint8)
    for quad in TEXT_QUADS:
        _fill(img, quad)
    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "imgs" / "img_1.png"), img)
    write_icdar2015_gt(
        tmp_path / "gts" / "gt_img_1.txt",
        [
            {"polygon": q, "text": t, "ignore": t == "###"}
            for q, t in zip(TEXT_QUADS, ["Hi,", "there", "###"])
        ],
    )
    pipeline = [
        dict(type="LoadImage"),
        dict(type="LoadOCRAnnotations", with_polygon=True, with_bbox=True, with_label=True, with_text=True),
        dict(type="FixInvalidPolygon", min_poly_points=4),
        dict(type="RandomRotate", max_angle=10, use_canvas=True, pad_with_fixed_color=True),
        dict(type="TextDetRandomCrop", target_size=(160, 160)),
        dict(type="Resize", scale=(80, 80)),
        dict(type="PackTextDetInputs", meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor")),
    ]
    dataset = TextDetDataset(
        data_root=str(tmp_path), img_dir="imgs", ann_dir="gts", pipeline=[build(t) for t in pipeline]
    )
    np.random.seed(0)
    sample = dataset[0]
    assert sample["inputs"].shape == (3, 80, 80)
    instances = sample["data_samples"].gt_instances
    assert set(instances.texts) <= {"Hi,", "there", "###"} and len(instances.texts) == len(instances.polygons)
    for text, ignored in zip(instances.texts, instances.ignored.tolist()):
        assert ignored == (text == "###")


def test_stroke_width_jitter_dilates_or_erodes():
    img = np.zeros((20, 30), np.uint8)
    img[8:12, 5:25] = 255  # a bright bar 4 pixels thick
    results = {"img": img.copy()}
    counts = set()
    np.random.seed(0)
    for _ in range(20):
        counts.add(int((StrokeWidthJitter(kernel_size=2)({"img": img.copy()})["img"] > 0).sum()))
    # a 2x2 dilation adds one row and one column (5 x 21), an erosion removes them (3 x 19)
    assert counts == {5 * 21, 3 * 19}
    with pytest.raises(ValueError, match="kernel_size"):
        StrokeWidthJitter(kernel_size=0)
    assert results["img"].sum() == img.sum()


def test_shear_jitter_slants_about_the_middle_row_and_keeps_everything():
    img = np.zeros((21, 40), np.uint8)
    img[:, 19:21] = 255  # a vertical stroke
    np.random.seed(3)
    out = ShearJitter(max_shear=0.3)({"img": img})
    sheared = out["img"]
    extra = (sheared.shape[1] - 40) // 2  # the crop widens by |s| * h / 2 (rounded up) on each side
    assert sheared.shape[0] == 21 and out["img_shape"] == sheared.shape[:2] and extra > 0
    columns = [float(np.average(np.arange(sheared.shape[1]), weights=row.astype(float))) for row in sheared]
    slope = np.polyfit(np.arange(21), columns, 1)[0]
    assert columns[10] == pytest.approx(19.5 + extra, abs=0.6)  # the middle row does not move
    assert 0.01 < abs(slope) <= 0.3 + 1e-6 and extra == int(np.ceil(abs(slope) * 21 / 2 - 1e-3))
    assert sheared.sum() == pytest.approx(img.sum(), rel=0.05)  # nothing cut off
