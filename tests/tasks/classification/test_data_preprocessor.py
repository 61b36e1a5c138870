"""ClsDataPreprocessor: batch augments run while training only, on one-hot scores; an ImageClassifier
builds one by default."""

from __future__ import annotations

import pytest
import torch

from visionstack.structures import DataSample, LabelData
from visionstack.tasks.classification import ImageClassifier
from visionstack.tasks.classification.data_preprocessor import ClsDataPreprocessor


def uint8_images(*shapes: tuple[int, int, int], seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator) for shape in shapes]


class RecordingAugment:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, inputs, data_samples):
        self.calls += 1
        return inputs + 1, data_samples


def test_batch_augments_run_only_in_training_and_get_one_hot_scores():
    augment = RecordingAugment()
    preprocessor = ClsDataPreprocessor(num_classes=4, batch_augments=[augment])
    images = uint8_images((3, 4, 4), (3, 4, 4))

    def batch():
        return {
            "inputs": images,
            "data_samples": [DataSample(gt_label=LabelData(label=torch.tensor([i]))) for i in (2, 0)],
        }

    evaluated = preprocessor(batch(), training=False)
    assert augment.calls == 0 and "score" not in evaluated["data_samples"][0].gt_label
    trained = preprocessor(batch(), training=True)
    assert augment.calls == 1
    torch.testing.assert_close(trained["inputs"], torch.stack(images).float() + 1)
    torch.testing.assert_close(trained["data_samples"][0].gt_label.score, torch.tensor([0.0, 0.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="need data_samples"):
        preprocessor({"inputs": images}, training=True)


def test_image_classifier_defaults_to_the_classification_preprocessor():
    backbone = torch.nn.Conv2d(3, 4, 3)
    assert type(ImageClassifier(backbone).data_preprocessor) is ClsDataPreprocessor
    built = ImageClassifier(
        backbone, data_preprocessor=dict(num_classes=3, batch_augments=[RecordingAugment()])
    )
    assert built.data_preprocessor.num_classes == 3 and len(built.data_preprocessor.batch_augments) == 1
