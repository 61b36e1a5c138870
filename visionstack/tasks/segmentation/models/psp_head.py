"""PSPHead (Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017, section 3.2).

The Pyramid Pooling Module averages the feature map into ``s x s`` bins for each pool scale
(1, 2, 3, 6 in the paper), reduces each to ``channels`` with a 1x1 conv, upsamples them back
(bilinear) and concatenates them with the input; a 3x3 ``bottleneck`` fuses the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ....models.layers.conv_module import ActFactory, ConvModule, NormFactory
from ....registry import MODELS
from .decode_head import BaseDecodeHead, resize

__all__ = ["PPM", "PSPHead"]


class PPM(nn.ModuleList):
    """Pyramid Pooling Module: one ``AdaptiveAvgPool2d(scale) -> 1x1 ConvModule`` branch per scale.

    Args:
        pool_scales: output side of each branch's pooling.
        in_channels: input channels.
        channels: channels of every branch.
        norm_layer: norm factory of the branch convs.
        act_layer: activation factory of the branch convs.
        align_corners: of the upsampling back to the input size.

    Shapes:
        (N, in_channels, H, W) -> a list of ``len(pool_scales)`` maps (N, channels, H, W).
    """

    def __init__(
        self,
        pool_scales: Sequence[int],
        in_channels: int,
        channels: int,
        norm_layer: NormFactory | None,
        act_layer: ActFactory | None,
        align_corners: bool,
    ) -> None:
        super().__init__(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(scale),
                ConvModule(in_channels, channels, 1, norm_layer=norm_layer, act_layer=act_layer),
            )
            for scale in pool_scales
        )
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for branch in self:
            pool, conv = branch[0], branch[1]
            pooled = (
                adaptive_avg_pool_export(x, pool.output_size) if torch.compiler.is_exporting() else pool(x)
            )
            outs.append(resize(conv(pooled), x.shape[-2:], self.align_corners))
        return outs


def _bin_edges(length: Any, bins: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end (exclusive) of each adaptive-pooling bin: ``floor(i L / b)``, ``ceil((i + 1) L / b)``."""
    index = torch.arange(bins, device=device)
    return (index * length) // bins, ((index + 1) * length + bins - 1) // bins


def adaptive_avg_pool_export(x: torch.Tensor, output_size: int | Sequence[int]) -> torch.Tensor:
    """``F.adaptive_avg_pool2d`` from an integral image, so that H and W can stay symbolic in ONNX.

    The exporter lowers adaptive pooling to gathers at indices fixed by the sample size; here each
    bin's mean is a difference of cumulative sums at bin edges computed from the (symbolic) size.
    Equal to the PyTorch op up to float summation order.
    """
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    height, width = x.shape[-2:]
    integral = torch.nn.functional.pad(x.cumsum(-2).cumsum(-1), (1, 0, 1, 0))
    top, bottom = _bin_edges(height, out_h, x.device)
    left, right = _bin_edges(width, out_w, x.device)

    def corners(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return integral.index_select(-2, rows).index_select(-1, cols)

    sums = corners(bottom, right) - corners(top, right) - corners(bottom, left) + corners(top, left)
    area = ((bottom - top)[:, None] * (right - left)[None, :]).to(x.dtype)
    return sums / area


@MODELS.register()
class PSPHead(BaseDecodeHead):
    """Pyramid scene parsing head.

    Args:
        pool_scales: bin counts per side of the pyramid levels.
        **kwargs: :class:`BaseDecodeHead` arguments.

    Note:
        With BatchNorm, the scale-1 branch normalises one value per image and channel, so training
        needs a batch of at least two images.
    """

    def __init__(self, pool_scales: Sequence[int] = (1, 2, 3, 6), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not pool_scales or any(int(s) < 1 for s in pool_scales):
            raise ValueError(f"PSPHead: pool_scales must be positive ints, got {pool_scales!r}")
        self.pool_scales = tuple(int(s) for s in pool_scales)
        self.psp_modules = PPM(
            self.pool_scales,
            self.in_channels,
            self.channels,
            self.norm_layer,
            self.act_layer,
            self.align_corners,
        )
        self.bottleneck = ConvModule(
            self.in_channels + len(self.pool_scales) * self.channels,
            self.channels,
            3,
            padding=1,
            norm_layer=self.norm_layer,
            act_layer=self.act_layer,
        )

    def forward_features(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, channels, h, w) features before the classifier."""
        x = self._transform_inputs(inputs)
        return self.bottleneck(torch.cat([x, *self.psp_modules(x)], dim=1))

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.forward_features(inputs))
