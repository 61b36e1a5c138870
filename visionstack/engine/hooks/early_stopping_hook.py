"""EarlyStoppingHook: stop training when a validation metric stops improving."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ...registry import HOOKS, ConfigError
from .hook import Hook, Priority
from .rules import infer_rule, is_improvement

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["EarlyStoppingHook"]


@HOOKS.register()
class EarlyStoppingHook(Hook):
    """Sets ``runner.stop_training`` after ``patience`` validations without improvement.

    Args:
        monitor: metric name, e.g. ``"accuracy/top1"``.
        rule: "greater" or "less"; inferred from the name when None.
        min_delta: an improvement must exceed this.
        patience: validations without improvement tolerated.
        strict: raise when ``monitor`` is missing from the metrics (else warn and ignore).
        check_finite: stop when the metric becomes NaN or infinite.
        stopping_threshold: stop as soon as the metric reaches this value.
    """

    priority = Priority.LOWEST

    def __init__(
        self,
        monitor: str,
        rule: str | None = None,
        min_delta: float = 0.0,
        patience: int = 5,
        strict: bool = False,
        check_finite: bool = True,
        stopping_threshold: float | None = None,
    ) -> None:
        if rule not in (None, "greater", "less"):
            raise ConfigError(f"EarlyStoppingHook.rule must be 'greater' or 'less', got {rule!r}")
        self.monitor = monitor
        self.rule = rule or infer_rule(monitor)
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.strict = strict
        self.check_finite = check_finite
        self.stopping_threshold = stopping_threshold
        self.best: float | None = None
        self.wait_count = 0

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        metrics = metrics or {}
        if self.monitor not in metrics:
            message = f"EarlyStoppingHook: metric {self.monitor!r} not among {sorted(metrics)}"
            if self.strict:
                raise KeyError(message)
            runner.logger.warning(message)
            return
        score = float(metrics[self.monitor])
        reason = self._stop_reason(score)
        if reason:
            runner.stop_training = True
            runner.logger.info(f"early stopping: {reason}")

    def _stop_reason(self, score: float) -> str | None:
        if self.check_finite and not math.isfinite(score):
            return f"{self.monitor} is {score}"
        threshold = self.stopping_threshold
        if threshold is not None and math.isfinite(score) and not is_improvement(threshold, score, self.rule):
            return f"{self.monitor} = {score:.4f} reached the threshold {self.stopping_threshold}"
        if is_improvement(score, self.best, self.rule, self.min_delta):
            self.best, self.wait_count = score, 0
            return None
        self.wait_count += 1
        if self.wait_count >= self.patience:
            return (
                f"{self.monitor} has not improved on {self.best:.4f} by more than {self.min_delta} "
                f"for {self.wait_count} validations"
            )
        return None

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        checkpoint.setdefault("hooks", {})["EarlyStoppingHook"] = {
            "best": self.best,
            "wait_count": self.wait_count,
        }

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("hooks", {}).get("EarlyStoppingHook")
        if state is not None:
            self.best, self.wait_count = state["best"], int(state["wait_count"])
