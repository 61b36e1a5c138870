"""Setting up the process group: the torchrun launcher, elastic restarts and the at-exit teardown.

The helpers every layer uses (rank, world size, barrier, gathers, :func:`master_only` ...) live on
the floor, in :mod:`visionstack.utils.dist`; they are re-exported here so the engine's code reads
``dist.get_rank()`` and ``dist.init_dist_from_env()`` from one module.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from typing import Any

import torch
import torch.distributed as torch_dist

from ..utils import dist as _floor
from ..utils.dist import *  # noqa: F403 (the floor's helpers, re-exported as this module's)
from ..utils.dist import get_local_rank, is_distributed

__all__ = [*_floor.__all__, "init_dist_from_env", "wait_for_native_threads_idle"]


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
    store = torch_dist.TCPStore(
        os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world_size, is_master=False
    )
    return {
        "store": torch_dist.PrefixStore(f"visionstack/attempt_{restart}", store),
        "rank": rank,
        "world_size": world_size,
    }
