from __future__ import annotations

import copy

import pytest

from visionstack.data import BaseDataset, ConcatDataset, RepeatDataset
from visionstack.registry import DATASETS, build


class NamedDataset(BaseDataset):
    METAINFO = {"classes": ("a", "b")}

    def __init__(self, name: str, size: int, **kwargs) -> None:
        self.name, self.size = name, size
        super().__init__(**kwargs)

    def load_data_list(self) -> list[dict]:
        return [{"img_path": f"{self.name}/{i}", "gt_label": i % 2} for i in range(self.size)]


def test_concat_maps_global_indices_to_datasets():
    parts = [NamedDataset("x", 3), NamedDataset("y", 0), NamedDataset("z", 4)]
    concat = ConcatDataset(parts)
    expected = [f"x/{i}" for i in range(3)] + [f"z/{i}" for i in range(4)]
    assert len(concat) == 7
    assert [concat.get_data_info(i)["img_path"] for i in range(7)] == expected
    assert [concat[i]["img_path"] for i in range(7)] == expected
    assert concat[-1]["img_path"] == "z/3"
    assert concat.get_cat_ids(4) == [1]
    assert concat.metainfo == {"classes": ("a", "b")}
    with pytest.raises(IndexError, match="out of range"):
        concat[7]


def test_concat_refuses_different_metainfo_unless_ignored():
    other = NamedDataset("y", 2, metainfo={"classes": ("a", "c")})
    with pytest.raises(ValueError, match=r"datasets\[1\].*'classes'"):
        ConcatDataset([NamedDataset("x", 2), other])
    assert len(ConcatDataset([NamedDataset("x", 2), other], ignore_keys="classes")) == 4


def test_concat_lazy_init_and_bad_sample_totals():
    parts = [NamedDataset("x", 2, lazy_init=True), NamedDataset("y", 2, lazy_init=True)]
    concat = ConcatDataset(parts, lazy_init=True)
    assert not concat.cumulative_sizes
    assert len(concat) == 4
    parts[1].bad_samples.append((0, "bad"))
    assert concat.bad_sample_count == 1 and concat.bad_samples == [(0, "bad")]


def test_repeat_cycles_through_the_dataset():
    repeated = RepeatDataset(NamedDataset("x", 3), times=4)
    assert len(repeated) == 12
    assert [repeated[i]["img_path"] for i in range(12)] == [f"x/{i % 3}" for i in range(12)]
    assert repeated.get_data_info(-1)["img_path"] == "x/2"
    assert repeated.metainfo["classes"] == ("a", "b")
    with pytest.raises(IndexError):
        repeated[12]
    with pytest.raises(ValueError, match="times"):
        RepeatDataset(NamedDataset("x", 3), times=0)


def test_wrappers_build_from_nested_configs():
    DATASETS.register(NamedDataset, name="_TestNamedDataset")
    try:
        cfg = dict(
            type="RepeatDataset",
            times=2,
            dataset=dict(
                type="ConcatDataset",
                datasets=[
                    dict(type="_TestNamedDataset", name="x", size=2),
                    dict(type="_TestNamedDataset", name="y", size=1),
                ],
            ),
        )
        dataset = build(copy.deepcopy(cfg))
        assert isinstance(dataset, RepeatDataset) and len(dataset) == 6
        assert dataset[4]["img_path"] == "x/1"
    finally:
        DATASETS._objects.pop("_TestNamedDataset")
