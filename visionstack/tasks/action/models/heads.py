"""Action recognition heads: backbone features -> class logits, one row per view.

Heads only compute logits; the loss and the averaging of test views live in the recognizer
(:mod:`.recognizers`). Heads of 2D models take ``num_segs``, the frames per sample in the batch.

- :class:`TSNHead`: average-pool each frame, average the frames (the segmental consensus of Wang et
  al., "Temporal Segment Networks", ECCV 2016), dropout, linear. With ``num_segs`` = all the frames
  of a sample, every view is averaged into one row.
- :class:`TSMHead`: average-pool each frame, dropout, linear per frame, then average the logits
  over each clip of ``num_segments`` frames: one row per view.
- :class:`I3DHead`: 3D global average pool, dropout, linear.
- :class:`GCNHead`: average over persons, frames and joints, dropout, linear.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ....registry import MODELS


@MODELS.register()
class AvgConsensus(nn.Module):
    """The mean over ``dim`` (kept), TSN's average consensus.

    Shapes: (N, num_segs, ...) -> (N, 1, ...) with ``dim=1``.
    """

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dim, keepdim=True)


def _build_consensus(consensus: nn.Module | Mapping[str, Any] | None, owner: str) -> nn.Module:
    if consensus is None:
        return AvgConsensus()
    if isinstance(consensus, nn.Module):
        return consensus
    options = dict(consensus)
    kind = options.pop("type", "AvgConsensus")
    if kind != "AvgConsensus":
        raise ValueError(f"{owner}: consensus type must be 'AvgConsensus', got {kind!r}")
    return AvgConsensus(**options)


class _LinearHead(nn.Module):
    """Dropout and a linear classifier with a normal(0, ``init_std``) weight and zero bias."""

    def __init__(self, num_classes: int, in_channels: int, dropout_ratio: float, init_std: float) -> None:
        super().__init__()
        if num_classes < 1 or in_channels < 1:
            raise ValueError(
                f"{type(self).__name__}: num_classes and in_channels must be >= 1, got {num_classes}, {in_channels}"
            )
        self.num_classes, self.in_channels = num_classes, in_channels
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.fc_cls = nn.Linear(in_channels, num_classes)
        nn.init.normal_(self.fc_cls.weight, std=init_std)
        nn.init.zeros_(self.fc_cls.bias)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """(N, in_channels) -> (N, num_classes)."""
        return self.fc_cls(self.dropout(features))


@MODELS.register()
class TSNHead(_LinearHead):
    """TSN's head. Shapes: x (N * num_segs, in_channels, H, W), num_segs -> (N, num_classes).

    Args:
        num_classes, in_channels: sizes of the classifier.
        consensus: how frames are combined (only ``AvgConsensus`` over dim 1).
        dropout_ratio: dropout before the classifier.
        init_std: standard deviation of the classifier's initial weights.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        consensus: nn.Module | Mapping[str, Any] | None = None,
        dropout_ratio: float = 0.4,
        init_std: float = 0.01,
    ) -> None:
        super().__init__(num_classes, in_channels, dropout_ratio, init_std)
        self.consensus = _build_consensus(consensus, "TSNHead")

    def forward(self, x: torch.Tensor, num_segs: int) -> torch.Tensor:
        pooled = x.mean(dim=(-2, -1)).reshape(-1, num_segs, x.shape[1])
        return self.classify(self.consensus(pooled).squeeze(1))


@MODELS.register()
class TSMHead(_LinearHead):
    """TSM's head. Shapes: x (N * num_segs, in_channels, H, W) -> (N * num_segs / T, num_classes),
    T = ``num_segments`` (halved with ``temporal_pool``): one row per clip of T frames.

    Args:
        num_classes, in_channels: sizes of the classifier.
        num_segments: frames per clip; must equal the backbone's.
        is_shift: the backbone shifts (with ``temporal_pool`` the clips have T / 2 frames).
        temporal_pool: the backbone pools time (see :class:`~.resnet_tsm.ResNetTSM`).
        consensus: how frames are combined (only ``AvgConsensus`` over dim 1).
        dropout_ratio: dropout before the classifier.
        init_std: standard deviation of the classifier's initial weights (0.001 as MMAction2's).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        num_segments: int = 8,
        is_shift: bool = True,
        temporal_pool: bool = False,
        consensus: nn.Module | Mapping[str, Any] | None = None,
        dropout_ratio: float = 0.5,
        init_std: float = 0.001,
    ) -> None:
        super().__init__(num_classes, in_channels, dropout_ratio, init_std)
        self.num_segments, self.is_shift, self.temporal_pool = num_segments, is_shift, temporal_pool
        self.consensus = _build_consensus(consensus, "TSMHead")

    def forward(self, x: torch.Tensor, num_segs: int | None = None) -> torch.Tensor:
        segments = self.num_segments // 2 if self.is_shift and self.temporal_pool else self.num_segments
        logits = self.classify(x.mean(dim=(-2, -1)))
        return self.consensus(logits.reshape(-1, segments, self.num_classes)).squeeze(1)


@MODELS.register()
class I3DHead(_LinearHead):
    """3D average pool and a linear classifier. Shapes: (N, in_channels, T, H, W) -> (N, num_classes).

    Args:
        num_classes, in_channels: sizes of the classifier.
        dropout_ratio: dropout before the classifier.
        init_std: standard deviation of the classifier's initial weights.
    """

    def __init__(
        self, num_classes: int, in_channels: int, dropout_ratio: float = 0.5, init_std: float = 0.01
    ) -> None:
        super().__init__(num_classes, in_channels, dropout_ratio, init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(x.mean(dim=(-3, -2, -1)))


@MODELS.register()
class GCNHead(_LinearHead):
    """Skeleton head: average over joints and frames per person, then over persons; linear classifier.

    Shapes: (N, M, in_channels, T, V) -> (N, num_classes).

    Args:
        num_classes, in_channels: sizes of the classifier.
        dropout: dropout before the classifier.
        init_std: standard deviation of the classifier's initial weights.
    """

    def __init__(
        self, num_classes: int, in_channels: int, dropout: float = 0.0, init_std: float = 0.01
    ) -> None:
        super().__init__(num_classes, in_channels, dropout, init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(x.mean(dim=(-2, -1)).mean(dim=1))
