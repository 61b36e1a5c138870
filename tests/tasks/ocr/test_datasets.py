"""OCR annotation formats (ICDAR 2015, Total-Text, recognition lists, MMOCR JSON) and the OCR datasets."""

from __future__ import annotations

import json
import os
import re

import cv2
import numpy as np
import pytest

from visionstack.data import DatasetError
from visionstack.registry import DATASETS
from visionstack.tasks.ocr.datasets import OCRDataset, TextDetDataset, TextRecogDataset, natural_key
from visionstack.tasks.ocr.formats import (
    AnnotationFormatError,
    read_icdar2015_gt,
    read_mmocr_json,
    read_recog_list,
    read_totaltext_gt,
    write_icdar2015_gt,
    write_mmocr_json,
    write_recog_list,
    write_totaltext_gt,
)

QUAD = np.array([[10, 20], [60, 22], [59, 40], [9, 38]], dtype=np.float32)


def _records():
    return [
        {"polygon": QUAD, "text": "Hello", "ignore": False},
        {"polygon": QUAD + 0.5, "text": "a,b,,c", "ignore": False},  # commas and non-integer points
        {"polygon": QUAD + 100, "text": "###", "ignore": True},
    ]


def _same_records(read, written):
    assert len(read) == len(written)
    for got, want in zip(read, written):
        np.testing.assert_array_equal(got["polygon"], np.asarray(want["polygon"], np.float32).reshape(-1, 2))
        assert got["polygon"].dtype == np.float32
        assert (got["text"], got["ignore"]) == (want["text"], want["ignore"])


# ---- ICDAR 2015 ------------------------------------------------------------------------------------
def test_icdar_round_trip_is_bom_crlf_by_default(tmp_path):
    path = tmp_path / "gt_img_1.txt"
    write_icdar2015_gt(path, _records())
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == 3
    assert raw.splitlines()[0] == b"\xef\xbb\xbf10,20,60,22,59,40,9,38,Hello"
    _same_records(read_icdar2015_gt(path), _records())


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_icdar_reads_bom_and_line_ends(tmp_path, bom, newline):
    lines = [
        b"377,117,463,117,465,130,378,130,Genaxis Theatre",
        b"",
        b"1,2,3,4,5,6,7,8,12,50",
        b"0,0,1,0,1,1,0,1,###",
    ]
    path = tmp_path / "gt.txt"
    path.write_bytes(bom + newline.join(lines) + newline)
    records = read_icdar2015_gt(path)
    assert [r["text"] for r in records] == ["Genaxis Theatre", "12,50", "###"]
    assert [r["ignore"] for r in records] == [False, False, True]
    np.testing.assert_array_equal(records[0]["polygon"], [[377, 117], [463, 117], [465, 130], [378, 130]])


@pytest.mark.parametrize(
    ("line", "message"),
    [("1,2,3,4,5,6,7,word", "fewer than 8 numbers (7)"), ("1,2,3,4,5,6,7,8", "no transcription")],
)
def test_icdar_bad_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "gt_bad.txt"
    path.write_text("1,2,3,4,5,6,7,8,ok\n" + line + "\n")
    with pytest.raises(AnnotationFormatError, match="gt_bad.txt, line 2: " + re.escape(message)):
        read_icdar2015_gt(path)


def test_icdar_writer_needs_quadrilaterals(tmp_path):
    with pytest.raises(ValueError, match="record 0 has 5 points"):
        write_icdar2015_gt(tmp_path / "x.txt", [{"polygon": np.zeros((5, 2)), "text": "a"}])


# ---- Total-Text -------------------------------------------------------------------------------------
TOTALTEXT_SAMPLE = (
    "x: [[115 503 494 115]], y: [[322 346 426 404]], ornt: [u'm'], transcriptions: [u'nauGHTY']\n"
    "x: [[ 99 107 116 126 135\n"
    "  145 155]], y: [[ 60  55  51  49  48\n"
    "  49  51]], ornt: [u'c'], transcriptions: [u\"it's\"]\n"
    "x: [[1 5 5 1]], y: [[-2 -2 4 4]], ornt: [u'#'], transcriptions: [u'#']\n"
    "x: [[1 5 5]], y: [[1 1 4]], ornt: [u'h'], transcriptions: []\n"
)


