"""Global average pooling of every feature map (the usual neck of classifiers)."""

from __future__ import annotations

import torch
from torch import nn

from ...registry import MODELS


@MODELS.register()
class GlobalAveragePooling(nn.Module):
    """Average each feature map over its spatial dimensions.

    Works for 2D maps (N, C, H, W), 3D volumes (N, C, T, H, W) and sequences (N, C, L): every
    dimension after C is averaged. Already pooled (N, C) inputs are an error, because averaging
    them again would be a silent no-op that hides a wrong ``out_type``.

    Shapes:
        tuple of (N, C_i, ...) -> tuple of (N, C_i).
    """

    def forward(self, inputs: tuple[torch.Tensor, ...] | torch.Tensor) -> tuple[torch.Tensor, ...]:
        if isinstance(inputs, torch.Tensor):
            inputs = (inputs,)
        outs = []
        for index, feature in enumerate(inputs):
            if feature.ndim < 3:
                raise ValueError(
                    f"GlobalAveragePooling: input {index} has shape {tuple(feature.shape)}, expected "
                    f"(N, C, ...spatial); drop the neck for backbones that already pool (ViT cls_token)"
                )
            outs.append(feature.flatten(2).mean(dim=2))
        return tuple(outs)
