"""IterTimerHook: how long each training iteration and its data loading take."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ...registry import HOOKS
from .hook import Hook, Priority

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["IterTimerHook"]


@HOOKS.register()
class IterTimerHook(Hook):
    """Adds ``data_time`` (waiting for the batch) and ``time`` (the whole iteration, data included),
    in seconds, to the runner's log buffer; the logger averages them and derives the ETA."""

    priority = Priority.NORMAL

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._val_start = self._last

    def before_train_epoch(self, runner: Runner) -> None:
        self._last = time.perf_counter()

    def before_train_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None) -> None:
        runner.log_buffer.update("data_time", time.perf_counter() - self._last)

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        now = time.perf_counter()
        runner.log_buffer.update("time", now - self._last)
        self._last = now

    def before_val(self, runner: Runner) -> None:
        self._val_start = time.perf_counter()

    def after_val(self, runner: Runner) -> None:
        # Validation inside a training iteration is not iteration time: shift the origin past it.
        self._last += time.perf_counter() - self._val_start
