"""EMAHook: train with an exponential moving average of the weights and evaluate/save the average."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...registry import HOOKS
from ..checkpoint import unwrap_model, weights_to_cpu
from ..ema import ExponentialMovingAverage
from .hook import Hook, Priority

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["EMAHook"]


@HOOKS.register()
@dataclass(eq=False)
class EMAHook(Hook):
    """Maintains an :class:`ExponentialMovingAverage` of the model during training.

    Validation and test run with the averaged weights (swapped in, then back). A checkpoint's
    ``state_dict`` holds the *averaged* weights, ready for testing and deployment, and
    ``hooks.EMAHook.model_state_dict`` the raw training weights that a resume continues from.

    Args:
        momentum: ``average = (1 - momentum) * average + momentum * weights`` (MMEngine's convention).
        interval: update the average every ``interval`` iterations.
        update_buffers: average floating-point buffers (BatchNorm statistics) too.
        begin_iter: the average tracks the weights until this many iterations are done.
        begin_epoch: the average tracks the weights until this many epochs are done.
        strict_load: require exact key matches when restoring.

    Attributes:
        ema: the average, created at ``before_train`` (or when a checkpoint is loaded); None before.
    """

    priority = Priority.NORMAL

    momentum: float = 0.0002
    interval: int = 1
    update_buffers: bool = True
    begin_iter: int = 0
    begin_epoch: int = 0
    strict_load: bool = True
    ema: ExponentialMovingAverage | None = field(default=None, init=False, repr=False)
    _swapped: bool = field(default=False, init=False, repr=False)

    def _create(self, runner: Runner) -> ExponentialMovingAverage:
        if self.ema is None:
            self.ema = ExponentialMovingAverage(
                unwrap_model(runner.model), self.momentum, self.interval, self.update_buffers
            )
        return self.ema

    def before_train(self, runner: Runner) -> None:
        # Created here rather than before_run so that it starts from loaded (load_from) weights.
        self._create(runner)

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        source = unwrap_model(runner.model)
        if runner.iter > self.begin_iter and runner.epoch >= self.begin_epoch:
            self.ema.update_parameters(source)
        else:
            self.ema.copy_from(source)

    def _swap(self, runner: Runner) -> None:
        if self.ema is not None:
            self.ema.swap_with(unwrap_model(runner.model))
            self._swapped = not self._swapped

    def before_val_epoch(self, runner: Runner) -> None:
        self._swap(runner)

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        self._swap(runner)

    def before_test_epoch(self, runner: Runner) -> None:
        self._swap(runner)

    def after_test_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        self._swap(runner)

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        if self.ema is None:
            return
        if self._swapped:  # saving during evaluation: the model holds the average right now
            raise RuntimeError(
                "EMAHook: a checkpoint was requested while the averaged weights are swapped in"
            )
        checkpoint.setdefault("hooks", {})["EMAHook"] = {
            "model_state_dict": checkpoint["state_dict"],
            "ema_extra_state": self.ema.get_extra_state(),
        }
        checkpoint["state_dict"] = weights_to_cpu(self.ema.module.state_dict())

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        ema = self._create(runner)
        state = checkpoint.get("hooks", {}).get("EMAHook")
        # The checkpoint's state_dict is the average (or, without EMA state, the weights to start from).
        ema.module.load_state_dict(checkpoint["state_dict"], strict=self.strict_load)
        if state is None:
            runner.logger.warning(
                "EMAHook: the checkpoint has no EMA state; the average starts from its weights"
            )
            return
        unwrap_model(runner.model).load_state_dict(state["model_state_dict"], strict=self.strict_load)
        ema.set_extra_state(state["ema_extra_state"])
