"""A short, seeded training of the temporal lifter on tiny synthetic data beats the mean-pose baseline on
held-out subjects and cameras, through the real dataset, packing, preprocessor, loss and metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.registry import DATASETS, FUNCTIONS, MODELS, build
from visionstack.tasks.pose.lifting.datasets import training_mean_pose
from visionstack.tasks.pose.lifting.metrics import MPJPEMetric
from visionstack.tasks.pose.lifting.synthetic import write_pose3d_synthetic


def _dataset(root, split: str, unit: str):
    pipeline = [dict(type="PackLiftingInputs")]
    cfg = dict(
        type="Pose3dSequenceDataset",
        data_root=str(root),
        ann_file=f"{split}.json",
        receptive_field=9,
        sample_unit=unit,
        test_mode=split == "val",
        pipeline=pipeline,
    )
    return build(cfg, DATASETS)


@pytest.fixture
def one_thread():
    """One intra-op thread: the same sums on every machine, and no thread fights on a shared 2-core CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_a_short_training_of_the_temporal_lifter_beats_the_mean_pose(tmp_path, one_thread):
    write_pose3d_synthetic(
        tmp_path, seed=0, num_train=2, num_val=1, num_frames=60, actions=("walking", "squatting", "waving")
    )
    train, val = _dataset(tmp_path, "train", "window"), _dataset(tmp_path, "val", "sequence")
    torch.manual_seed(0)
    model = build(
        dict(
            type="PoseLifter",
            backbone=dict(type="TemporalConvNet", filter_widths=(3, 3), channels=64, dropout=0.1),
        ),
        MODELS,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, amsgrad=True)
    collate, generator = FUNCTIONS.get("pseudo_collate"), torch.Generator().manual_seed(0)
    samples = [train[index] for index in range(len(train))]  # 1440 windows, packed once
    model.train()
    for _ in range(120):
        batch = collate(
            [samples[i] for i in torch.randperm(len(samples), generator=generator)[:128].tolist()]
        )
        losses = model(**model.data_preprocessor(batch, training=True), mode="loss")
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()

    model.eval()
    metric, mean_metric = MPJPEMetric(per_action=False), MPJPEMetric(per_action=False)
    mean_pose = torch.as_tensor(training_mean_pose(train), dtype=torch.float32)
    with torch.no_grad():
        for index in range(len(val)):
            batch = collate([val[index]])
            predicted = model.test_step(batch)
            metric.process(batch, predicted)
            baseline = batch["data_samples"][0].clone()
            baseline.pred_instances = type(baseline.gt_instances)(
                keypoints=mean_pose.expand_as(baseline.gt_instances.keypoints)
            )
            mean_metric.process(batch, [baseline])
    ours, mean = metric.evaluate(len(val)), mean_metric.evaluate(len(val))
    assert np.isfinite(ours["pose3d/MPJPE"])
    assert ours["pose3d/MPJPE"] < 0.8 * mean["pose3d/MPJPE"], (ours, mean)
    assert ours["pose3d/P-MPJPE"] < mean["pose3d/P-MPJPE"]
