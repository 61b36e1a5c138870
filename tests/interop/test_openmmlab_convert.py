"""The conversion machinery (visionstack.models.openmmlab_keys) and ``visionstack convert checkpoint``."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import torch
from torch import nn

from visionstack.cli import main
from visionstack.config import Config
from visionstack.models.openmmlab_keys import (
    Conversion,
    OpenMMLabKeyError,
    convert_children,
    convert_openmmlab_state_dict,
    register_openmmlab_converter,
    rename_keys,
)
from visionstack.registry import MODELS, build

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "configs" / "classification" / "resnet18_digits.py"


class _ToyBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(4, 12)
        self.proj = nn.Linear(4, 4)


class _ToyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([_ToyBlock(), _ToyBlock()])
        self.norm = nn.LayerNorm(4)
        self.register_buffer("scale", torch.ones(1))


@register_openmmlab_converter("_ToyBlock")
def _toy_block(sd: dict, module: nn.Module, conversion: Conversion) -> dict:
    # the "OpenMMLab" block keeps q, k and v apart and calls the projection "out"
    for part in ("weight", "bias"):
        sd[f"qkv.{part}"] = torch.cat([sd.pop(f"{n}.{part}") for n in ("q", "k", "v")])
    conversion.drop(sd, r"attn_mask", "recomputed from the input size")
    return rename_keys(sd, [(r"out\.(.*)", r"proj.\1")])


@register_openmmlab_converter("_ToyNet")
def _toy_net(sd: dict, module: nn.Module, conversion: Conversion) -> dict:
    return convert_children(sd, module, conversion, prefixes={"blocks": "layers", "norm": "ln"})


def _openmmlab_names(net: _ToyNet) -> dict[str, torch.Tensor]:
    out = {"scale": net.scale.clone(), "ln.weight": net.norm.weight.clone(), "ln.bias": net.norm.bias.clone()}
    for i, block in enumerate(net.blocks):
        for part in ("weight", "bias"):
            for name, chunk in zip("qkv", getattr(block.qkv, part).detach().chunk(3)):
                out[f"layers.{i}.{name}.{part}"] = chunk.clone()
            out[f"layers.{i}.out.{part}"] = getattr(block.proj, part).detach().clone()
        out[f"layers.{i}.attn_mask"] = torch.zeros(3, 3)
    return out


def test_converters_compose_rename_merge_and_drop() -> None:
    torch.manual_seed(0)
    source, target = _ToyNet(), _ToyNet()
    sd, conversion = convert_openmmlab_state_dict(target, {"state_dict": _openmmlab_names(source)})
    target.load_state_dict(sd, strict=True)
    x = torch.randn(2, 4)
    for a, b in zip(source.blocks, target.blocks):
        assert torch.equal(a.qkv(x), b.qkv(x)) and torch.equal(a.proj(x), b.proj(x))
    assert sorted(conversion.dropped) == [
        ("layers.0.attn_mask", "recomputed from the input size"),
        ("layers.1.attn_mask", "recomputed from the input size"),
    ]


def test_error_lists_every_leftover_missing_and_mismatched_key_by_openmmlab_name() -> None:
    net = _ToyNet()
    sd = _openmmlab_names(net)
    sd["layers.0.extra.weight"] = torch.zeros(2)
    del sd["ln.bias"]
    sd["layers.1.out.weight"] = torch.zeros(5, 4)
    sd["module.head.fc.weight"] = torch.zeros(3)  # DataParallel's prefix is stripped first
    with pytest.raises(OpenMMLabKeyError) as info:
        convert_openmmlab_state_dict(net, sd, source="toy.pth")
    text = str(info.value)
    assert "toy.pth" in text and "_ToyNet" in text
    assert "layers.0.extra.weight (as blocks.0.extra.weight)" in text
    assert "head.fc.weight" in text and "module." not in text
    assert "1 model keys got no value:\n    norm.bias" in text
    assert "blocks.1.proj.weight: checkpoint (5, 4) vs model (4, 4)" in text


def test_registering_twice_for_one_class_is_refused() -> None:
    with pytest.raises(KeyError, match="_ToyNet"):
        register_openmmlab_converter("_ToyNet")(lambda sd, module, conversion: sd)


def _mmengine_checkpoint(model: nn.Module, extra_meta: dict | None = None) -> dict:
    meta = {
        "epoch": 12,
        "iter": 3456,
        "mmengine_version": "0.10.7",
        "dataset_meta": {"classes": list("0123456789")},
    }
    meta.update(extra_meta or {})
    return {"meta": meta, "state_dict": collections.OrderedDict(model.state_dict()), "message_hub": {}}


def test_cli_converts_an_mmengine_checkpoint_and_refuses_a_wrong_one(tmp_path: Path, capsys) -> None:
    torch.manual_seed(3)
    model = build(Config.fromfile(DIGITS)["model"], MODELS)
    source = tmp_path / "epoch_12.pth"
    torch.save(_mmengine_checkpoint(model), source)
    out = tmp_path / "converted.pth"
    assert main(["convert", "checkpoint", "--from", "openmmlab", str(DIGITS), str(source), str(out)]) == 0
    saved = torch.load(out, weights_only=True)
    assert saved["meta"]["converted_from"]["iter"] == 3456
    assert saved["meta"]["dataset_meta"]["classes"] == list("0123456789")
    for key, value in model.state_dict().items():
        assert torch.equal(saved["state_dict"][key], value), key
    assert "wrote" in capsys.readouterr().out

    # a checkpoint of another depth: the error lists what did not map, and nothing is written
    bad = tmp_path / "r34.pth"
    other = build(Config.fromfile(DIGITS, ["model.backbone.depth=34"])["model"], MODELS)
    torch.save(_mmengine_checkpoint(other), bad)
    assert main(["convert", "checkpoint", str(DIGITS), str(bad), str(tmp_path / "no.pth")]) == 1
    err = capsys.readouterr().err
    assert "backbone.layer1.2.conv1.weight" in err and "did not map" in err
    assert not (tmp_path / "no.pth").exists()


class _Opaque:
    """A Python object in a checkpoint's meta, as MMEngine's message hub and configs put there."""


def test_cli_asks_before_unpickling_python_objects(tmp_path: Path, capsys) -> None:
    model = build(Config.fromfile(DIGITS)["model"], MODELS)
    source = tmp_path / "with_objects.pth"
    torch.save(_mmengine_checkpoint(model, {"cfg": _Opaque()}), source)
    out = tmp_path / "converted.pth"
    assert main(["convert", "checkpoint", str(DIGITS), str(source), str(out)]) == 1
    assert "--unsafe-pickle" in capsys.readouterr().err
    assert main(["convert", "checkpoint", str(DIGITS), str(source), str(out), "--unsafe-pickle"]) == 0
    assert out.exists()
