"""ResNet: torchvision-identical state dicts, stems, strides, freezing and checkpoint loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from visionstack.models.backbones import ResNet, load_torchvision_checkpoint

KEYS_FILE = Path(__file__).resolve().parents[2] / "data" / "resnet_torchvision_keys.json"
# parameter counts of torchvision's resnet18/34/50/101 (with the 1000-class fc), from its model docs
TORCHVISION_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160}


@pytest.fixture(scope="module")
def torchvision_keys() -> dict[str, dict[str, list[int]]]:
    return json.loads(KEYS_FILE.read_text())


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
def test_state_dict_equals_torchvision(depth, torchvision_keys):
    expected = torchvision_keys[f"resnet{depth}"]
    state = ResNet(depth, num_classes=1000).state_dict()
    assert list(state) == list(expected)  # same keys, same order
    assert {key: list(value.shape) for key, value in state.items()} == expected


@pytest.mark.parametrize("depth", [18, 50])
def test_backbone_without_classifier_is_torchvision_minus_fc(depth, torchvision_keys):
    expected = [key for key in torchvision_keys[f"resnet{depth}"] if not key.startswith("fc.")]
    assert list(ResNet(depth).state_dict()) == expected


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
def test_parameter_count_equals_torchvision(depth):
    model = ResNet(depth, num_classes=1000)
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_PARAMS[depth]


@pytest.mark.parametrize(("depth", "channels"), [(18, (64, 128, 256, 512)), (50, (256, 512, 1024, 2048))])
def test_stage_shapes_and_out_channels(depth, channels):
    model = ResNet(depth, out_indices=(0, 1, 2, 3)).eval()
    outs = model(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [
        (1, c, 64 // s, 96 // s) for c, s in zip(channels, (4, 8, 16, 32))
    ]
    assert model.out_channels == channels


def test_cifar_stem_keeps_resolution():
    model = ResNet(18, stem="cifar", out_indices=(0, 3)).eval()
    outs = model(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 64, 32, 32), (2, 512, 4, 4)]
    assert tuple(model.conv1.weight.shape) == (64, 3, 3, 3)
    assert list(model.state_dict()) == list(ResNet(18).state_dict())


def test_bottleneck_strides_on_3x3_conv():
    block = ResNet(50).layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
    assert block.downsample[0].stride == (2, 2)


def test_negative_out_indices_and_bad_arguments():
    assert ResNet(18, out_indices=(-1, -2)).out_indices == (2, 3)
    with pytest.raises(ValueError, match="out_indices entry 4"):
        ResNet(18, out_indices=(4,))
    with pytest.raises(ValueError, match="depth must be one of"):
        ResNet(19)
    with pytest.raises(ValueError, match="stem"):
        ResNet(18, stem="tiny")


def test_frozen_stages_stop_gradients_and_statistics():
    model = ResNet(18, frozen_stages=2).train()
    frozen = [model.conv1, model.bn1, model.layer1, model.layer2]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for m in (model.layer3, model.layer4) for p in m.parameters())
    assert not model.layer1[0].bn1.training and model.layer3[0].bn1.training
    before = model.layer2[0].bn1.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    torch.testing.assert_close(model.layer2[0].bn1.running_mean, before, rtol=0, atol=0)


def test_norm_eval_keeps_all_batch_norms_in_eval_mode():
    model = ResNet(18, norm_eval=True).train()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)
    assert model.layer1[0].conv1.training  # only norms are affected


def test_zero_init_residual_makes_blocks_identity_like():
    model = ResNet(50, zero_init_residual=True).eval()
    block = model.layer1[1]  # no downsample: output = relu(x + 0)
    assert torch.count_nonzero(block.bn3.weight) == 0
    x = torch.randn(1, 256, 8, 8)
    torch.testing.assert_close(block(x), torch.relu(x))


def test_norm_layer_factory_is_used():
    from functools import partial

    model = ResNet(18, norm_layer=partial(nn.GroupNorm, 8))
    assert isinstance(model.bn1, nn.GroupNorm) and isinstance(model.layer4[0].downsample[1], nn.GroupNorm)
    assert model(torch.randn(1, 3, 32, 32))[0].shape == (1, 512, 1, 1)


def test_logits_is_pooled_last_stage_through_fc():
    model = ResNet(18, num_classes=7).eval()
    x = torch.randn(2, 3, 64, 64)
    pooled = model(x)[-1].mean(dim=(2, 3))
    torch.testing.assert_close(model.logits(x), pooled @ model.fc.weight.T + model.fc.bias)
    with pytest.raises(RuntimeError, match="num_classes"):
        ResNet(18).logits(x)


def test_load_torchvision_checkpoint_from_file(tmp_path):
    torch.manual_seed(0)
    source = ResNet(18, num_classes=1000).eval()
    path = tmp_path / "resnet18.pth"
    torch.save({f"module.{k}": v for k, v in source.state_dict().items()}, path)  # DDP-style prefix
    target = ResNet(18).eval()
    leftover = load_torchvision_checkpoint(target, path)
    assert sorted(leftover) == ["fc.bias", "fc.weight"]
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(target(x)[0], source(x)[0], rtol=0, atol=0)
    with_fc = ResNet(18, num_classes=1000)
    assert load_torchvision_checkpoint(with_fc, path) == {}
    torch.testing.assert_close(with_fc.fc.weight, source.fc.weight)


def test_load_torchvision_checkpoint_names_the_mismatch(tmp_path):
    path = tmp_path / "resnet34.pth"
    torch.save(ResNet(34).state_dict(), path)
    with pytest.raises(RuntimeError, match=r"resnet34\.pth.*ResNet-18.*unexpected keys \['layer1\.2"):
        load_torchvision_checkpoint(ResNet(18), path)
    with pytest.raises(RuntimeError, match="shape mismatches.*conv1.weight"):
        load_torchvision_checkpoint(ResNet(34, stem="cifar"), path)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_torchvision_checkpoint(ResNet(18), tmp_path / "missing.pth")


def test_pretrained_argument_loads_a_local_file_from_a_config(tmp_path):
    from visionstack.registry import MODELS, build

    torch.manual_seed(0)
    source = ResNet(18, num_classes=1000).eval()
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    backbone = build(dict(type="ResNet", depth=18, pretrained=str(path), frozen_stages=1), MODELS).eval()
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(backbone(x)[0], source(x)[0], rtol=0, atol=0)
    assert not backbone.conv1.weight.requires_grad


def _conv_output_shapes(block: nn.Module, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Output shapes of ``block``'s conv1/conv2/conv3 for input ``x`` (forward hooks)."""
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        getattr(block, name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape))
        )
        for name in ("conv1", "conv2", "conv3")
    ]
    block(x)
    for hook in hooks:
        hook.remove()
    return shapes


