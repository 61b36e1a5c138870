"""visionstack.testing: toy dataset, model and metric, random boxes, the runner config."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, log_loss

import visionstack  # noqa: F401
from visionstack.engine import validate_runner_config
from visionstack.registry import DATASETS, METRICS, MODELS
from visionstack.structures import DataSample, LabelData
from visionstack.testing import ToyDataset, ToyMetric, ToyModel, random_boxes, toy_runner_config


def test_registered_names():
    assert MODELS.get("ToyModel") is ToyModel and DATASETS.get("ToyDataset") is ToyDataset
    assert METRICS.get("ToyMetric") is ToyMetric


@pytest.mark.parametrize("image_size", [16, (12, 30)])
def test_random_boxes_lie_inside_the_image(image_size):
    generator = torch.Generator().manual_seed(0)
    boxes = random_boxes(500, image_size, generator, min_size=2.0)
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    assert boxes.shape == (500, 4) and boxes.dtype == torch.float32
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= width).all() and (boxes[:, 3] <= height).all()
    assert (boxes[:, 2] - boxes[:, 0] >= 2.0 - 1e-5).all() and (boxes[:, 3] - boxes[:, 1] >= 2.0 - 1e-5).all()
    assert torch.equal(boxes, random_boxes(500, image_size, torch.Generator().manual_seed(0), min_size=2.0))
    assert boxes[:, 0].min() < 1 and boxes[:, 2].max() > width - 1  # spread over the whole image
    with pytest.raises(ValueError, match="min_size"):
        random_boxes(1, 4, min_size=5)


def test_toy_dataset_is_deterministic_and_leaves_global_generators_alone():
    state = torch.get_rng_state()
    first, second = ToyDataset(seed=3), ToyDataset(seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first.images, second.images)
    validation = ToyDataset(num_samples=8, seed=3, sample_seed=4)
    assert not torch.equal(validation.images, first.images[:8])
    item = first[5]
    assert item["inputs"].shape == (3, 8, 8) and int(item["data_samples"].gt_label.label) == 5 % 4
    assert item["data_samples"].sample_idx == 5 and first.metainfo["classes"][1] == "class_1"


def test_toy_dataset_augmentation_draws_from_every_global_generator():
    dataset = ToyDataset(augment=True)
    draws = []
    for seeds in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)]:
        random.seed(seeds[0])
        np.random.seed(seeds[1])
        torch.manual_seed(seeds[2])
        draws.append(torch.stack([dataset[i]["inputs"] for i in range(4)]))
    assert torch.equal(draws[0], draws[4])
    assert all(not torch.equal(draws[0], other) for other in draws[1:4])


def test_toy_model_modes_and_gradients():
    torch.manual_seed(0)
    model = ToyModel(num_classes=4, dropout=0.2)
    dataset = ToyDataset(num_samples=6)
    batch = {
        "inputs": [dataset[i]["inputs"] for i in range(6)],
        "data_samples": [dataset[i]["data_samples"] for i in range(6)],
    }
    data = model.data_preprocessor(batch, training=True)
    assert model(**data, mode="tensor").shape == (6, 4)
    losses = model(**data, mode="loss")
    losses["loss_cls"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    predictions = model.val_step(batch)
    for sample in predictions:
        assert sample.pred_label.score.sum().item() == pytest.approx(1.0)
        assert int(sample.pred_label.label) == int(sample.pred_label.score.argmax())


def test_toy_metric_matches_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    scores = torch.rand(20, 3, generator=generator).softmax(dim=1)
    labels = torch.randint(0, 3, (20,), generator=generator)
    samples = [
        DataSample(
            gt_label=LabelData(label=labels[i : i + 1]),
            pred_label=LabelData(label=scores[i].argmax().view(1), score=scores[i]),
        )
        for i in range(20)
    ]
    metric = ToyMetric()
    metric.process(None, samples[:7])
    metric.process(None, samples[7:])
    result = metric.evaluate(20)
    assert result["toy/accuracy"] == pytest.approx(100 * accuracy_score(labels, scores.argmax(1)))
    assert result["toy/loss"] == pytest.approx(log_loss(labels, scores.numpy(), labels=[0, 1, 2]), rel=1e-5)


def test_toy_runner_config_is_valid():
    assert validate_runner_config(toy_runner_config("work_dirs/toy")) is None
    assert validate_runner_config(toy_runner_config("work_dirs/toy", max_iters=10, val=False)) is None
