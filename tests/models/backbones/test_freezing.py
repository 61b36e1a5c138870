"""Backbone helpers of ``_freezing``: run_stages collects the outputs of the named stages."""

from __future__ import annotations

import torch
from torch import nn

from visionstack.models.backbones._freezing import run_stages


class _AddOne(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1


def test_run_stages_returns_the_named_outputs_in_stage_order():
    outs = run_stages(torch.zeros(1), [_AddOne() for _ in range(4)], {3, 1})
    assert [out.item() for out in outs] == [2.0, 4.0]


def test_run_stages_transforms_returned_outputs_but_feeds_the_next_stage_the_raw_one():
    outs = run_stages(
        torch.zeros(1), [_AddOne() for _ in range(3)], (0, 2), lambda index, out: out * 10 + index
    )
    assert [out.item() for out in outs] == [10.0, 32.0]
