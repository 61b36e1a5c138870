"""Check a whole runner config before anything is built.

Every part is validated against the registry (types and keyword arguments, with the dotted key
path and close matches in the error), dataloader dicts against the accepted options, and the
top-level keys against the runner's: an unknown key that is a close match of a runner key the
config lacks (``train_dataloder``) is an error; other unknown keys are the user's own variables
(``data_root``, ``train_pipeline`` ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..registry import HOOKS, LOOPS, METRICS, MODELS, ConfigError, validate
from ..utils.suggest import close_matches, did_you_mean
from .builders import loop_cfg_with_type, merged_hook_cfgs
from .data_loading import validate_dataloader_cfg
from .model_wrapper import validate_model_wrapper_cfg
from .optimizer_builder import validate_optim_wrapper_cfg
from .param_scheduler import validate_param_scheduler_cfg

__all__ = ["RUNNER_KEYS", "validate_runner_config"]

RUNNER_KEYS = (
    "model",
    "work_dir",
    "train_dataloader",
    "val_dataloader",
    "test_dataloader",
    "train_cfg",
    "val_cfg",
    "test_cfg",
    "optim_wrapper",
    "param_scheduler",
    "val_evaluator",
    "test_evaluator",
    "default_hooks",
    "custom_hooks",
    "randomness",
    "resume",
    "load_from",
    "launcher",
    "env_cfg",
    "log_level",
    "experiment_name",
    "model_wrapper_cfg",
    "load_from_unsafe",
    "channels_last",
    "compile",
)
RANDOMNESS_KEYS = ("seed", "deterministic", "diff_rank_seed")
ENV_KEYS = ("cudnn_benchmark", "device", "dist_cfg", "mp_start_method")
LAUNCHERS = ("auto", "none", "pytorch")
_TRIPLES = (
    ("train_dataloader", "train_cfg", "optim_wrapper"),
    ("val_dataloader", "val_cfg", "val_evaluator"),
    ("test_dataloader", "test_cfg", "test_evaluator"),
)


def _check_top_level(cfg: Mapping[str, Any]) -> None:
    absent = [key for key in RUNNER_KEYS if key not in cfg]
    for key in cfg:
        if key in RUNNER_KEYS or not isinstance(key, str):
            continue
        match = close_matches(key, absent, n=1, cutoff=0.8)
        if match:
            raise ConfigError(
                f"{key}: unknown top-level key; did you mean {match[0]!r}? (the config has no "
                f"{match[0]!r}; other unknown top-level keys are kept as user variables)"
            )


def _check_triples(cfg: Mapping[str, Any]) -> None:
    for triple in _TRIPLES:
        present = [key for key in triple if cfg.get(key) is not None]
        if present and len(present) != len(triple):
            missing = [key for key in triple if key not in present]
            raise ConfigError(
                f"{missing[0]}: {', '.join(triple)} go together; the config sets "
                f"{', '.join(present)} but not {', '.join(missing)}"
            )
    if cfg.get("param_scheduler") and cfg.get("optim_wrapper") is None:
        raise ConfigError("param_scheduler: needs an optim_wrapper")


def _check_keys(section: Any, accepted: Sequence[str], path: str) -> None:
    if section is None:
        return
    if not isinstance(section, Mapping):
        raise ConfigError(f"{path}: expected a dict, got {type(section).__name__}")
    for key in section:
        if key not in accepted:
            raise ConfigError(
                f"{path}.{key}: unknown option.{did_you_mean(key, accepted, cutoff=0.6)} (accepted: {', '.join(accepted)})"
            )


def _check_evaluator(cfg: Any, path: str) -> None:
    if isinstance(cfg, Mapping):
        validate(cfg, METRICS, path=path)
    elif isinstance(cfg, Sequence) and not isinstance(cfg, str):
        for index, item in enumerate(cfg):
            validate(item, METRICS, path=f"{path}.{index}")


def _check_hooks(cfg: Mapping[str, Any]) -> None:
    for name, hook_cfg in merged_hook_cfgs(cfg.get("default_hooks")).items():
        if isinstance(hook_cfg, Mapping):
            validate(
                {k: v for k, v in hook_cfg.items() if k != "priority"}, HOOKS, path=f"default_hooks.{name}"
            )
    for index, hook_cfg in enumerate(cfg.get("custom_hooks") or []):
        if isinstance(hook_cfg, Mapping):
            if "type" not in hook_cfg:
                raise ConfigError(f"custom_hooks.{index}: a hook needs a `type`, e.g. dict(type='EMAHook')")
            validate(
                {k: v for k, v in hook_cfg.items() if k != "priority"}, HOOKS, path=f"custom_hooks.{index}"
            )


def validate_runner_config(cfg: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` (dotted key path, suggestions) for the first problem in ``cfg``."""
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"a runner config is a mapping of top-level keys, got {type(cfg).__name__}")
    _check_top_level(cfg)
    for key in ("model", "work_dir"):
        if cfg.get(key) is None:
            raise ConfigError(f"{key}: the config has no {key!r} (required)")
    _check_triples(cfg)
    validate(cfg["model"], MODELS, path="model")
    for prefix in ("train", "val", "test"):
        if cfg.get(f"{prefix}_dataloader") is not None:
            validate_dataloader_cfg(cfg[f"{prefix}_dataloader"], f"{prefix}_dataloader")
        if isinstance(cfg.get(f"{prefix}_cfg"), Mapping):
            validate(loop_cfg_with_type(f"{prefix}_cfg", cfg[f"{prefix}_cfg"]), LOOPS, path=f"{prefix}_cfg")
    if isinstance(cfg.get("optim_wrapper"), Mapping):
        validate_optim_wrapper_cfg(cfg["optim_wrapper"])
    validate_param_scheduler_cfg(cfg.get("param_scheduler"))
    for key in ("val_evaluator", "test_evaluator"):
        _check_evaluator(cfg.get(key), key)
    _check_hooks(cfg)
    _check_keys(cfg.get("randomness"), RANDOMNESS_KEYS, "randomness")
    _check_keys(cfg.get("env_cfg"), ENV_KEYS, "env_cfg")
    if cfg.get("model_wrapper_cfg") is not None:
        validate_model_wrapper_cfg(cfg["model_wrapper_cfg"])
    if cfg.get("launcher", "auto") not in LAUNCHERS:
        raise ConfigError(f"launcher: {cfg['launcher']!r} is not one of {LAUNCHERS}")
