"""The synthetic OCR data: file formats parsed back with plain code, byte determinism, the font split by
family, polygons that enclose the rendered ink tightly, and the rates of ignored and curved words."""

from __future__ import annotations

import json
import re
import string
import sys

import cv2
import numpy as np
import pytest
import shapely

from visionstack.tasks.ocr import synthetic_render
from visionstack.tasks.ocr.fonts import (
    TEST_FAMILIES,
    candidate_font_paths,
    font_covers,
    font_family,
    split_fonts,
)
from visionstack.tasks.ocr.synthetic import (
    IGNORE_TEXT,
    SceneWord,
    _totaltext_lines,
    render_scene,
    render_word_crop,
    write_synthetic_ocr,
)
from visionstack.tasks.ocr.synthetic_render import min_area_quad, render_arc, render_straight
from visionstack.tasks.ocr.wordlist import CHARSET, TEXT_ALPHABET, WORDS, random_text

OPTIONS = {"num_train": 4, "num_val": 2, "num_recog_train": 20, "num_recog_test": 10, "image_size": 160}
TOTALTEXT_LINE = re.compile(
    r"^x: \[\[([-\d ]+)\]\], y: \[\[([-\d ]+)\]\], ornt: \[u'([hmc#])'\], transcriptions: \[u(['\"])(.*)\4\]$"
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ocr")
    summary = write_synthetic_ocr(root, seed=3, **OPTIONS)
    assert summary["det_train"]["images"] == 4 and summary["det_test"]["images"] == 2
    assert (summary["recog_train"], summary["recog_test"], summary["noisy_test"]) == (20, 10, 2)
    return root


@pytest.fixture(scope="module")
def fonts():
    return split_fonts()


def _read_icdar(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    text = raw[3:].decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), "CRLF line ends"
    records = []
    for line in text.split("\r\n")[:-1]:
        fields = line.split(",")
        quad = np.array([int(v) for v in fields[:8]], np.float64).reshape(4, 2)
        records.append((quad, ",".join(fields[8:])))
    return records


def _read_totaltext(path):
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = TOTALTEXT_LINE.match(line)
        assert match, line
        xs, ys = ([int(v) for v in group.split()] for group in match.group(1, 2))
        assert len(xs) == len(ys)
        records.append((np.stack([xs, ys], axis=1).astype(np.float64), match.group(3), match.group(5)))
    return records


def _signed_area(points):
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))  # > 0: clockwise on screen (y down)


@pytest.mark.parametrize(
    ("images", "icdar", "totaltext", "count"),
    [
        ("ch4_training_images", "ch4_training_localization_transcription_gt", "Train", 4),
        ("ch4_test_images", "Challenge4_Test_Task1_GT", "Test", 2),
    ],
)
def test_scene_files_parse_back_and_agree(data_root, images, icdar, totaltext, count):
    for i in range(1, count + 1):
        image = cv2.imread(str(data_root / images / f"img_{i}.jpg"))
        assert image.shape == (160, 160, 3)
        quads = _read_icdar(data_root / icdar / f"gt_img_{i}.txt")
        polygons = _read_totaltext(
            data_root / "totaltext/Groundtruth/Polygon" / totaltext / f"poly_gt_img_{i}.txt"
        )
        assert len(quads) == len(polygons) >= 1
        for (quad, text), (polygon, orientation, transcription) in zip(quads, polygons):
            assert text and set(text) <= set(CHARSET)
            assert (text == IGNORE_TEXT) == (transcription == "#") == (orientation == "#")
            if text != IGNORE_TEXT:
                assert transcription == text
            assert _signed_area(quad) > 0 and _signed_area(polygon) > 0  # clockwise
            reading = quad[1] - quad[0]
            assert abs(np.degrees(np.arctan2(reading[1], reading[0]))) < 50  # starts at the top-left
            if orientation == "c":
                assert len(polygon) >= 10 and len(polygon) % 2 == 0
                expected = min_area_quad(polygon.astype(np.float32))
                np.testing.assert_allclose(quad, expected, atol=1.5)
            else:
                assert len(polygon) == 4
                np.testing.assert_array_equal(quad, polygon)


def test_recognition_lists_lexicon_and_noisy_subset(data_root):
    recog = data_root / "textrecog"
    lists = {}
    for split, count in (("train", 20), ("test", 10)):
        lines = (recog / f"{split}_list.txt").read_text(encoding="utf-8").splitlines()
        assert [line.split(" ", 1)[0] for line in lines] == [
            f"{split}/word_{i}.png" for i in range(1, count + 1)
        ]
        lists[split] = lines
        for line in lines:
            path, text = line.split(" ", 1)
            assert text and " " not in text and set(text) <= set(TEXT_ALPHABET)
            crop = cv2.imread(str(recog / path))
            assert crop is not None and crop.ndim == 3 and 16 <= crop.shape[0] <= 80 and crop.shape[1] >= 8
    test_texts = [line.split(" ", 1)[1] for line in lists["test"]]
    assert (recog / "lexicon_test.txt").read_text().splitlines() == sorted(set(test_texts))
    noisy = (recog / "noisy_test_list.txt").read_text().splitlines()
    assert len(noisy) == 2 and set(noisy) <= set(lists["test"])


