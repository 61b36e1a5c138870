"""ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

The module tree and parameter names equal torchvision's ``resnet18/34/50/101/152`` (``conv1``,
``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0`` ..., ``fc`` when ``num_classes`` is given), so
a torchvision ``.pth`` loads without renaming (see :func:`load_torchvision_checkpoint`). Bottleneck
blocks put the stride on the 3x3 convolution by default (``style="pytorch"``, "ResNet v1.5", as
torchvision does), which is about 0.5 % top-1 better than the paper's stride on the first 1x1.
``style="caffe"`` puts it on the first 1x1 as the paper (and its released Caffe/MSRA weights) does;
MMDetection's ``*-caffe*`` configs (e.g. FCOS 1x) use it. The parameters are the same in both styles
(a checkpoint of either loads into either), only the computed features differ, so the style must
match the one the weights were trained with.

For dense prediction the stage ``strides`` and ``dilations`` are configurable (Chen et al., DeepLab,
"atrous" convolution; Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", 2016):
``strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)`` keeps the last two stages at output stride 8 while
their receptive field grows as before. ``stem="deep"`` is ResNet-C of He et al., "Bag of Tricks for
Image Classification with Convolutional Neural Networks" (CVPR 2019, section 4.2), which
MMSegmentation calls ``ResNetV1c``; its keys (``stem.0`` ... ``stem.8``, ``layer1.0.conv1`` ...)
equal MMSegmentation's, so those checkpoints load too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Literal, get_args

import torch
from torch import nn

from ...registry import MODELS
from ..layers.weight_init import constant_init, init_by_type, kaiming_init
from ..pretrained import load_state_dict_strictly, read_state_dict
from ._freezing import FreezingTrainMixin, freeze_modules, normalize_out_indices, run_stages

NormLayer = Callable[[int], nn.Module]
# Where a strided Bottleneck downsamples: "pytorch" on the 3x3 conv (conv2), "caffe" on the first 1x1 (conv1).
ResNetStyle = Literal["pytorch", "caffe"]
RESNET_STYLES: tuple[str, ...] = get_args(ResNetStyle)
logger = logging.getLogger(__name__)


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution without bias; ``padding=dilation`` keeps the size at stride 1."""
    return nn.Conv2d(
        in_channels, out_channels, 3, stride=stride, padding=dilation, dilation=dilation, bias=False
    )


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or projected) shortcut; ResNet-18/34.

    Args:
        in_channels: channels of the input.
        channels: channels of both convolutions (output = ``channels * expansion``).
        stride: stride of the first convolution.
        downsample: projection of the shortcut when shape changes, else None.
        norm_layer: factory ``norm_layer(num_features) -> nn.Module``.
        dilation: dilation (and padding) of the first 3x3 convolution. The second stays undilated,
            as in MMSegmentation's ``BasicBlock``, so its dilated ResNet-18/34 models behave the same.
        style: accepted for a uniform block signature and ignored: the stride always sits on the
            first 3x3 convolution (both styles agree here, as in MMDetection's ``BasicBlock``).
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
        dilation: int = 1,
        style: ResNetStyle = "pytorch",
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride, dilation)
        self.bn1 = norm_layer(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = norm_layer(channels)
        self.downsample = downsample

    @property
    def last_norm(self) -> nn.Module:
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a shortcut; ResNet-50/101/152.

    Args: as :class:`BasicBlock`; the output has ``channels * 4`` channels and ``dilation``
    applies to the (only) 3x3 convolution. ``style`` says which convolution takes ``stride``:
    ``"pytorch"`` the 3x3 (``conv2``), ``"caffe"`` the first 1x1 (``conv1``); the shortcut's
    projection is strided in both.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
        dilation: int = 1,
        style: ResNetStyle = "pytorch",
    ) -> None:
        super().__init__()
        _check_style(style)
        conv1_stride, conv2_stride = (stride, 1) if style == "caffe" else (1, stride)
        self.conv1 = conv1x1(in_channels, channels, conv1_stride)
        self.bn1 = norm_layer(channels)
        self.conv2 = conv3x3(channels, channels, conv2_stride, dilation)
        self.bn2 = norm_layer(channels)
        self.conv3 = conv1x1(channels, channels * self.expansion)
        self.bn3 = norm_layer(channels * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def last_norm(self) -> nn.Module:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


# depth -> (block, blocks per stage); the table of the paper's Table 1.
RESNET_ARCHS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
STAGE_CHANNELS = (64, 128, 256, 512)
# The deep stem's widths: two 3x3 convs of stem_channels / 2, one of stem_channels (64, as MMSeg).
DEEP_STEM_CHANNELS = (32, 32, 64)


@MODELS.register()
class ResNet(FreezingTrainMixin, nn.Module):
    """ResNet backbone returning the feature maps of the stages in ``out_indices``.

    With the default ``strides``, stage ``i`` (``layer{i+1}``) has output stride ``4 * 2**i`` with
    the ImageNet and deep stems and ``2**i`` with the CIFAR stem, and ``STAGE_CHANNELS[i] *
    expansion`` channels (the output stride is the stem's 4 (or 1) times the product of ``strides``
    up to the stage).

    Args:
        depth: 18, 34, 50, 101 or 152.
        in_channels: channels of the input images.
        stem: ``"imagenet"``: 7x7 stride-2 conv + 3x3 stride-2 max pool (torchvision; the default);
            ``"cifar"``: 3x3 stride-1 conv and no pooling, for inputs of about 32x32 (He et al.,
            section 4.2), so that small images keep their resolution. Keys are the same; only
            ``conv1.weight`` is (64, C, 3, 3) instead of (64, C, 7, 7);
            ``"deep"``: three 3x3 convs (32 stride 2, 32, 64 channels) each with norm and ReLU, then
            the max pool (ResNet-C, MMSegmentation's ``ResNetV1c``); ``stem.0`` ... ``stem.8``
            replace ``conv1``/``bn1``.
        out_indices: stages (0..3, negative counts from the end) whose outputs are returned.
        frozen_stages: -1 freezes nothing; 0 freezes the stem; ``k`` freezes the stem and stages
            ``0..k-1`` (parameters get ``requires_grad=False``, norm layers stay in eval mode).
        norm_eval: keep every norm layer in eval mode while training (frozen statistics).
        norm_layer: factory for the norm layers, e.g. ``functools.partial(nn.GroupNorm, 32)``.
        zero_init_residual: start each block's last norm at gamma = 0, so every block begins as
            the identity (Goyal et al., "Accurate, Large Minibatch SGD", section 5.1).
        num_classes: when given, add torchvision's classifier ``fc`` (used by :meth:`logits`, not
            by :meth:`forward`), so that the state dict equals torchvision's key for key.
        pretrained: path of a local torchvision checkpoint (e.g. ``resnet50-0676ba61.pth``) loaded
            after initialisation with :func:`load_torchvision_checkpoint`; its ``fc`` is dropped
            unless ``num_classes`` is given. Nothing is downloaded. With ``stem="deep"`` the file
            must hold a ResNet-C (``ResNetV1c``) state dict with the ``stem.*`` keys.
        strides: stride of the first block of each of the four stages; a stage with stride 1 keeps
            the resolution of the one before.
        dilations: dilation of the 3x3 convolutions of each stage. Dilated convolutions let a
            stage with stride 1 see as far as a strided one: ``strides=(1, 2, 1, 1),
            dilations=(1, 1, 2, 4)`` gives output stride 8, ``(1, 2, 2, 1)``/``(1, 1, 1, 2)`` 16.
            Parameters do not depend on them, so ImageNet weights load unchanged.
        contract_dilation: the first block of a stage with dilation ``d > 1`` uses ``d // 2`` (it
            still sees the previous stage's resolution); MMSegmentation's dilated ResNet configs
            set this (``contract_dilation=True``).
        base_channels: width of the stem and the first stage; the stages are ``base_channels * (1, 2, 4, 8)``
            wide (64: the standard ResNet; smaller values give the narrow CPU variants).
        style: where a strided Bottleneck downsamples: ``"pytorch"`` (the default; torchvision, ResNet
            v1.5) on its 3x3 convolution, ``"caffe"`` (the paper; MMDetection's ``*-caffe*`` configs
            and MSRA weights) on its first 1x1. Same keys and shapes; ResNet-18/34 ignore it.

    Attributes:
        out_channels: channels of each returned output, aligned with ``out_indices``.

    Shapes:
        input (N, in_channels, H, W) -> tuple of (N, C_i, H / s_i, W / s_i).
    """

    def __init__(
        self,
        depth: int = 50,
        in_channels: int = 3,
        stem: Literal["imagenet", "cifar", "deep"] = "imagenet",
        out_indices: Sequence[int] = (3,),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        norm_layer: NormLayer = nn.BatchNorm2d,
        zero_init_residual: bool = False,
        num_classes: int | None = None,
        pretrained: str | os.PathLike | None = None,
        strides: Sequence[int] = (1, 2, 2, 2),
        dilations: Sequence[int] = (1, 1, 1, 1),
        contract_dilation: bool = True,
        base_channels: int = 64,
        style: ResNetStyle = "pytorch",
    ) -> None:
        super().__init__()
        _check_style(style)
        if depth not in RESNET_ARCHS:
            raise ValueError(f"ResNet: depth must be one of {sorted(RESNET_ARCHS)}, got {depth}")
        if stem not in ("imagenet", "cifar", "deep"):
            raise ValueError(f"ResNet: stem must be 'imagenet', 'cifar' or 'deep', got {stem!r}")
        if base_channels < 1 or (stem == "deep" and base_channels != 64):
            raise ValueError(
                f"ResNet: base_channels must be >= 1 (64 with the deep stem), got {base_channels}"
            )
        block, stage_blocks = RESNET_ARCHS[depth]
        self.strides = _check_per_stage(strides, "strides", len(stage_blocks))
        self.dilations = _check_per_stage(dilations, "dilations", len(stage_blocks))
        self.depth = depth
        self.stem_type = stem
        self.style = style
        self.out_indices = normalize_out_indices(out_indices, len(stage_blocks), "ResNet")
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        # channels of each returned output, aligned with ``out_indices``
        widths = [base_channels * width // STAGE_CHANNELS[0] for width in STAGE_CHANNELS]
        self.out_channels = tuple(widths[i] * block.expansion for i in self.out_indices)

        self._build_stem(in_channels, stem, norm_layer, base_channels)
        channels = base_channels
        for index, (num_blocks, stage_width) in enumerate(zip(stage_blocks, widths)):
            dilation = self.dilations[index]
            first_dilation = dilation // 2 if contract_dilation and dilation > 1 else dilation
            stride = self.strides[index]
            stage = _make_stage(
                block,
                channels,
                stage_width,
                num_blocks,
                stride,
                norm_layer,
                (first_dilation, dilation),
                style,
            )
            self.add_module(f"layer{index + 1}", stage)
            channels = stage_width * block.expansion
        if num_classes is not None:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(channels, num_classes)
        self._init_weights(zero_init_residual)
        if pretrained is not None:
            skipped = load_torchvision_checkpoint(self, pretrained)
            if skipped:
                logger.info("ResNet: loaded %s without %s", os.fspath(pretrained), sorted(skipped))
        self._freeze_stages()

    def _build_stem(self, in_channels: int, stem: str, norm_layer: NormLayer, width: int = 64) -> None:
        if stem == "deep":
            # conv-norm-ReLU triples as one Sequential: the indices 0..8 are MMSeg's key names.
            layers: list[nn.Module] = []
            for index, width in enumerate(DEEP_STEM_CHANNELS):
                stride = 2 if index == 0 else 1
                layers += [conv3x3(in_channels, width, stride), norm_layer(width), nn.ReLU(inplace=True)]
                in_channels = width
            self.stem = nn.Sequential(*layers)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            return
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = norm_layer(width)
        self.relu = nn.ReLU(inplace=True)

    def _init_weights(self, zero_init_residual: bool) -> None:
        # He init for ReLU networks (He et al., "Delving Deep into Rectifiers", 2015), fan-out mode.
        init_by_type(
            self,
            [
                (nn.Conv2d, partial(kaiming_init, mode="fan_out", nonlinearity="relu")),  # all bias-free
                ((nn.BatchNorm2d, nn.GroupNorm), partial(constant_init, val=1.0)),
            ],
        )
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, (BasicBlock, Bottleneck)) and module.last_norm.weight is not None:
                    nn.init.zeros_(module.last_norm.weight)

    @property
    def stages(self) -> list[nn.Sequential]:
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def _stem_modules(self) -> list[nn.Module]:
        return [self.stem] if self.stem_type == "deep" else [self.conv1, self.bn1]

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_modules(self._stem_modules())
        freeze_modules(self.stages[: max(self.frozen_stages, 0)])

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, 64, H / 4, W / 4) (ImageNet, deep stem) or (N, 64, H, W) (CIFAR stem)."""
        if self.stem_type == "deep":
            return self.maxpool(self.stem(x))
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return the outputs of the stages in ``out_indices``, in increasing stage order."""
        return run_stages(self.forward_stem(x), self.stages, self.out_indices)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """torchvision's full forward: last stage, global average pool, ``fc``; (N, num_classes)."""
        if not hasattr(self, "fc"):
            raise RuntimeError("ResNet.logits needs the classifier: build the backbone with num_classes=...")
        x = self.forward_stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _make_stage(
    block: type[BasicBlock] | type[Bottleneck],
    in_channels: int,
    channels: int,
    num_blocks: int,
    stride: int,
    norm_layer: NormLayer,
    dilations: tuple[int, int] = (1, 1),
    style: ResNetStyle = "pytorch",
) -> nn.Sequential:
    """One ``layerN``: the first block changes stride/width (with a projected shortcut).

    ``dilations`` is (first block's, other blocks') dilation; ``style`` goes to every block."""
    first_dilation, dilation = dilations
    out_channels = channels * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), norm_layer(out_channels))
    blocks = [block(in_channels, channels, stride, downsample, norm_layer, first_dilation, style)]
    blocks += [
        block(out_channels, channels, 1, None, norm_layer, dilation, style) for _ in range(num_blocks - 1)
    ]
    return nn.Sequential(*blocks)


