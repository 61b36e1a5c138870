"""LoadAnnotations on semantic maps (grey and palette PNGs, reduce_zero_label, label_map, errors) and its
automatic choice of what to load."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from visionstack.data.transforms import LoadImage
from visionstack.data.transforms.annotations import LoadAnnotations, reduce_zero_label_map
from visionstack.registry import TRANSFORMS, build

LABEL = np.array([[0, 1, 2, 255], [3, 3, 0, 1], [2, 2, 2, 254]], dtype=np.uint8)  # (3, 4)


def write_grey(path, label: np.ndarray) -> str:
    assert cv2.imwrite(str(path), label)
    return str(path)


def write_palette(path, label: np.ndarray) -> str:
    """A "P" PNG whose palette colours differ from the indices (so reading colours would be wrong)."""
    image = Image.fromarray(label, mode="P")
    palette = [(7 * i) % 256 for i in range(256 * 3)]
    palette[3:6] = [128, 0, 0]  # class 1 is dark red, as in VOC
    image.putpalette(palette)
    image.save(path)
    return str(path)


def seg_record(tmp_path, label: np.ndarray = LABEL, writer=write_grey, **extra) -> dict:
    img_path = tmp_path / "img.png"
    cv2.imwrite(str(img_path), np.full((*label.shape, 3), 90, np.uint8))
    return {"img_path": str(img_path), "seg_map_path": writer(tmp_path / "map.png", label), **extra}


def test_grey_map_is_loaded_as_is(tmp_path):
    out = LoadAnnotations()(LoadImage()(seg_record(tmp_path)))
    np.testing.assert_array_equal(out["gt_seg_map"], LABEL)
    assert out["gt_seg_map"].dtype == np.uint8
    assert out["seg_fields"] == ["gt_seg_map"] and out["reduce_zero_label"] is False
    assert "gt_bboxes" not in out and "gt_bboxes_labels" not in out


def test_palette_map_gives_indices_not_colours(tmp_path):
    record = seg_record(tmp_path, writer=write_palette)
    assert Image.open(record["seg_map_path"]).mode == "P"
    out = LoadAnnotations(with_seg=True)(record)
    np.testing.assert_array_equal(out["gt_seg_map"], LABEL)


@pytest.mark.parametrize("source", ["record", "transform"])
def test_reduce_zero_label(tmp_path, source):
    record = seg_record(tmp_path, reduce_zero_label=True) if source == "record" else seg_record(tmp_path)
    transform = LoadAnnotations() if source == "record" else LoadAnnotations(reduce_zero_label=True)
    out = transform(record)
    expected = np.array([[255, 0, 1, 255], [2, 2, 255, 0], [1, 1, 1, 253]], dtype=np.uint8)
    np.testing.assert_array_equal(out["gt_seg_map"], expected)
    assert out["reduce_zero_label"] is True


def test_reduce_zero_label_contradicting_the_record_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="contradicts the record"):
        LoadAnnotations(reduce_zero_label=False)(seg_record(tmp_path, reduce_zero_label=True))


def test_reduce_zero_label_map_keeps_other_dtypes():
    label = np.array([0, 1, 5, 255], dtype=np.int32)
    reduced = reduce_zero_label_map(label)
    assert reduced.dtype == np.int32 and reduced.tolist() == [255, 0, 4, 255]


def test_label_map_after_reduce_zero_label(tmp_path):
    record = seg_record(tmp_path, reduce_zero_label=True, label_map={0: 1, 1: 0, 2: 255})
    out = LoadAnnotations()(record)
    # reduced: [[255, 0, 1, 255], [2, 2, 255, 0], [1, 1, 1, 253]]; then 0 <-> 1 swap, 2 -> 255 (no cascade)
    expected = np.array([[255, 1, 0, 255], [255, 255, 255, 1], [0, 0, 0, 253]], dtype=np.uint8)
    np.testing.assert_array_equal(out["gt_seg_map"], expected)


def test_missing_map_names_the_file(tmp_path):
    record = seg_record(tmp_path)
    record["seg_map_path"] = str(tmp_path / "absent.png")
    with pytest.raises(FileNotFoundError, match="absent.png"):
        LoadAnnotations()(record)


def test_unreadable_map_names_the_file(tmp_path):
    record = seg_record(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    record["seg_map_path"] = str(tmp_path / "broken.png")
    with pytest.raises(ValueError, match="broken.png"):
        LoadAnnotations()(record)
    (tmp_path / "empty.png").write_bytes(b"")
    record["seg_map_path"] = str(tmp_path / "empty.png")
    with pytest.raises(ValueError, match="empty.png"):
        LoadAnnotations()(record)


def test_colour_map_is_rejected(tmp_path):
    record = seg_record(tmp_path)
    cv2.imwrite(str(tmp_path / "rgb.png"), np.zeros((3, 4, 3), np.uint8))
    record["seg_map_path"] = str(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match=r"rgb\.png.*not a 2-D map"):
        LoadAnnotations()(record)


def test_map_of_another_size_than_the_image(tmp_path):
    record = seg_record(tmp_path)
    cv2.imwrite(record["img_path"], np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=r"map\.png.* is 4x3 but the image .* is 4x5"):
        LoadAnnotations()(LoadImage()(record))
    with pytest.raises(ValueError, match="is 4x3 but the image"):  # without LoadImage: the record's size
        LoadAnnotations()(seg_record(tmp_path, height=9, width=4))


def test_explicit_flags_without_their_key(tmp_path):
    with pytest.raises(KeyError, match=r"with_seg=True.*no `seg_map_path`"):
        LoadAnnotations(with_seg=True)({"img_path": "a.png", "instances": []})
    with pytest.raises(KeyError, match=r"with_bbox=True.*no `instances`"):
        LoadAnnotations(with_bbox=True)(seg_record(tmp_path))
    with pytest.raises(KeyError, match="no `instances` and no `seg_map_path`"):
        LoadAnnotations()({"img_path": "a.png"})
    # everything switched off explicitly: nothing to do, no error
    assert "gt_seg_map" not in LoadAnnotations(with_seg=False)(seg_record(tmp_path))


def test_auto_loads_both_kinds(tmp_path):
    record = seg_record(tmp_path, instances=[{"bbox": [0, 0, 2, 2], "bbox_label": 4}])
    out = build(dict(type="LoadAnnotations"), TRANSFORMS)(record)
    assert out["gt_bboxes"].tolist() == [[0, 0, 2, 2]] and out["gt_bboxes_labels"].tolist() == [4]
    assert out["gt_ignore_flags"].tolist() == [False]
    np.testing.assert_array_equal(out["gt_seg_map"], LABEL)
    only_boxes = LoadAnnotations(with_seg=False, with_label=False)(
        seg_record(tmp_path, instances=[{"bbox": [0, 0, 2, 2], "bbox_label": 4}])
    )
    assert "gt_seg_map" not in only_boxes and "gt_bboxes_labels" not in only_boxes
    assert "gt_bboxes" in only_boxes
