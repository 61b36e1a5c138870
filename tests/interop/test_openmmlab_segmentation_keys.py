"""MMSegmentation checkpoints map onto visionstack's segmentors by name, and a mismatch is named.

The key/shape lists under tests/data/openmmlab_keys/mmseg_*.json were written from MMSegmentation 1.2.2's
own models (tools/openmmlab_parity.py). visionstack's segmentors (dilated ResNetV1c, UNet, MiT; FCN, PSP,
separable-ASPP, SegFormer and auxiliary heads) use MMSegmentation's module names, so no segmentation
converter is registered: every checkpoint key must arrive under its own name, with its own tensor. A
renamed visionstack module would break real checkpoints; these tests say which key moved.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import visionstack.tasks  # noqa: F401  (registers the models)
from visionstack.config import Config
from visionstack.interop.openmmlab_checkpoint import convert_checkpoint_file
from visionstack.models.openmmlab_keys import OpenMMLabKeyError, convert_openmmlab_state_dict
from visionstack.registry import MODELS, build

ROOT = Path(__file__).resolve().parents[2]
KEYS = ROOT / "tests" / "data" / "openmmlab_keys"
# the smaller models (R-50 ones are checked by test_openmmlab_key_lists.py)
IDENTITY = [
    "mmseg_fcn_r18_d8_cityscapes",
    "mmseg_segformer_mit_b0_ade20k",
    "mmseg_unet_s5_d16_fcn_cityscapes",
]


def _record(name: str) -> dict:
    return json.loads((KEYS / f"{name}.json").read_text())


def _fake(keys: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {
        key: torch.tensor(3) if key.endswith("num_batches_tracked") else torch.randn(shape, generator=gen)
        for key, shape in keys.items()
    }


def _model(config: str, overrides: list[str]) -> torch.nn.Module:
    return build(Config.fromfile(ROOT / config, overrides)["model"], MODELS)


def test_every_segmentation_key_list_is_present() -> None:
    names = sorted(p.stem for p in KEYS.glob("mmseg_*.json"))
    assert names == sorted(
        IDENTITY
        + [
            "mmseg_fcn_r50_d8_cityscapes",
            "mmseg_pspnet_r50_d8_cityscapes",
            "mmseg_deeplabv3plus_r50_d8_cityscapes",
        ]
    )
    for name in names:
        record = _record(name)
        assert record["om_package"] == "mmseg"
        assert (ROOT / record["vs_config"]).is_file(), record["vs_config"]


@pytest.mark.parametrize("name", IDENTITY)
def test_mmseg_names_are_visionstack_names(name: str) -> None:
    record = _record(name)
    model = _model(record["vs_config"], record["vs_overrides"])
    fake = _fake(record["keys"])
    sd, conversion = convert_openmmlab_state_dict(model, fake, source=name)
    assert conversion.dropped == []
    assert list(sd) == list(model.state_dict())
    moved = [key for key in fake if key not in sd or not torch.equal(sd[key], fake[key])]
    assert not moved, f"keys not carried under their own name: {moved[:5]}"


def test_converted_mmengine_checkpoint_loads_strictly_with_its_classes(tmp_path: Path) -> None:
    """An MMEngine checkpoint (state_dict + meta, DDP ``module.`` prefixes) through the CLI's converter."""
    record = _record("mmseg_fcn_r18_d8_cityscapes")
    fake = _fake(record["keys"])
    classes = [f"class{i}" for i in range(19)]
    source = tmp_path / "iter_100.pth"
    torch.save(
        {
            "meta": {"iter": 100, "mmengine_version": "0.10.7", "dataset_meta": {"classes": classes}},
            "state_dict": {f"module.{key}": value for key, value in fake.items()},
        },
        source,
    )
    target = tmp_path / "converted.pth"
    summary = convert_checkpoint_file(
        ROOT / record["vs_config"], source, target, overrides=record["vs_overrides"]
    )
    assert summary["tensors"] == len(fake) and summary["dropped"] == []
    saved = torch.load(target, weights_only=True)
    assert saved["meta"]["dataset_meta"]["classes"] == classes
    assert saved["meta"]["converted_from"]["iter"] == 100
    model = _model(record["vs_config"], record["vs_overrides"])
    model.load_state_dict(saved["state_dict"], strict=True)
    assert torch.equal(model.decode_head.conv_seg.weight, fake["decode_head.conv_seg.weight"])
    assert torch.equal(model.backbone.stem[0].weight, fake["backbone.stem.0.weight"])


def test_checkpoint_of_another_architecture_is_refused_by_name() -> None:
    """The R-50 FCN checkpoint onto the R-18 config: the keys and shapes that do not fit are listed."""
    record = _record("mmseg_fcn_r50_d8_cityscapes")
    model = _model("configs/segmentation/fcn_r18-d8_synth.py", [])
    with pytest.raises(OpenMMLabKeyError) as info:
        convert_openmmlab_state_dict(model, _fake(record["keys"]), source="fcn_r50.pth")
    message = str(info.value)
    assert "fcn_r50.pth" in message
    assert "backbone.layer1.0.conv3.weight" in message  # a bottleneck conv R-18's basic blocks lack
    assert "decode_head.conv_seg.weight: checkpoint (19, 512, 1, 1) vs model (8, 128, 1, 1)" in message
