"""Result files: writing, reading, and scoring a folder = KittiMetric on the same predictions."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.det3d.boxes import camera_to_lidar_boxes, count_points_in_boxes
from visionstack.tasks.det3d.kitti import (
    read_calib,
    read_label,
    write_calib,
    write_label,
    write_lidar_label,
    write_points,
)
from visionstack.tasks.det3d.metrics import KittiMetric, predictions_to_anno
from visionstack.tasks.det3d.results import (
    evaluate_folders,
    evaluate_lidar_folders,
    read_results_folder,
    write_kitti_results,
    write_lidar_results,
)

CLASSES = ("Pedestrian", "Cyclist", "Car")
CALIB = {
    "P2": np.array([[700, 0, 600, 0], [0, 700, 180, 0], [0, 0, 1, 0]], dtype=np.float64),
    "R0_rect": np.eye(3),
    "Tr_velo_to_cam": np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]], dtype=np.float64),
}
IMG_SHAPE = (375, 1242)


def scene(rng, n_frames=8):
    """Per frame: GT LiDAR boxes + labels, and noisy predictions (some missed, some false)."""
    frames = []
    for _ in range(n_frames):
        n = 6
        gt = np.array(
            [[6 + 7 * k, rng.uniform(-4, 4), -1.7, 4, 1.7, 1.5, rng.uniform(-3, 3)] for k in range(n)]
        )
        labels = np.array([2, 2, 2, 2, 0, 1])
        gt[4, 3:6], gt[5, 3:6] = (0.8, 0.6, 1.7), (1.8, 0.6, 1.7)
        pred = gt + rng.normal(0, 0.1, gt.shape) * [1, 1, 0.2, 0.5, 0.3, 0.2, 0.5]
        keep = rng.random(n) > 0.2
        pred, pred_labels = pred[keep], labels[keep]
        fake = np.array([[rng.uniform(5, 40), rng.uniform(-8, 8), -1.7, 4, 1.7, 1.5, 0.0]])
        pred, pred_labels = np.concatenate([pred, fake]), np.concatenate([pred_labels, [2]])
        scores = np.round(rng.uniform(0.1, 1.0, len(pred)), 4)
        frames.append((gt, labels, pred, pred_labels, scores))
    return frames


def write_layout(root, frames, lidar2cam):
    os.makedirs(os.path.join(root, "ImageSets"))
    for sub in ("calib", "label_2", "velodyne"):
        os.makedirs(os.path.join(root, "training", sub))
    ids = [f"{i:06d}" for i in range(len(frames))]
    with open(os.path.join(root, "ImageSets", "val.txt"), "w") as handle:
        handle.write("\n".join(ids) + "\n")
    for frame_id, (gt, labels, *_) in zip(ids, frames):
        write_calib(os.path.join(root, "training", "calib", f"{frame_id}.txt"), CALIB)
        anno = predictions_to_anno(gt, np.ones(len(gt)), labels, CLASSES, lidar2cam, CALIB["P2"], IMG_SHAPE)
        del anno["score"]
        write_label(os.path.join(root, "training", "label_2", f"{frame_id}.txt"), anno)
    return ids


def test_write_and_read_results(tmp_path):
    anno = predictions_to_anno(np.array([[20, 0, -1.7, 4, 2, 1.5, 0.3]]), [0.8765], [2], CLASSES)
    write_lidar_results(tmp_path, "000001", anno)
    assert (
        tmp_path / "000001.txt"
    ).read_text() == "Car 20.0000 0.0000 -1.7000 4.0000 2.0000 1.5000 0.3000 0.8765\n"
    write_kitti_results(
        tmp_path,
        "000002",
        predictions_to_anno(np.zeros((0, 7)), [], [], CLASSES, np.eye(4), np.eye(4), (10, 10)),
    )
    assert (tmp_path / "000002.txt").read_text() == ""
    (back,) = read_results_folder(tmp_path, ["000001"], lidar=True)
    np.testing.assert_allclose(back["score"], [0.8765])
    with pytest.raises(FileNotFoundError, match="000003"):
        read_results_folder(tmp_path, ["000001", "000003"], lidar=True)


def test_evaluate_folders_equals_kitti_metric(tmp_path):
    rng = np.random.default_rng(0)
    frames = scene(rng)
    lidar2cam = read_calib_matrix(tmp_path)
    root = str(tmp_path / "kitti")
    ids = write_layout(root, frames, lidar2cam)
    out = str(tmp_path / "results")
    metric = KittiMetric(outfile_prefix=out)
    metric.dataset_meta = {"classes": CLASSES}
    samples = []
    for frame_id, (_, _, pred, pred_labels, scores) in zip(ids, frames):
        calib = read_calib(os.path.join(root, "training", "calib", f"{frame_id}.txt"))
        gt = read_label(os.path.join(root, "training", "label_2", f"{frame_id}.txt"))
        cam = np.concatenate([gt["location"], gt["dimensions"], gt["rotation_y"][:, None]], axis=1)
        gt["lidar_boxes"] = camera_to_lidar_boxes(cam, calib["lidar2cam"])
        meta = dict(
            eval_ann_info=gt,
            frame_id=frame_id,
            lidar2cam=calib["lidar2cam"],
            cam2img=calib["cam2img"],
            img_shape=IMG_SHAPE,
        )
        sample = DataSample(metainfo=meta)
        sample.pred_instances_3d = InstanceData(
            bboxes_3d=torch.tensor(pred, dtype=torch.float32),
            scores_3d=torch.tensor(scores, dtype=torch.float32),
            labels_3d=torch.tensor(pred_labels),
        )
        samples.append(sample)
    metric.process({}, samples)
    expected = metric.evaluate(len(samples))
    assert sorted(os.listdir(out)) == [f"{i}.txt" for i in ids]
    _, results = evaluate_folders(root, "ImageSets/val.txt", out, CLASSES)
    assert results.keys() == expected.keys()
    assert 0.2 < expected["kitti/Car/BEV_AP40_moderate_loose"] < 1.0  # a case that tests something
    for key, value in expected.items():
        # The files keep 2 decimals (scores 4): APs come out equal, errors within the rounding.
        tolerance = 0 if "AP" in key and "AOS" not in key else 5e-3
        assert results[key] == pytest.approx(value, abs=tolerance), key


def read_calib_matrix(tmp_path):
    path = tmp_path / "calib.txt"
    write_calib(path, CALIB)
    return read_calib(path)["lidar2cam"]


def test_evaluate_lidar_folders_equals_kitti_metric(tmp_path):
    rng = np.random.default_rng(1)
    frames = scene(rng, n_frames=6)
    root = tmp_path / "lidar"
    (root / "points").mkdir(parents=True)
    (root / "labels").mkdir()
    out = str(tmp_path / "results")
    metric = KittiMetric(outfile_prefix=out, pcd_limit_range=None)
    samples = []
    for i, (gt, labels, pred, pred_labels, scores) in enumerate(frames):
        frame_id = f"{i:06d}"
        gt = np.round(gt, 4)
        points = np.concatenate([rng.uniform([0, -10, -2, 0], [50, 10, 0, 1], (2000, 4))]).astype(np.float32)
        write_points(root / "points" / f"{frame_id}.bin", points)
        names = np.array([CLASSES[k] for k in labels])
        write_lidar_label(root / "labels" / f"{frame_id}.txt", names, gt)
        count = count_points_in_boxes(points[:, :3], gt)
        eval_ann = {"name": names, "lidar_boxes": gt, "num_points_in_gt": count}
        sample = DataSample(metainfo=dict(eval_ann_info=eval_ann, frame_id=frame_id))
        sample.pred_instances_3d = InstanceData(
            bboxes_3d=torch.tensor(np.round(pred, 4)),
            scores_3d=torch.tensor(scores),
            labels_3d=torch.tensor(pred_labels),
        )
        samples.append(sample)
    metric.process({}, samples)
    with pytest.warns(UserWarning, match="lidar"):
        expected = metric.evaluate(len(samples))
    _, results = evaluate_lidar_folders(root, out, CLASSES)
    assert results.keys() == expected.keys()
    for key, value in expected.items():
        assert results[key] == pytest.approx(value, abs=1e-9), key
