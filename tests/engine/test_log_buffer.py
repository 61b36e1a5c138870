"""LogBuffer: window means of numbers and tensors."""

from __future__ import annotations

import pytest
import torch

from visionstack.engine import LogBuffer


def test_window_means_with_counts_and_tensors():
    buffer = LogBuffer()
    buffer.update("loss", torch.tensor(2.0, requires_grad=True))
    buffer.update("loss", 4.0)
    buffer.update("acc", 0.5, count=3)
    buffer.update("acc", 1.0)
    assert buffer.mean("loss") == pytest.approx(3.0) and "loss" in buffer
    assert buffer.pop_means() == pytest.approx({"loss": 3.0, "acc": (1.5 + 1.0) / 4})
    assert buffer.pop_means() == {} and buffer.mean("loss") is None


def test_update_many_keeps_insertion_order():
    buffer = LogBuffer()
    buffer.update_many({"b": 1.0, "a": 2.0})
    assert list(buffer.pop_means()) == ["b", "a"]
