"""Distributed helpers that also work in a single process (no process group).

Every layer may call these: without an initialised ``torch.distributed`` group the rank is 0, the
world size 1, a barrier does nothing and a gather returns a one-element list. Setting the group
up (launchers, backends, the at-exit teardown) is the engine's job: :mod:`visionstack.engine.dist`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as torch_dist

__all__ = [
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast_object",
    "collect_results",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "is_distributed",
    "is_main_process",
    "master_only",
]

_REDUCE_OPS = {"sum": "SUM", "mean": "SUM", "min": "MIN", "max": "MAX"}


def is_distributed() -> bool:
    """True when a default process group is initialised."""
    return torch_dist.is_available() and torch_dist.is_initialized()


def get_rank() -> int:
    """This process's rank in the default group (0 without one)."""
    return torch_dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    """The number of processes in the default group (1 without one)."""
    return torch_dist.get_world_size() if is_distributed() else 1


def get_local_rank() -> int:
    """This process's rank on its machine (``LOCAL_RANK`` set by torchrun; 0 without it)."""
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main_process() -> bool:
    """True on rank 0 (and in a single process)."""
    return get_rank() == 0


def master_only(fn: Callable) -> Callable:
    """Run ``fn`` on rank 0 only (returns None elsewhere)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if is_main_process():
            return fn(*args, **kwargs)
        return None

    return wrapper


def barrier() -> None:
    """Wait until every rank reaches this point (nothing without a group)."""
    if is_distributed():
        torch_dist.barrier()


def all_reduce(tensor: torch.Tensor, op: str = "mean") -> torch.Tensor:
    """``tensor`` reduced over the ranks, as a new tensor (``tensor`` itself is left unchanged).

    Args:
        tensor: any shape; on the device of the group's backend (CUDA for NCCL).
        op: ``"sum"``, ``"mean"`` (the sum divided by the world size), ``"min"`` or ``"max"``.

    Returns:
        A tensor of the shape of ``tensor``; without a group, ``tensor`` itself.
    """
    if op not in _REDUCE_OPS:
        raise ValueError(f"all_reduce: op must be one of {sorted(_REDUCE_OPS)}, got {op!r}")
    if not is_distributed():
        return tensor
    reduced = tensor.clone()
    torch_dist.all_reduce(reduced, op=getattr(torch_dist.ReduceOp, _REDUCE_OPS[op]))
    return reduced / get_world_size() if op == "mean" else reduced


def all_gather_object(obj: Any) -> list[Any]:
    """Gather a picklable object from every rank (a one-element list without a group)."""
    if not is_distributed():
        return [obj]
    gathered: list[Any] = [None] * get_world_size()
    torch_dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Send ``obj`` from ``src`` to every rank and return it."""
    if not is_distributed():
        return obj
    holder = [obj]
    torch_dist.broadcast_object_list(holder, src=src)
    return holder[0]


def collect_results(results: list[Any], size: int) -> list[Any]:
    """Gather per-rank result lists into the dataset order and drop sampler padding.

    The default sampler gives rank r the indices r, r + W, r + 2W ... (padded so every rank has the
    same count), so interleaving the rank lists restores the dataset order; the first ``size``
    entries are the real samples.
    """
    parts = all_gather_object(results)
    if len(parts) == 1:
        return list(results)[:size]
    longest = max(len(part) for part in parts)
    ordered = [part[i] for i in range(longest) for part in parts if i < len(part)]
    return ordered[:size]
