"""CheckpointHook: periodic, latest and best checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...registry import HOOKS, ConfigError
from ..checkpoint import LATEST_NAME, link_checkpoint
from .hook import Hook, Priority
from .rules import infer_rule, is_improvement

if TYPE_CHECKING:
    from ..runner import Runner

__all__ = ["CheckpointHook"]


def best_checkpoint_name(metric: str) -> str:
    return f"best_{metric.replace('/', '_')}.pth"


@HOOKS.register()
class CheckpointHook(Hook):
    """Saves ``epoch_N.pth`` / ``iter_N.pth`` every ``interval``, points ``latest.pth`` at the newest,
    keeps the last ``max_keep_ckpts`` and saves ``best_<metric>.pth`` when a validation improves.

    Args:
        interval: epochs (``by_epoch``) or iterations between checkpoints; <= 0 saves only the last.
        by_epoch: count ``interval`` in epochs or iterations (with an iteration-based loop, only
            ``by_epoch=False`` saves periodically; otherwise just the last iteration is saved).
        max_keep_ckpts: how many periodic checkpoints to keep (-1: all). ``latest.pth`` and the best
            checkpoints are kept regardless.
        save_last: also save at the end of training whatever the interval.
        save_best: a metric name, a list of them, or ``"auto"`` (the first metric of the evaluator).
        rule: "greater"/"less" (or one per ``save_best`` entry); inferred from the names when None.
        greater_keys: extra name substrings meaning "greater is better".
        less_keys: extra name substrings meaning "less is better".
        save_optimizer: store the optimizer state (needed to resume).
        save_param_scheduler: store the scheduler states (needed to resume).
        save_begin: first epoch/iteration at which periodic checkpoints are written.
    """

    priority = Priority.VERY_LOW

    def __init__(
        self,
        interval: int = 1,
        by_epoch: bool = True,
        max_keep_ckpts: int = -1,
        save_last: bool = True,
        save_best: str | list[str] | None = None,
        rule: str | list[str] | None = None,
        greater_keys: list[str] | None = None,
        less_keys: list[str] | None = None,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        save_begin: int = 0,
    ) -> None:
        self.interval = interval
        self.by_epoch = by_epoch
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.save_best = [save_best] if isinstance(save_best, str) else list(save_best or [])
        rules = rule if isinstance(rule, (list, tuple)) else [rule] * max(len(self.save_best), 1)
        if len(rules) != max(len(self.save_best), 1):
            raise ConfigError("CheckpointHook.rule: give one rule per save_best metric")
        for value in rules:
            if value not in (None, "greater", "less"):
                raise ConfigError(f"CheckpointHook.rule must be 'greater' or 'less', got {value!r}")
        self._rules = list(rules)
        self.greater_keys = tuple(greater_keys or ())
        self.less_keys = tuple(less_keys or ())
        self.save_optimizer = save_optimizer
        self.save_param_scheduler = save_param_scheduler
        self.save_begin = save_begin
        self.best_scores: dict[str, float] = {}
        self.kept: list[str] = []

    # ---- periodic ---------------------------------------------------------------------------------
    def after_train_epoch(self, runner: Runner) -> None:
        if not self.by_epoch or not runner.train_loop.by_epoch:
            return
        periodic = (
            self.interval > 0
            and runner.epoch >= self.save_begin
            and self.every_n_epochs(runner, self.interval)
        )
        if periodic or (self.save_last and self.is_last_train_epoch(runner)):
            self._save_periodic(runner, f"epoch_{runner.epoch}.pth")

    def before_train(self, runner: Runner) -> None:
        if self.by_epoch and not runner.train_loop.by_epoch:
            runner.logger.warning(
                "CheckpointHook: by_epoch=True with an iteration-based loop saves only the last "
                "iteration; set by_epoch=False and an interval in iterations"
            )

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if self.by_epoch and runner.train_loop.by_epoch:
            return
        periodic = (
            not self.by_epoch
            and self.interval > 0
            and runner.iter >= self.save_begin
            and self.every_n_train_iters(runner, self.interval)
        )
        if periodic or (self.save_last and self.is_last_train_iter(runner)):
            self._save_periodic(runner, f"iter_{runner.iter}.pth")

    def _save_periodic(self, runner: Runner, filename: str) -> None:
        if filename not in self.kept:
            self.kept.append(filename)
        path = runner.save_checkpoint(
            filename, save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler
        )
        if path is None:  # not rank 0
            return
        link_checkpoint(path, Path(runner.work_dir) / LATEST_NAME)
        if self.max_keep_ckpts > 0:
            while len(self.kept) > self.max_keep_ckpts:
                (Path(runner.work_dir) / self.kept.pop(0)).unlink(missing_ok=True)

    # ---- best -------------------------------------------------------------------------------------
    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        if not self.save_best or not metrics or runner.train_loop is None:
            return
        for name, rule in self._resolve_best(metrics):
            if name not in metrics:
                raise KeyError(
                    f"CheckpointHook.save_best: metric {name!r} is not among the validation metrics "
                    f"{sorted(metrics)}"
                )
            score = float(metrics[name])
            if not is_improvement(score, self.best_scores.get(name), rule):
                continue
            previous = self.best_scores.get(name)
            self.best_scores[name] = score
            runner.save_checkpoint(
                best_checkpoint_name(name),
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
            )
            was = "" if previous is None else f" (was {previous:.4f})"
            runner.logger.info(f"best {name} = {score:.4f}{was}: saved {best_checkpoint_name(name)}")

    def _resolve_best(self, metrics: dict[str, Any]) -> list[tuple[str, str]]:
        names = [next(iter(metrics)) if name == "auto" else name for name in self.save_best]
        rules = [
            rule or infer_rule(name, self.greater_keys, self.less_keys)
            for name, rule in zip(names, self._rules)
        ]
        return list(zip(names, rules))

    # ---- state ------------------------------------------------------------------------------------
    def before_save_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        checkpoint.setdefault("hooks", {})["CheckpointHook"] = {
            "best_scores": dict(self.best_scores),
            "kept": list(self.kept),
        }

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("hooks", {}).get("CheckpointHook")
        if state is not None:
            self.best_scores = dict(state["best_scores"])
            self.kept = list(state["kept"])
