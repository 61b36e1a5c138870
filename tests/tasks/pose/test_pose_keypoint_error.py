"""PCK, AUC, EPE and NME (``pose.metrics.keypoint_error``) against slow references and hand cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.pose.metrics import AUC, EPE, NME, PCKAccuracy, keypoint_pck_accuracy


def slow_pck(pred, gt, mask, thr, norm) -> float:
    """MMPose's keypoint_pck_accuracy, one keypoint and one instance at a time."""
    accuracies = []
    for k in range(pred.shape[1]):
        hits = total = 0
        for n in range(len(pred)):
            if not mask[n, k] or (norm[n] == 0).any():
                continue
            factor = np.where(norm[n] <= 0, 1e6, norm[n])
            distance = math.sqrt(
                sum(((pred[n, k, d] - gt[n, k, d]) / factor[d]) ** 2 for d in range(pred.shape[2]))
            )
            total += 1
            hits += distance < thr
        if total:
            accuracies.append(hits / total)
    return sum(accuracies) / len(accuracies) if accuracies else 0.0


def slow_mean_distance(pred, gt, mask, norm) -> float:
    values = []
    for n in range(len(pred)):
        if (norm[n] == 0).any():
            continue
        for k in range(pred.shape[1]):
            if mask[n, k]:
                values.append(
                    math.sqrt(sum(((pred[n, k, d] - gt[n, k, d]) / norm[n, d]) ** 2 for d in range(2)))
                )
    return sum(values) / max(1, len(values))


def _pairs(seed: int, count: int = 12, num_keypoints: int = 10) -> list[DataSample]:
    """Samples with one person each: ground truth, a noisy prediction, labels (keypoint 9 never labelled),
    a box (one of zero size), a head size."""
    rng = np.random.default_rng(seed)
    samples = []
    for n in range(count):
        gt = rng.uniform(0, 100, (1, num_keypoints, 2))
        visible = (rng.random((1, num_keypoints)) > 0.2).astype(np.float32)
        visible[:, 9] = 0
        box = np.array([[0.0, 0.0, rng.uniform(20, 100), rng.uniform(20, 100)]]) * (n != 3)
        sample = DataSample(metainfo=dict(img_id=n, head_size=float(rng.uniform(5, 30))))
        sample.gt_instances = InstanceData(
            keypoints=torch.tensor(gt), keypoints_visible=torch.tensor(visible), bboxes=torch.tensor(box)
        )
        noise = rng.normal(0, 1, gt.shape) * rng.uniform(1, 15, (1, num_keypoints, 1))
        sample.pred_instances = InstanceData(keypoints=torch.tensor(gt + noise))
        samples.append(sample)
    return samples


def _arrays(samples):
    pred = np.concatenate([s.pred_instances.keypoints.numpy() for s in samples])
    gt = np.concatenate([s.gt_instances.keypoints.numpy() for s in samples])
    mask = np.concatenate([s.gt_instances.keypoints_visible.numpy() for s in samples]) > 0
    boxes = np.concatenate([s.gt_instances.bboxes.numpy() for s in samples])
    return pred, gt, mask, (boxes[:, 2:] - boxes[:, :2]).max(1)


@pytest.mark.parametrize("thr", [0.05, 0.1, 0.2])
def test_pck_bbox_head_torso_match_slow_references(thr):
    samples = _pairs(0)
    pred, gt, mask, box = _arrays(samples)
    head = np.array([s.head_size for s in samples])
    torso = np.linalg.norm(gt[:, 4] - gt[:, 5], axis=-1)
    metric = PCKAccuracy(thr=thr, norm_item=["bbox", "head", "torso"])
    metric.process({}, samples)
    values = metric.evaluate(len(samples))
    for key, size in (("PCK", box), ("PCKh", head), ("tPCK", torso)):
        norm = np.stack([size, size], axis=1)
        assert values[key] == pytest.approx(slow_pck(pred, gt, mask, thr, norm), abs=1e-9), key
    assert 0 < values["PCK"] < 1


def test_pck_by_hand_and_torso_fallback():
    gt = np.zeros((1, 6, 2))
    gt[0, 5] = [0.0, 0.0]  # torso (4, 5) of zero length: the prediction's stands in
    pred = gt.copy()
    pred[0, :, 0] = [0, 1, 2, 3, 10, 0]  # distances 0, 1, 2, 3, 10, 0; torso of the prediction: 10
    sample = DataSample(metainfo=dict(img_id=0))
    sample.gt_instances = InstanceData(
        keypoints=torch.tensor(gt),
        keypoints_visible=torch.ones(1, 6),
        bboxes=torch.tensor([[0.0, 0.0, 20.0, 10.0]]),
    )
    sample.pred_instances = InstanceData(keypoints=torch.tensor(pred))
    metric = PCKAccuracy(thr=0.12, norm_item=("bbox", "torso"))
    with pytest.warns(UserWarning, match="torso below 1 pixel"):
        metric.process({}, [sample])
    values = metric.evaluate(1)
    assert values["PCK"] == pytest.approx(4 / 6)  # distance / 20 < 0.12: 0, 1, 2 and the last 0
    assert values["tPCK"] == pytest.approx(3 / 6)  # distance / 10 < 0.12: 0, 1 and the last 0
    acc, avg, count = keypoint_pck_accuracy(pred, gt, np.array([[1, 1, 0, 0, 0, 0]]), 0.5, np.ones((1, 2)))
    assert acc.tolist() == [1, 0, -1, -1, -1, -1] and avg == 0.5 and count == 2


