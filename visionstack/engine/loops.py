"""Training, validation and test loops.

The training step itself is three lines (``EpochBasedTrainLoop.run_iter``): hooks before, the
model's ``train_step`` (forward, loss, ``optim_wrapper.update_params``), hooks after. Everything
else - logging, timing, schedulers, checkpoints, EMA - happens in hooks.

Counters are "finished" counts: ``iter`` iterations and ``epoch`` epochs are done, and
``epoch_iter`` batches of the current epoch. A checkpoint stores them; a resumed loop starts at
exactly that point, skipping the batches of a partly done epoch without loading them.

Validation during training runs after the epoch (or iteration) and *before* the
``after_train_epoch`` (``after_train_iter``) hooks, so a checkpoint written by those hooks already
holds the validation's effects (best score, early-stopping counters); it runs with the global
random state preserved, so validating does not change the training's random draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from ..registry import LOOPS, ConfigError
from .data_loading import set_loader_epoch, skip_batches
from .optim_wrapper import NonFiniteLossError
from .randomness import preserved_rng_state

if TYPE_CHECKING:
    from .runner import Runner

__all__ = ["BaseLoop", "EpochBasedTrainLoop", "IterBasedTrainLoop", "ValLoop", "TestLoop"]


class BaseLoop:
    """A loop over ``dataloader`` driven by ``runner``."""

    def __init__(self, runner: Runner, dataloader: Any) -> None:
        self.runner = runner
        self.dataloader = dataloader

    def run(self) -> Any:
        raise TypeError(f"{type(self).__name__} must define run()")


class _TrainLoop(BaseLoop):
    """Shared state of the training loops.

    Args:
        runner: the runner (given by the runner).
        dataloader: the training loader (given by the runner).
        val_begin: first epoch (iteration, for an iteration-based loop) after which to validate.
        val_interval: validate every this many epochs (iterations) and after the last one.
    """

    by_epoch = True

    def __init__(self, runner: Runner, dataloader: Any, val_begin: int, val_interval: int) -> None:
        super().__init__(runner, dataloader)
        self.val_begin = val_begin
        self.val_interval = val_interval
        self._epoch = 0
        self._iter = 0
        self._epoch_iter = 0
        self.epoch_length = len(dataloader) if hasattr(dataloader, "__len__") else None

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def iter(self) -> int:
        return self._iter

    def run_iter(self, batch_idx: int, data_batch: Any) -> None:
        """One optimisation step (the whole training step is here)."""
        runner = self.runner
        runner.call_hook("before_train_iter", batch_idx=batch_idx, data_batch=data_batch)
        outputs = runner.model.train_step(data_batch, optim_wrapper=runner.optim_wrapper)
        pop_nonfinite = getattr(runner.optim_wrapper, "pop_nonfinite", None)
        if pop_nonfinite is not None and pop_nonfinite():
            outputs = self._nonfinite_loss(batch_idx, outputs)
        self._iter += 1
        self._epoch_iter += 1
        self._after_step()
        runner.call_hook("after_train_iter", batch_idx=batch_idx, data_batch=data_batch, outputs=outputs)

    def _after_step(self) -> None:
        """Validation point of iteration-based loops."""

    def _nonfinite_loss(self, batch_idx: int, outputs: Mapping[str, Any] | None) -> dict[str, Any]:
        """The loss of this iteration was NaN/infinite (the optimizer did not step): raise or go on."""
        runner = self.runner
        bad = [
            f"{name} is {value}"
            for name, value in (outputs or {}).items()
            if isinstance(value, (int, float)) and not math.isfinite(value)
        ]
        terms = ", ".join(bad) if bad else "the loss is non-finite on another rank"
        where = (
            f"epoch {self._epoch + 1} iter {batch_idx + 1}" if self.by_epoch else ""
        ) + f" (iteration {self._iter + 1})"
        policy = getattr(runner.optim_wrapper, "nonfinite", "raise")
        if policy == "raise":
            raise NonFiniteLossError(
                f"{terms} at {where.strip()}: the run stops before the optimizer step, so the last checkpoint "
                f"in {runner.work_dir} is the last good state. Look for a too high learning rate or bad "
                "data, or set optim_wrapper.nonfinite='skip' to skip such steps"
            )
        runner.logger.warning(
            f"{terms} at {where.strip()}: optimizer step skipped "
            f"({runner.optim_wrapper.skipped_steps} skipped so far)"
        )
        return {}

    def _validate_if_due(self, done: int, last: int) -> None:
        """Validate after ``done`` finished epochs (or iterations) when the schedule asks for it.

        Due from ``val_begin`` on, every ``val_interval`` and after the ``last`` one; never without a
        validation loop.
        """
        if (
            self.runner.val_loop is not None
            and done >= self.val_begin
            and (done % self.val_interval == 0 or done == last)
        ):
            self._validate()

    def _validate(self) -> None:
        with preserved_rng_state():
            self.runner.val_loop.run()
        self.runner.model.train()

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self._epoch, "iter": self._iter, "epoch_iter": self._epoch_iter}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        self._epoch = int(state["epoch"])
        self._iter = int(state["iter"])
        self._epoch_iter = int(state["epoch_iter"])


@LOOPS.register()
class EpochBasedTrainLoop(_TrainLoop):
    """Train for ``max_epochs`` passes over the data.

    Args:
        max_epochs: number of epochs.
        runner, dataloader, val_begin, val_interval: see ``_TrainLoop``; the validation schedule
            counts epochs.
    """

    by_epoch = True

    def __init__(
        self, runner: Runner, dataloader: Any, max_epochs: int, val_begin: int = 1, val_interval: int = 1
    ) -> None:
        super().__init__(runner, dataloader, val_begin, val_interval)
        if self.epoch_length is None:
            raise ConfigError(
                "train_cfg: EpochBasedTrainLoop needs a train dataloader with a length; "
                "use IterBasedTrainLoop for a stream (IterableDataset)"
            )
        self.max_epochs = int(max_epochs)
        self.max_iters = self.max_epochs * self.epoch_length

    def run(self) -> Any:
        runner = self.runner
        runner.call_hook("before_train")
        while self._epoch < self.max_epochs and not runner.stop_training:
            self.run_epoch()
        runner.call_hook("after_train")
        return runner.model

    def run_epoch(self) -> None:
        runner = self.runner
        runner.call_hook("before_train_epoch")
        runner.model.train()
        start = self._epoch_iter  # > 0 only when resuming inside an epoch
        batches = skip_batches(self.dataloader, start) if start else iter(self.dataloader)
        try:
            for batch_idx, data_batch in enumerate(batches, start=start):
                self.run_iter(batch_idx, data_batch)
        finally:
            batches = None  # shuts down the loader's worker processes now, even on error
        self._epoch += 1
        self._epoch_iter = 0
        self._validate_if_due(self._epoch, self.max_epochs)
        runner.call_hook("after_train_epoch")


@LOOPS.register()
class IterBasedTrainLoop(_TrainLoop):
    """Train for ``max_iters`` iterations, cycling through the data as often as needed.

    Args:
        max_iters: number of iterations.
        runner, dataloader, val_begin, val_interval: see ``_TrainLoop``; the validation schedule
            counts iterations.
    """

    by_epoch = False

    def __init__(
        self, runner: Runner, dataloader: Any, max_iters: int, val_begin: int = 1, val_interval: int = 1000
    ) -> None:
        super().__init__(runner, dataloader, val_begin, val_interval)
        self.max_iters = int(max_iters)
        self.max_epochs = None
        self._data_epoch = 0  # passes over the data so far (the sampler's epoch)
        self._iterator: Any = None

    def run(self) -> Any:
        runner = self.runner
        runner.call_hook("before_train")
        runner.call_hook("before_train_epoch")
        runner.model.train()
        set_loader_epoch(self.dataloader, self._data_epoch)
        self._iterator = skip_batches(self.dataloader, self._epoch_iter)
        try:
            while self._iter < self.max_iters and not runner.stop_training:
                self.run_iter(self._iter, self._next_batch())
        finally:
            self._iterator = None  # shuts down the loader's worker processes now, even on error
        runner.call_hook("after_train_epoch")
        runner.call_hook("after_train")
        return runner.model

    def _next_batch(self) -> Any:
        try:
            return next(self._iterator)
        except StopIteration:
            self._data_epoch += 1
            self._epoch_iter = 0
            set_loader_epoch(self.dataloader, self._data_epoch)
            self._iterator = iter(self.dataloader)
            return next(self._iterator)

    def _after_step(self) -> None:
        self._validate_if_due(self._iter, self.max_iters)

    def state_dict(self) -> dict[str, int]:
        return {**super().state_dict(), "data_epoch": self._data_epoch}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        super().load_state_dict(state)
        self._data_epoch = int(state.get("data_epoch", 0))


class _EvalLoop(BaseLoop):
    mode = "val"

    def __init__(self, runner: Runner, dataloader: Any, evaluator: Any) -> None:
        super().__init__(runner, dataloader)
        self.evaluator = evaluator
        metainfo = getattr(dataloader.dataset, "metainfo", None)
        if metainfo is not None:
            evaluator.dataset_meta = metainfo

    @torch.no_grad()
    def run(self) -> dict[str, Any]:
        """Predict every batch, feed the evaluator, return its metrics."""
        runner, mode = self.runner, self.mode
        runner.call_hook(f"before_{mode}")
        runner.call_hook(f"before_{mode}_epoch")
        runner.model.eval()
        step = getattr(runner.model, f"{mode}_step")
        for batch_idx, data_batch in enumerate(self.dataloader):
            runner.call_hook(f"before_{mode}_iter", batch_idx=batch_idx, data_batch=data_batch)
            outputs = step(data_batch)
            self.evaluator.process(data_samples=outputs, data_batch=data_batch)
            runner.call_hook(
                f"after_{mode}_iter", batch_idx=batch_idx, data_batch=data_batch, outputs=outputs
            )
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        runner.call_hook(f"after_{mode}_epoch", metrics=metrics)
        runner.call_hook(f"after_{mode}")
        return metrics


@LOOPS.register()
class ValLoop(_EvalLoop):
    """Validation: ``model.val_step`` on every batch, then ``evaluator.evaluate(len(dataset))``."""

    mode = "val"


@LOOPS.register()
class TestLoop(_EvalLoop):
    """Test: ``model.test_step`` on every batch, then ``evaluator.evaluate(len(dataset))``."""

    mode = "test"
