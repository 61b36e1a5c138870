"""DistSamplerSeedHook: tells the train sampler which epoch starts, so each epoch shuffles
differently (and identically on every rank, and again after a resume)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...registry import HOOKS
from ..data_loading import set_loader_epoch
from .hook import Hook, Priority

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["DistSamplerSeedHook"]


@HOOKS.register()
class DistSamplerSeedHook(Hook):
    """Calls ``set_epoch(runner.epoch)`` on the train loader's sampler before every epoch."""

    priority = Priority.NORMAL

    def before_train_epoch(self, runner: Runner) -> None:
        set_loader_epoch(runner.train_loop.dataloader, runner.epoch)
