"""torch.distributed helpers that also work in a single process (no process group)."""

from __future__ import annotations

import atexit
import functools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as torch_dist


def is_distributed() -> bool:
    return torch_dist.is_available() and torch_dist.is_initialized()


def get_rank() -> int:
    return torch_dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return torch_dist.get_world_size() if is_distributed() else 1


def get_local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main_process() -> bool:
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
    if is_distributed():
        torch_dist.barrier()


def init_dist_from_env(backend: str | None = None) -> bool:
    """Initialise the default process group when launched by torchrun (RANK/WORLD_SIZE set).

    Uses NCCL when CUDA is available, gloo otherwise. Returns True when a group is (now) active.
    """
    if is_distributed():
        return True
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", 1)) <= 1:
        return False
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(get_local_rank())
    torch_dist.init_process_group(backend=backend, **_restart_store_args())
    # Tear the group down before the interpreter does (see _destroy_group).
    atexit.register(_destroy_group)
    return True


def _destroy_group() -> None:
    """At exit: close the group on every rank together, then let the backend's threads go idle.

    A gloo worker thread drops its reference to a finished collective (and the tensors it holds) a
    moment after the collective completes. If the interpreter is already finalizing then, that
    thread's decref needs the GIL, Python ends the thread from inside a C++ destructor and the
    process aborts ("terminate called without an active exception"; seen under CPU contention,
    about one run in ten). Waiting here, while the interpreter is alive, closes that window.
    """
    if is_distributed():
        # every rank reaches this point before any closes its connections
        torch_dist.barrier()
        torch_dist.destroy_process_group()
    wait_for_native_threads_idle()


def wait_for_native_threads_idle(timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Sleep (releasing the GIL) until every other thread of this process is blocked, or ``timeout``.

    Reads the thread states of ``/proc/self/task`` (Linux); elsewhere it only sleeps ``interval``.
    Returns True when all other threads were seen sleeping twice in a row.
    """
    task_dir = "/proc/self/task"
    if not os.path.isdir(task_dir):
        time.sleep(interval)
        return True
    own = str(threading.get_native_id())
    deadline = time.monotonic() + timeout
    idle_polls = 0
    while time.monotonic() < deadline:
        time.sleep(interval)
        busy = False
        for tid in os.listdir(task_dir):
            if tid == own:
                continue
            try:
                with open(f"{task_dir}/{tid}/stat") as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue  # the thread ended meanwhile
            busy |= state == "R"
        idle_polls = 0 if busy else idle_polls + 1
        if idle_polls >= 2:
            return True
    return False


def _restart_store_args() -> dict[str, Any]:
    """After an elastic restart, a store namespace of this attempt.

    Under ``torchrun`` the agent's store outlives a failed attempt; a restarted group connecting
    through plain ``env://`` can read the previous attempt's keys (the dead workers' addresses) and
    fail with "connection refused". Prefixing the keys with the restart count avoids that.
    """
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    if restart == 0 or os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return {}
    world_size, rank = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    store = torch_dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world_size,
                                is_master=False)
    return {"store": torch_dist.PrefixStore(f"visionstack/attempt_{restart}", store), "rank": rank,
            "world_size": world_size}


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
