from __future__ import annotations

import pickle

import numpy as np
import pytest

from visionstack.data import SerializedList


def _records() -> list[dict]:
    return [
        {"img_path": f"images/{i}.jpg", "gt_label": i % 3, "instances": [{"bbox": [i, i, i + 1.5, i + 2]}]}
        for i in range(7)
    ] + [{"array": np.arange(5, dtype=np.float32), "text": "é unicode"}]


def test_round_trip_equals_the_original_records():
    records = _records()
    stored = SerializedList(records)
    assert len(stored) == len(records)
    for index, record in enumerate(records[:-1]):
        assert stored[index] == record
    last = stored[-1]
    np.testing.assert_array_equal(last["array"], records[-1]["array"])
    assert last["text"] == "é unicode"
    assert [item["gt_label"] for item in list(stored)[:-1]] == [r["gt_label"] for r in records[:-1]]


def test_storage_is_one_byte_buffer_and_an_offset_array():
    records = _records()
    stored = SerializedList(records)
    assert stored.buffer.dtype == np.uint8 and stored.buffer.ndim == 1
    assert stored.ends.dtype == np.int64
    assert stored.ends[-1] == stored.buffer.size
    expected_bytes = sum(len(pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)) for r in records)
    assert stored.buffer.size == expected_bytes
    assert stored.nbytes == stored.buffer.nbytes + stored.ends.nbytes


def test_each_read_is_a_fresh_copy():
    stored = SerializedList(_records())
    first = stored[0]
    first["gt_label"] = 99
    first["instances"].clear()
    assert stored[0]["gt_label"] == 0 and len(stored[0]["instances"]) == 1


def test_subset_keeps_the_chosen_records_in_order():
    records = _records()[:-1]
    stored = SerializedList(records)
    subset = stored.subset([5, 0, -1, 5])
    assert list(subset) == [records[5], records[0], records[-1], records[5]]
    assert len(stored.subset([])) == 0


def test_index_errors_and_empty_list():
    stored = SerializedList([{"a": 1}])
    with pytest.raises(IndexError, match="out of range for 1 records"):
        stored[1]
    empty = SerializedList([])
    assert len(empty) == 0 and list(empty) == []


def test_pickles_for_dataloader_workers():
    stored = SerializedList(_records()[:3])
    restored = pickle.loads(pickle.dumps(stored))
    assert list(restored) == list(stored)
