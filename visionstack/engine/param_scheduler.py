"""Parameter schedulers: the base class and the builder.

A scheduler changes one key (``lr`` by default) of every optimizer param group as training
advances. Its window is ``[begin, end)`` in epochs (``by_epoch=True``, stepped after each epoch) or
iterations (stepped after each iteration); outside the window it leaves the value alone. Several
schedulers chain: each computes its next value from the *current* one (the "chainable form" of
``torch.optim.lr_scheduler`` and MMEngine), so a per-iteration warm-up followed by a per-epoch step
decay compose as expected.

``ParamScheduler.step()`` is called once at construction (applying step 0) and then once per
epoch or iteration. Inside the window, ``last_step`` is the index of the step just applied,
counted from ``begin``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..registry import PARAM_SCHEDULERS, ConfigError, build, resolve_type, validate

__all__ = ["ParamScheduler", "INF", "build_param_schedulers", "validate_param_scheduler_cfg", "window_length"]

INF = 10**9  # "no end" (MMEngine uses the same sentinel)


def window_length(window: Mapping[str, Any]) -> int:
    """``end - begin`` of a scheduler's window keywords (defaults 0 and ``INF``)."""
    return int(window.get("end", INF)) - int(window.get("begin", 0))


class ParamScheduler:
    """Base class: subclasses implement ``_get_value()`` (the values for step ``last_step``).

    Args:
        optimizer: an ``OptimWrapper`` or ``torch.optim.Optimizer`` (anything with ``param_groups``).
        param_name: the param-group key to schedule ("lr", "momentum", "weight_decay" ...).
        begin: first step of the window.
        end: step after the last one of the window (exclusive).
        by_epoch: stepped per epoch (True) or per iteration (False).
        last_step: index of the last step already taken inside the window; -1 for a fresh start.
            Resuming from a checkpoint uses :meth:`load_state_dict` instead.
    """

    #: constructor arguments measured in steps, multiplied by the epoch length when an
    #: epoch-specified scheduler is converted to per-iteration (``convert_to_iter_based=True``)
    step_arguments: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        optimizer: Any,
        param_name: str = "lr",
        begin: int = 0,
        end: int = INF,
        by_epoch: bool = True,
        last_step: int = -1,
    ) -> None:
        if end <= begin:
            raise ConfigError(f"{type(self).__name__}: `end` ({end}) must be larger than `begin` ({begin})")
        if last_step < -1:
            raise ConfigError(f"{type(self).__name__}: `last_step` must be >= -1, got {last_step}")
        self.optimizer = optimizer
        self.param_name = param_name
        self.begin = int(begin)
        self.end = int(end)
        self.by_epoch = by_epoch
        initial_key = f"initial_{param_name}"
        for index, group in enumerate(optimizer.param_groups):
            if param_name not in group:
                raise ConfigError(
                    f"{type(self).__name__}: param group {index} has no {param_name!r} to schedule"
                )
            if last_step == -1:
                # The value before any scheduler touched it; shared by all schedulers of the group.
                group.setdefault(initial_key, group[param_name])
            elif initial_key not in group:
                raise ConfigError(
                    f"{type(self).__name__}: resuming with last_step={last_step} needs "
                    f"{initial_key!r} in param group {index}"
                )
        self.base_values = [group[initial_key] for group in optimizer.param_groups]
        self.last_step = last_step
        self.global_step = -1
        self.step()

    def _get_value(self) -> list[float]:
        """Values for every param group at window step ``self.last_step``."""
        raise TypeError(f"{type(self).__name__} must define _get_value()")

    def _current(self) -> list[float]:
        return [group[self.param_name] for group in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one epoch/iteration and write the new values into the param groups."""
        self.global_step += 1
        if self.begin <= self.global_step < self.end:
            self.last_step += 1
            for group, value in zip(self.optimizer.param_groups, self._get_value()):
                group[self.param_name] = value

    def get_last_value(self) -> list[float]:
        """The values the param groups hold now."""
        return self._current()

    def state_dict(self) -> dict[str, Any]:
        """Counters and base values (the hyper-parameters come from the config)."""
        return {
            "global_step": self.global_step,
            "last_step": self.last_step,
            "base_values": list(self.base_values),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.global_step = int(state_dict["global_step"])
        self.last_step = int(state_dict["last_step"])
        self.base_values = list(state_dict["base_values"])

    def __repr__(self) -> str:
        unit = "epoch" if self.by_epoch else "iter"
        return f"{type(self).__name__}({self.param_name}, {unit} [{self.begin}, {self.end}))"


def _as_list(cfgs: Any) -> list[Any]:
    if cfgs is None:
        return []
    if isinstance(cfgs, Mapping) or not isinstance(cfgs, Sequence):
        return [cfgs]
    return list(cfgs)


def _per_wrapper(cfgs: Any) -> bool:
    """Whether ``cfgs`` gives schedulers by optimizer-wrapper name (each value a scheduler dict or a list)."""
    if not isinstance(cfgs, Mapping) or "type" in cfgs or not cfgs:
        return False
    return all(
        isinstance(value, Mapping)
        or (
            isinstance(value, Sequence)
            and not isinstance(value, str)
            and all(isinstance(v, Mapping) for v in value)
        )
        for value in cfgs.values()
    )


def validate_param_scheduler_cfg(cfgs: Any, path: str = "param_scheduler") -> None:
    """Check types and keywords of a ``param_scheduler`` config (a dict or a list of dicts; or, for an
    ``OptimWrapperDict``, a dict of those by wrapper name)."""
    if _per_wrapper(cfgs):
        for name, value in cfgs.items():
            validate_param_scheduler_cfg(value, f"{path}.{name}")
        return
    for index, cfg in enumerate(_as_list(cfgs)):
        if not isinstance(cfg, Mapping):
            continue  # an already built scheduler
        where = f"{path}.{index}" if isinstance(cfgs, Sequence) and not isinstance(cfgs, Mapping) else path
        if "type" not in cfg:
            raise ConfigError(
                f"{where}: a scheduler needs a `type`, e.g. dict(type='MultiStepLR', milestones=[8, 11])"
            )
        cfg = {key: value for key, value in cfg.items() if key != "convert_to_iter_based"}
        validate(cfg, PARAM_SCHEDULERS, path=where)


def _convert_to_iter_based(cfg: dict[str, Any], cls: type, epoch_length: int, where: str) -> None:
    if not cfg.get("by_epoch", True):
        raise ConfigError(f"{where}.convert_to_iter_based: only a by_epoch=True scheduler can be converted")
    cfg["by_epoch"] = False
    cfg["begin"] = int(cfg.get("begin", 0) * epoch_length)
    if cfg["end"] != INF:
        cfg["end"] = int(cfg["end"] * epoch_length)
    for name in getattr(cls, "step_arguments", ()):
        value = cfg.get(name)
        if isinstance(value, (list, tuple)):
            cfg[name] = [int(v * epoch_length) for v in value]
        elif value is not None:
            cfg[name] = int(value * epoch_length)


def build_param_schedulers(
    cfgs: Any,
    optim_wrapper: Any,
    *,
    max_epochs: int | None,
    max_iters: int,
    epoch_length: int | None,
) -> list[ParamScheduler]:
    """Build the ``param_scheduler`` list for a training run.

    A missing ``end`` becomes ``max_epochs`` (per-epoch schedulers) or ``max_iters``; with
    ``convert_to_iter_based=True`` an epoch-specified scheduler is rescaled to iterations.

    Args:
        cfgs: a scheduler dict, a list of them, or built schedulers.
        optim_wrapper: what the schedulers drive.
        max_epochs: epochs of the run; None for an iteration-based loop.
        max_iters: iterations of the run.
        epoch_length: iterations per epoch (None when unknown).
    """
    wrappers = getattr(optim_wrapper, "_wrappers", None)  # an OptimWrapperDict: schedules per wrapper
    if wrappers is not None:
        return _per_wrapper_schedulers(
            cfgs, wrappers, max_epochs=max_epochs, max_iters=max_iters, epoch_length=epoch_length
        )
    schedulers = []
    many = isinstance(cfgs, Sequence) and not isinstance(cfgs, Mapping)
    for index, cfg in enumerate(_as_list(cfgs)):
        if not isinstance(cfg, Mapping):
            schedulers.append(cfg)
            continue
        where = f"param_scheduler.{index}" if many else "param_scheduler"
        cfg = dict(cfg)
        convert = cfg.pop("convert_to_iter_based", False)
        cls = resolve_type(cfg["type"], PARAM_SCHEDULERS, f"{where}.type")
        by_epoch = cfg.get("by_epoch", True)
        if by_epoch and max_epochs is None:
            if not convert or epoch_length is None:
                raise ConfigError(
                    f"{where}: by_epoch=True needs an epoch-based loop; with IterBasedTrainLoop set "
                    "by_epoch=False (and begin/end in iterations)"
                )
        end_given = "end" in cfg
        if not end_given:
            cfg["end"] = max_epochs if (by_epoch and max_epochs is not None) else max_iters
        if convert:
            if epoch_length is None:
                raise ConfigError(f"{where}.convert_to_iter_based needs a train dataloader with a length")
            if not end_given and max_epochs is None:  # iteration-based loop: the run's end, unscaled
                cfg["end"] = INF
            _convert_to_iter_based(cfg, cls, epoch_length, where)
            if cfg["end"] == INF:
                cfg["end"] = max_iters
        schedulers.append(build(cfg, PARAM_SCHEDULERS, optimizer=optim_wrapper))
    return schedulers


def _per_wrapper_schedulers(cfgs: Any, wrappers: Mapping[str, Any], **loop: Any) -> list[ParamScheduler]:
    """Schedulers of an ``OptimWrapperDict``: ``param_scheduler = dict(generator=[...], discriminator=[...])``
    gives each wrapper its own (a wrapper left out keeps its learning rate); a list or one scheduler applies to
    every wrapper. The list comes in wrapper order (what checkpoints hold)."""
    per_name = _per_wrapper(cfgs)
    if per_name:
        unknown = [name for name in cfgs if name not in wrappers]
        if unknown:
            raise ConfigError(
                f"param_scheduler.{unknown[0]}: no optimizer wrapper of that name (the optim_wrapper gives "
                f"{', '.join(wrappers)})"
            )
    schedulers: list[ParamScheduler] = []
    for name, wrapper in wrappers.items():
        wrapper_cfgs = cfgs.get(name) if per_name else cfgs
        if wrapper_cfgs:
            built = build_param_schedulers(copy.deepcopy(wrapper_cfgs), wrapper, **loop)
            schedulers.extend(built)
    return schedulers
