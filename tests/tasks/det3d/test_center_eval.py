"""nuScenes-style centre-distance AP and TP errors: hand cases, perfect predictions, distance bins."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.tasks.det3d.center_eval import average_precision, center_eval, scale_iou, yaw_difference


def frame(boxes, names, scores=None):
    anno = {"name": np.array(names), "lidar_boxes": np.array(boxes, dtype=np.float64).reshape(-1, 7)}
    if scores is not None:
        anno["score"] = np.array(scores, dtype=np.float64)
    return anno


CAR = [4.0, 1.6, 1.5]


def test_helpers_hand_values():
    assert yaw_difference(3.0, -3.0) == pytest.approx(2 * np.pi - 6)
    assert yaw_difference(0.5, 0.2) == pytest.approx(0.3)
    assert scale_iou(np.array([[4, 2, 1.5]]), np.array([[4, 1.6, 1.5]]))[0] == pytest.approx(0.8)
    assert average_precision(np.array([True, True]), 2) == pytest.approx(1.0)
    assert average_precision(np.array([], dtype=bool), 2) == 0.0


def test_perfect_predictions():
    gts = [frame([[10 * k + 5, k, -1.7, *CAR, 0.3 * k] for k in range(5)], ["Car"] * 5) for _ in range(3)]
    dts = [dict(g, score=np.linspace(0.9, 0.5, 5)) for g in gts]
    results = center_eval(gts, dts, ["Car"])
    assert results["mAP"] == pytest.approx(1.0)
    for t in (0.5, 1.0, 2.0, 4.0):
        assert results[f"Car/AP_{t}"] == pytest.approx(1.0)
    assert results["ATE"] == results["ASE"] == results["AOE"] == pytest.approx(0.0)
    assert results["range_0-20/mAP"] == pytest.approx(1.0) and results["range_40-inf/mAP"] == pytest.approx(
        1.0
    )


def test_hand_case():
    # 2 GT cars (at 10 m and 30 m); predictions by score: a false positive, a car 1.5 m off (TP at
    # 2 and 4 m only, 2 m wide instead of 1.6, yaw 3.0 vs -3.0), the other car exact.
    gt = [frame([[10, 0, -1.7, *CAR, -3.0], [30, 0, -1.7, *CAR, 0.0]], ["Car", "Car"])]
    dt = [
        frame(
            [[0, 15, -1.7, *CAR, 0.0], [11.5, 0, -1.7, 4.0, 2.0, 1.5, 3.0], [30, 0, -1.7, *CAR, 0.0]],
            ["Car"] * 3,
            scores=[0.95, 0.9, 0.8],
        )
    ]
    results = center_eval(gt, dt, ["Car"])
    recall = np.linspace(0, 1, 101)[11:]
    # Near thresholds (2, 4 m): tp = [F, T, T]: (recall, precision) = (0, 0), (0.5, 0.5), (1, 2/3).
    precision = np.where(recall <= 0.5, recall, 0.5 + (recall - 0.5) / 3)
    expected_far = np.mean(np.clip(precision - 0.1, 0, None)) / 0.9
    # Strict thresholds (0.5, 1 m): tp = [F, F, T]: recall 0, 0, 0.5 and precision 0, 0, 1/3 -> the
    # recall points above 0.5 get 0; below, precision rises linearly from (0, 0) to (0.5, 1/3).
    precision = np.where(recall <= 0.5, recall * 2 / 3, 0.0)
    expected_near = np.mean(np.clip(precision - 0.1, 0, None)) / 0.9
    assert results["Car/AP_2.0"] == pytest.approx(expected_far)
    assert results["Car/AP_4.0"] == pytest.approx(expected_far)
    assert results["Car/AP_0.5"] == pytest.approx(expected_near)
    assert results["Car/AP_1.0"] == pytest.approx(expected_near)
    assert results["mAP"] == pytest.approx((expected_far + expected_near) / 2)
    assert results["ATE"] == pytest.approx(0.75)
    assert results["ASE"] == pytest.approx(0.1)
    assert results["AOE"] == pytest.approx((2 * np.pi - 6) / 2)
    # 20-40 m: one GT, one exact prediction. 0-20 m: the 1.5 m-off car (and the FP at 15 m).
    assert results["range_20-40/mAP"] == pytest.approx(1.0)
    assert results["range_20-40/ATE"] == pytest.approx(0.0)
    assert results["range_0-20/ATE"] == pytest.approx(1.5)
    assert results["range_40-inf/mAP"] == 0.0  # no GT there: no class counted
    assert results["range_40-inf/ATE"] == 1.0


def test_other_class_and_frames_do_not_match():
    gt = [frame([[10, 0, -1.7, *CAR, 0]], ["Car"]), frame(np.zeros((0, 7)), [])]
    dt = [
        frame([[10, 0, -1.7, *CAR, 0]], ["Pedestrian"], [0.9]),
        frame([[10, 0, -1.7, *CAR, 0]], ["Car"], [0.9]),
    ]
    results = center_eval(gt, dt, ["Car", "Pedestrian"])
    assert results["Car/AP"] == 0.0 and results["Car/ATE"] == 1.0
    assert results["mAP"] == 0.0  # Pedestrian has no GT: left out of the mean


def test_frame_count_mismatch_is_an_error():
    with pytest.raises(ValueError, match="1 GT frames but 0"):
        center_eval([frame(np.zeros((0, 7)), [])], [], ["Car"])
