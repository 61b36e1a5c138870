"""Feature Pyramid Network (Lin et al., "Feature Pyramid Networks for Object Detection", CVPR 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS
from ..layers.weight_init import init_by_type, xavier_init

__all__ = ["FPN"]

ExtraConvSource = Literal["on_input", "on_lateral", "on_output"]
_SOURCES = ("on_input", "on_lateral", "on_output")


@MODELS.register()
class FPN(nn.Module):
    """Top-down pathway with lateral connections, plus optional extra coarser levels.

    For the used inputs ``C_start .. C_end``: a 1x1 lateral conv maps each to ``out_channels``; going
    from the coarsest level down, each lateral adds the nearest-upsampled coarser one (section 3);
    a 3x3 conv smooths every merged map. When ``num_outs`` exceeds the number of used inputs, extra
    levels are appended: with ``add_extra_convs=False`` by stride-2 max pooling of the last output
    (Faster R-CNN's P6), otherwise by 3x3 stride-2 convs (RetinaNet's P6/P7, section 4 of Lin et al.
    ICCV 2017) whose first input is chosen by ``add_extra_convs``: ``"on_input"`` the last used
    backbone map (RetinaNet), ``"on_lateral"`` the last lateral, ``"on_output"`` the last FPN output
    (FCOS). Later extra convs take the previous extra level (after a ReLU if
    ``relu_before_extra_convs``).

    Args:
        in_channels: channels of each backbone output.
        out_channels: channels of every pyramid level.
        num_outs: number of returned levels.
        start_level: first backbone output used (RetinaNet skips C2: ``start_level=1``).
        end_level: last backbone output used (inclusive); -1 is the last one.
        add_extra_convs: ``False``, ``True`` (= ``"on_input"``) or a source name (see above).
        relu_before_extra_convs: apply ReLU to the input of every extra conv after the first.
        norm_layer: optional norm factory ``norm_layer(channels)`` after the lateral and output convs
            (the convs then have no bias).
        upsample_mode: ``F.interpolate`` mode of the top-down pathway.

    Shapes:
        inputs: tuple of (N, in_channels[i], H_i, W_i), strides doubling from one to the next.
        returns: tuple of ``num_outs`` maps (N, out_channels, H_l, W_l).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        num_outs: int,
        start_level: int = 0,
        end_level: int = -1,
        add_extra_convs: bool | ExtraConvSource = False,
        relu_before_extra_convs: bool = False,
        norm_layer: Callable[[int], nn.Module] | None = None,
        upsample_mode: str = "nearest",
    ) -> None:
        super().__init__()
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.start_level = start_level
        self.end_level = len(self.in_channels) - 1 if end_level == -1 else end_level
        if not 0 <= start_level <= self.end_level < len(self.in_channels):
            raise ValueError(
                f"FPN: need 0 <= start_level ({start_level}) <= end_level ({end_level}) < number of inputs "
                f"({len(self.in_channels)})"
            )
        num_used = self.end_level - start_level + 1
        if num_outs < num_used:
            raise ValueError(f"FPN: num_outs ({num_outs}) is smaller than the {num_used} used input levels")
        if add_extra_convs is True:
            add_extra_convs = "on_input"
        if add_extra_convs and add_extra_convs not in _SOURCES:
            raise ValueError(
                f"FPN: add_extra_convs must be False, True or one of {_SOURCES}, got {add_extra_convs!r}"
            )
        self.add_extra_convs = add_extra_convs
        self.relu_before_extra_convs = relu_before_extra_convs
        self.upsample_mode = upsample_mode
        self.lateral_convs = nn.ModuleList(
            _conv(self.in_channels[i], out_channels, 1, 1, norm_layer)
            for i in range(start_level, self.end_level + 1)
        )
        self.fpn_convs = nn.ModuleList(
            _conv(out_channels, out_channels, 3, 1, norm_layer) for _ in range(num_used)
        )
        self.extra_convs = nn.ModuleList()
        if add_extra_convs:
            for index in range(num_outs - num_used):
                source_channels = out_channels
                if index == 0 and add_extra_convs == "on_input":
                    source_channels = self.in_channels[self.end_level]
                self.extra_convs.append(_conv(source_channels, out_channels, 3, 2, norm_layer))
        self._init_weights()

    def _init_weights(self) -> None:
        """Xavier-uniform convolutions with zero bias (MMDetection's FPN initialisation)."""
        init_by_type(self, [(nn.Conv2d, xavier_init)])

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f"FPN: expected {len(self.in_channels)} input maps, got {len(inputs)}")
        used = inputs[self.start_level : self.end_level + 1]
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, used)]
        for index in range(len(laterals) - 1, 0, -1):  # coarse to fine
            laterals[index - 1] = laterals[index - 1] + F.interpolate(
                laterals[index], size=laterals[index - 1].shape[-2:], mode=self.upsample_mode
            )
        outs = [conv(lateral) for conv, lateral in zip(self.fpn_convs, laterals)]
        outs += self._extra_levels(used[-1], laterals[-1], outs[-1])
        return tuple(outs)

    def _extra_levels(
        self, last_input: torch.Tensor, last_lateral: torch.Tensor, last_out: torch.Tensor
    ) -> list:
        """The ``num_outs - used`` coarser levels, by max pooling or stride-2 convs."""
        num_extra = self.num_outs - len(self.fpn_convs)
        if num_extra == 0:
            return []
        if not self.add_extra_convs:
            extras, current = [], last_out
            for _ in range(num_extra):
                current = F.max_pool2d(current, kernel_size=1, stride=2)
                extras.append(current)
            return extras
        source = {"on_input": last_input, "on_lateral": last_lateral, "on_output": last_out}[
            self.add_extra_convs
        ]
        extras = [self.extra_convs[0](source)]
        for conv in self.extra_convs[1:]:
            previous = F.relu(extras[-1]) if self.relu_before_extra_convs else extras[-1]
            extras.append(conv(previous))
        return extras


def _conv(
    in_channels: int,
    out_channels: int,
    kernel: int,
    stride: int,
    norm_layer: Callable[[int], nn.Module] | None,
) -> nn.Module:
    """A conv (bias only without a norm) followed by the optional norm; no activation (as the paper)."""
    conv = nn.Conv2d(
        in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=norm_layer is None
    )
    if norm_layer is None:
        return conv
    return nn.Sequential(conv, norm_layer(out_channels))