def test_the_same_arguments_write_the_same_bytes(data_root, tmp_path):
    write_synthetic_ocr(tmp_path, seed=3, **OPTIONS)
    written = sorted(path.relative_to(data_root) for path in data_root.rglob("*") if path.is_file())
    assert written == sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    assert len(written) == 4 * 3 + 2 * 3 + 30 + 5
    for name in written:
        assert (tmp_path / name).read_bytes() == (data_root / name).read_bytes(), name
    other = tmp_path / "other"
    write_synthetic_ocr(
        other, seed=4, num_train=1, num_val=0, num_recog_train=1, num_recog_test=0, image_size=160
    )
    assert (other / "ch4_training_images/img_1.jpg").read_bytes() != (
        tmp_path / "ch4_training_images/img_1.jpg"
    ).read_bytes()
    assert (other / "textrecog/test_list.txt").read_text() == ""


def test_fonts_split_by_family_and_keep_styles_in_train(data_root, fonts):
    table = json.loads((data_root / "fonts.json").read_text())
    assert set(table) == {"train", "test"}
    assert not set(table["train"]) & set(table["test"])
    assert set(table["test"]) == set(TEST_FAMILIES)
    assert {"DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono", "cmtt10", "cmr10"} <= set(table["train"])
    assert sorted(p.name for p in fonts["test"]) == sorted(
        f for files in table["test"].values() for f in files
    )
    assert not {font_family(p) for p in fonts["train"]} & {font_family(p) for p in fonts["test"]}


def test_font_coverage_checks_glyph_names_not_only_the_cmap(fonts):
    by_name = {path.name: path for path in fonts["train"] + fonts["test"]}
    assert font_covers(by_name["DejaVuSans.ttf"], CHARSET)
    # the TeX fonts map '<' to their inverted exclamation mark: fine for the generated texts, not for '<'
    assert font_covers(by_name["cmr10.ttf"]) and not font_covers(by_name["cmr10.ttf"], "<")
    assert font_covers(by_name["cmtt10.ttf"], CHARSET)  # the typewriter font has every ASCII glyph
    ttf_dir = by_name["cmr10.ttf"].parent
    assert not font_covers(ttf_dir / "cmmi10.ttf")  # math italic: Greek letters at the ASCII symbols
    assert not font_covers(ttf_dir / "DejaVuSansDisplay.ttf")
    skipped = {path.name for path in candidate_font_paths([ttf_dir])}
    assert not skipped & {
        "cmex10.ttf",
        "cmsy10.ttf",
        "cmti10.ttf",
        "STIXSizOneSymReg.ttf",
        "LastResortHE-Regular.ttf",
    }


def test_split_fonts_without_a_test_family_names_the_families(fonts):
    with pytest.raises(RuntimeError, match=r"found families \['DejaVu Sans"):
        split_fonts(fonts["train"])


def test_texts_stay_in_the_alphabet_and_mix_words_and_strings():
    assert len(WORDS) >= 1500 and len(set(WORDS)) == len(WORDS)
    assert all(word.isalpha() and word.islower() for word in WORDS)
    rng = np.random.default_rng(0)
    texts = [random_text(rng) for _ in range(2000)]
    assert set("".join(texts)) <= set(TEXT_ALPHABET) and IGNORE_TEXT not in texts
    words = sum(text.strip(".,!?:;()'s").lower() in WORDS for text in texts) / len(texts)
    assert 0.62 < words < 0.78
    assert any(text.isupper() for text in texts) and any(
        text[0].isupper() and text[1:].islower() for text in texts
    )
    assert any(re.fullmatch(r"\d\d/\d\d/\d{4}", t) for t in texts) and any(
        re.fullmatch(r"\$\d+\.\d\d", t) for t in texts
    )
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d", t) for t in texts) and any(
        re.fullmatch(r"\d\d\.\d\d\.\d\d", t) for t in texts
    )


@pytest.fixture(scope="module")
def scenes(fonts):
    return [render_scene(np.random.default_rng([11, i]), fonts["train"], 320) for i in range(40)]


def _ink(alpha):
    ys, xs = np.nonzero(alpha > 0)
    return np.stack([xs, ys], axis=1).astype(np.float64)


