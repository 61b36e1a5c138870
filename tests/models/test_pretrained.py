"""read_state_dict: unwrapping and prefix stripping of local checkpoint files."""

from __future__ import annotations

import pytest
import torch

from visionstack.models import read_state_dict


def test_unwraps_state_dict_and_strips_module_prefix(tmp_path):
    weights = {"module.conv.weight": torch.ones(2), "module.bn.bias": torch.zeros(1)}
    path = tmp_path / "ckpt.pth"
    torch.save({"meta": {"epoch": 3}, "state_dict": weights}, path)
    loaded = read_state_dict(path)
    assert sorted(loaded) == ["bn.bias", "conv.weight"]
    torch.testing.assert_close(loaded["conv.weight"], torch.ones(2))
    assert sorted(read_state_dict({"model": {"a": torch.ones(1)}})) == ["a"]


def test_refuses_pickled_objects_and_missing_files(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.ones(1)}, "callback": print}, path)
    with pytest.raises(Exception, match="[Ww]eights only"):
        read_state_dict(path)
    with pytest.raises(FileNotFoundError, match="nothing.pth"):
        read_state_dict(tmp_path / "nothing.pth")
