from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from visionstack.data import BaseDataset, DatasetError, LoadImage, PackInputs
from visionstack.tasks.classification.datasets import ImageList

RECORDS = [
    {
        "img_path": f"img_{i}.png",
        "gt_label": i % 2,
        "width": 10 + i,
        "height": 20,
        "instances": [{"bbox_label": i}],
    }
    for i in range(6)
]


class ListDataset(BaseDataset):
    """A dataset over an in-memory list (test helper); counts how often it loads."""

    METAINFO = {"classes": ("even", "odd"), "palette": [(0, 0, 0), (255, 255, 255)]}

    def __init__(self, records=RECORDS, **kwargs) -> None:
        self.records = records
        self.load_calls = 0
        super().__init__(**kwargs)

    def load_data_list(self) -> list[dict]:
        self.load_calls += 1
        return copy.deepcopy(self.records)


class JsonDataset(BaseDataset):
    METAINFO = {"classes": ("class_from_class",), "palette": "palette_from_class"}


def _without_index(info: dict) -> dict:
    return {key: value for key, value in info.items() if key != "sample_idx"}


@pytest.mark.parametrize("serialize_data", [True, False])
def test_get_data_info_equals_the_records_plus_sample_idx(serialize_data):
    dataset = ListDataset(serialize_data=serialize_data)
    assert len(dataset) == len(RECORDS)
    for index, record in enumerate(RECORDS):
        info = dataset.get_data_info(index)
        assert info["sample_idx"] == index
        assert _without_index(info) == record
    assert dataset.get_data_info(-1)["sample_idx"] == len(RECORDS) - 1


@pytest.mark.parametrize("serialize_data", [True, False])
def test_get_data_info_returns_a_copy(serialize_data):
    dataset = ListDataset(serialize_data=serialize_data)
    info = dataset.get_data_info(0)
    info["gt_label"] = 42
    info["instances"].append({"bbox_label": 7})
    assert dataset.get_data_info(0)["gt_label"] == 0
    assert dataset.get_data_info(0)["instances"] == [{"bbox_label": 0}]


def test_lazy_init_defers_loading_until_first_use():
    dataset = ListDataset(lazy_init=True)
    assert dataset.load_calls == 0
    assert dataset.metainfo["classes"] == ("even", "odd")
    assert "not loaded" in repr(dataset)
    assert len(dataset) == 6 and dataset.load_calls == 1
    dataset[0]
    dataset.full_init()
    assert dataset.load_calls == 1


def test_dataset_item_is_the_pipeline_output():
    seen = []

    def record_label(results: dict) -> dict:
        seen.append(results["sample_idx"])
        return {"label": results["gt_label"]}

    dataset = ListDataset(pipeline=[record_label])
    assert dataset[3] == {"label": 1} and seen == [3]
    assert dataset.get_cat_ids(3) == [1]


def test_metainfo_precedence_file_then_class_then_argument(tmp_path):
    ann = {
        "metainfo": {
            "classes": ["class_from_file"],
            "palette": "palette_from_file",
            "extra": "extra_from_file",
        },
        "data_list": [{"img_path": "a.png", "gt_label": 0}],
    }
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    dataset = JsonDataset(
        ann_file="ann.json", data_root=str(tmp_path), metainfo={"classes": ["class_from_arg"]}
    )
    meta = dataset.metainfo
    assert meta["classes"] == ("class_from_arg",)
    assert meta["palette"] == "palette_from_class"
    assert meta["extra"] == "extra_from_file"
    without_argument = JsonDataset(ann_file=str(tmp_path / "ann.json"))
    assert without_argument.metainfo["classes"] == ("class_from_class",)
    assert BaseDataset(ann_file=str(tmp_path / "ann.json")).metainfo["classes"] == ("class_from_file",)


def test_metainfo_is_a_copy_and_classes_may_come_from_a_text_file(tmp_path):
    (tmp_path / "classes.txt").write_text("cat\n\ndog\n")
    dataset = ListDataset(metainfo={"classes": "classes.txt"}, data_root=str(tmp_path))
    assert dataset.metainfo["classes"] == ("cat", "dog")
    dataset.metainfo["classes"] = ("changed",)
    assert dataset.metainfo["classes"] == ("cat", "dog")
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        ListDataset(metainfo={"classes": "missing.txt"})


def test_json_loading_joins_data_root_and_prefix(tmp_path):
    ann = {"data_list": [{"img_path": "a.png", "seg_map_path": "a_seg.png"}, {"img_path": "/abs/b.png"}]}
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    dataset = BaseDataset(
        ann_file="ann.json",
        data_root=str(tmp_path),
        data_prefix={"img_path": "images", "seg_map_path": "maps"},
    )
    assert dataset.get_data_info(0)["img_path"] == str(tmp_path / "images" / "a.png")
    assert dataset.get_data_info(0)["seg_map_path"] == str(tmp_path / "maps" / "a_seg.png")
    assert dataset.get_data_info(1)["img_path"] == "/abs/b.png"


def test_json_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        BaseDataset(ann_file=str(tmp_path / "nope.json"))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(DatasetError, match="broken.json.*not valid JSON"):
        BaseDataset(ann_file=str(tmp_path / "broken.json"))
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match="list.json.*data_list"):
        BaseDataset(ann_file=str(tmp_path / "list.json"))
    with pytest.raises(ValueError, match="no ann_file"):
        BaseDataset()