def test_totaltext_parser_on_a_hand_written_sample(tmp_path):
    path = tmp_path / "poly_gt_img12.txt"
    path.write_text(TOTALTEXT_SAMPLE)
    records = read_totaltext_gt(path)
    assert [r["text"] for r in records] == ["nauGHTY", "it's", "#", "#"]
    assert [r["ignore"] for r in records] == [False, False, True, True]
    assert [r["ornt"] for r in records] == ["m", "c", "#", "h"]
    np.testing.assert_array_equal(records[0]["polygon"], [[115, 322], [503, 346], [494, 426], [115, 404]])
    multi_line = records[1]["polygon"]  # a record wrapped over two lines
    np.testing.assert_array_equal(multi_line[:, 0], [99, 107, 116, 126, 135, 145, 155])
    np.testing.assert_array_equal(multi_line[:, 1], [60, 55, 51, 49, 48, 49, 51])
    np.testing.assert_array_equal(records[2]["polygon"][:, 1], [-2, -2, 4, 4])


def test_totaltext_round_trip(tmp_path):
    curved = np.stack([np.linspace(0, 90, 10), 20 + 5 * np.sin(np.linspace(0, 3, 10))], axis=1)
    records = [
        {"polygon": curved.astype(np.float32), "text": 'it\'s "quoted"', "ignore": False, "ornt": "c"},
        {"polygon": QUAD, "text": "x", "ignore": True},
    ]
    path = tmp_path / "poly_gt_img_1.txt"
    write_totaltext_gt(path, records)
    read = read_totaltext_gt(path)
    _same_records(read, [records[0], {**records[1], "text": "#"}])
    assert [r["ornt"] for r in read] == ["c", "#"]


def test_totaltext_bad_record_names_file_and_line(tmp_path):
    path = tmp_path / "poly_gt_bad.txt"
    path.write_text(
        TOTALTEXT_SAMPLE.splitlines()[0]
        + "\nx: [[1 2 3]], y: [[1 2]], ornt: [u'h'], transcriptions: [u'a']\n"
    )
    with pytest.raises(AnnotationFormatError, match="poly_gt_bad.txt, line 2: 3 x values but 2 y values"):
        read_totaltext_gt(path)
    path.write_text("x: [[1 2 3]], y: [[1 2 3]], transcriptions: [u'a']\n")
    with pytest.raises(AnnotationFormatError, match="poly_gt_bad.txt, line 1: expected"):
        read_totaltext_gt(path)


# ---- recognition lists ------------------------------------------------------------------------------
def test_recog_list_round_trip_keeps_spaces_and_symbols(tmp_path):
    pairs = [
        ("train/word_1.png", "Hello"),
        ("train/word_2.png", "$12.50"),
        ("train/word_3.png", "two  words "),
    ]
    path = tmp_path / "train_list.txt"
    write_recog_list(path, pairs)
    assert read_recog_list(path) == pairs
    path.write_text("a.png x\n\n   \nb.png 12/05/2024\n")  # blank lines skipped
    assert read_recog_list(path) == [("a.png", "x"), ("b.png", "12/05/2024")]


def test_recog_list_errors(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("a.png ok\nb.png\n")
    with pytest.raises(AnnotationFormatError, match=r"list.txt, line 2: .*no text"):
        read_recog_list(path)
    with pytest.raises(ValueError, match="cannot be written"):
        write_recog_list(path, [("a b.png", "x")])


# ---- MMOCR JSON -------------------------------------------------------------------------------------
def test_mmocr_json_round_trip(tmp_path):
    data_list = [
        {
            "img_path": "img_1.jpg",
            "height": 50,
            "width": 80,
            "instances": [
                {
                    "polygon": QUAD,
                    "bbox": np.array([9, 20, 60, 40], np.float32),
                    "bbox_label": 0,
                    "ignore": False,
                    "text": "Hi",
                },
                {"polygon": QUAD.reshape(-1).tolist(), "ignore": True, "text": "###"},
            ],
        }
    ]
    path = tmp_path / "textdet_test.json"
    write_mmocr_json(path, data_list)
    raw = json.loads(path.read_text())
    assert raw["metainfo"]["task_name"] == "textdet"
    assert raw["data_list"][0]["instances"][0]["polygon"] == QUAD.reshape(-1).tolist()  # flat list
    read = read_mmocr_json(path)
    first, second = read["data_list"][0]["instances"]
    np.testing.assert_array_equal(first["polygon"], QUAD)
    np.testing.assert_array_equal(second["bbox"], [9, 20, 60, 40])  # computed from the polygon
    assert (first["text"], first["ignore"], second["ignore"]) == ("Hi", False, True)
    recog = tmp_path / "textrecog_test.json"
    write_mmocr_json(recog, [{"img_path": "w.png", "instances": [{"text": "word"}]}])
    assert json.loads(recog.read_text())["metainfo"]["task_name"] == "textrecog"
    assert read_mmocr_json(recog)["data_list"] == [{"img_path": "w.png", "instances": [{"text": "word"}]}]


def test_mmocr_json_bad_entry_is_named(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"data_list": [{"img_path": "a.jpg", "instances": [{"polygon": [1, 2, 3, 4]}]}]})
    )
    with pytest.raises(
        AnnotationFormatError, match=r"bad.json, data_list\[0\].instances\[0\]: a polygon needs"
    ):
        read_mmocr_json(path)


