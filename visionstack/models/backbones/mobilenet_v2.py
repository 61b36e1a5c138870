"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018).

Module names follow torchvision's ``mobilenet_v2`` (``features.0.0`` stem conv, ``features.N.conv.*``
inverted residuals, ``features.18`` last 1x1 conv, ``classifier.1`` when ``num_classes`` is given),
so its checkpoints load with ``load_state_dict``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from ...registry import MODELS
from ..layers.weight_init import constant_init, init_by_type, kaiming_init, normal_init
from ._freezing import FreezingTrainMixin, freeze_modules, normalize_out_indices, run_stages

NormLayer = Callable[[int], nn.Module]

# Table 2 of the paper: expansion t, output channels c, repeats n, first stride s.
MOBILENET_V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never losing more than 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvNormReLU6(nn.Sequential):
    """Conv (no bias) -> norm -> ReLU6; children ``0``, ``1``, ``2`` as in torchvision."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False),
            norm_layer(out_channels),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """1x1 expansion (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1 linear projection, with a shortcut
    when stride is 1 and the channel count is kept (section 3.3: no non-linearity on the bottleneck).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the depthwise convolution (1 or 2).
        expand_ratio: hidden channels = ``in_channels * expand_ratio``; 1 skips the expansion conv.
        norm_layer: factory for the norm layers.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        expand_ratio: int,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        hidden = int(round(in_channels * expand_ratio))
        self.use_shortcut = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvNormReLU6(in_channels, hidden, kernel_size=1, norm_layer=norm_layer))
        layers += [
            ConvNormReLU6(hidden, hidden, stride=stride, groups=hidden, norm_layer=norm_layer),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            norm_layer(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_shortcut else out


@MODELS.register()
class MobileNetV2(FreezingTrainMixin, nn.Module):
    """MobileNetV2 backbone.

    Stages 0..6 are the seven groups of inverted residuals of Table 2 (strides 2, 4, 8, 16, 16,
    32, 32 with channels 16, 24, 32, 64, 96, 160, 320 at ``widen_factor=1``); stage 7 is the last
    1x1 conv (1280 channels, stride 32).

    Args:
        widen_factor: width multiplier; channels are rounded to multiples of 8 and the last conv
            keeps at least 1280 channels.
        in_channels: channels of the input images.
        out_indices: stages (0..7, negative from the end) whose outputs are returned.
        frozen_stages: -1 freezes nothing; 0 freezes the stem conv; ``k`` freezes the stem and
            stages ``0..k-1``.
        norm_eval: keep batch norms in eval mode while training.
        norm_layer: factory for the norm layers.
        num_classes: when given, add torchvision's ``classifier`` (dropout 0.2, linear), used by
            :meth:`logits`.

    Attributes:
        out_channels: channels of each returned output, aligned with ``out_indices``.

    Shapes:
        input (N, in_channels, H, W) -> tuple of (N, C_i, H / s_i, W / s_i).
    """

    def __init__(
        self,
        widen_factor: float = 1.0,
        in_channels: int = 3,
        out_indices: Sequence[int] = (7,),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        norm_layer: NormLayer = nn.BatchNorm2d,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        self.out_indices = normalize_out_indices(out_indices, len(MOBILENET_V2_SETTINGS) + 1, "MobileNetV2")
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        channels = make_divisible(32 * widen_factor)
        features: list[nn.Module] = [ConvNormReLU6(in_channels, channels, stride=2, norm_layer=norm_layer)]
        self.stage_ends: list[int] = []  # index in ``features`` of each stage's last module
        out_channels = []
        for expand_ratio, width, repeats, first_stride in MOBILENET_V2_SETTINGS:
            stage_channels = make_divisible(width * widen_factor)
            for repeat in range(repeats):
                stride = first_stride if repeat == 0 else 1
                features.append(InvertedResidual(channels, stage_channels, stride, expand_ratio, norm_layer))
                channels = stage_channels
            self.stage_ends.append(len(features) - 1)
            out_channels.append(stage_channels)
        last_channels = make_divisible(1280 * max(1.0, widen_factor))
        features.append(ConvNormReLU6(channels, last_channels, kernel_size=1, norm_layer=norm_layer))
        self.stage_ends.append(len(features) - 1)
        out_channels.append(last_channels)
        self.features = nn.Sequential(*features)
        self.out_channels = tuple(out_channels[index] for index in self.out_indices)  # per returned output
        if num_classes is not None:
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last_channels, num_classes))
        self._init_weights()
        self._freeze_stages()

    def _init_weights(self) -> None:
        init_by_type(
            self,
            [
                (
                    nn.Conv2d,
                    partial(kaiming_init, mode="fan_out", nonlinearity="leaky_relu"),
                ),  # all bias-free
                ((nn.BatchNorm2d, nn.GroupNorm), partial(constant_init, val=1.0)),
                (nn.Linear, partial(normal_init, std=0.01)),
            ],
        )

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        last_frozen = 0 if self.frozen_stages == 0 else self.stage_ends[min(self.frozen_stages, 8) - 1]
        freeze_modules(self.features[: last_frozen + 1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return the outputs of the stages in ``out_indices``, in increasing stage order."""
        return run_stages(x, self.features, {self.stage_ends[index] for index in self.out_indices})

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """torchvision's full forward: features, global average pool, classifier; (N, num_classes)."""
        if not hasattr(self, "classifier"):
            raise RuntimeError("MobileNetV2.logits needs the classifier: build it with num_classes=...")
        x = self.features(x)
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
