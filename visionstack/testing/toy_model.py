"""ToyModel: a tiny convolutional classifier that follows the model contract (BaseModel)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.base_model import BaseModel
from ..registry import MODELS
from ..structures import DataSample, LabelData

__all__ = ["ToyModel"]


@MODELS.register()
class ToyModel(BaseModel):
    """conv3x3 -> (BatchNorm) -> ReLU -> global average pool -> (Dropout) -> linear.

    Args:
        in_channels: input channels.
        num_classes: output classes.
        width: channels of the convolution.
        batch_norm: put a BatchNorm2d after the convolution.
        dropout: dropout probability before the classifier (draws from the global torch generator).
        data_preprocessor: see BaseModel (default: float, stack, move to the device).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        width: int = 8,
        batch_norm: bool = True,
        dropout: float = 0.0,
        data_preprocessor: nn.Module | dict | None = None,
    ) -> None:
        super().__init__(data_preprocessor)
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1)
        self.norm = nn.BatchNorm2d(width) if batch_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, num_classes)

    def forward_tensor(self, inputs: torch.Tensor, data_samples: list | None = None) -> torch.Tensor:
        """Logits (N, num_classes) for inputs (N, C, H, W)."""
        features = F.relu(self.norm(self.conv(inputs))).mean(dim=(2, 3))
        return self.head(self.dropout(features))

    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> dict[str, torch.Tensor]:
        """Cross-entropy against ``gt_label.label``."""
        labels = torch.cat([sample.gt_label.label for sample in data_samples]).to(inputs.device)
        return {"loss_cls": F.cross_entropy(self.forward_tensor(inputs), labels)}

    def predict(self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None) -> list[DataSample]:
        """Fill ``pred_label`` (label (1,), softmax score (num_classes,)) of each sample."""
        scores = self.forward_tensor(inputs).softmax(dim=1)
        samples = data_samples if data_samples is not None else [DataSample() for _ in range(len(inputs))]
        for sample, score in zip(samples, scores):
            sample.pred_label = LabelData(label=score.argmax().view(1), score=score)
        return samples
