"""Decode heads: output shapes, MMSegmentation state-dict names, gradients, losses and accuracy."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionstack.models.layers import GroupNorm
from visionstack.models.losses import CrossEntropyLoss, DiceLoss
from visionstack.registry import MODELS
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.segmentation.models import (
    ASPPHead,
    DepthwiseSeparableASPPHead,
    FCNHead,
    PSPHead,
    SegformerHead,
    pixel_accuracy,
)

CHANNELS = (8, 12, 16, 24)
SIZES = (16, 8, 4, 2)  # strides 4, 8, 16, 32 of a 64 x 64 image


@pytest.fixture
def feats() -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.randn(2, c, s, s, generator=generator) for c, s in zip(CHANNELS, SIZES))


COMMON = dict(num_classes=5, dropout_ratio=0.1)
Case = tuple[nn.Module, tuple[int, int], list[str]]


def head_cases() -> dict[str, Case]:
    """name -> (head, expected logit size, MMSegmentation state-dict keys it must have)."""
    return {**fcn_and_psp_cases(), **aspp_and_segformer_cases()}


def fcn_and_psp_cases() -> dict[str, Case]:
    common = COMMON
    return {
        "fcn": (
            FCNHead(in_channels=24, channels=10, **common),
            (2, 2),
            ["convs.0.conv.weight", "convs.1.bn.running_var", "conv_cat.conv.weight", "conv_seg.bias"],
        ),
        "fcn_aux": (
            FCNHead(in_channels=16, in_index=2, channels=10, num_convs=1, concat_input=False, **common),
            (4, 4),
            ["convs.0.conv.weight", "convs.0.bn.weight"],
        ),
        "fcn_dilated_resize_concat": (
            FCNHead(
                in_channels=[8, 12, 16, 24],
                in_index=[0, 1, 2, 3],
                input_transform="resize_concat",
                channels=10,
                dilation=2,
                **common,
            ),
            (16, 16),
            ["convs.0.conv.weight"],
        ),
        "psp": (
            PSPHead(in_channels=24, channels=10, **common),
            (2, 2),
            ["psp_modules.0.1.conv.weight", "psp_modules.3.1.bn.running_mean", "bottleneck.conv.weight"],
        ),
    }


def aspp_and_segformer_cases() -> dict[str, Case]:
    common = COMMON
    return {
        "aspp": (
            ASPPHead(in_channels=24, channels=10, dilations=(1, 2, 3), **common),
            (2, 2),
            [
                "image_pool.1.conv.weight",
                "aspp_modules.0.conv.weight",
                "aspp_modules.2.bn.weight",
                "bottleneck.bn.bias",
            ],
        ),
        "deeplabv3plus": (
            DepthwiseSeparableASPPHead(
                in_channels=24,
                in_index=3,
                channels=10,
                dilations=(1, 2, 3),
                c1_in_channels=8,
                c1_channels=4,
                **common,
            ),
            (16, 16),
            [
                "aspp_modules.0.conv.weight",
                "aspp_modules.1.depthwise_conv.conv.weight",
                "aspp_modules.2.pointwise_conv.bn.running_mean",
                "c1_bottleneck.conv.weight",
                "sep_bottleneck.0.depthwise_conv.conv.weight",
                "sep_bottleneck.1.pointwise_conv.bn.weight",
            ],
        ),
        "deeplabv3plus_without_c1": (
            DepthwiseSeparableASPPHead(
                in_channels=24,
                in_index=3,
                channels=10,
                dilations=(1, 2),
                c1_in_channels=0,
                c1_channels=0,
                **common,
            ),
            (2, 2),
            ["sep_bottleneck.0.depthwise_conv.conv.weight"],
        ),
        "segformer": (
            SegformerHead(in_channels=CHANNELS, channels=10, **common),
            (16, 16),
            [
                "convs.0.conv.weight",
                "convs.3.bn.weight",
                "fusion_conv.conv.weight",
                "fusion_conv.bn.running_var",
            ],
        ),
    }


@pytest.mark.parametrize("name", list(head_cases()))
def test_shapes_keys_and_gradients(name, feats):
    torch.manual_seed(0)
    head, size, keys = head_cases()[name]
    head.train()
    logits = head(feats)
    assert logits.shape == (2, 5, *size)
    missing = [key for key in keys if key not in head.state_dict()]
    assert not missing, f"{name}: missing MMSegmentation keys {missing}"
    labels = torch.randint(0, 5, (2, 1, 64, 64))
    samples = [DataSample(gt_sem_seg=PixelData(data=labels[i])) for i in range(2)]
    losses = head.loss(feats, samples)
    assert set(losses) == {"loss_ce", "acc_seg"} and torch.isfinite(losses["loss_ce"])
    losses["loss_ce"].backward()
    no_grad = [n for n, p in head.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not no_grad, f"{name}: parameters without gradient {no_grad}"
    head.eval()
    assert head.predict(feats, (64, 64)).shape == (2, 5, 64, 64)


def test_deeplabv3plus_fuses_the_low_level_map(feats):
    """The output depends on the stride-4 map only through the c1 branch (and follows its size)."""
    torch.manual_seed(0)
    head = DepthwiseSeparableASPPHead(
        in_channels=24,
        in_index=3,
        channels=10,
        dilations=(1, 2),
        c1_in_channels=8,
        c1_channels=4,
        num_classes=3,
    ).eval()
    changed = (feats[0] + torch.randn_like(feats[0]), *feats[1:])
    assert not torch.allclose(head(feats), head(changed))
    assert head.c1_bottleneck.conv.weight.shape == (4, 8, 1, 1)
    assert head.sep_bottleneck[0].depthwise_conv.conv.weight.shape == (14, 1, 3, 3)  # 10 ASPP + 4 low-level
    assert head.aspp_modules[1].depthwise_conv.conv.dilation == (2, 2)


def test_resize_concat_concatenates_the_upsampled_maps(feats):
    head = FCNHead(
        in_channels=[12, 24], in_index=[1, 3], input_transform="resize_concat", channels=4, num_classes=2
    )
    merged = head._transform_inputs(feats)
    up = F.interpolate(feats[3], size=(8, 8), mode="bilinear", align_corners=False)
    torch.testing.assert_close(merged, torch.cat([feats[1], up], dim=1))
    assert head.convs[0].conv.in_channels == 36


def test_ppm_branches_pool_to_their_scales(feats):
    head = PSPHead(in_channels=16, in_index=2, channels=3, num_classes=2, pool_scales=(1, 2)).eval()
    branch = head.psp_modules[1]
    pooled = branch[0](feats[2])
    assert pooled.shape[-2:] == (2, 2)
    torch.testing.assert_close(pooled[:, :, 0, 0], feats[2][:, :, :2, :2].mean(dim=(-2, -1)))


def test_acc_seg_and_losses_named_by_loss_name(feats):
    torch.manual_seed(0)
    head = FCNHead(
        in_channels=24,
        channels=6,
        num_classes=3,
        num_convs=1,
        dropout_ratio=0.0,
        loss_decode=[
            CrossEntropyLoss(avg_non_ignore=False),
            DiceLoss(use_sigmoid=False, loss_weight=0.5),
            CrossEntropyLoss(avg_non_ignore=False, loss_weight=2.0),
        ],
    ).eval()
    labels = torch.randint(0, 3, (2, 1, 8, 8))
    labels[0, 0, :4] = 255
    samples = [DataSample(gt_sem_seg=PixelData(data=labels[i])) for i in range(2)]
    losses = head.loss(feats, samples)
    assert set(losses) == {"loss_ce", "loss_dice", "acc_seg"}
    logits = F.interpolate(head(feats), size=(8, 8), mode="bilinear", align_corners=False)
    flat = labels[:, 0]
    ce = F.cross_entropy(logits, flat, ignore_index=255, reduction="sum") / flat.numel()
    torch.testing.assert_close(losses["loss_ce"], 3.0 * ce)  # two CE modules of one name are summed
    valid = flat != 255
    expected_acc = (logits.argmax(1) == flat)[valid].float().mean() * 100
    torch.testing.assert_close(losses["acc_seg"], expected_acc)
    assert pixel_accuracy(logits, torch.full_like(flat, 255)).item() == 0.0


def test_labels_of_different_sizes_are_padded_with_ignore(feats):
    head = FCNHead(in_channels=24, channels=4, num_classes=3, num_convs=1, dropout_ratio=0.0).eval()
    small = DataSample(gt_sem_seg=PixelData(data=torch.zeros(1, 6, 5, dtype=torch.long)))
    big = DataSample(gt_sem_seg=PixelData(data=torch.ones(1, 8, 8, dtype=torch.long)))
    losses = head.loss(feats, [small, big])
    logits = F.interpolate(head(feats), size=(8, 8), mode="bilinear", align_corners=False)
    labels = torch.full((2, 8, 8), 255)
    labels[0, :6, :5] = 0
    labels[1] = 1
    ce = F.cross_entropy(logits, labels, ignore_index=255, reduction="sum") / labels.numel()
    torch.testing.assert_close(losses["loss_ce"], ce)


def test_norm_factories_and_config_build(feats):
    head = MODELS.build(
        dict(
            type="PSPHead",
            in_channels=24,
            channels=8,
            num_classes=4,
            pool_scales=(1, 2),
            norm_layer=dict(type="GroupNorm", num_groups=4, _partial_=True),
            loss_decode=dict(type="CrossEntropyLoss", avg_non_ignore=False, loss_weight=0.4),
        )
    )
    assert isinstance(head.bottleneck.gn, GroupNorm) and head.bottleneck.conv.bias is None
    assert head.loss_decode.loss_weight == 0.4
    plain = FCNHead(in_channels=24, channels=8, num_classes=4, norm_layer=None)
    assert plain.convs[0].conv.bias is not None and plain.convs[0].norm is None
    gn = FCNHead(in_channels=24, channels=8, num_classes=4, norm_layer=functools.partial(nn.GroupNorm, 2))
    assert "convs.0.gn.weight" in gn.state_dict()
    assert head(feats).shape == (2, 4, 2, 2)


def test_errors_name_the_problem(feats):
    with pytest.raises(TypeError, match="in_channels and in_index must be ints"):
        FCNHead(in_channels=[8, 12], channels=4, num_classes=2)
    with pytest.raises(ValueError, match="2 in_channels for 3 in_index"):
        FCNHead(
            in_channels=[8, 12],
            in_index=[0, 1, 2],
            input_transform="resize_concat",
            channels=4,
            num_classes=2,
        )
    with pytest.raises(ValueError, match="in_channels \\(24\\) must equal channels"):
        FCNHead(in_channels=24, channels=8, num_classes=2, num_convs=0)
    with pytest.raises(ValueError, match="input_transform must be"):
        FCNHead(in_channels=24, channels=8, num_classes=2, input_transform="concat")
    with pytest.raises(TypeError, match="has no loss_name"):
        FCNHead(in_channels=24, channels=8, num_classes=2, loss_decode=nn.MSELoss())
    head = FCNHead(in_channels=24, channels=8, num_classes=2)
    with pytest.raises(ValueError, match="has no gt_sem_seg.*PackSegInputs"):
        head.loss(feats, [DataSample(), DataSample()])
