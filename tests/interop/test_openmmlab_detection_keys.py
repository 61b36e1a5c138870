"""MMDetection's one-stage detector key names map onto visionstack's modules (no OpenMMLab needed).

MMDetection wraps the FPN's and the dense heads' tower convs in ``ConvModule`` s (``.conv``, ``.gn``)
and keeps the FPN's extra levels in ``fpn_convs`` after the per-level outputs; RTMDet's CSPNeXt,
PAFPN and head already have MMDetection's names. The full models' key lists
(tests/data/openmmlab_keys/mmdet_{retinanet,fcos,rtmdet}*.json) are checked by
test_openmmlab_key_lists.py; these tests check the converters' behaviour on small modules: the
converted weights compute what the original module computes.
"""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path

import pytest
import torch
from torch import nn

import visionstack.tasks  # noqa: F401
from visionstack.config import Config
from visionstack.models.necks import FPN
from visionstack.models.openmmlab_keys import OpenMMLabKeyError, convert_openmmlab_state_dict
from visionstack.registry import MODELS, build
from visionstack.tasks.detection.models import FCOSHead, RetinaHead

ROOT = Path(__file__).resolve().parents[2]
KEY_DIR = ROOT / "tests" / "data" / "openmmlab_keys"


def _fpn(seed: int, norm: bool = False, num_outs: int = 5) -> FPN:
    torch.manual_seed(seed)
    return FPN(
        [4, 8, 16, 32],
        8,
        num_outs=num_outs,
        start_level=1,
        add_extra_convs="on_input",
        norm_layer=partial(nn.GroupNorm, 2) if norm else None,
    )


def _mmdet_fpn_names(sd: dict[str, torch.Tensor], num_used: int) -> dict[str, torch.Tensor]:
    """visionstack FPN keys as MMDetection writes them: ConvModules, the extra convs after fpn_convs."""
    out = {}
    for key, value in sd.items():
        name, index, rest = key.split(".", 2)
        if name == "extra_convs":
            name, index = "fpn_convs", str(int(index) + num_used)
        rest = {"weight": "conv.weight", "bias": "conv.bias"}.get(rest, rest)
        rest = re.sub(r"^0\.", "conv.", re.sub(r"^1\.", "gn.", rest))
        out[f"{name}.{index}.{rest}"] = value
    return out


def _randomise(module: nn.Module, seed: int) -> nn.Module:
    """Non-trivial values everywhere (norm affine parameters included), so a swapped key shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.2)
    return module


@pytest.mark.parametrize("norm", [False, True], ids=["plain", "groupnorm"])
def test_fpn_keys_convert_and_compute_the_same(norm: bool) -> None:
    source, target = _randomise(_fpn(0, norm), 1), _fpn(2, norm)
    checkpoint = _mmdet_fpn_names(source.state_dict(), num_used=3)
    assert "fpn_convs.4.conv.weight" in checkpoint and "extra_convs.0.weight" not in str(list(checkpoint))
    assert ("lateral_convs.0.gn.weight" in checkpoint) is norm
    sd, conversion = convert_openmmlab_state_dict(target, checkpoint, source="tiny fpn")
    target.load_state_dict(sd, strict=True)
    assert conversion.dropped == []
    gen = torch.Generator().manual_seed(3)
    feats = [torch.randn(1, c, 64 // 2**i, 64 // 2**i, generator=gen) for i, c in enumerate([4, 8, 16, 32])]
    with torch.no_grad():
        expected, got = source(feats), target(feats)
    assert len(got) == 5
    for a, b in zip(expected, got):
        torch.testing.assert_close(b, a, rtol=0, atol=0)


def test_fpn_with_fewer_levels_than_the_checkpoint_names_the_extra_keys() -> None:
    checkpoint = _mmdet_fpn_names(_fpn(0).state_dict(), num_used=3)
    with pytest.raises(OpenMMLabKeyError) as info:
        convert_openmmlab_state_dict(_fpn(0, num_outs=4), checkpoint, source="five-level fpn")
    message = str(info.value)
    assert "fpn_convs.4.conv.weight" in message and "five-level fpn" in message


def _mmdet_tower_names(sd: dict[str, torch.Tensor], per_conv: int) -> dict[str, torch.Tensor]:
    """conv_tower keys (``cls_convs.<layer>``) as MMDetection's ConvModule list (``cls_convs.<conv>.conv``)."""
    out = {}
    for key, value in sd.items():
        match = re.fullmatch(r"(cls_convs|reg_convs)\.(\d+)\.(.*)", key)
        if match is None:
            out[key] = value
            continue
        name, layer, rest = match.group(1), int(match.group(2)), match.group(3)
        part = "conv" if layer % per_conv == 0 else "gn"
        out[f"{name}.{layer // per_conv}.{part}.{rest}"] = value
    return out


