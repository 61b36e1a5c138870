"""Classification heads: features -> class logits, with ``loss`` and ``predict``.

A head takes the tuple of features from the backbone (or neck) and uses the last one, (N, C).
``loss`` reads the targets from ``gt_label``: the soft targets ``score`` (num_classes,) when every
sample has one (after Mixup/CutMix), otherwise the hard labels ``label`` (1,). ``predict`` writes
``pred_label`` with ``label`` (1,) int64 (argmax) and ``score`` (num_classes,) softmax probabilities.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...models.losses import CrossEntropyLoss
from ...registry import MODELS
from ...structures import DataSample, LabelData


def gather_targets(data_samples: Sequence[DataSample]) -> torch.Tensor:
    """Targets of a batch: (N, num_classes) float soft targets if every sample has
    ``gt_label.score``, else (N,) int64 hard labels (one label per sample)."""
    if not data_samples:
        raise ValueError("classification head: the batch has no data samples to read targets from")
    labels = [sample.gt_label for sample in data_samples]
    if all("score" in label for label in labels):
        return torch.stack([label.score.float() for label in labels])
    hard = []
    for index, label in enumerate(labels):
        value = torch.as_tensor(label.label).reshape(-1)
        if value.numel() != 1:
            raise ValueError(
                f"classification head: sample {index} has {value.numel()} labels; a single-label head needs "
                f"exactly one (multi-label data needs gt_label.score targets)"
            )
        hard.append(value)
    return torch.cat(hard).long()


class ClsHead(nn.Module):
    """Shared loss/predict logic; subclasses define ``pre_logits`` and ``forward``.

    Args:
        num_classes: number of classes (>= 1).
        loss: the loss module, called as ``loss(logits, targets)``; default ``CrossEntropyLoss()``.
        topk: while training with hard labels, the loss dict also holds ``accuracy_top{k}`` (in %)
            for each k (logged, not optimised).
    """

    def __init__(
        self, num_classes: int, loss: nn.Module | None = None, topk: int | Sequence[int] = (1,)
    ) -> None:
        super().__init__()
        self.loss_module = loss if loss is not None else CrossEntropyLoss()
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if any(k < 1 for k in self.topk):
            raise ValueError(f"{type(self).__name__}: topk entries must be >= 1, got {self.topk}")
        if num_classes < 1:
            raise ValueError(f"{type(self).__name__}: num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes

    def pre_logits(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The (N, C) input of the final classifier: the last feature."""
        feature = feats[-1] if isinstance(feats, (tuple, list)) else feats
        if feature.ndim != 2:
            raise ValueError(
                f"{type(self).__name__}: expected pooled features (N, C), got shape {tuple(feature.shape)}; "
                f"add a neck such as GlobalAveragePooling"
            )
        return feature

    def loss(
        self, feats: tuple[torch.Tensor, ...], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """``{"loss": scalar, "accuracy_top{k}": ...}`` for a batch of features and samples."""
        logits = self(feats)
        targets = gather_targets(data_samples).to(logits.device)
        losses = {"loss": self.loss_module(logits, targets)}
        if not targets.is_floating_point():
            with torch.no_grad():
                for k in self.topk:
                    topk_labels = logits.topk(min(k, logits.shape[1]), dim=1).indices
                    correct = (topk_labels == targets[:, None]).any(dim=1).float().mean()
                    losses[f"accuracy_top{k}"] = correct * 100.0
        return losses

    def predict(
        self, feats: tuple[torch.Tensor, ...], data_samples: Sequence[DataSample] | None = None
    ) -> list[DataSample]:
        """Write ``pred_label`` (argmax label and softmax scores) into the samples (new ones if None)."""
        logits = self(feats).detach()
        scores = F.softmax(logits.float(), dim=1)
        labels = scores.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(logits.shape[0])]
        for sample, score, label in zip(data_samples, scores, labels):
            sample.pred_label = LabelData(label=label, score=score)
        return list(data_samples)


@MODELS.register()
class LinearClsHead(ClsHead):
    """One linear layer on pooled features (MMPretrain's ``LinearClsHead``).

    Args:
        num_classes: number of classes.
        in_channels: channels C of the pooled feature (N, C).
        loss: see :class:`ClsHead`.
        topk: see :class:`ClsHead`.

    Shapes:
        feats[-1] (N, in_channels) -> logits (N, num_classes).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        loss: nn.Module | None = None,
        topk: int | Sequence[int] = (1,),
    ) -> None:
        super().__init__(num_classes, loss, topk)
        self.fc = nn.Linear(in_channels, num_classes)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.fc(self.pre_logits(feats))


@MODELS.register()
class VisionTransformerClsHead(ClsHead):
    """The ViT classifier on the class token, with the optional "representation" layer (a linear
    layer and tanh, used for ImageNet-21k pre-training in section 3.1 of the ViT paper).

    Args:
        num_classes: number of classes.
        in_channels: width D of the class token (N, D).
        hidden_dim: width of the pre-logits layer; None skips it.
        loss: see :class:`ClsHead`.
        topk: see :class:`ClsHead`.

    Shapes:
        feats[-1] (N, in_channels) -> pre-logits (N, hidden_dim or in_channels) -> logits (N, num_classes).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        hidden_dim: int | None = None,
        loss: nn.Module | None = None,
        topk: int | Sequence[int] = (1,),
    ) -> None:
        super().__init__(num_classes, loss, topk)
        if hidden_dim is None:
            self.pre_logits_layer: nn.Module = nn.Identity()
            width = in_channels
        else:
            self.pre_logits_layer = nn.Sequential(
                OrderedDict(fc=nn.Linear(in_channels, hidden_dim), act=nn.Tanh())
            )
            width = hidden_dim
        self.fc = nn.Linear(width, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def pre_logits(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.pre_logits_layer(super().pre_logits(feats))

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.fc(self.pre_logits(feats))
