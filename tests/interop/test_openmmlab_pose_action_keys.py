"""MMPose / MMAction2 checkpoints map onto visionstack's pose and action models (no OpenMMLab needed).

Each test builds a small visionstack model, writes its weights under OpenMMLab's names with an inverse mapping
written here from MMPose's and MMAction2's module trees (independently of the converters), converts them back
with ``convert_openmmlab_state_dict`` and checks that every tensor returns to its place. The key lists recorded
from the real OpenMMLab models (tests/data/openmmlab_keys/mmpose_*.json, mmaction_*.json) are checked too, with
the keys a converter fills (values an OpenMMLab checkpoint cannot hold) left out of the value balance.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import visionstack.tasks  # noqa: F401  (registers the models and the converters)
from visionstack.config import Config
from visionstack.models.openmmlab_keys import OpenMMLabKeyError, convert_openmmlab_state_dict
from visionstack.registry import MODELS, build
from visionstack.tasks.action.openmmlab_keys import mmaction_resnet_keys

ROOT = Path(__file__).resolve().parents[2]
KEY_LISTS = sorted(
    path
    for pattern in ("mmpose_*.json", "mmaction_*.json")
    for path in (ROOT / "tests" / "data" / "openmmlab_keys").glob(pattern)
)


def _model(config: str, *overrides: str) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = Config.fromfile(ROOT / config, list(overrides))
    return build(cfg["model"], MODELS).eval()


def _randomised(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict with every float tensor random (so a misplaced tensor shows)."""
    gen = torch.Generator().manual_seed(1)
    return {
        key: torch.randn(value.shape, generator=gen) if value.is_floating_point() else value.clone()
        for key, value in model.state_dict().items()
    }


def _assert_round_trip(model: torch.nn.Module, original: dict, openmmlab: dict) -> tuple[dict, object]:
    sd, conversion = convert_openmmlab_state_dict(model, openmmlab, source="test")
    assert sd.keys() == original.keys()
    for key, value in original.items():
        assert torch.equal(sd[key], value), key
    model.load_state_dict(sd, strict=True)
    return sd, conversion


def _rename(sd: dict, rules: list[tuple[str, str]]) -> dict:
    out = {}
    for key, value in sd.items():
        for pattern, repl in rules:
            if re.fullmatch(pattern, key):
                key = re.sub(pattern, repl, key)
                break
        out[key] = value
    return out


# ---- MMAction2 --------------------------------------------------------------------------------------------------
def _to_mmaction_resnet(sd: dict, prefix: str = "backbone.", shift: str | None = None) -> dict:
    """torchvision ResNet names -> MMAction2's conv-norm modules (TSM: ``.net`` around what it shifts)."""
    p = re.escape(prefix)
    conv1 = r"\1.conv1.conv.net.\2" if shift == "blockres" else r"\1.conv1.conv.\2"
    rules = [
        (p + r"conv1\.(weight)", prefix + r"conv1.conv.\1"),
        (p + r"bn1\.(.*)", prefix + r"conv1.bn.\1"),
        (p + r"(layer\d\.\d+)\.conv1\.(.*)", prefix + conv1),
        (p + r"(layer\d\.\d+)\.conv([23])\.(.*)", prefix + r"\1.conv\2.conv.\3"),
        (p + r"(layer\d\.\d+)\.bn([123])\.(.*)", prefix + r"\1.conv\2.bn.\3"),
        (p + r"(layer\d\.\d+)\.downsample\.0\.(.*)", prefix + r"\1.downsample.conv.\2"),
        (p + r"(layer\d\.\d+)\.downsample\.1\.(.*)", prefix + r"\1.downsample.bn.\2"),
    ]
    return _rename(sd, rules)


@pytest.mark.parametrize(
    ("config", "shift"),
    [
        ("configs/action/tsn_r18-w16_1x1x8_synth-action.py", None),
        ("configs/action/tsm_r18-w16_1x1x8_synth-action.py", "blockres"),
    ],
    ids=["tsn", "tsm"],
)
def test_mmaction_resnet_recognizer_round_trip(config: str, shift: str | None) -> None:
    model = _model(config)
    original = _randomised(model)
    openmmlab = _to_mmaction_resnet(original, shift=shift)
    assert "backbone.layer1.0.conv2.bn.weight" in openmmlab
    assert ("backbone.layer1.0.conv1.conv.net.weight" in openmmlab) == (shift == "blockres")
    _assert_round_trip(model, original, openmmlab)


def test_mmaction_resnet_keys_tsm_variants() -> None:
    value = torch.zeros(1)
    sd = {
        "layer2.net.0.conv1.conv.net.weight": value,  # temporal pool around layer2, blockres shift
        "layer3.1.net.conv2.bn.running_mean": value,  # shift_place="block"
        "layer4.0.downsample.bn.bias": value,
        "bn1.weight": value,  # torchvision names pass unchanged
    }
    assert sorted(mmaction_resnet_keys(sd)) == [
        "bn1.weight",
        "layer2.0.conv1.weight",
        "layer3.1.block.bn2.running_mean",
        "layer4.0.downsample.1.bias",
    ]