def test_bad_json_record_names_file_and_record_or_is_counted(tmp_path):
    ann = {"data_list": [{"img_path": "a.png"}, "not a record", {"img_path": "c.png"}]}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(ann))
    with pytest.raises(DatasetError, match=r"ann.json.*record 1.*JSON object"):
        BaseDataset(ann_file=str(path))
    dataset = BaseDataset(ann_file=str(path), skip_bad_samples=True)
    assert len(dataset) == 2
    assert dataset.bad_sample_count == 1 and dataset.bad_samples[0][0] == 1
    assert "ann.json" in dataset.bad_samples[0][1]


def test_filter_cfg_drops_records_except_in_test_mode():
    records = [
        {"img_path": "a", "width": 50, "height": 50, "instances": [{"bbox_label": 0}]},
        {"img_path": "b", "width": 50, "height": 50, "instances": []},
        {"img_path": "c", "width": 50, "height": 50, "instances": [{"bbox_label": 0, "ignore_flag": 1}]},
        {"img_path": "d", "width": 8, "height": 50, "instances": [{"bbox_label": 0}]},
        {"img_path": "e"},
    ]
    dataset = ListDataset(records, filter_cfg={"filter_empty_gt": True, "min_size": 10})
    assert [dataset.get_data_info(i)["img_path"] for i in range(len(dataset))] == ["a", "e"]
    assert len(ListDataset(records, filter_cfg={"min_size": 10})) == 4
    assert (
        len(ListDataset(records, filter_cfg={"filter_empty_gt": True, "min_size": 10}, test_mode=True)) == 5
    )
    with pytest.raises(ValueError, match="min_sise"):
        ListDataset(records, filter_cfg={"min_sise": 10})


def test_indices_keep_first_last_or_chosen_records():
    assert [ListDataset(indices=3).get_data_info(i)["img_path"] for i in range(3)] == [
        "img_0.png",
        "img_1.png",
        "img_2.png",
    ]
    last_two = ListDataset(indices=-2)
    assert [last_two.get_data_info(i)["img_path"] for i in range(2)] == ["img_4.png", "img_5.png"]
    chosen = ListDataset(indices=[4, 1])
    assert len(chosen) == 2 and chosen.get_data_info(0)["img_path"] == "img_4.png"
    assert chosen.get_data_info(0)["sample_idx"] == 0
    with pytest.raises(IndexError, match="out of range"):
        ListDataset(indices=[0, 6])


@pytest.mark.parametrize("serialize_data", [True, False])
def test_get_subset_leaves_the_original_alone(serialize_data):
    dataset = ListDataset(serialize_data=serialize_data)
    subset = dataset.get_subset([5, 2])
    assert len(subset) == 2 and len(dataset) == 6
    assert _without_index(subset.get_data_info(0)) == RECORDS[5]
    assert _without_index(subset.get_data_info(1)) == RECORDS[2]
    assert len(dataset.get_subset(4)) == 4
    assert subset.metainfo == dataset.metainfo


def test_pipeline_none_refetches_another_sample_in_training():
    def reject_zero(results: dict) -> dict | None:
        return None if results["sample_idx"] == 0 else results

    np.random.seed(0)
    sample = ListDataset(pipeline=[reject_zero])[0]
    assert sample["sample_idx"] != 0
    with pytest.raises(DatasetError, match="record 0.*returned None in test mode"):
        ListDataset(pipeline=[reject_zero], test_mode=True)[0]
    with pytest.raises(DatasetError, match="no usable sample after 3 replacements"):
        ListDataset(pipeline=[lambda results: None], max_refetch=3)[0]


def _fail_on_odd(results: dict) -> dict:
    if results["gt_label"] == 1:
        raise ValueError(f"cannot decode {results['img_path']}")
    return results


def test_a_failing_sample_raises_naming_the_record_and_path():
    dataset = ListDataset(pipeline=[_fail_on_odd])
    with pytest.raises(
        DatasetError, match=r"record 1 \(img_path='img_1.png'\).*ValueError: cannot decode"
    ) as info:
        dataset[1]
    assert isinstance(info.value.__cause__, ValueError)
    assert dataset[2]["sample_idx"] == 2


def test_skip_bad_samples_replaces_deterministically_and_counts():
    first = ListDataset(pipeline=[_fail_on_odd], skip_bad_samples=True)
    second = ListDataset(pipeline=[_fail_on_odd], skip_bad_samples=True)
    np.random.seed(0)
    replacement = first[3]
    np.random.seed(123)  # the replacement does not depend on the global generator
    assert second[3]["sample_idx"] == replacement["sample_idx"]
    assert replacement["gt_label"] == 0
    assert first.bad_sample_count >= 1
    assert first.bad_samples[0][0] == 3 and "img_3.png" in first.bad_samples[0][1]
    assert all(index % 2 == 1 for index, _ in first.bad_samples)


def test_missing_image_error_names_the_image_and_the_list_file(tmp_path, image_writer, random_image):
    image_writer(tmp_path / "images" / "ok.png", random_image)
    (tmp_path / "list.txt").write_text("ok.png 0\nmissing.png 1\n")
    dataset = ImageList(
        ann_file="list.txt",
        data_root=str(tmp_path),
        data_prefix="images",
        pipeline=[LoadImage(), PackInputs()],
    )
    assert tuple(dataset[0]["inputs"].shape) == (3, 24, 32)
    with pytest.raises(DatasetError) as info:
        dataset[1]
    message = str(info.value)
    assert "list.txt" in message and "missing.png" in message and "record 1" in message
    assert isinstance(info.value.__cause__, FileNotFoundError)
    skipping = ImageList(
        ann_file="list.txt",
        data_root=str(tmp_path),
        data_prefix="images",
        pipeline=[LoadImage()],
        skip_bad_samples=True,
    )
    assert skipping[1]["img_path"].endswith("ok.png") and skipping.bad_sample_count == 1
