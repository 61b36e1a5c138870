"""MMDetection3D checkpoints load into visionstack's PointPillars and CenterPoint unchanged.

visionstack's 3D detectors use MMDetection3D's module names (``voxel_encoder.pfn_layers.0.linear``,
``backbone.blocks.0.0``, ``pts_bbox_head.task_heads.0.heatmap.1`` ...), so the conversion is the identity:
the key lists written by ``tools/openmmlab_parity.py`` from MMDetection3D's own models (PointPillars KITTI
3-class; the nuScenes CenterPoint pillar model given the KITTI variant's settings) must map every tensor
onto the same name, untouched. What cannot map (a nuScenes velocity branch) is named in the error, and
``convert_checkpoint_file`` round-trips an MMEngine checkpoint into a model that computes the same.
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
KEY_LISTS = sorted((ROOT / "tests" / "data" / "openmmlab_keys").glob("mmdet3d_*.json"))
TINY_CONFIGS = {
    "VoxelNet": ROOT / "configs" / "det3d" / "pointpillars_hv_secfpn_c32_synth-kitti-3class.py",
    "CenterPoint": ROOT / "configs" / "det3d" / "centerpoint_pillar02_secfpn_c32_synth-kitti-3class.py",
}


def _record(name: str) -> dict:
    path = next(p for p in KEY_LISTS if name in p.stem)
    return json.loads(path.read_text())


def _model_of(record: dict) -> torch.nn.Module:
    cfg = Config.fromfile(ROOT / record["vs_config"], list(record["vs_overrides"]))
    return build(cfg["model"], MODELS)


def _fake(keys: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {
        key: torch.tensor(5) if key.endswith("num_batches_tracked") else torch.randn(shape, generator=gen)
        for key, shape in keys.items()
    }


def test_both_mmdet3d_key_lists_are_present() -> None:
    assert {p.stem.split("_")[1] for p in KEY_LISTS} == {"pointpillars", "centerpoint"}


@pytest.mark.parametrize("path", KEY_LISTS, ids=[p.stem for p in KEY_LISTS])
def test_mmdet3d_names_map_onto_the_same_names_untouched(path: Path) -> None:
    record = json.loads(path.read_text())
    model = _model_of(record)
    fake = _fake(record["keys"])
    sd, conversion = convert_openmmlab_state_dict(model, fake, source=path.name)
    assert conversion.dropped == []
    assert list(sd) == list(model.state_dict())
    assert set(sd) == set(fake)
    assert all(sd[key] is fake[key] for key in sd)  # no renaming, reshaping or copying


def test_pointpillars_list_was_made_with_the_legacy_pillar_encoder() -> None:
    # MMDetection3D's PointPillars config keeps PillarFeatureNet(legacy=True); the parity (and a converted
    # checkpoint) needs the same encoder, visionstack's config default is the corrected legacy=False
    record = _record("pointpillars")
    assert "model.voxel_encoder.legacy=True" in record["vs_overrides"]
    assert _model_of(record).voxel_encoder.legacy is True


def test_centerpoint_velocity_branch_is_named_in_the_error() -> None:
    record = _record("centerpoint")
    model = _model_of(record)
    fake = _fake(record["keys"])
    for task in range(2):  # a nuScenes checkpoint's velocity branch (visionstack's CenterHead has none)
        head = f"pts_bbox_head.task_heads.{task}.vel"
        fake[f"{head}.0.conv.weight"] = torch.zeros(64, 64, 3, 3)
        fake[f"{head}.1.weight"] = torch.zeros(2, 64, 3, 3)
        fake[f"{head}.1.bias"] = torch.zeros(2)
    with pytest.raises(OpenMMLabKeyError) as info:
        convert_openmmlab_state_dict(model, fake, source="centerpoint_nus.pth")
    message = str(info.value)
    assert "6 checkpoint keys did not map" in message
    assert "pts_bbox_head.task_heads.1.vel.1.bias" in message
    assert "centerpoint_nus.pth" in message


def _cloud(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    xyz = torch.rand(1500, 3, generator=gen) * torch.tensor([40.0, 40.0, 3.5]) + torch.tensor(
        [0.0, -20.0, -3.0]
    )
    return torch.cat([xyz, torch.rand(1500, 1, generator=gen)], dim=1)


def _head_outputs(model: torch.nn.Module) -> list[torch.Tensor]:
    data = model.data_preprocessor({"inputs": {"points": [_cloud(0)]}, "data_samples": []}, False)
    with torch.no_grad():
        outs = model.forward_tensor(data["inputs"])
    flat: list[torch.Tensor] = []

    def walk(value) -> None:
        if isinstance(value, torch.Tensor):
            flat.append(value)
        elif isinstance(value, dict):
            for key in sorted(value):
                walk(value[key])
        else:
            for item in value:
                walk(item)

    walk(outs)
    return flat


@pytest.mark.parametrize("kind", sorted(TINY_CONFIGS))
def test_convert_checkpoint_file_gives_the_same_outputs(kind: str, tmp_path: Path) -> None:
    cfg = Config.fromfile(TINY_CONFIGS[kind])
    torch.manual_seed(0)
    source_model = build(cfg["model"], MODELS).eval()
    with torch.no_grad():  # no constant tensors left (unit norms, zero biases, BN statistics)
        for name, tensor in list(source_model.named_parameters()) + list(source_model.named_buffers()):
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
            elif tensor.is_floating_point():
                tensor.add_(0.1 * torch.randn_like(tensor))
    source = tmp_path / "mmdet3d.pth"
    meta = {"epoch": 12, "dataset_meta": {"classes": ["Pedestrian", "Cyclist", "Car"]}}
    torch.save({"state_dict": source_model.state_dict(), "meta": meta}, source)
    target = tmp_path / "converted.pth"
    convert_checkpoint_file(TINY_CONFIGS[kind], source, target)

    saved = torch.load(target, weights_only=True)
    assert saved["meta"]["converted_from"]["epoch"] == 12
    assert saved["meta"]["dataset_meta"]["classes"] == ["Pedestrian", "Cyclist", "Car"]
    torch.manual_seed(1)
    model = build(cfg["model"], MODELS).eval()
    model.load_state_dict(saved["state_dict"], strict=True)
    expected, got = _head_outputs(source_model), _head_outputs(model)
    assert len(got) == len(expected) > 0
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
