"""DBHead: the probability and threshold branches and differentiable binarization.

Liao et al., "Real-time Scene Text Detection with Differentiable Binarization" (AAAI 2020),
section 3.1 eq. 2: the approximate binary map ``B = 1 / (1 + exp(-k (P - T)))`` with k = 50, from
the probability map P and the learned threshold map T. Each branch (MMOCR's ``DBHead``) is a 3x3
conv (C -> C/4) - BN - ReLU, a 2x2 stride-2 transposed conv - BN - ReLU and a 2x2 stride-2
transposed conv to one channel, so the 1/4-resolution features come back to the input size.
"""

from __future__ import annotations

import torch
from torch import nn

from ....registry import MODELS
from .fpnc import init_db_weights

__all__ = ["DBHead", "differentiable_binarization"]


def differentiable_binarization(
    prob_map: torch.Tensor, thr_map: torch.Tensor, k: float = 50.0
) -> torch.Tensor:
    """``1 / (1 + exp(-k (P - T)))``, a steep sigmoid standing in for ``P > T`` (eq. 2)."""
    return torch.reciprocal(1.0 + torch.exp(-k * (prob_map - thr_map)))


def _branch(in_channels: int, with_bias: bool) -> nn.Sequential:
    """conv3x3 - BN - ReLU - deconv2x2/2 - BN - ReLU - deconv2x2/2 -> one channel (indices as MMOCR)."""
    inner = in_channels // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, inner, 3, padding=1, bias=with_bias),
        nn.BatchNorm2d(inner),
        nn.ReLU(inplace=True),
        nn.ConvTranspose2d(inner, inner, 2, 2),
        nn.BatchNorm2d(inner),
        nn.ReLU(inplace=True),
        nn.ConvTranspose2d(inner, 1, 2, 2),
    )


@MODELS.register()
class DBHead(nn.Module):
    """The binarize (probability) and threshold branches over the fused 1/4-resolution features.

    Args:
        in_channels: channels of the neck's output (256 for the published FPNC); at least 4.
        with_bias: give the first 3x3 conv of the probability branch a bias (the threshold
            branch's never has one, as MMOCR).
        k: the amplification factor of the differentiable binarization.

    Call:
        ``head(features, with_threshold=True)`` with (N, in_channels, H / 4, W / 4) features.
        Returns ``(prob_logits, prob_map, thr_map, binary_map)``, each (N, H, W);
        ``with_threshold=False`` skips the threshold branch and returns ``prob_map`` only (inference).
    """

    def __init__(self, in_channels: int = 256, with_bias: bool = False, k: float = 50.0) -> None:
        super().__init__()
        if in_channels < 4:
            raise ValueError(
                f"DBHead: in_channels must be >= 4 (the branches use in_channels // 4), got {in_channels}"
            )
        self.in_channels = in_channels
        self.k = k
        self.binarize = _branch(in_channels, with_bias)
        self.threshold = nn.Sequential(*_branch(in_channels, False), nn.Sigmoid())
        init_db_weights(self)

    def forward(
        self, features: torch.Tensor, with_threshold: bool = True
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        prob_logits = self.binarize(features).squeeze(1)
        prob_map = torch.sigmoid(prob_logits)
        if not with_threshold:
            return prob_map
        thr_map = self.threshold(features).squeeze(1)
        binary_map = differentiable_binarization(prob_map, thr_map, self.k)
        return prob_logits, prob_map, thr_map, binary_map
