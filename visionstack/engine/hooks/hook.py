"""The hook base class and priorities.

Hooks run at fixed points of a run, in priority order (lower first; equal priorities keep their
registration order). Counters seen by hooks: ``runner.iter`` is the number of *finished* training
iterations and ``runner.epoch`` the number of finished epochs, so inside ``after_train_iter`` of the
first iteration ``runner.iter == 1``, and inside ``after_train_epoch`` of the first epoch
``runner.epoch == 1``.

State that must survive a resume is written by ``before_save_checkpoint`` into
``checkpoint["hooks"][<class name>]`` and read back by ``after_load_checkpoint``, which the runner
calls when it resumes (not for ``load_from``, which loads weights only).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any

from ...registry import ConfigError

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["Hook", "Priority", "get_priority", "HOOK_POINTS"]


class Priority(IntEnum):
    """Named hook priorities (MMEngine's values)."""

    HIGHEST = 0
    VERY_HIGH = 10
    HIGH = 30
    ABOVE_NORMAL = 40
    NORMAL = 50
    BELOW_NORMAL = 60
    LOW = 70
    VERY_LOW = 90
    LOWEST = 100


def get_priority(priority: int | str | Priority) -> int:
    """An int in [0, 100] from an int or a :class:`Priority` name ("LOW", "very_low" ...)."""
    if isinstance(priority, str):
        try:
            return int(Priority[priority.upper()])
        except KeyError:
            raise ConfigError(
                f"unknown hook priority {priority!r}; use one of {[p.name for p in Priority]} "
                "or an int in [0, 100]"
            ) from None
    if not 0 <= int(priority) <= 100:
        raise ConfigError(f"hook priority must be in [0, 100], got {priority}")
    return int(priority)


HOOK_POINTS = (
    "before_run",
    "after_run",
    "before_train",
    "after_train",
    "before_train_epoch",
    "after_train_epoch",
    "before_train_iter",
    "after_train_iter",
    "before_val",
    "after_val",
    "before_val_epoch",
    "after_val_epoch",
    "before_val_iter",
    "after_val_iter",
    "before_test",
    "after_test",
    "before_test_epoch",
    "after_test_epoch",
    "before_test_iter",
    "after_test_iter",
    "before_save_checkpoint",
    "after_load_checkpoint",
)


class Hook:
    """Base class: override the points you need; the others cost nothing (the runner skips them).

    Attributes:
        priority: class default ``Priority.NORMAL``; the runner may override it per instance.
    """

    priority: int | str = Priority.NORMAL

    def before_run(self, runner: Runner) -> None: ...

    def after_run(self, runner: Runner) -> None: ...

    def before_train(self, runner: Runner) -> None: ...

    def after_train(self, runner: Runner) -> None: ...

    def before_train_epoch(self, runner: Runner) -> None: ...

    def after_train_epoch(self, runner: Runner) -> None: ...

    def before_train_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None) -> None: ...

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None: ...

    def before_val(self, runner: Runner) -> None: ...

    def after_val(self, runner: Runner) -> None: ...

    def before_val_epoch(self, runner: Runner) -> None: ...

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None: ...

    def before_val_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None) -> None: ...

    def after_val_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None: ...

    def before_test(self, runner: Runner) -> None: ...

    def after_test(self, runner: Runner) -> None: ...

    def before_test_epoch(self, runner: Runner) -> None: ...

    def after_test_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None: ...

    def before_test_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None) -> None: ...

    def after_test_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None: ...

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None: ...

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None: ...

    # ---- helpers for interval checks (counters are "finished" counts, see the module docstring) ----
    @staticmethod
    def every_n_epochs(runner: Runner, n: int) -> bool:
        return n > 0 and runner.epoch % n == 0

    @staticmethod
    def every_n_train_iters(runner: Runner, n: int) -> bool:
        return n > 0 and runner.iter % n == 0

    @staticmethod
    def every_n_inner_iters(batch_idx: int, n: int) -> bool:
        return n > 0 and (batch_idx + 1) % n == 0

    @staticmethod
    def is_last_train_epoch(runner: Runner) -> bool:
        return runner.epoch == runner.max_epochs

    @staticmethod
    def is_last_train_iter(runner: Runner) -> bool:
        return runner.iter == runner.max_iters

    def overrides(self, point: str) -> bool:
        """True when this hook's class implements ``point`` (the runner calls only those)."""
        return getattr(type(self), point) is not getattr(Hook, point)
