"""How the runner turns config parts into objects: model, evaluator, hooks, loop configs."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..registry import HOOKS, METRICS, MODELS, ConfigError, build
from ..utils.suggest import close_matches
from .hooks.hook import Hook, get_priority
from .model_wrapper import DistributedModel, FSDPModel, wrap_model
from .speed_options import apply_speed_options

__all__ = [
    "DEFAULT_HOOKS",
    "build_model",
    "build_evaluator",
    "build_hooks",
    "loop_cfg_with_type",
    "merged_hook_cfgs",
]

#: the hooks every run has unless ``default_hooks`` removes them (name -> config)
DEFAULT_HOOKS: dict[str, dict[str, Any]] = {
    "timer": {"type": "IterTimerHook"},
    "sampler_seed": {"type": "DistSamplerSeedHook"},
    "logger": {"type": "LoggerHook", "interval": 10},
    "param_scheduler": {"type": "ParamSchedulerHook"},
    "checkpoint": {"type": "CheckpointHook", "interval": 1},
}

_DEFAULT_LOOPS = {"train_cfg": "EpochBasedTrainLoop", "val_cfg": "ValLoop", "test_cfg": "TestLoop"}


def loop_cfg_with_type(key: str, cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """The loop config of ``key`` ("train_cfg", "val_cfg", "test_cfg") with its ``type`` filled in.

    A training config without ``type`` is iteration-based when it has ``max_iters``.
    """
    cfg = dict(cfg or {})
    if "type" not in cfg:
        cfg["type"] = (
            "IterBasedTrainLoop" if key == "train_cfg" and "max_iters" in cfg else _DEFAULT_LOOPS[key]
        )
    return cfg


def build_model(
    cfg: Mapping[str, Any] | nn.Module,
    device: torch.device,
    distributed: bool,
    wrapper_cfg: Mapping[str, Any] | None = None,
    channels_last: bool = False,
    compile: bool | Mapping[str, Any] = False,
) -> nn.Module:
    """Build the model, move it to ``device``, apply the speed options (see :mod:`.speed_options`)
    and, when ``distributed``, wrap it as ``wrapper_cfg`` says (DDP by default; see
    :func:`.model_wrapper.wrap_model`)."""
    model = build(cfg, MODELS) if isinstance(cfg, Mapping) else cfg
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model: expected an nn.Module, built {type(model).__name__}")
    model = apply_speed_options(model.to(device), channels_last, compile)
    if distributed and not isinstance(
        model, (DistributedModel, nn.parallel.DistributedDataParallel, FSDPModel)
    ):
        model = wrap_model(model, device, wrapper_cfg)
    return model


def _evaluator_class() -> Any:
    try:
        from ..evaluation import Evaluator
    except ImportError:
        return None
    return Evaluator


def build_evaluator(cfg: Any) -> Any:
    """An evaluator from a metric dict, a list of metric dicts, an ``Evaluator`` dict or object."""
    if cfg is None:
        return None
    if isinstance(cfg, Mapping):
        built = build(cfg, METRICS)
        if hasattr(built, "metrics"):  # already an Evaluator
            return built
        metrics = [built]
    elif isinstance(cfg, Sequence) and not isinstance(cfg, str):
        metrics = [build(item, METRICS) for item in cfg]
    else:
        return cfg
    evaluator_cls = _evaluator_class()
    if evaluator_cls is None:
        if len(metrics) == 1:  # a metric has the evaluator interface (process / evaluate / dataset_meta)
            return metrics[0]
        raise ConfigError("several metrics need visionstack.evaluation.Evaluator, which failed to import")
    return evaluator_cls(metrics)


def merged_hook_cfgs(default_hooks: Mapping[str, Any] | None) -> dict[str, Any]:
    """``DEFAULT_HOOKS`` updated by the user's ``default_hooks`` (None removes a hook; a dict
    without ``type`` updates the default's arguments)."""
    merged: dict[str, Any] = copy.deepcopy(DEFAULT_HOOKS)
    for name, cfg in (default_hooks or {}).items():
        if cfg is None:
            merged.pop(name, None)
        elif isinstance(cfg, Mapping) and "type" not in cfg:
            if name not in DEFAULT_HOOKS:
                close = close_matches(name, DEFAULT_HOOKS, n=1, cutoff=0.6)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"default_hooks.{name}: not a default hook and has no `type`.{hint} "
                    f"(default hooks: {', '.join(DEFAULT_HOOKS)})"
                )
            merged[name] = {**DEFAULT_HOOKS[name], **cfg}
        else:
            merged[name] = cfg
    return merged


def _build_hook(cfg: Any) -> tuple[Hook, int | None]:
    if isinstance(cfg, Hook):
        return cfg, None
    cfg = dict(cfg)
    priority = cfg.pop("priority", None)
    hook = build(cfg, HOOKS)
    return hook, (get_priority(priority) if priority is not None else None)


def build_hooks(
    default_hooks: Mapping[str, Any] | None, custom_hooks: Sequence[Any] | None
) -> list[tuple[Hook, int | None]]:
    """Build default and custom hooks; returns (hook, priority override or None) pairs in
    registration order."""
    hooks = [_build_hook(cfg) for cfg in merged_hook_cfgs(default_hooks).values()]
    hooks += [_build_hook(cfg) for cfg in (custom_hooks or [])]
    return hooks