def _check_style(style: str) -> None:
    """Refuse an unknown ResNet ``style`` with a ValueError naming it and the accepted ones."""
    if style not in RESNET_STYLES:
        raise ValueError(
            f"ResNet: style must be 'pytorch' (stride on the 3x3 conv) or 'caffe' (stride on the first "
            f"1x1 conv), got {style!r}"
        )


def _check_per_stage(values: Sequence[int], name: str, num_stages: int) -> tuple[int, ...]:
    """``values`` as a tuple of ``num_stages`` positive ints, else a ValueError naming ``name``."""
    values = tuple(values)
    if len(values) != num_stages or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ValueError(
            f"ResNet: {name} must be {num_stages} positive integers (one per stage), got {values!r}"
        )
    return values


def load_torchvision_checkpoint(
    backbone: ResNet, checkpoint: str | os.PathLike | Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Load a torchvision ResNet checkpoint (path or state dict) into ``backbone``.

    Every key except the classifier must match exactly (names and shapes). The classifier
    (``fc.weight`` (num_classes, C), ``fc.bias``) is loaded when the backbone was built with
    ``num_classes``; otherwise it is returned so that the caller can put it into a head.

    Returns:
        The checkpoint entries that were not loaded (the ``fc.*`` entries, or an empty dict).

    Raises:
        RuntimeError: naming the checkpoint, the missing and unexpected keys and shape mismatches.
    """
    state_dict = read_state_dict(checkpoint)
    leftover = {}
    if not hasattr(backbone, "fc"):
        leftover = {key: state_dict.pop(key) for key in list(state_dict) if key.startswith("fc.")}
    source = os.fspath(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else "the given state dict"
    hint = "is the depth or the stem right? torchvision checkpoints need stem='imagenet', ResNetV1c ones stem='deep'"
    load_state_dict_strictly(backbone, state_dict, source, f"ResNet-{backbone.depth}", hint)
    return leftover
