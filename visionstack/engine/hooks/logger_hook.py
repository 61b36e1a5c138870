"""LoggerHook: progress, text log lines, ``scalars.jsonl`` and TensorBoard.

Per iteration it only adds the model's log variables to the runner's :class:`LogBuffer` (and moves
the progress bar on a terminal); every ``interval`` iterations, at the end of each epoch and at the
end of the run it writes a line such as::

    Epoch(train) [3][ 40/100]  lr: 1.0000e-02  eta: 0:01:12  time: 0.0213  data_time: 0.0011  loss: 0.4312

and the same numbers as one JSON record. Validation and test metrics are logged when they end.

Robustness counters join the record when they apply: ``skipped_steps`` (optimizer updates skipped
for a non-finite loss since the run began, ``optim_wrapper.nonfinite="skip"``) and, when the
training dataset has ``skip_bad_samples=True``, ``bad_samples``: samples replaced as bad in the
current epoch, summed over the DataLoader workers (shared counters, see
:mod:`visionstack.engine.data_loading`) and over the ranks (an all-reduce on each log line).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from ...registry import HOOKS
from .. import dist
from ..data_loading import bad_sample_count
from ..logger import ScalarWriter, get_console, stdout_is_terminal
from .hook import Hook, Priority

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["LoggerHook"]


def _format_value(name: str, value: Any) -> str:
    if isinstance(value, float):
        if name.startswith("lr"):
            return f"{value:.4e}"
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4e}"
    return str(value)


def _scalars(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    """The metrics that are single numbers (a confusion matrix is not logged as a scalar)."""
    scalars = {}
    for name, value in (metrics or {}).items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            scalars[name] = float(value)
    return scalars


@HOOKS.register()
class LoggerHook(Hook):
    """Logs training scalars every ``interval`` iterations and evaluation metrics after each run.

    Args:
        interval: iterations between two log lines.
        progress_bar: show a rich progress bar with ETA; None shows it when stdout is a terminal.
        tensorboard: also write TensorBoard events (when the package is installed).
    """

    priority = Priority.BELOW_NORMAL

    def __init__(
        self, interval: int = 10, progress_bar: bool | None = None, tensorboard: bool = True
    ) -> None:
        if interval < 1:
            raise ValueError(f"LoggerHook.interval must be >= 1, got {interval}")
        self.interval = interval
        self.progress_bar = progress_bar
        self.tensorboard = tensorboard
        self.writer: ScalarWriter | None = None
        self._progress: Any = None
        self._task: Any = None
        self._eval_task: Any = None  # the training task, hidden while an evaluation runs
        self._eval_start = 0.0
        self._bad_at_epoch_start = 0

    # ---- run --------------------------------------------------------------------------------------
    def before_run(self, runner: Runner) -> None:
        if runner.rank == 0 and self.writer is None:
            self.writer = ScalarWriter(runner.work_dir, tensorboard=self.tensorboard)
        show = self.progress_bar if self.progress_bar is not None else stdout_is_terminal()
        if show and runner.rank == 0 and self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                "eta",
                TimeRemainingColumn(),
                console=get_console(),
                transient=True,
            )
            self._progress.start()

    def after_run(self, runner: Runner) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self._progress is not None:
            self._progress.stop()
            self._progress, self._task = None, None

    def _start_task(self, description: str, total: int | None, completed: int = 0) -> None:
        if self._progress is not None:
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(description, total=total, completed=completed)

    def _advance(self, completed: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=completed)

    # ---- training ---------------------------------------------------------------------------------
    def before_train(self, runner: Runner) -> None:
        self._start_task("train", runner.max_iters, runner.iter)

    def before_train_epoch(self, runner: Runner) -> None:
        self._bad_at_epoch_start = bad_sample_count(runner.train_dataloader)

    def _epoch_bad_samples(self, runner: Runner) -> int | None:
        """Bad samples replaced this epoch over all workers and ranks (None: the dataset does not skip)."""
        loader = runner.train_dataloader
        if not getattr(getattr(loader, "dataset", None), "skip_bad_samples", False):
            return None
        local = bad_sample_count(loader) - self._bad_at_epoch_start
        if not dist.is_distributed():
            return local
        return int(sum(dist.all_gather_object(local)))

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if outputs:
            runner.log_buffer.update_many(outputs)
        self._advance(runner.iter)
        loop = runner.train_loop
        end_of_epoch = loop.by_epoch and batch_idx + 1 == loop.epoch_length
        if self.every_n_train_iters(runner, self.interval) or end_of_epoch or self.is_last_train_iter(runner):
            self._log_train(runner, batch_idx)

    def _log_train(self, runner: Runner, batch_idx: int) -> None:
        loop = runner.train_loop
        means = runner.log_buffer.pop_means()
        record: dict[str, Any] = {
            "mode": "train",
            "epoch": runner.epoch + 1 if loop.by_epoch else None,
            "iter": runner.iter,
            "step": runner.iter,
        }
        record.update(runner.optim_wrapper.get_lr())
        grad_norm = runner.optim_wrapper.pop_grad_norm()
        if isinstance(grad_norm, dict):  # one per wrapper of an OptimWrapperDict
            record.update(grad_norm)
        elif grad_norm is not None:
            record["grad_norm"] = grad_norm
        if getattr(runner.optim_wrapper, "skipped_steps", 0):
            record["skipped_steps"] = runner.optim_wrapper.skipped_steps
        bad_samples = self._epoch_bad_samples(runner)
        if bad_samples is not None:
            record["bad_samples"] = bad_samples
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            record["memory"] = torch.cuda.max_memory_allocated() // 2**20
            torch.cuda.reset_peak_memory_stats()
        record.update(means)
        if loop.by_epoch:
            width = len(str(loop.epoch_length))
            head = f"Epoch(train) [{runner.epoch + 1}][{batch_idx + 1:>{width}}/{loop.epoch_length}]"
        else:
            head = f"Iter(train) [{runner.iter:>{len(str(runner.max_iters))}}/{runner.max_iters}]"
        parts = [head]
        if "time" in means:
            remaining = means["time"] * (runner.max_iters - runner.iter)
            parts.append(f"eta: {datetime.timedelta(seconds=int(remaining))}")
        parts += [
            f"{k}: {_format_value(k, v)}"
            for k, v in record.items()
            if k not in ("mode", "epoch", "iter", "step")
        ]
        runner.logger.info("  ".join(parts))
        if record["epoch"] is None:
            del record["epoch"]
        if self.writer is not None:
            self.writer.write(record, step=runner.iter)

    # ---- evaluation -------------------------------------------------------------------------------
    def before_val_epoch(self, runner: Runner) -> None:
        self._begin_eval("val", len(runner.val_loop.dataloader))

    def before_test_epoch(self, runner: Runner) -> None:
        self._begin_eval("test", len(runner.test_loop.dataloader))

    def _begin_eval(self, mode: str, total: int) -> None:
        self._eval_start = time.perf_counter()
        self._eval_task = self._task
        self._task = None
        if self._progress is not None:
            self._task = self._progress.add_task(mode, total=total)

    def after_val_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self._eval_iter(runner, "val", batch_idx, len(runner.val_loop.dataloader))

    def after_test_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self._eval_iter(runner, "test", batch_idx, len(runner.test_loop.dataloader))

    def _eval_iter(self, runner: Runner, mode: str, batch_idx: int, total: int) -> None:
        self._advance(batch_idx + 1)
        if (
            self._progress is None
            and self.every_n_inner_iters(batch_idx, self.interval)
            and batch_idx + 1 < total
        ):
            runner.logger.info(f"{self._eval_head(runner, mode)}[{batch_idx + 1:>{len(str(total))}}/{total}]")

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        self._end_eval(runner, "val", metrics)

    def after_test_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        self._end_eval(runner, "test", metrics)

    @staticmethod
    def _eval_head(runner: Runner, mode: str) -> str:
        loop = runner.train_loop
        if loop is None:
            return f"({mode}) "
        return f"Epoch({mode}) [{runner.epoch}]" if loop.by_epoch else f"Iter({mode}) [{runner.iter}]"

    def _end_eval(self, runner: Runner, mode: str, metrics: Mapping[str, Any] | None) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._eval_task
        scalars = _scalars(metrics)
        seconds = time.perf_counter() - self._eval_start
        shown = "  ".join(f"{k}: {v:.4f}" for k, v in scalars.items())
        runner.logger.info(f"{self._eval_head(runner, mode)}  {shown}  ({seconds:.1f} s)")
        if self.writer is not None:
            record: dict[str, Any] = {"mode": mode, "iter": runner.iter, "step": runner.iter}
            if runner.train_loop is not None and runner.train_loop.by_epoch:
                record["epoch"] = runner.epoch
            record.update(scalars)
            self.writer.write(record, step=runner.iter)