def test_polygons_enclose_the_ink_tightly(scenes):
    checked = 0
    for scene in scenes:
        for word in (word for word in scene.words if not word.ignore):
            polygon = shapely.Polygon(word.polygon)
            assert polygon.is_valid
            ink = _ink(word.alpha)
            assert shapely.contains_xy(polygon.buffer(2.0), ink[:, 0], ink[:, 1]).all(), word.rendered
            if not word.curved:
                ink_box = cv2.minAreaRect(ink.astype(np.float32))[1]
                assert polygon.area <= 1.6 * ink_box[0] * ink_box[1] + 4, word.rendered
            checked += 1
    assert checked > 100


def test_words_do_not_overlap_and_hard_cases_are_a_minority(scenes):
    words = [word for scene in scenes for word in scene.words]
    for scene in scenes:
        shapes = [shapely.Polygon(word.polygon) for word in scene.words]
        for a in range(len(shapes)):
            for b in range(a + 1, len(shapes)):
                assert shapes[a].intersection(shapes[b]).area == 0
    assert 2 * len(scenes) <= len(words) <= 6 * len(scenes)
    ignored = np.mean([word.ignore for word in words])
    curved = np.mean([word.curved for word in words])
    assert 0.05 <= ignored <= 0.16 and 0.13 <= curved <= 0.28
    assert all(word.text == IGNORE_TEXT for word in words if word.ignore)
    tiny = [min(cv2.minAreaRect(word.polygon)[1]) for word in words if word.kind == "tiny"]
    assert tiny and max(tiny) < 10.5  # glyph boxes under 9 px, polygons around the ink
    clipped = [word.polygon for word in words if word.kind == "clipped"]
    assert clipped and all(p.min() == -0.5 or p.max() == 319.5 for p in clipped)


def test_straight_and_arc_polygons_from_the_renderer(fonts):
    font = str(next(p for p in fonts["train"] if p.name == "DejaVuSans.ttf"))
    straight = render_straight("Hello", font, 40)
    ys, xs = np.nonzero(straight.alpha)
    np.testing.assert_array_equal(
        straight.polygon,
        [
            [xs.min() - 0.5, ys.min() - 0.5],
            [xs.max() + 0.5, ys.min() - 0.5],
            [xs.max() + 0.5, ys.max() + 0.5],
            [xs.min() - 0.5, ys.max() + 0.5],
        ],
    )
    for smile in (False, True):
        arc = render_arc("curved", font, 40, span=1.2, smile=smile)
        assert arc.curved and arc.polygon.shape == (14, 2)
        top, bottom = arc.polygon[:7], arc.polygon[7:][::-1]
        assert np.all(np.diff(top[:, 0]) > 0) and np.all(top[:, 1] < bottom[:, 1])
        middle_higher = top[3, 1] < top[0, 1]
        assert middle_higher != smile  # a frown's middle is its highest point
        ink = _ink(arc.alpha)
        assert shapely.contains_xy(shapely.Polygon(arc.polygon), ink[:, 0], ink[:, 1]).all()


def test_recognition_crops(fonts):
    crops = [render_word_crop(np.random.default_rng([5, i]), fonts["test"]) for i in range(60)]
    heights = [crop.image.shape[0] for crop in crops]
    assert 18 <= min(heights) and np.percentile(heights, 90) <= 66 and 30 <= np.median(heights) <= 56
    degraded = np.mean([crop.severity > 0 for crop in crops])
    assert 0.15 <= degraded <= 0.45
    assert all(crop.image.dtype == np.uint8 and set(crop.text) <= set(TEXT_ALPHABET) for crop in crops)


def test_totaltext_writes_python2_unicode_literals():
    word = SceneWord(
        text="cat's",
        rendered="cat's",
        polygon=np.array([[1.2, 2], [10, 2], [10, 9.6], [1, 9]], np.float32),
        quad=np.zeros((4, 2), np.float32),
        curved=False,
        ignore=False,
        kind="normal",
        orientation="h",
        alpha=np.zeros((1, 1), np.float32),
    )
    assert (
        _totaltext_lines([word])
        == "x: [[1 10 10 1]], y: [[2 2 10 9]], ornt: [u'h'], transcriptions: [u\"cat's\"]\n"
    )


def test_backgrounds_fall_back_to_procedural_textures_without_scikit_image(monkeypatch):
    synthetic_render._photo_textures.cache_clear()
    monkeypatch.setitem(sys.modules, "skimage", None)
    try:
        assert synthetic_render._photo_textures() == ()
        for i in range(6):
            image = synthetic_render.scene_background(np.random.default_rng(i), 40, 50)
            assert image.shape == (40, 50, 3) and image.dtype == np.float32
    finally:
        synthetic_render._photo_textures.cache_clear()
    assert string.ascii_letters in TEXT_ALPHABET
