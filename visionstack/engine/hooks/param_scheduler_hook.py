"""ParamSchedulerHook: steps per-iteration schedulers after each iteration and per-epoch ones
after each epoch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...registry import HOOKS
from .hook import Hook, Priority

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["ParamSchedulerHook"]


@HOOKS.register()
class ParamSchedulerHook(Hook):
    """Steps ``runner.param_schedulers`` (``by_epoch=False`` ones per iteration, the others per epoch)."""

    priority = Priority.LOW

    def __init__(self) -> None:
        self._per_iter: list[Any] = []
        self._per_epoch: list[Any] = []

    def before_train(self, runner: Runner) -> None:
        schedulers = runner.param_schedulers or []
        self._per_iter = [s for s in schedulers if not s.by_epoch]
        self._per_epoch = [s for s in schedulers if s.by_epoch]

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        for scheduler in self._per_iter:
            scheduler.step()

    def after_train_epoch(self, runner: Runner) -> None:
        if runner.train_loop.by_epoch:
            for scheduler in self._per_epoch:
                scheduler.step()
