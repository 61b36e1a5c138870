"""ResNet for dense prediction: stage strides and dilations (output stride 8/16) and the deep stem."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionstack.models.backbones import ResNet, load_torchvision_checkpoint

OS8 = dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))
OS16 = dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))
# conv 3->32 (864), 32->32 (9,216), 32->64 (18,432) without bias, and their batch norms (2 x 32 + 2 x 32 + 2 x 64)
DEEP_STEM_PARAMS = 864 + 9_216 + 18_432 + 64 + 64 + 128
IMAGENET_STEM_PARAMS = 64 * 3 * 7 * 7 + 2 * 64
TORCHVISION_RESNET50_PARAMS = 25_557_032  # with the 1000-class fc (2048 * 1000 + 1000)


def _build(depth: int, seed: int = 0, **kwargs) -> ResNet:
    torch.manual_seed(seed)
    return ResNet(depth, out_indices=(0, 1, 2, 3), **kwargs).eval()


@pytest.mark.parametrize(
    ("settings", "strides"), [(OS8, (4, 8, 8, 8)), (OS16, (4, 8, 16, 16)), ({}, (4, 8, 16, 32))]
)
def test_output_strides(settings, strides):
    model = _build(18, **settings)
    outs = model(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [
        (1, c, 64 // s, 96 // s) for c, s in zip((64, 128, 256, 512), strides)
    ]


def test_dilated_bottleneck_settings_follow_contract_dilation():
    model = ResNet(50, **OS8)
    # layer3: first block contracted to 2 // 2 = 1, others 2; layer4: 4 // 2 = 2, then 4
    expected = {"layer3": (1, 2), "layer4": (2, 4)}
    for name, (first, rest) in expected.items():
        stage = getattr(model, name)
        assert stage[0].conv2.dilation == (first, first) and stage[0].conv2.padding == (first, first)
        assert all(block.conv2.dilation == (rest, rest) for block in stage[1:])
        assert all(block.conv2.padding == (rest, rest) for block in stage[1:])
        assert stage[0].conv2.stride == (1, 1) and stage[0].downsample[0].stride == (1, 1)
        # only the 3x3 convs are dilated
        assert all(block.conv1.dilation == (1, 1) and block.conv3.dilation == (1, 1) for block in stage)
    assert model.layer2[0].conv2.stride == (2, 2) and model.layer2[0].conv2.dilation == (1, 1)

    plain = ResNet(50, contract_dilation=False, **OS8)
    assert plain.layer3[0].conv2.dilation == (2, 2) and plain.layer4[0].conv2.dilation == (4, 4)


def test_dilated_basic_block_dilates_its_first_conv_only_as_mmseg():
    model = ResNet(18, **OS8)
    assert model.layer4[0].conv1.dilation == (2, 2) and model.layer4[1].conv1.dilation == (4, 4)
    assert model.layer4[1].conv1.padding == (4, 4)
    assert all(block.conv2.dilation == (1, 1) for block in model.layer4)


@pytest.fixture(scope="module")
def resnet50() -> ResNet:
    return _build(50)


@pytest.mark.parametrize(("settings", "step"), [(OS16, 2), (OS8, 4)])
def test_atrous_identity_dilated_output_subsampled_equals_strided_output(resnet50, settings, step):
    # Removing a stride and dilating every later 3x3 conv by it (the "a trous" algorithm, Chen et
    # al., DeepLab, section 3.1) computes the same responses on a denser grid: every ``step``-th
    # pixel of the dilated output is exactly the plain network's output. With contract_dilation
    # the first block of each stage gets the right half dilation, so this holds for Bottleneck
    # ResNets with the same weights.
    plain = resnet50
    dilated = ResNet(50, out_indices=(0, 1, 2, 3), **settings).eval()
    dilated.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 64)
    plain_last, dilated_last = plain(x)[3], dilated(x)[3]
    assert dilated_last.shape[-1] == plain_last.shape[-1] * step
    torch.testing.assert_close(dilated_last[..., ::step, ::step], plain_last, rtol=1e-4, atol=1e-4)
    without_contraction = ResNet(50, out_indices=(3,), contract_dilation=False, **settings).eval()
    without_contraction.load_state_dict(plain.state_dict())
    assert not torch.allclose(without_contraction(x)[0][..., ::step, ::step], plain_last, atol=1e-3)


def test_unit_dilations_change_nothing():
    default = _build(18, seed=3)
    explicit = _build(18, seed=3, strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1))
    assert list(default.state_dict()) == list(explicit.state_dict())
    for key, value in default.state_dict().items():
        torch.testing.assert_close(explicit.state_dict()[key], value, rtol=0, atol=0)
    assert str(default) == str(explicit)  # same modules, strides, paddings, dilations
    x = torch.randn(2, 3, 48, 48)
    for a, b in zip(default(x), explicit(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_dilations_do_not_change_parameters_so_imagenet_weights_load(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(ResNet(18, num_classes=1000).state_dict(), path)
    model = ResNet(18, **OS8)
    assert sorted(load_torchvision_checkpoint(model, path)) == ["fc.bias", "fc.weight"]


def test_deep_stem_layout_and_mmseg_key_names():
    model = ResNet(50, stem="deep")
    state = model.state_dict()
    assert "conv1.weight" not in state and "bn1.weight" not in state
    assert [tuple(state[f"stem.{i}.weight"].shape) for i in (0, 3, 6)] == [
        (32, 3, 3, 3),
        (32, 32, 3, 3),
        (64, 32, 3, 3),
    ]
    assert [tuple(state[f"stem.{i}.running_mean"].shape) for i in (1, 4, 7)] == [(32,), (32,), (64,)]
    assert [type(model.stem[i]) for i in (2, 5, 8)] == [nn.ReLU] * 3
    assert [model.stem[i].stride for i in (0, 3, 6)] == [(2, 2), (1, 1), (1, 1)]
    # everything after the stem keeps torchvision's (= MMSegmentation's) names
    assert [k for k in state if not k.startswith("stem.")] == [
        k for k in ResNet(50).state_dict() if k not in {"conv1.weight"} and not k.startswith("bn1.")
    ]


def test_deep_stem_parameter_count():
    model = ResNet(50, stem="deep")
    assert sum(p.numel() for p in model.stem.parameters()) == DEEP_STEM_PARAMS == 28_768
    # ResNetV1c-50 with a 1000-class fc: torchvision's ResNet-50 with the stem swapped, 25,576,264
    # (mmpretrain lists ResNetV1C-50 as 25.58 M parameters).
    with_fc = ResNet(50, stem="deep", num_classes=1000)
    total = sum(p.numel() for p in with_fc.parameters())
    assert total == TORCHVISION_RESNET50_PARAMS - IMAGENET_STEM_PARAMS + DEEP_STEM_PARAMS == 25_576_264


def test_deep_stem_output_stride_and_dilation_together():
    model = _build(18, stem="deep", **OS8)
    assert model.forward_stem(torch.randn(1, 3, 64, 64)).shape == (1, 64, 16, 16)
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 16), (1, 128, 8, 8), (1, 256, 8, 8), (1, 512, 8, 8)]


def test_deep_stem_freezing_and_gradients():
    frozen = ResNet(18, stem="deep", frozen_stages=1).train()
    assert not any(p.requires_grad for p in frozen.stem.parameters())
    assert not frozen.stem[1].training and frozen.layer2[0].bn1.training

    model = _build(18, stem="deep", **OS8).train()
    sum(o.square().mean() for o in model(torch.randn(2, 3, 32, 32))).backward()
    assert model.stem[0].weight.grad is not None and model.stem[0].weight.grad.abs().sum() > 0


def test_deep_stem_checkpoint_round_trip(tmp_path):
    source = _build(18, seed=1, stem="deep")
    path = tmp_path / "resnet18_v1c.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    target = ResNet(18, stem="deep", out_indices=(0, 1, 2, 3), pretrained=path).eval()
    x = torch.randn(1, 3, 32, 32)
    for a, b in zip(source(x), target(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="stem='deep'"):
        load_torchvision_checkpoint(ResNet(18), path)


def test_dilated_eval_is_deterministic():
    model = _build(18, **OS16)
    x = torch.randn(2, 3, 32, 32)
    for a, b in zip(model(x), model(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(strides=(1, 2, 2)), r"strides must be 4 positive integers.*\(1, 2, 2\)"),
        (dict(dilations=(1, 1, 0, 2)), r"dilations must be 4 positive integers"),
        (dict(stem="v1c"), "stem must be 'imagenet', 'cifar' or 'deep'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResNet(18, **kwargs)