def test_pytorch_style_is_the_default_and_torchvision_identical(torchvision_keys):
    model = ResNet(50, num_classes=1000)
    assert model.style == "pytorch"
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == torchvision_keys["resnet50"]
    for stage in model.stages[1:]:  # torchvision: stride on the 3x3 conv of each stage's first block
        assert stage[0].conv1.stride == (1, 1) and stage[0].conv2.stride == (2, 2)
    torch.manual_seed(0)
    default = ResNet(50, out_indices=(0, 1, 2, 3)).eval()
    explicit = ResNet(50, out_indices=(0, 1, 2, 3), style="pytorch").eval()
    explicit.load_state_dict(default.state_dict())
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(default(x), explicit(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_caffe_style_strides_the_first_1x1_conv():
    model = ResNet(50, style="caffe", out_indices=(0, 1, 2, 3)).eval()
    for stage, stride in zip(model.stages, (1, 2, 2, 2)):
        first = stage[0]
        assert first.conv1.stride == (stride, stride) and first.conv2.stride == (1, 1)
        assert first.downsample[0].stride == (stride, stride)
        assert all(b.conv1.stride == (1, 1) and b.conv2.stride == (1, 1) for b in stage[1:])
    x = torch.randn(1, 256, 16, 16)  # input of layer2: the caffe block halves at conv1, pytorch at conv2
    assert _conv_output_shapes(model.layer2[0], x) == {
        "conv1": (1, 128, 8, 8),
        "conv2": (1, 128, 8, 8),
        "conv3": (1, 512, 8, 8),
    }
    assert _conv_output_shapes(ResNet(50).eval().layer2[0], x) == {
        "conv1": (1, 128, 16, 16),
        "conv2": (1, 128, 8, 8),
        "conv3": (1, 512, 8, 8),
    }
    outs = model(torch.randn(1, 3, 64, 96))  # same stage resolutions as the pytorch style
    assert [tuple(o.shape[2:]) for o in outs] == [(16, 24), (8, 12), (4, 6), (2, 3)]


def test_caffe_style_has_the_same_keys_but_computes_the_paper_block():
    torch.manual_seed(0)
    pytorch = ResNet(50, out_indices=(1,)).eval()
    caffe = ResNet(50, style="caffe", out_indices=(1,)).eval()
    caffe.load_state_dict(pytorch.state_dict())  # strict: same keys and shapes
    x = torch.randn(1, 3, 64, 64)
    assert not torch.allclose(caffe(x)[0], pytorch(x)[0], rtol=1e-2, atol=1e-3)
    # the strided caffe block written out: 1x1 stride 2 -> 3x3 stride 1 -> 1x1, plus projected shortcut
    block = caffe.layer2[0]
    x = torch.randn(1, 256, 16, 16)
    f = nn.functional
    out = torch.relu(block.bn1(f.conv2d(x, block.conv1.weight, stride=2)))
    out = torch.relu(block.bn2(f.conv2d(out, block.conv2.weight, padding=1)))
    out = block.bn3(f.conv2d(out, block.conv3.weight))
    shortcut = block.downsample[1](f.conv2d(x, block.downsample[0].weight, stride=2))
    torch.testing.assert_close(block(x), torch.relu(out + shortcut))


def test_basic_blocks_ignore_style_and_bad_style_is_refused():
    torch.manual_seed(0)
    pytorch = ResNet(18).eval()
    caffe = ResNet(18, style="caffe").eval()
    caffe.load_state_dict(pytorch.state_dict())
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(caffe(x)[0], pytorch(x)[0], rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"style must be 'pytorch'.*'caffe'.*got 'Caffe'"):
        ResNet(50, style="Caffe")
    with pytest.raises(ValueError, match="got 'tf'"):
        ResNet(18, style="tf")
