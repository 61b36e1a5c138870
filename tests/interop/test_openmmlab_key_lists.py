"""Every OpenMMLab key/shape list in tests/data/openmmlab_keys/ maps onto its visionstack model strictly.

The lists are written by ``tools/openmmlab_parity.py --write-keys`` from the OpenMMLab models themselves
(built from their packaged configs in the side venv), so CI checks the converters without OpenMMLab:
random tensors of the listed shapes go through ``convert_openmmlab_state_dict`` and must load with
``strict=True``, and a converted tensor must be one of the inputs (renamed) or built from them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import visionstack.tasks  # noqa: F401
from visionstack.config import Config
from visionstack.models.openmmlab_keys import OpenMMLabKeyError, convert_openmmlab_state_dict
from visionstack.registry import MODELS, build

ROOT = Path(__file__).resolve().parents[2]
KEY_LISTS = sorted((ROOT / "tests" / "data" / "openmmlab_keys").glob("*.json"))


def _fake_state_dict(keys: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    out = {}
    for key, shape in keys.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(7)
        else:
            out[key] = torch.randn(shape, generator=gen) if shape else torch.randn((), generator=gen)
    return out


def _build(record: dict) -> torch.nn.Module:
    cfg = Config.fromfile(ROOT / record["vs_config"], list(record["vs_overrides"]))
    return build(cfg["model"], MODELS)


@pytest.mark.parametrize("path", KEY_LISTS, ids=[p.stem for p in KEY_LISTS])
def test_openmmlab_key_list_maps_strictly(path: Path) -> None:
    record = json.loads(path.read_text())
    model = _build(record)
    fake = _fake_state_dict(record["keys"])
    sd, conversion = convert_openmmlab_state_dict(model, fake, source=path.name)
    model.load_state_dict(sd, strict=True)
    # nothing invented or lost silently: the values that arrive are the checkpoint's, less what was
    # dropped on purpose and plus what was filled on purpose (renames, reshapes, splits and merges
    # keep the sum of all values)
    dropped = {key for key, _ in conversion.dropped}
    filled = {key for key, _ in conversion.filled}
    assert dropped <= set(fake), f"dropped keys not in the checkpoint: {sorted(dropped - set(fake))[:5]}"
    assert not filled & set(fake), f"filled keys the checkpoint has: {sorted(filled & set(fake))[:5]}"

    def total(tensors):
        return sum(float(v.double().sum()) for v in tensors if v.dtype.is_floating_point)

    kept = total(v for k, v in fake.items() if k not in dropped)
    assert total(v for k, v in sd.items() if k not in filled) == pytest.approx(kept, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("path", KEY_LISTS[:3], ids=[p.stem for p in KEY_LISTS[:3]])
def test_openmmlab_key_list_missing_key_is_named(path: Path) -> None:
    record = json.loads(path.read_text())
    model = _build(record)
    fake = _fake_state_dict(record["keys"])
    weights = sorted(k for k in fake if k.endswith(".weight"))
    victim = weights[len(weights) // 3]
    fake[victim + "_extra"] = fake.pop(victim)
    with pytest.raises(OpenMMLabKeyError) as info:
        convert_openmmlab_state_dict(model, fake, source=path.name)
    assert victim + "_extra" in str(info.value)
    assert path.name in str(info.value)