def test_mmaction_r2plus1d_round_trip() -> None:
    model = _model("configs/action/r2plus1d_r18-w16_8x4x1_synth-action.py")
    original = _randomised(model)
    openmmlab = _rename(
        original,
        [
            (r"backbone\.conv1\.0\.(.*)", r"backbone.conv1.conv.\1"),
            (r"backbone\.conv1\.1\.(.*)", r"backbone.conv1.bn.\1"),
            (r"backbone\.(layer\d\.\d+)\.conv([12])\.(.*)", r"backbone.\1.conv\2.conv.\3"),
            (r"backbone\.(layer\d\.\d+)\.bn([12])\.(.*)", r"backbone.\1.conv\2.bn.\3"),
            (r"backbone\.(layer\d\.\d+)\.downsample\.0\.(.*)", r"backbone.\1.downsample.conv.\2"),
            (r"backbone\.(layer\d\.\d+)\.downsample\.1\.(.*)", r"backbone.\1.downsample.bn.\2"),
        ],
    )
    assert "backbone.layer2.0.downsample.conv.conv_s.weight" in openmmlab
    _assert_round_trip(model, original, openmmlab)


def _to_mmaction_stgcn(sd: dict, blocks: int, with_importance: bool = True) -> dict:
    out = _rename(
        sd,
        [
            (r"backbone\.blocks\.(\d+)\.edge_importance", r"backbone.gcn.\1.gcn.PA"),
            (r"backbone\.blocks\.(\d+)\.gcn\.conv\.(.*)", r"backbone.gcn.\1.gcn.conv.\2"),
            (r"backbone\.blocks\.(\d+)\.gcn_norm\.(.*)", r"backbone.gcn.\1.gcn.bn.\2"),
            (r"backbone\.blocks\.(\d+)\.tcn\.(weight|bias)", r"backbone.gcn.\1.tcn.conv.\2"),
            (r"backbone\.blocks\.(\d+)\.tcn_norm\.(.*)", r"backbone.gcn.\1.tcn.bn.\2"),
            (r"backbone\.blocks\.(\d+)\.residual\.0\.(.*)", r"backbone.gcn.\1.residual.conv.\2"),
            (r"backbone\.blocks\.(\d+)\.residual\.1\.(.*)", r"backbone.gcn.\1.residual.bn.\2"),
            (r"cls_head\.fc_cls\.(.*)", r"cls_head.fc.\1"),
        ],
    )
    adjacency = out.pop("backbone.A")
    for index in range(blocks):  # every MMAction2 block holds its own copy of the graph
        out[f"backbone.gcn.{index}.gcn.A"] = adjacency.clone()
    if not with_importance:
        out = {key: value for key, value in out.items() if not key.endswith(".PA")}
    return out


def test_mmaction_stgcn_round_trip_keeps_one_adjacency() -> None:
    model = _model("configs/action/stgcn_w32_synth-skeleton.py")
    original = _randomised(model)
    blocks = len(model.backbone.blocks)
    _, conversion = _assert_round_trip(model, original, _to_mmaction_stgcn(original, blocks))
    assert sorted(key for key, _ in conversion.dropped) == sorted(
        f"backbone.gcn.{index}.gcn.A" for index in range(1, blocks)
    )


def test_mmaction_stgcn_learned_adjacencies_are_refused() -> None:
    model = _model("configs/action/stgcn_w32_synth-skeleton.py", "model.backbone.edge_importance=False")
    openmmlab = _to_mmaction_stgcn(_randomised(model), len(model.backbone.blocks), with_importance=False)
    openmmlab["backbone.gcn.2.gcn.A"] = (
        openmmlab["backbone.gcn.2.gcn.A"] + 1.0
    )  # gcn_adaptive="init": one per block
    with pytest.raises(KeyError, match="different adjacencies"):
        convert_openmmlab_state_dict(model, openmmlab, source="test")


# ---- MMPose -----------------------------------------------------------------------------------------------------
def test_mmpose_topdown_fills_the_score_calibration() -> None:
    model = _model("configs/pose/simplebaseline_r18_synth-128x96.py")
    original = _randomised(model)
    original["score_calibration"] = torch.tensor([1.0, 0.0])
    original["score_calibrated"] = torch.tensor(False)
    openmmlab = {key: value for key, value in original.items() if not key.startswith("score_calibrat")}
    _, conversion = _assert_round_trip(model, original, openmmlab)
    assert sorted(key for key, _ in conversion.filled) == ["score_calibrated", "score_calibration"]
    assert not model.score_calibrated