@pytest.mark.parametrize(
    "make, per_conv",
    [
        (lambda: RetinaHead(num_classes=3, in_channels=8, stacked_convs=2, feat_channels=8), 2),
        (
            lambda: RetinaHead(
                num_classes=3,
                in_channels=8,
                stacked_convs=2,
                feat_channels=8,
                norm_layer=partial(nn.GroupNorm, 2),
            ),
            3,
        ),
        (
            lambda: FCOSHead(
                num_classes=3,
                in_channels=8,
                stacked_convs=3,
                feat_channels=8,
                norm_layer=partial(nn.GroupNorm, 2),
            ),
            3,
        ),
    ],
    ids=["retina", "retina-gn", "fcos-gn"],
)
def test_dense_head_towers_convert_and_compute_the_same(make, per_conv: int) -> None:
    torch.manual_seed(0)
    source = _randomise(make(), 1)
    target = make()
    checkpoint = _mmdet_tower_names(source.state_dict(), per_conv)
    assert "cls_convs.1.conv.weight" in checkpoint and "reg_convs.1.conv.weight" in checkpoint
    assert ("cls_convs.1.gn.bias" in checkpoint) is (per_conv == 3)
    sd, _ = convert_openmmlab_state_dict(target, {"state_dict": checkpoint}, source="tiny head")
    target.load_state_dict(sd, strict=True)
    gen = torch.Generator().manual_seed(2)
    feats = [torch.randn(2, 8, 16 // 2**i, 16 // 2**i, generator=gen) for i in range(5)]
    with torch.no_grad():
        for expected, got in zip(source(feats), target(feats)):
            for a, b in zip(expected, got):
                torch.testing.assert_close(b, a, rtol=0, atol=0)


def test_rtmdet_tiny_keeps_mmdetection_names() -> None:
    """CSPNeXt, CSPNeXt-PAFPN and RTMDetSepBNHead are named as MMDetection's: nothing is renamed."""
    record = json.loads((KEY_DIR / "mmdet_rtmdet_tiny_8xb32-300e_coco.json").read_text())
    cfg = Config.fromfile(ROOT / record["vs_config"], list(record["vs_overrides"]))
    model = build(cfg["model"], MODELS)
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == record["keys"]
    sd, conversion = convert_openmmlab_state_dict(model, model.state_dict(), source="rtmdet")
    assert list(sd) == list(model.state_dict()) and conversion.dropped == []


@pytest.mark.parametrize(
    "name, renamed",
    [
        ("mmdet_retinanet_r50_fpn_1x_coco", {"neck.fpn_convs.4.conv.weight": "neck.extra_convs.1.weight"}),
        (
            "mmdet_fcos_r50-caffe_fpn_gn-head_1x_coco",
            {
                "bbox_head.cls_convs.3.gn.weight": "bbox_head.cls_convs.10.weight",
                "bbox_head.scales.4.scale": None,
            },
        ),
    ],
)
def test_full_detector_key_lists_rename_as_expected(name: str, renamed: dict[str, str | None]) -> None:
    """Spot checks on the whole RetinaNet/FCOS key lists: a known key lands where it should."""
    record = json.loads((KEY_DIR / f"{name}.json").read_text())
    cfg = Config.fromfile(ROOT / record["vs_config"], list(record["vs_overrides"]))
    model = build(cfg["model"], MODELS)
    checkpoint = {k: torch.full(shape, float(i)) for i, (k, shape) in enumerate(record["keys"].items())}
    sd, _ = convert_openmmlab_state_dict(model, checkpoint, source=name)
    for om_key, vs_key in renamed.items():
        assert sd[vs_key or om_key] is checkpoint[om_key]
