"""KittiMetric: prediction conversion (range and image rules), keys, perfect predictions, LiDAR-only mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.registry import METRICS
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.det3d.metrics import KittiMetric, evaluate_annos, predictions_to_anno

# LiDAR (x forward, y left, z up) -> camera (x right, y down, z forward), R0 = I; P2 with f = 700.
LIDAR2CAM = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
CAM2IMG = np.array([[700, 0, 600, 0], [0, 700, 180, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float64)
IMG_SHAPE = (375, 1242)
CLASSES = ("Pedestrian", "Cyclist", "Car")


def test_predictions_to_anno_hand_case():
    boxes = np.array(
        [
            [20, 0, -1.7, 4, 2, 1.5, 0.0],  # straight ahead: kept
            [-5, 0, -1.7, 4, 2, 1.5, 0.0],  # behind (x < 0): outside pcd_limit_range
            [10, 39, -1.7, 4, 2, 1.5, 0.0],  # inside the range but projected left of the image
            [20, 0, -1.7, 4, 2, 1.5, 0.0],  # label -1: dropped
        ]
    )
    anno = predictions_to_anno(
        boxes, [0.9, 0.8, 0.7, 0.6], [2, 2, 2, -1], CLASSES, LIDAR2CAM, CAM2IMG, IMG_SHAPE
    )
    assert list(anno["name"]) == ["Car"]
    np.testing.assert_allclose(anno["location"], [[0, 1.7, 20]], atol=1e-12)
    np.testing.assert_allclose(anno["dimensions"], [[4, 1.5, 2]])  # (l, h, w)
    np.testing.assert_allclose(anno["rotation_y"], [-np.pi / 2])  # facing +z
    # 2D box by hand: the nearest face at z = 18, x = +-1, y from 1.7 - 1.5 = 0.2 to 1.7.
    np.testing.assert_allclose(
        anno["bbox"], [[600 - 700 / 18, 180 + 700 * 0.2 / 22, 600 + 700 / 18, 180 + 700 * 1.7 / 18]]
    )
    np.testing.assert_allclose(anno["alpha"], [-np.pi / 2])
    np.testing.assert_allclose(anno["score"], [0.9])
    lidar = predictions_to_anno(boxes, [0.9, 0.8, 0.7, 0.6], [2, 2, 2, -1], CLASSES)
    assert list(lidar["name"]) == ["Car", "Car"] and "bbox" not in lidar


def make_frames(n_frames=10, per_frame=5, seed=0):
    """GT cars (5 per frame, >= 40 in all) and their perfect predictions."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_frames):
        boxes = np.array(
            [[8 + 9 * k, rng.uniform(-3, 3), -1.7, 4, 1.7, 1.5, rng.uniform(-3, 3)] for k in range(per_frame)]
        )
        gt = predictions_to_anno(
            boxes, np.ones(per_frame), np.full(per_frame, 2), CLASSES, LIDAR2CAM, CAM2IMG, IMG_SHAPE
        )
        del gt["score"]
        frames.append((boxes, rng.uniform(0.3, 1.0, per_frame), gt))
    return frames


def sample(boxes, scores, gt, camera=True, frame_id="000000"):
    meta = {"eval_ann_info": gt, "frame_id": frame_id}
    if camera:
        meta.update(lidar2cam=LIDAR2CAM, cam2img=CAM2IMG, img_shape=IMG_SHAPE)
    data = DataSample(metainfo=meta)
    data.pred_instances_3d = InstanceData(
        bboxes_3d=torch.tensor(boxes, dtype=torch.float32),
        scores_3d=torch.tensor(scores, dtype=torch.float32),
        labels_3d=torch.full((len(boxes),), 2, dtype=torch.int64),
    )
    return data


def test_perfect_predictions_give_one_and_the_key_scheme():
    metric = METRICS.build(dict(type="KittiMetric", eval_classes=["Car"]))
    frames = make_frames()
    metric.process({}, [sample(b, s, g, frame_id=f"{i:06d}") for i, (b, s, g) in enumerate(frames)])
    results = metric.evaluate(len(frames))
    for kind in ("2D", "BEV", "3D"):
        for points in (11, 40):
            assert results[f"kitti/Car/{kind}_AP{points}_moderate"] == pytest.approx(1.0, abs=1e-6), kind
    # the metric scores the detections as their result files give them back: alpha with 2 decimals
    for points in (11, 40):
        assert results[f"kitti/Car/AOS_AP{points}_moderate"] == pytest.approx(1.0, abs=1e-4)
    assert results["kitti/Car/BEV_AP40_hard_loose"] == pytest.approx(1.0)
    assert results["center/mAP"] == pytest.approx(1.0)
    assert results["center/ATE"] == pytest.approx(0.0, abs=0.01)  # centres with 2 decimals
    assert "center/range_0-20/Car/AP" in results and "center/range_40-inf/mAP" in results
    assert "Car (strict IoU)" in metric.table


def test_ap_modes_prefix_and_a_missed_car():
    frames = make_frames()
    metric = KittiMetric(eval_classes=["Car"], ap_modes=("AP40",), center_distance=False, prefix="val")
    # Drop the farthest car's prediction in the first frame: 49 of 50 found, no false positive.
    metric.process(
        {},
        [sample(b[:-1] if i == 0 else b, s[:-1] if i == 0 else s, g) for i, (b, s, g) in enumerate(frames)],
    )
    results = metric.evaluate(len(frames))
    assert not any("AP11" in key or "center" in key for key in results)
    assert all(key.startswith("val/kitti/") for key in results)
    # Hard: 50 GT, recall 49/50 at precision 1: the recall points up to 0.975 (39 of 40) -> 0.975.
    assert results["val/kitti/Car/3D_AP40_hard"] == pytest.approx(39 / 40)


def test_lidar_only_samples_switch_to_lidar_mode():
    frames = make_frames()
    metric = KittiMetric(eval_classes=["Car"])
    samples = []
    for boxes, scores, _ in frames:
        gt = {
            "name": np.array(["Car"] * len(boxes)),
            "lidar_boxes": boxes,
            "num_points_in_gt": np.full(len(boxes), 100),
        }
        samples.append(sample(boxes, scores, gt, camera=False))
    metric.process({}, samples)
    with pytest.warns(UserWarning, match="difficulty_mode='lidar'"):
        results = metric.evaluate(len(frames))
    assert not any("2D" in key for key in results)
    assert results["kitti/Car/BEV_AP40_hard"] == pytest.approx(1.0)
    assert results["center/mAP"] == pytest.approx(1.0)


def test_errors():
    with pytest.raises(ValueError, match="metric must be among"):
        KittiMetric(metric=("iou",))
    with pytest.raises(ValueError, match="ap_modes"):
        evaluate_annos([], [], ["Car"], ap_modes=("AP12",))
    metric = KittiMetric()
    with pytest.raises(KeyError, match="eval_ann_info"):
        metric.process({}, [DataSample(metainfo={"frame_id": "0"}, pred_instances_3d=InstanceData())])
