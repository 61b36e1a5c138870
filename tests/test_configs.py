"""Every shipped config loads, passes the Runner's validation and builds its model."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionstack.config import Config
from visionstack.engine import validate_runner_config
from visionstack.registry import MODELS, build

CONFIGS = sorted(
    p for p in (Path(__file__).parent.parent / "configs").rglob("*.py") if "_base_" not in p.parts
)


def test_configs_are_found():
    assert len(CONFIGS) >= 15


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_validates_and_builds(path, tmp_path):
    cfg = Config.fromfile(path)
    cfg["work_dir"] = str(tmp_path)
    assert validate_runner_config(cfg) is None
    if cfg.model.get("reid_checkpoint"):  # a trained re-identification net, not shipped
        cfg.model.reid_checkpoint = None
    model = build(cfg.model, MODELS)
    if type(getattr(model, "detector", None)).__name__ == "PublicDetector":  # a tracker on public detections
        assert not any(True for _ in model.detector.parameters())
        model = model.reid or model.detector
        if not any(True for _ in model.parameters()):
            return
    assert sum(p.numel() for p in model.parameters()) > 1e4  # the smallest, SRCNN's published net, has 20k
