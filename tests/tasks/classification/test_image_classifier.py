"""ImageClassifier: built from a config, the three modes, training steps, torchvision weights."""

from __future__ import annotations

import pytest
import torch

import visionstack  # noqa: F401  (registers everything)
from visionstack.engine.optim_wrapper import OptimWrapper
from visionstack.models import ResNet
from visionstack.registry import MODELS, build
from visionstack.structures import DataSample, LabelData
from visionstack.tasks.classification import ImageClassifier, LinearClsHead, load_torchvision_resnet

NUM_CLASSES = 4


def classifier_config(**preprocessor) -> dict:
    return dict(
        type="ImageClassifier",
        data_preprocessor=dict(
            type="ClsDataPreprocessor", mean=[127.5] * 3, std=[64.0] * 3, bgr_to_rgb=True, **preprocessor
        ),
        backbone=dict(type="ResNet", depth=18, stem="cifar"),
        neck=dict(type="GlobalAveragePooling"),
        head=dict(
            type="LinearClsHead",
            num_classes=NUM_CLASSES,
            in_channels=512,
            loss=dict(type="CrossEntropyLoss", label_smoothing=0.1),
        ),
    )


def fixed_batches(count: int = 2, size: int = 8, seed: int = 0) -> list[dict]:
    """uint8 (3, 16, 16) images whose class is which quadrant is bright: learnable in a few steps."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        labels = torch.randint(0, NUM_CLASSES, (size,), generator=generator)
        images = []
        for label in labels.tolist():
            image = torch.randint(0, 60, (3, 16, 16), dtype=torch.uint8, generator=generator)
            row, col = divmod(label, 2)
            image[:, row * 8 : row * 8 + 8, col * 8 : col * 8 + 8] += 180
            images.append(image)
        samples = [DataSample(gt_label=LabelData(label=torch.tensor([label]))) for label in labels.tolist()]
        batches.append({"inputs": images, "data_samples": samples})
    return batches


def fresh(batch: dict) -> dict:
    """A copy whose samples can be written to (preprocessor and head add fields)."""
    return {"inputs": batch["inputs"], "data_samples": [sample.clone() for sample in batch["data_samples"]]}


def test_builds_from_config_and_runs_the_three_modes():
    torch.manual_seed(0)
    model = build(classifier_config(), MODELS).eval()
    assert isinstance(model, ImageClassifier) and isinstance(model.backbone, ResNet)
    data = model.data_preprocessor(fresh(fixed_batches(1)[0]))
    logits = model(data["inputs"], mode="tensor")
    assert logits.shape == (8, NUM_CLASSES)
    losses = model(**data, mode="loss")
    assert set(losses) == {"loss", "accuracy_top1"} and torch.isfinite(losses["loss"])
    predictions = model(**data, mode="predict")
    assert len(predictions) == 8
    torch.testing.assert_close(torch.stack([p.pred_label.score for p in predictions]), logits.softmax(1))
    assert [p.pred_label.label.item() for p in predictions] == logits.argmax(1).tolist()


def test_train_step_decreases_the_loss_on_fixed_batches():
    torch.manual_seed(0)
    model = build(classifier_config(), MODELS).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    wrapper = OptimWrapper(optimizer)
    batches = fixed_batches()
    first = [model.train_step(fresh(b), wrapper)["loss"] for b in batches]
    for _ in range(6):
        last = [model.train_step(fresh(b), wrapper)["loss"] for b in batches]
    assert sum(last) < 0.5 * sum(first), (first, last)
    model.eval()
    with torch.no_grad():
        predictions = [p for b in batches for p in model.val_step(fresh(b))]
    truth = [s.gt_label.label.item() for b in batches for s in b["data_samples"]]
    accuracy = sum(p.pred_label.label.item() == t for p, t in zip(predictions, truth)) / len(truth)
    assert accuracy >= 0.9


def test_train_step_with_mixup_and_cutmix_uses_soft_targets():
    torch.manual_seed(0)
    config = classifier_config(
        num_classes=NUM_CLASSES,
        batch_augments=[
            dict(
                type="RandomBatchAugment",
                augments=[
                    dict(type="Mixup", alpha=0.8, num_classes=NUM_CLASSES),
                    dict(type="CutMix", alpha=1.0, num_classes=NUM_CLASSES),
                ],
            )
        ],
    )
    model = build(config, MODELS).train()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    batch = fixed_batches(1)[0]
    data = model.data_preprocessor(fresh(batch), training=True)
    scores = torch.stack([s.gt_label.score for s in data["data_samples"]])
    torch.testing.assert_close(scores.sum(1), torch.ones(8))
    assert (scores.max(1).values < 1).any()  # mixed (Mixup or CutMix ran, not the identity)
    log_vars = model.train_step(fresh(batch), wrapper)
    assert set(log_vars) == {"loss"} and log_vars["loss"] > 0  # no training accuracy on soft targets


def test_without_head_only_tensor_mode():
    model = ImageClassifier(backbone=ResNet(18, stem="cifar")).eval()
    feats = model(torch.randn(1, 3, 16, 16))
    assert isinstance(feats, tuple) and feats[0].shape == (1, 512, 2, 2)
    with pytest.raises(RuntimeError, match="only mode='tensor'"):
        model(torch.randn(1, 3, 16, 16), [], mode="loss")


def test_load_torchvision_resnet_fills_backbone_and_matching_head(tmp_path):
    torch.manual_seed(0)
    source = ResNet(18, num_classes=10).eval()
    path = tmp_path / "resnet18-10.pth"
    torch.save(source.state_dict(), path)
    neck = build(dict(type="GlobalAveragePooling"), MODELS)
    model = ImageClassifier(ResNet(18), neck, LinearClsHead(num_classes=10, in_channels=512)).eval()
    assert load_torchvision_resnet(model, path) == []
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(model(x), source.logits(x))
    other = ImageClassifier(ResNet(18), neck, LinearClsHead(num_classes=3, in_channels=512))
    assert load_torchvision_resnet(other, path) == ["fc.bias", "fc.weight"]  # head of another size


@pytest.mark.slow
def test_resnet18_cifar_stem_trains_fast_on_32x32():
    """A training step of ResNet-18 (CIFAR stem) on a batch of 32 images of 32x32 on CPU."""
    import time

    torch.manual_seed(0)
    config = classifier_config()
    config["head"]["num_classes"] = 10
    model = build(config, MODELS).train()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(32)]
    samples = [DataSample(gt_label=LabelData(label=torch.tensor([i % 10]))) for i in range(32)]
    model.train_step({"inputs": images, "data_samples": samples}, wrapper)  # warm-up
    start = time.perf_counter()
    for _ in range(3):
        model.train_step({"inputs": images, "data_samples": [s.clone() for s in samples]}, wrapper)
    assert (time.perf_counter() - start) / 3 < 5.0
