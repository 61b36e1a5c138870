"""Hooks that inject faults into a run, for testing how the engine survives them.

``KillWorkerHook`` ends a worker process abruptly (``os._exit``: no exception, no clean-up), as an
out-of-memory kill or a lost node would, on the first launch only: torchrun counts restarts in
``TORCHELASTIC_RESTART_COUNT``, so the restarted group runs through. ``PoisonBatchHook`` fills one
training batch's inputs with NaN, making that iteration's loss non-finite.
"""

from __future__ import annotations

import os
from typing import Any

from ..engine.hooks.hook import Hook
from ..registry import HOOKS

__all__ = ["KillWorkerHook", "PoisonBatchHook"]


@HOOKS.register()
class KillWorkerHook(Hook):
    """Exit the process with ``exit_code`` after training iteration ``iteration`` (1-based count of
    finished iterations) on rank ``rank``, during launch number ``attempt`` (0: the first).

    Args:
        iteration: finished iterations at which to die.
        rank: the rank that dies.
        attempt: the value of ``TORCHELASTIC_RESTART_COUNT`` (0 when not under torchrun) to die in.
        exit_code: the process's exit status.
    """

    priority = "LOWEST"  # after the checkpoint hook, as a crash after a save would be

    def __init__(self, iteration: int, rank: int = 1, attempt: int = 0, exit_code: int = 1) -> None:
        self.iteration, self.rank, self.attempt, self.exit_code = iteration, rank, attempt, exit_code

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        current_attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
        if runner.iter == self.iteration and runner.rank == self.rank and current_attempt == self.attempt:
            os._exit(self.exit_code)


@HOOKS.register()
class PoisonBatchHook(Hook):
    """Fill the float inputs of training iteration ``iteration`` (1-based) with NaN before the step.

    Args:
        iteration: the iteration (``runner.iter + 1`` when it starts) to poison.
    """

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        if runner.iter + 1 != self.iteration:
            return
        inputs = data_batch["inputs"]
        for tensor in inputs if isinstance(inputs, (list, tuple)) else [inputs]:
            if tensor.is_floating_point():
                tensor.fill_(float("nan"))
            else:
                raise TypeError("PoisonBatchHook needs float inputs (uint8 images cannot hold NaN)")
