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


class _Counting(_AddOne):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return super().forward(x)


def test_run_stages_stops_after_the_last_returned_stage():
    stages = [_Counting() for _ in range(4)]
    outs = run_stages(torch.zeros(1), stages, (1, 0))
    assert [out.item() for out in outs] == [1.0, 2.0]
    assert [stage.calls for stage in stages] == [1, 1, 0, 0]


def test_run_stages_runs_every_stage_for_an_unsized_container():
    class _Odd:
        def __contains__(self, index: object) -> bool:
            return index in (1, 3)

    stages = [_Counting() for _ in range(5)]
    outs = run_stages(torch.zeros(1), stages, _Odd())
    assert [out.item() for out in outs] == [2.0, 4.0]
    assert [stage.calls for stage in stages] == [1, 1, 1, 1, 1]
