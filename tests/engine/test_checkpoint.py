"""Checkpoint files: atomic writes survive crashes, weights-only loading, weight loading."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from visionstack.engine import checkpoint as checkpoint_module
from visionstack.engine import (
    find_latest_checkpoint,
    link_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    weights_only_safe,
)


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_save_writes_a_weights_only_loadable_file_and_no_temporaries(tmp_path):
    model = _model()
    path = save_checkpoint({"meta": {"epoch": 1}, "state_dict": model.state_dict()}, tmp_path / "epoch_1.pth")
    loaded = torch.load(path, weights_only=True)
    assert loaded["meta"] == {"epoch": 1}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded["state_dict"][key], value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_1.pth"]


def test_a_write_failing_midway_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "latest.pth"
    save_checkpoint({"state_dict": {"w": torch.ones(1000)}}, path)
    original_bytes = path.read_bytes()
    real_save = torch.save

    def broken_save(obj, stream):  # writes part of the file, then the "disk" fails
        real_save({"w": torch.zeros(1000)}, stream)
        stream.truncate(100)
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", broken_save)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint({"state_dict": {"w": torch.zeros(1000)}}, path)
    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    assert path.read_bytes() == original_bytes
    assert torch.equal(read_checkpoint(path)["state_dict"]["w"], torch.ones(1000))
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pth"]


def test_a_process_killed_during_the_write_leaves_the_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "latest.pth"
    save_checkpoint({"state_dict": {"w": torch.ones(10_000)}}, path)
    script = textwrap.dedent(
        f"""
        import io, sys, time, torch
        from visionstack.engine import checkpoint
        real_save = torch.save
        def slow_save(obj, stream):
            buffer = io.BytesIO()
            real_save(obj, buffer)
            data = buffer.getvalue()
            stream.write(data[: len(data) // 2])
            stream.flush()
            print("half written", flush=True)
            time.sleep(120)
        checkpoint.torch.save = slow_save
        checkpoint.save_checkpoint({{"state_dict": {{"w": torch.zeros(10_000)}}}}, {str(path)!r})
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "half written"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert torch.equal(read_checkpoint(path)["state_dict"]["w"], torch.ones(10_000))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "latest.pth"]
    assert all(name.startswith(".latest.pth.") and name.endswith(".tmp") for name in leftovers)


def test_link_checkpoint_shares_bytes_and_survives_removal_of_the_source(tmp_path):
    source = save_checkpoint({"state_dict": {"w": torch.arange(5.0)}}, tmp_path / "epoch_3.pth")
    latest = link_checkpoint(source, tmp_path / "latest.pth")
    link_checkpoint(source, latest)  # re-pointing an existing link works too
    assert os.path.samefile(source, latest)
    source.unlink()
    assert torch.equal(read_checkpoint(latest)["state_dict"]["w"], torch.arange(5.0))
    assert find_latest_checkpoint(tmp_path) == latest
    assert find_latest_checkpoint(tmp_path / "elsewhere") is None


def test_weights_only_safe_converts_foreign_types():
    value = {"a": np.arange(3), "b": np.float32(1.5), "c": (1, "x"), "d": {3, 4}, "e": object}
    safe = weights_only_safe(value)
    assert torch.equal(safe["a"], torch.arange(3)) and safe["b"] == 1.5 and isinstance(safe["b"], float)
    assert safe["c"] == (1, "x") and safe["d"] == {3, 4} and isinstance(safe["e"], str)


def test_read_checkpoint_rejects_pickled_objects_and_names_the_file(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": nn.Linear(2, 2)}, path)  # a pickled module, not weights
    with pytest.raises(RuntimeError, match="evil.pth"):
        read_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        read_checkpoint(tmp_path / "missing.pth")


def test_load_checkpoint_loads_weights_and_returns_meta(tmp_path):
    source, target = _model(), _model()
    save_checkpoint({"meta": {"epoch": 7}, "state_dict": source.state_dict()}, tmp_path / "a.pth")
    assert load_checkpoint(target, tmp_path / "a.pth") == {"epoch": 7}
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_load_checkpoint_accepts_plain_and_module_prefixed_state_dicts(tmp_path):
    source, target = _model(), _model()
    torch.save({f"module.{k}": v for k, v in source.state_dict().items()}, tmp_path / "ddp.pth")
    assert load_checkpoint(target, tmp_path / "ddp.pth") == {}
    assert torch.equal(target[0].weight, source[0].weight)


def test_load_checkpoint_strict_mismatch_names_the_file(tmp_path):
    torch.save({"state_dict": {"0.weight": torch.zeros(4, 3)}}, tmp_path / "partial.pth")
    with pytest.raises(RuntimeError, match="(?s)partial.pth.*Missing key"):
        load_checkpoint(_model(), tmp_path / "partial.pth")
    model = _model()
    load_checkpoint(model, tmp_path / "partial.pth", strict=False)
    assert torch.equal(model[0].weight, torch.zeros(4, 3))
