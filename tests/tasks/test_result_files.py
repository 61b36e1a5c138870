"""The helpers shared by the tasks' result-file readers: JSON lists and metric config entries."""

from __future__ import annotations

import pytest

from visionstack.registry import ConfigError
from visionstack.tasks.classification.metrics import Accuracy
from visionstack.tasks.detection.metrics.coco_metric import CocoMetric
from visionstack.tasks.result_files import metric_entries, read_json_list


def test_read_json_list_returns_the_list(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('[{"a": 1}, 2]', encoding="utf-8")
    assert read_json_list(path, "COCO results", "detections") == [{"a": 1}, 2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{oops", r"^COCO results '.*results\.json' is not valid JSON: "),
        ('{"images": []}', r"^COCO results '.*results\.json' must be a JSON list of detections, got dict$"),
    ],
)
def test_read_json_list_names_the_kind_and_the_file(tmp_path, content, message):
    path = tmp_path / "results.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_json_list(path, "COCO results", "detections")


def test_read_json_list_rejects_non_utf8(tmp_path):
    path = tmp_path / "results.json"
    path.write_bytes(b"\xff\xfe[")
    with pytest.raises(ValueError, match="is not valid JSON"):
        read_json_list(path, "classification results", "per-image records")


def test_metric_entries_takes_one_dict_a_list_or_none():
    single = dict(type="Accuracy", topk=(1,))
    assert list(metric_entries(single)) == [(Accuracy, single)]
    assert [target for target, _ in metric_entries([single, dict(type="CocoMetric")])] == [
        Accuracy,
        CocoMetric,
    ]
    assert list(metric_entries(None)) == []


def test_metric_entries_resolves_each_entry_when_reached():
    entries = metric_entries([dict(type="Accuracy"), dict(type="Acuracy")])
    assert next(entries)[0] is Accuracy  # the misspelt second entry is not resolved yet
    with pytest.raises(ConfigError, match="Acuracy"):
        next(entries)
