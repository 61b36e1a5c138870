"""The distributed helpers of the floor, in a single process (no process group)."""

from __future__ import annotations

import pytest
import torch

from visionstack.engine import dist as engine_dist
from visionstack.utils import dist


def test_single_process_defaults() -> None:
    assert not dist.is_distributed()
    assert (dist.get_rank(), dist.get_world_size(), dist.is_main_process()) == (0, 1, True)
    dist.barrier()
    assert dist.all_gather_object({"a": 1}) == [{"a": 1}]
    assert dist.broadcast_object(3) == 3
    assert dist.collect_results([1, 2, 3, 4], size=3) == [1, 2, 3]
    assert dist.master_only(lambda: "ran")() == "ran"


def test_all_reduce_without_a_group_returns_the_tensor_and_checks_op() -> None:
    value = torch.tensor([1.0, 2.0])
    assert dist.all_reduce(value, op="mean") is value
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(value, op="avg")


def test_collect_results_interleaves_the_ranks(monkeypatch) -> None:
    # rank r held the samples r, r + 2, ...; the padding sample (index 0 again) is dropped
    monkeypatch.setattr(dist, "all_gather_object", lambda obj: [[0, 2, 4], [1, 3, 0]])
    assert dist.collect_results([0, 2, 4], size=5) == [0, 1, 2, 3, 4]


def test_engine_dist_is_the_floor_plus_the_launcher() -> None:
    assert engine_dist.get_rank is dist.get_rank and engine_dist.collect_results is dist.collect_results
    assert callable(engine_dist.init_dist_from_env)