# ---- datasets ---------------------------------------------------------------------------------------
def _image(path, width=80, height=50):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), np.full((height, width, 3), 127, np.uint8))


def _icdar_tree(root, names=("img_1", "img_2", "img_10")):
    for name in names:
        _image(root / "imgs" / f"{name}.jpg")
        write_icdar2015_gt(root / "gts" / f"gt_{name}.txt", _records())
    return root


def test_natural_key_orders_numbers():
    assert sorted(["img_10.jpg", "img_2.jpg", "img_1.jpg"], key=natural_key) == [
        "img_1.jpg",
        "img_2.jpg",
        "img_10.jpg",
    ]


def test_icdar_dataset_records(tmp_path):
    _icdar_tree(tmp_path)
    dataset = TextDetDataset(data_root=str(tmp_path), ann_format="icdar2015", img_dir="imgs", ann_dir="gts")
    assert len(dataset) == 3 and dataset.metainfo["classes"] == ("text",)
    assert [os.path.basename(dataset.get_data_info(i)["img_path"]) for i in range(3)] == [
        "img_1.jpg",
        "img_2.jpg",
        "img_10.jpg",
    ]
    info = dataset.get_data_info(0)
    assert (info["height"], info["width"]) == (50, 80)
    assert [inst["text"] for inst in info["instances"]] == ["Hello", "a,b,,c", "###"]
    assert [inst["ignore"] for inst in info["instances"]] == [False, False, True]
    np.testing.assert_array_equal(info["instances"][0]["bbox"], [9, 20, 60, 40])
    np.testing.assert_array_equal(info["instances"][0]["polygon"], QUAD)


def test_totaltext_dataset_pairs_real_and_synthetic_names(tmp_path):
    for name in ("img12", "img_3"):
        _image(tmp_path / "Images" / f"{name}.jpg")
        (tmp_path / "gt").mkdir(exist_ok=True)
        (tmp_path / "gt" / f"poly_gt_{name}.txt").write_text(TOTALTEXT_SAMPLE)
    dataset = DATASETS.get("TextDetDataset")(
        data_root=str(tmp_path), ann_format="totaltext", img_dir="Images", ann_dir="gt"
    )
    assert [os.path.basename(dataset.get_data_info(i)["ann_path"]) for i in range(2)] == [
        "poly_gt_img12.txt",
        "poly_gt_img_3.txt",
    ]
    assert [inst["text"] for inst in dataset.get_data_info(0)["instances"]] == ["nauGHTY", "it's", "#", "#"]


def test_missing_gt_is_an_error_or_counted(tmp_path):
    _icdar_tree(tmp_path)
    _image(tmp_path / "imgs" / "img_99.jpg")
    with pytest.raises(DatasetError, match=r"img_99.jpg.*has no gt file .*gt_img_99.txt"):
        TextDetDataset(data_root=str(tmp_path), img_dir="imgs", ann_dir="gts")
    dataset = TextDetDataset(data_root=str(tmp_path), img_dir="imgs", ann_dir="gts", skip_missing=True)
    assert len(dataset) == 3 and [os.path.basename(p) for p in dataset.missing_annotations] == ["img_99.jpg"]


