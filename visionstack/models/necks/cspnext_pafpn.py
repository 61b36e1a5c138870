"""CSPNeXt-PAFPN, RTMDet's neck (Lyu et al. 2022, section 3.1): a path-aggregation FPN
(Liu et al., "PANet", 2018) whose fusion blocks are CSP layers of CSPNeXt blocks.

Module and parameter names follow MMDetection's ``CSPNeXtPAFPN`` (``reduce_layers``,
``top_down_blocks``, ``downsamples``, ``bottom_up_blocks``, ``out_convs``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS
from ..backbones.cspnext import ActLayer, ConvNormAct, CSPLayer, NormLayer, default_norm_layer

__all__ = ["CSPNeXtPAFPN"]


@MODELS.register()
class CSPNeXtPAFPN(nn.Module):
    """Top-down then bottom-up feature fusion with CSP layers, one output conv per level.

    Top-down (coarse to fine): the coarser map is reduced by a 1x1 conv to the finer level's
    channels, upsampled x2 (nearest), concatenated with the finer map and fused by a CSP layer.
    Bottom-up (fine to coarse): the finer fused map is downsampled by a stride-2 3x3 conv,
    concatenated with the coarser (reduced) map and fused by a CSP layer. A 3x3 conv maps every
    level to ``out_channels``. CSP layers here have no identity shortcut and no channel attention.

    Args:
        in_channels: channels of the input levels, finest first (e.g. ``(96, 192, 384)``).
        out_channels: channels of every output level.
        num_csp_blocks: CSPNeXt blocks per CSP layer (3 for RTMDet-l, 1 for tiny/s).
        expand_ratio: channel split of the CSP layers.
        norm_layer: norm factory (default BatchNorm2d, momentum 0.03, eps 1e-3).
        act_layer: activation factory (default SiLU).

    Shapes:
        inputs: tuple of (N, in_channels[i], H_i, W_i) with H_i = 2 H_{i+1} -> tuple of
        (N, out_channels, H_i, W_i).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        num_csp_blocks: int = 3,
        expand_ratio: float = 0.5,
        norm_layer: NormLayer = default_norm_layer,
        act_layer: ActLayer = nn.SiLU,
    ) -> None:
        super().__init__()
        if len(in_channels) < 2:
            raise ValueError(f"CSPNeXtPAFPN: in_channels needs at least two levels, got {list(in_channels)}")
        self.in_channels = tuple(in_channels)
        self.out_channels = out_channels
        blocks = dict(
            num_blocks=num_csp_blocks,
            add_identity=False,
            expand_ratio=expand_ratio,
            norm_layer=norm_layer,
            act_layer=act_layer,
        )
        conv = dict(norm_layer=norm_layer, act_layer=act_layer)
        num_levels = len(in_channels)
        # Index 0 of the top-down lists serves the coarsest pair of levels, as in MMDetection.
        self.reduce_layers = nn.ModuleList(
            [ConvNormAct(in_channels[i], in_channels[i - 1], 1, **conv) for i in range(num_levels - 1, 0, -1)]
        )
        self.top_down_blocks = nn.ModuleList(
            [
                CSPLayer(in_channels[i - 1] * 2, in_channels[i - 1], **blocks)
                for i in range(num_levels - 1, 0, -1)
            ]
        )
        self.downsamples = nn.ModuleList(
            [ConvNormAct(in_channels[i], in_channels[i], 3, 2, **conv) for i in range(num_levels - 1)]
        )
        self.bottom_up_blocks = nn.ModuleList(
            [CSPLayer(in_channels[i] * 2, in_channels[i + 1], **blocks) for i in range(num_levels - 1)]
        )
        self.out_convs = nn.ModuleList([ConvNormAct(c, out_channels, 3, **conv) for c in in_channels])

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Fuse the levels; see the class docstring for shapes."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(
                f"CSPNeXtPAFPN: got {len(inputs)} feature maps but in_channels lists {len(self.in_channels)}"
            )
        top_down = self._top_down(list(inputs))
        bottom_up = [top_down[0]]
        for index in range(len(inputs) - 1):
            downsampled = self.downsamples[index](bottom_up[-1])
            bottom_up.append(
                self.bottom_up_blocks[index](torch.cat([downsampled, top_down[index + 1]], dim=1))
            )
        return tuple(conv(feat) for conv, feat in zip(self.out_convs, bottom_up))

    def _top_down(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Fused maps finest first; the coarser entries are the reduced maps the bottom-up path reuses."""
        fused = [inputs[-1]]
        for step, level in enumerate(range(len(inputs) - 1, 0, -1)):
            reduced = self.reduce_layers[step](fused[0])
            fused[0] = reduced
            upsampled = F.interpolate(reduced, scale_factor=2.0, mode="nearest")
            fused.insert(0, self.top_down_blocks[step](torch.cat([upsampled, inputs[level - 1]], dim=1)))
        return fused