def test_auc_by_hand_and_against_slow_reference():
    gt = np.zeros((1, 3, 2))
    pred = np.array([[[3.0, 0.0], [0.0, 12.0], [50.0, 0.0]]])
    sample = DataSample(metainfo=dict(img_id=0))
    sample.gt_instances = InstanceData(
        keypoints=torch.tensor(gt), keypoints_visible=torch.tensor([[1.0, 1.0, 0.0]])
    )
    sample.pred_instances = InstanceData(keypoints=torch.tensor(pred))
    metric = AUC(norm_factor=30, num_thrs=20)
    metric.process({}, [sample])
    # normalised 0.1 and 0.4 are below 17 and 11 of the thresholds 0, 0.05, ..., 0.95
    assert metric.evaluate(1)["AUC"] == pytest.approx((17 / 20 + 11 / 20) / 2, abs=1e-12)
    samples = _pairs(2)
    pred, gt, mask, _ = _arrays(samples)
    metric = AUC(norm_factor=20, num_thrs=7)
    metric.process({}, samples)
    expected = np.mean([slow_pck(pred, gt, mask, i / 7, np.full((len(pred), 2), 20.0)) for i in range(7)])
    assert metric.evaluate(len(samples))["AUC"] == pytest.approx(expected, abs=1e-9)


def test_epe_by_hand_and_against_slow_reference():
    sample = DataSample(metainfo=dict(img_id=0))
    sample.gt_instances = InstanceData(
        keypoints=torch.zeros(1, 3, 2), keypoints_visible=torch.tensor([[1.0, 1, 0]])
    )
    sample.pred_instances = InstanceData(keypoints=torch.tensor([[[3.0, 4.0], [1.0, 0.0], [90.0, 0.0]]]))
    metric = EPE()
    metric.process({}, [sample])
    assert metric.evaluate(1) == {"EPE": pytest.approx(3.0)}  # (5 + 1) / 2; the unlabelled one is left out
    samples = _pairs(3)
    pred, gt, mask, _ = _arrays(samples)
    metric.process({}, samples)
    assert metric.evaluate(len(samples))["EPE"] == pytest.approx(
        slow_mean_distance(pred, gt, mask, np.ones((len(pred), 2))), abs=1e-9
    )


def test_nme_modes_match_slow_references():
    samples = _pairs(4)
    pred, gt, mask, box = _arrays(samples)
    metric = NME(norm_mode="use_norm_item", norm_item="bbox_size")
    metric.process({}, samples)
    expected = slow_mean_distance(pred, gt, mask, np.stack([box, box], 1))
    assert metric.evaluate(len(samples))["NME"] == pytest.approx(expected, abs=1e-9)
    metric = NME(norm_mode="use_norm_item", norm_item="head_size")
    metric.process({}, samples)
    head = np.array([s.head_size for s in samples])
    assert metric.evaluate(len(samples))["NME"] == pytest.approx(
        slow_mean_distance(pred, gt, mask, np.stack([head, head], 1)), abs=1e-9
    )
    ocular = np.linalg.norm(gt[:, 8] - gt[:, 9], axis=-1)
    for metric in (
        NME(norm_mode="keypoint_distance", keypoint_indices=(8, 9)),
        NME(norm_mode="keypoint_distance"),
    ):
        metric.dataset_meta = {"dataset_name": "cofw"}  # COFW's default pair is (8, 9)
        metric.process({}, samples)
        assert metric.evaluate(len(samples))["NME"] == pytest.approx(
            slow_mean_distance(pred, gt, mask, np.stack([ocular, ocular], 1)), abs=1e-9
        )


def test_keypoint_metric_errors():
    samples = _pairs(5, count=2)
    metric = NME(norm_mode="keypoint_distance")
    metric.dataset_meta = {"dataset_name": "unknown"}
    metric.process({}, samples)
    with pytest.raises(KeyError, match="no default keypoint_indices for dataset 'unknown'"):
        metric.evaluate(2)
    with pytest.raises(ValueError, match="norm_item"):
        NME(norm_mode="use_norm_item")
    with pytest.raises(ValueError, match="norm_item must be among"):
        PCKAccuracy(norm_item="face")
    with pytest.raises(KeyError, match=r"data_samples\[0\] has no head_size"):
        PCKAccuracy(norm_item="head").process({}, [DataSample(metainfo={}, **{
            "gt_instances": samples[0].gt_instances, "pred_instances": samples[0].pred_instances})])  # fmt: skip
    bad = samples[0].clone()
    del bad.gt_instances.keypoints_visible
    with pytest.raises(KeyError, match=r"data_samples\[0\].gt_instances has no keypoints_visible"):
        EPE().process({}, [bad])
