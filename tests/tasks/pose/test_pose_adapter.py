"""The pose adapter: people from a detector (or the whole image) in, one merged sample per image out."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from visionstack.config import Config
from visionstack.inference import Inferencer
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.adapter import PredictionContext, get_adapter

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "configs/pose/rtmpose-t_synth-128x96.py"


class FakeDetector:
    """Stands in for a detection Inferencer: fixed boxes, scores and labels."""

    class_names = ["car", "person"]

    def __init__(self, boxes, scores, labels):
        self.instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            scores=torch.tensor(scores, dtype=torch.float32),
            labels=torch.tensor(labels),
        )

    def __call__(self, paths):
        return [DataSample(pred_instances=self.instances)]


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "people.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8))
    return path


def test_people_come_from_the_detector_boxes_of_the_person_class_above_the_threshold(image_file):
    adapter = get_adapter("pose")
    options = {"det_config": "det.py", "det_checkpoint": "det.pth", "det_score_thr": 0.5}
    adapter._detector = (
        ("det.py", "det.pth"),
        FakeDetector([[1, 2, 30, 60], [40, 5, 90, 80], [0, 0, 10, 10]], [0.9, 0.4, 0.95], [1, 1, 0]),
    )
    items = adapter.infer_items(image_file, 3, options)
    assert len(items) == 1  # the car and the low-scored person are left out
    np.testing.assert_allclose(items[0]["bbox"], [[1, 2, 30, 60]])
    np.testing.assert_allclose(items[0]["bbox_score"], [0.9])
    assert items[0]["sample_idx"] == 3 and items[0]["img_path"] == str(image_file)
    assert len(adapter.infer_items(image_file, 0, dict(options, det_cat_id=0))) == 1  # the car now
    whole = get_adapter("pose").infer_items(image_file, 0, {})
    np.testing.assert_allclose(whole[0]["bbox"], [[0, 0, 119, 89]])


def test_inferencer_predicts_each_person_and_merges_them_per_image(image_file, tmp_path):
    torch.manual_seed(0)
    inferencer = Inferencer(Config.fromfile(str(CONFIG)), None, batch_size=2)
    inferencer.adapter._detector = (
        ("det.py", None),
        FakeDetector([[1, 2, 30, 60], [40, 5, 90, 80], [50, 50, 70, 70]], [0.9, 0.8, 0.7], [1, 1, 1]),
    )
    inferencer.task_options = {"det_config": "det.py", "det_score_thr": 0.3}
    other = tmp_path / "other.png"
    cv2.imwrite(str(other), np.zeros((40, 30, 3), np.uint8))
    samples = inferencer([image_file, other])
    assert len(samples) == 2
    people = samples[0].pred_instances
    assert people.keypoints.shape == (3, 17, 2) and people.keypoint_scores.shape == (3, 17)
    np.testing.assert_allclose(people.bboxes.numpy(), [[1, 2, 30, 60], [40, 5, 90, 80], [50, 50, 70, 70]])
    assert samples[1].pred_instances.keypoints.shape == (3, 17, 2)  # the same fake boxes
    # each person's keypoints come from its own crop: they lie in its (padded) box, not anywhere in the image
    for box, points in zip(people.bboxes.numpy(), people.keypoints.numpy()):
        center, size = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) * 1.25
        extent = np.maximum(size, size[::-1] * np.array([96 / 128, 128 / 96]))
        assert np.all(np.abs(points - center) <= extent / 2 + 1)
    inferencer.adapter._detector = (("det.py", None), FakeDetector(np.zeros((0, 4)), [], []))
    empty = inferencer([image_file])[0]
    assert empty.pred_instances.keypoints.shape[0] == 0
    record = inferencer.adapter.to_record(inferencer.adapter.to_result(empty), PredictionContext())
    assert record == {"people": []}


def test_records_tables_and_drawings(image_file):
    adapter = get_adapter("pose")
    keypoints = np.stack([np.linspace(10, 100, 17), np.linspace(5, 80, 17)], axis=1)[None]
    scores = np.linspace(0, 1, 17)[None]
    result = {
        "pred_instances": {
            "keypoints": keypoints,
            "keypoint_scores": scores,
            "bboxes": np.array([[5.0, 2.0, 110.0, 85.0]]),
            "bbox_scores": np.array([0.8]),
        }
    }
    context = PredictionContext(score_thr=0.5)
    record = adapter.to_record(result, context)
    assert len(record["people"]) == 1 and len(record["people"][0]["keypoints"]) == 17
    assert adapter.table_row(record, context) == ["1", str(int((scores >= 0.5).sum()))]
    image = cv2.imread(str(image_file))
    drawn = adapter.draw(image, result, context)
    changed = np.any(drawn != image, axis=2)
    for (x, y), score in zip(keypoints[0], scores[0]):  # keypoints scored >= 0.5 are drawn, the others not
        near = changed[max(0, int(y) - 1) : int(y) + 2, max(0, int(x) - 1) : int(x) + 2].any()
        assert near or score < 0.5
    assert changed[int(keypoints[0, -1, 1]), int(keypoints[0, -1, 0])]


def test_the_detector_is_built_once_by_the_inferencer_factory(image_file):
    built = []

    def make_inferencer(config, checkpoint):
        built.append((config, checkpoint))
        return FakeDetector([[1, 2, 30, 60]], [0.9], [1])

    adapter = get_adapter("pose")
    options = {"det_config": "det.py", "det_checkpoint": "det.pth", "make_inferencer": make_inferencer}
    assert len(adapter.infer_items(image_file, 0, options)) == 1
    assert len(adapter.infer_items(image_file, 1, options)) == 1
    assert built == [("det.py", "det.pth")]
    with pytest.raises(Exception, match="make_inferencer"):
        get_adapter("pose").infer_items(image_file, 0, {"det_config": "det.py"})