def test_mmpose_videopose3d_round_trip() -> None:
    model = _model("configs/pose3d/videopose3d_27f_synth.py")
    original = _randomised(model)
    openmmlab = _rename(
        original,
        [
            (r"backbone\.expand_conv\.(.*)", r"backbone.expand_conv.conv.\1"),
            (r"backbone\.expand_bn\.(.*)", r"backbone.expand_conv.bn.\1"),
            (r"backbone\.shrink\.(.*)", r"head.conv.\1"),
        ],
    )
    for key in [k for k in openmmlab if k.startswith("backbone.layers_")]:
        kind, layer, rest = re.fullmatch(r"backbone\.layers_(conv|bn)\.(\d+)\.(.*)", key).groups()
        block, second = divmod(int(layer), 2)
        openmmlab[f"backbone.tcn_blocks.{block}.conv{second + 1}.0.{kind}.{rest}"] = openmmlab.pop(key)
    assert "backbone.tcn_blocks.1.conv2.0.bn.running_var" in openmmlab and "head.conv.bias" in openmmlab
    _assert_round_trip(model, original, openmmlab)


def test_mmpose_simple_baseline_3d_convs_become_linears_with_zero_bias() -> None:
    model = _model("configs/pose3d/simplebaseline_synth.py")
    original = _randomised(model)
    for key in original:  # MMPose's convs before a norm have no bias: the same network has zero biases
        if re.fullmatch(r"backbone\.(w1|blocks\.\d+\.l[12])\.bias", key):
            original[key] = torch.zeros_like(original[key])
    openmmlab = {}
    for key, value in original.items():
        match = re.fullmatch(r"backbone\.(w1|w2|bn1|blocks\.(\d+)\.(l|bn)([12]))\.(.*)", key)
        name, block, kind, index, rest = match.groups()
        if name in ("w1", "bn1"):
            new = f"backbone.expand_conv.{'conv' if name == 'w1' else 'bn'}.{rest}"
        elif name == "w2":
            new = f"head.conv.{rest}"
        else:
            new = f"backbone.tcn_blocks.{block}.conv{index}.0.{'conv' if kind == 'l' else 'bn'}.{rest}"
        if rest == "weight" and (name in ("w1", "w2") or kind == "l"):
            value = value[..., None]  # Conv1d kernels of one frame
        if rest == "bias" and name != "w2" and kind != "bn" and name != "bn1":
            continue
        openmmlab[new] = value
    assert openmmlab["backbone.expand_conv.conv.weight"].ndim == 3
    _, conversion = _assert_round_trip(model, original, openmmlab)
    assert {key for key, _ in conversion.filled} == {
        "backbone.w1.bias",
        "backbone.blocks.0.l1.bias",
        "backbone.blocks.0.l2.bias",
        "backbone.blocks.1.l1.bias",
        "backbone.blocks.1.l2.bias",
    }


def test_visionstack_named_lifter_passes_unchanged() -> None:
    model = _model("configs/pose3d/videopose3d_27f_synth.py")
    original = _randomised(model)
    _assert_round_trip(model, original, dict(original))


# ---- the recorded OpenMMLab key lists ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", KEY_LISTS, ids=[p.stem for p in KEY_LISTS])
def test_recorded_key_list_maps_strictly(path: Path) -> None:
    record = json.loads(path.read_text())
    model = build(Config.fromfile(ROOT / record["vs_config"], list(record["vs_overrides"]))["model"], MODELS)
    gen = torch.Generator().manual_seed(0)
    fake = {
        key: torch.tensor(7) if key.endswith("num_batches_tracked") else torch.randn(shape, generator=gen)
        for key, shape in record["keys"].items()
    }
    sd, conversion = convert_openmmlab_state_dict(model, fake, source=path.name)
    model.load_state_dict(sd, strict=True)
    dropped = {key for key, _ in conversion.dropped}
    filled = {key for key, _ in getattr(conversion, "filled", [])}
    kept = sum(float(v.double().sum()) for k, v in fake.items() if k not in dropped and v.is_floating_point())
    arrived = sum(float(v.double().sum()) for k, v in sd.items() if k not in filled and v.is_floating_point())
    assert arrived == pytest.approx(kept, rel=1e-9, abs=1e-6)


def test_unknown_key_is_named() -> None:
    model = _model("configs/pose3d/videopose3d_27f_synth.py")
    openmmlab = {"head.conv.weight": torch.zeros(1), "backbone.expand_conv.conv.weight": torch.zeros(1)}
    openmmlab["backbone.tcn_blocks.0.short_cut.weight"] = torch.zeros(1)
    with pytest.raises(KeyError, match="short_cut"):
        convert_openmmlab_state_dict(model, openmmlab, source="test")
    openmmlab.pop("backbone.tcn_blocks.0.short_cut.weight")
    with pytest.raises(OpenMMLabKeyError, match="did not map|got no value"):
        convert_openmmlab_state_dict(model, openmmlab, source="test")