def test_bad_gt_line_and_unreadable_image_are_named(tmp_path):
    _icdar_tree(tmp_path)
    (tmp_path / "gts" / "gt_img_2.txt").write_text("1,2,3\n")
    with pytest.raises(DatasetError, match=r"gt_img_2.txt, line 1: fewer than 8 numbers"):
        TextDetDataset(data_root=str(tmp_path), img_dir="imgs", ann_dir="gts")
    skipped = TextDetDataset(data_root=str(tmp_path), img_dir="imgs", ann_dir="gts", skip_bad_samples=True)
    assert len(skipped) == 2 and skipped.bad_sample_count == 1
    write_icdar2015_gt(tmp_path / "gts" / "gt_img_2.txt", _records())
    (tmp_path / "imgs" / "img_10.jpg").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match=r"cannot read the image .*img_10.jpg"):
        TextDetDataset(data_root=str(tmp_path), img_dir="imgs", ann_dir="gts")


def test_filter_empty_gt_reads_the_ignore_key(tmp_path):
    _icdar_tree(tmp_path, names=("img_1", "img_2"))
    write_icdar2015_gt(tmp_path / "gts" / "gt_img_2.txt", [{"polygon": QUAD, "text": "###", "ignore": True}])
    kept = TextDetDataset(
        data_root=str(tmp_path), img_dir="imgs", ann_dir="gts", filter_cfg=dict(filter_empty_gt=True)
    )
    assert len(kept) == 1
    assert (
        len(
            TextDetDataset(
                data_root=str(tmp_path),
                img_dir="imgs",
                ann_dir="gts",
                filter_cfg=dict(filter_empty_gt=True),
                test_mode=True,
            )
        )
        == 2
    )


def test_mmocr_detection_json_dataset_and_alias(tmp_path):
    _image(tmp_path / "imgs" / "a.jpg", width=64, height=40)
    write_mmocr_json(
        tmp_path / "textdet_train.json",
        [{"img_path": "a.jpg", "instances": [{"polygon": QUAD + 200, "ignore": False, "text": "out"}]}],
    )
    for dataset in (
        TextDetDataset(
            data_root=str(tmp_path), ann_format="mmocr", ann_file="textdet_train.json", img_dir="imgs"
        ),
        OCRDataset(ann_file="textdet_train.json", data_root=str(tmp_path), data_prefix=dict(img_path="imgs")),
    ):
        info = dataset.get_data_info(0)
        assert info["img_path"] == os.path.join(str(tmp_path), "imgs", "a.jpg")
        assert (info["height"], info["width"]) == (40, 64)  # from the image header
        np.testing.assert_array_equal(
            info["instances"][0]["polygon"], QUAD + 200
        )  # outside: kept as annotated
        assert dataset.metainfo["task_name"] == "textdet" and dataset.metainfo["classes"] == ("text",)


def test_recognition_list_and_json_datasets(tmp_path):
    write_recog_list(
        tmp_path / "train_list.txt", [("train/word_1.png", "Hello"), ("train/word_2.png", "a b")]
    )
    dataset = TextRecogDataset("train_list.txt", data_root=str(tmp_path))
    assert len(dataset) == 2
    assert dataset.get_data_info(1)["img_path"] == os.path.join(str(tmp_path), "train/word_2.png")
    assert dataset.get_data_info(1)["instances"] == [{"text": "a b"}]
    write_mmocr_json(tmp_path / "textrecog_train.json", [{"img_path": "w.png", "instances": [{"text": "x"}]}])
    for cls in (TextRecogDataset, OCRDataset):
        json_dataset = cls(
            "textrecog_train.json", data_root=str(tmp_path), data_prefix=dict(img_path="crops")
        )
        info = json_dataset.get_data_info(0)
        assert info["img_path"] == os.path.join(str(tmp_path), "crops", "w.png")
        assert info["instances"] == [{"text": "x"}]


def test_recognition_bad_line_names_file_and_line(tmp_path):
    (tmp_path / "list.txt").write_text("a.png ok\nb.png\n")
    with pytest.raises(DatasetError, match=r"list.txt.*line 2.*no text"):
        TextRecogDataset("list.txt", data_root=str(tmp_path))
    skipped = TextRecogDataset("list.txt", data_root=str(tmp_path), skip_bad_samples=True)
    assert len(skipped) == 1 and skipped.bad_sample_count == 1


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown ann_format 'coco'"):
        TextDetDataset(data_root=str(tmp_path), ann_format="coco", ann_dir="x")
    with pytest.raises(ValueError, match="needs ann_file"):
        TextDetDataset(data_root=str(tmp_path), ann_format="mmocr")
    with pytest.raises(FileNotFoundError, match="image folder"):
        TextDetDataset(data_root=str(tmp_path), img_dir="nope", ann_dir="nope")
