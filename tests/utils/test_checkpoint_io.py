"""The one checkpoint reader: safe loading, state-dict extraction, prefix stripping."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionstack.utils.checkpoint_io import (
    UnsafeCheckpointError,
    extract_state_dict,
    read_checkpoint,
    strip_prefix,
)


def test_reads_plain_values_and_refuses_python_objects(tmp_path) -> None:
    torch.save({"state_dict": {"w": torch.ones(2)}, "meta": {"epoch": 1}}, tmp_path / "ok.pth")
    assert torch.equal(read_checkpoint(tmp_path / "ok.pth")["state_dict"]["w"], torch.ones(2))
    torch.save({"model": nn.Linear(1, 1)}, tmp_path / "pickled.pth")
    with pytest.raises(UnsafeCheckpointError, match=r"pickled.pth.*weights only.*allow it explicitly: HOW"):
        read_checkpoint(tmp_path / "pickled.pth", how_to_allow="HOW")
    assert isinstance(read_checkpoint(tmp_path / "pickled.pth", unsafe_pickle=True)["model"], nn.Linear)
    truncated = (tmp_path / "ok.pth").read_bytes()[:100]
    (tmp_path / "truncated.pth").write_bytes(truncated)
    with pytest.raises(RuntimeError, match="cannot read checkpoint .*truncated.pth"):
        read_checkpoint(tmp_path / "truncated.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        read_checkpoint(tmp_path / "missing.pth")


def test_extract_state_dict_unwraps_state_dict_then_model() -> None:
    weights = {"conv.weight": torch.zeros(1)}
    assert extract_state_dict({"meta": {}, "state_dict": weights}) is weights
    assert extract_state_dict({"state_dict": {"model": weights}}) is weights
    assert extract_state_dict(weights) is weights


def test_strip_prefix_only_when_every_key_has_it() -> None:
    assert list(strip_prefix({"module.a": 1, "module.b": 2})) == ["a", "b"]
    own = {"module.a": 1, "head.b": 2}  # a model with a submodule called ``module``
    assert strip_prefix(own) is own
    assert strip_prefix({}) == {}
