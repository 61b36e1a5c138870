"""ImageClassifier: backbone -> neck -> classification head."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ...models.backbones.resnet import ResNet, load_torchvision_checkpoint
from ...models.base_model import BaseModel
from ...registry import MODELS
from ...structures import DataSample
from .data_preprocessor import ClsDataPreprocessor
from .heads import ClsHead


@MODELS.register()
class ImageClassifier(BaseModel):
    """An image classifier composed of built parts (MMPretrain's ``ImageClassifier``).

    Args:
        backbone: returns a tuple of features for a (N, C, H, W) batch.
        neck: maps that tuple to a tuple (e.g. GlobalAveragePooling); None passes it through.
        head: a :class:`ClsHead` with ``loss``/``predict``; None makes a feature extractor
            (``"tensor"`` mode only).
        data_preprocessor: see :class:`~visionstack.models.BaseModel`; a dict (no ``type``) or None
            gives a :class:`ClsDataPreprocessor`.

    Modes:
        ``"tensor"``: logits (N, num_classes), or the features when there is no head;
        ``"loss"``: ``{"loss": ..., "accuracy_top1": ...}``;
        ``"predict"``: the samples with ``pred_label`` (label (1,), softmax score (num_classes,)).
    """

    task = "classification"

    def __init__(
        self,
        backbone: nn.Module,
        neck: nn.Module | None = None,
        head: ClsHead | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
    ) -> None:
        if data_preprocessor is None or isinstance(data_preprocessor, Mapping):
            data_preprocessor = ClsDataPreprocessor(**(data_preprocessor or {}))
        super().__init__(data_preprocessor)
        self.backbone = backbone
        self.neck = neck
        self.head = head

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Backbone (and neck) features of a (N, C, H, W) batch, as a tuple."""
        feats = self.backbone(inputs)
        if isinstance(feats, torch.Tensor):
            feats = (feats,)
        if self.neck is not None:
            feats = self.neck(feats)
        return tuple(feats)

    def forward_tensor(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None) -> Any:
        feats = self.extract_feat(inputs)
        return feats if self.head is None else self.head(feats)

    export_output_names = ("logits",)

    def export_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, num_classes) logits of a preprocessed batch: the graph ``visionstack export`` writes
        (the runtime applies the softmax that ``predict`` applies)."""
        return self._require_head("export").forward(self.extract_feat(inputs))

    def loss(self, inputs: torch.Tensor, data_samples: Sequence[DataSample]) -> dict[str, torch.Tensor]:
        return self._require_head("loss").loss(self.extract_feat(inputs), data_samples)

    def predict(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> list[DataSample]:
        return self._require_head("predict").predict(self.extract_feat(inputs), data_samples)

    def _require_head(self, mode: str) -> ClsHead:
        if self.head is None:
            raise RuntimeError(f"ImageClassifier without a head supports only mode='tensor', not {mode!r}")
        return self.head


def load_torchvision_resnet(
    classifier: ImageClassifier, checkpoint: str | os.PathLike | Mapping[str, torch.Tensor]
) -> list[str]:
    """Load a torchvision ResNet checkpoint into a classifier with a ResNet backbone.

    The backbone must match exactly; the checkpoint's ``fc`` goes into ``head.fc`` when the head
    has a linear ``fc`` of the same shape (same number of classes), otherwise it is skipped.

    Returns:
        The checkpoint keys that were not loaded (empty when the classifier was filled completely).
    """
    if not isinstance(classifier.backbone, ResNet):
        raise TypeError(
            f"load_torchvision_resnet needs a ResNet backbone, got {type(classifier.backbone).__name__}"
        )
    leftover = load_torchvision_checkpoint(classifier.backbone, checkpoint)
    head_fc = getattr(classifier.head, "fc", None)
    if isinstance(head_fc, nn.Linear) and {"fc.weight", "fc.bias"} <= set(leftover):
        if leftover["fc.weight"].shape == head_fc.weight.shape:
            head_fc.load_state_dict({"weight": leftover.pop("fc.weight"), "bias": leftover.pop("fc.bias")})
    return sorted(leftover)
