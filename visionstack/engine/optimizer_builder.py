"""Build an optimizer wrapper from config, with per-parameter learning-rate and decay rules.

Every ``torch.optim`` optimizer is registered in ``OPTIMIZERS`` under its class name. The config::

    optim_wrapper = dict(
        type="OptimWrapper",
        optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=1e-4),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                           custom_keys={"backbone": dict(lr_mult=0.1)}),
        clip_grad=dict(max_norm=1.0),
    )

``paramwise_cfg`` follows MMEngine's ``DefaultOptimWrapperConstructor``: a parameter whose full
name contains a ``custom_keys`` entry (the longest matching entry wins) gets that entry's
``lr_mult``/``decay_mult``; otherwise norm-layer parameters get ``norm_decay_mult``, biases
``bias_lr_mult``/``bias_decay_mult``, depth-wise convolution weights ``dwconv_decay_mult`` and
other 1-D parameters ``flat_decay_mult``. Parameters that end with the same settings share one
param group (so fused/foreach optimizer kernels stay effective).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping, MutableMapping
from typing import Any

import torch
from torch import nn

from ..registry import OPTIM_WRAPPERS, OPTIMIZERS, ConfigError, build, validate
from ..utils.suggest import did_you_mean
from .optim_wrapper import OptimWrapper, OptimWrapperDict

__all__ = [
    "build_optim_wrapper",
    "is_multi_optim_cfg",
    "paramwise_groups",
    "enable_amp",
    "validate_optim_wrapper_cfg",
    "PARAMWISE_KEYS",
]

PARAMWISE_KEYS = (
    "custom_keys",
    "norm_decay_mult",
    "bias_lr_mult",
    "bias_decay_mult",
    "dwconv_decay_mult",
    "flat_decay_mult",
)
_CUSTOM_KEY_FIELDS = ("lr_mult", "decay_mult")
_NORM_TYPES: tuple[type, ...] = (
    nn.modules.batchnorm._NormBase,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.LocalResponseNorm,
) + ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())


def _register_torch_optimizers() -> None:
    for name, value in vars(torch.optim).items():
        if (
            isinstance(value, type)
            and issubclass(value, torch.optim.Optimizer)
            and value is not torch.optim.Optimizer
        ):
            OPTIMIZERS.register(value, name=name)


_register_torch_optimizers()


def _check_paramwise_cfg(paramwise_cfg: Mapping[str, Any], path: str) -> None:
    for key, value in paramwise_cfg.items():
        if key not in PARAMWISE_KEYS:
            raise ConfigError(
                f"{path}.{key}: unknown paramwise option.{did_you_mean(key, PARAMWISE_KEYS)} "
                f"(accepted: {', '.join(PARAMWISE_KEYS)})"
            )
        if key == "custom_keys":
            for name, rule in value.items():
                for field in rule:
                    if field not in _CUSTOM_KEY_FIELDS:
                        raise ConfigError(
                            f"{path}.custom_keys.{name}.{field}: unknown option."
                            f"{did_you_mean(field, _CUSTOM_KEY_FIELDS)} (accepted: lr_mult, decay_mult)"
                        )


MULTI_CONSTRUCTOR = "MultiOptimWrapperConstructor"


def is_multi_optim_cfg(cfg: Any) -> bool:
    """Whether an ``optim_wrapper`` config gives one wrapper per sub-module (MMEngine's
    ``constructor="MultiOptimWrapperConstructor"``, or no ``optimizer`` and only wrapper dicts)."""
    if not isinstance(cfg, Mapping):
        return False
    if cfg.get("constructor") == MULTI_CONSTRUCTOR:
        return True
    entries = [value for key, value in cfg.items() if key != "constructor"]
    return (
        "optimizer" not in cfg
        and bool(entries)
        and all(isinstance(value, Mapping) and "optimizer" in value for value in entries)
    )


def _sub_wrapper_cfgs(cfg: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {key: value for key, value in cfg.items() if key != "constructor"}


def validate_optim_wrapper_cfg(cfg: Mapping[str, Any], path: str = "optim_wrapper") -> None:
    """Check an ``optim_wrapper`` config without building it (types, keywords, paramwise options)."""
    if is_multi_optim_cfg(cfg):
        for name, sub_cfg in _sub_wrapper_cfgs(cfg).items():
            if not isinstance(sub_cfg, Mapping):
                raise ConfigError(
                    f"{path}.{name}: one wrapper per sub-module, each a dict with an `optimizer`"
                )
            validate_optim_wrapper_cfg(sub_cfg, f"{path}.{name}")
        return
    cfg = dict(cfg)
    if cfg.get("constructor") not in (None, "DefaultOptimWrapperConstructor"):
        raise ConfigError(
            f"{path}.constructor: {cfg['constructor']!r} is not supported (DefaultOptimWrapperConstructor, "
            f"the default, or {MULTI_CONSTRUCTOR} with one wrapper per sub-module)"
        )
    cfg.pop("constructor", None)
    if "optimizer" not in cfg:
        raise ConfigError(f"{path}: needs an `optimizer` dict, e.g. optimizer=dict(type='SGD', lr=0.01)")
    validate(cfg.pop("optimizer"), OPTIMIZERS, path=f"{path}.optimizer")
    _check_paramwise_cfg(cfg.pop("paramwise_cfg", None) or {}, f"{path}.paramwise_cfg")
    cfg.pop("clip_grad", None)  # its `type` ('norm'/'value') is not a registry name; checked at build
    cfg.setdefault("type", "OptimWrapper")
    validate(cfg, OPTIM_WRAPPERS, path=path)


def _optimizer_default(optimizer_cfg: Mapping[str, Any], name: str) -> Any:
    """The value of ``name`` in the config, or the optimizer class's default."""
    if name in optimizer_cfg:
        return optimizer_cfg[name]
    optimizer_cls = optimizer_cfg["type"]
    if isinstance(optimizer_cls, str):
        optimizer_cls = OPTIMIZERS.get(optimizer_cls)
    parameter = inspect.signature(optimizer_cls).parameters.get(name)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    return parameter.default


def _param_settings(
    module: nn.Module,
    param_name: str,
    full_name: str,
    param: nn.Parameter,
    base_lr: float,
    base_wd: float | None,
    paramwise_cfg: Mapping[str, Any],
    sorted_keys: list[str],
) -> tuple[float, float | None]:
    """(lr, weight_decay) for one parameter under MMEngine's paramwise rules."""
    lr, wd = base_lr, base_wd
    custom_keys = paramwise_cfg.get("custom_keys", {})
    for key in sorted_keys:
        if key in full_name:
            rule = custom_keys[key]
            lr = base_lr * rule.get("lr_mult", 1.0)
            if base_wd is not None:
                wd = base_wd * rule.get("decay_mult", 1.0)
            return lr, wd
    is_norm = isinstance(module, _NORM_TYPES)
    is_bias = param_name == "bias"
    is_dwconv = isinstance(module, nn.Conv2d) and module.groups == module.in_channels and module.groups > 1
    if is_bias and not is_norm and "bias_lr_mult" in paramwise_cfg:
        lr = base_lr * paramwise_cfg["bias_lr_mult"]
    if base_wd is not None:
        if is_norm and "norm_decay_mult" in paramwise_cfg:
            wd = base_wd * paramwise_cfg["norm_decay_mult"]
        elif is_bias and not is_norm and "bias_decay_mult" in paramwise_cfg:
            wd = base_wd * paramwise_cfg["bias_decay_mult"]
        elif is_dwconv and not is_bias and "dwconv_decay_mult" in paramwise_cfg:
            wd = base_wd * paramwise_cfg["dwconv_decay_mult"]
        elif param.ndim == 1 and not (is_norm or is_bias) and "flat_decay_mult" in paramwise_cfg:
            wd = base_wd * paramwise_cfg["flat_decay_mult"]
    return lr, wd


def paramwise_groups(
    model: nn.Module, base_lr: float, base_wd: float | None, paramwise_cfg: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Split ``model``'s parameters into param groups by the ``paramwise_cfg`` rules.

    Args:
        model: the model (unwrapped).
        base_lr: the optimizer's learning rate.
        base_wd: the optimizer's weight decay (None if the optimizer has none).
        paramwise_cfg: see the module docstring.

    Returns:
        Param-group dicts ``{"params": [...], "lr": ..., "weight_decay": ...}``, one per distinct
        (lr, weight_decay) pair, in order of first appearance; parameter order is the model's.
    """
    _check_paramwise_cfg(paramwise_cfg, "optim_wrapper.paramwise_cfg")
    custom_keys = paramwise_cfg.get("custom_keys", {})
    sorted_keys = sorted(sorted(custom_keys), key=len, reverse=True)  # longest first, ties alphabetical
    groups: dict[tuple[float, float | None], dict[str, Any]] = {}
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        for param_name, param in module.named_parameters(recurse=False):
            if id(param) in seen:  # shared parameters go in the first group that meets them
                continue
            seen.add(id(param))
            full_name = f"{module_name}.{param_name}" if module_name else param_name
            lr, wd = _param_settings(
                module, param_name, full_name, param, base_lr, base_wd, paramwise_cfg, sorted_keys
            )
            group = groups.setdefault((lr, wd), {"params": [], "lr": lr, "param_names": []})
            if wd is not None:
                group["weight_decay"] = wd
            group["params"].append(param)
            group["param_names"].append(full_name)
    return list(groups.values())


def build_optim_wrapper(
    model: nn.Module, cfg: Mapping[str, Any] | OptimWrapper | OptimWrapperDict
) -> OptimWrapper | OptimWrapperDict:
    """Build the optimizer for ``model``'s parameters and wrap it.

    A config with one wrapper config per child module (``optim_wrapper = dict(generator=dict(optimizer=...),
    discriminator=dict(optimizer=...))``, MMEngine's ``constructor="MultiOptimWrapperConstructor"`` accepted)
    builds an :class:`OptimWrapperDict`: each wrapper optimizes its module's parameters only.

    Args:
        model: the (unwrapped) model whose parameters are optimized.
        cfg: an ``optim_wrapper`` config (see the module docstring) or an already built wrapper.
    """
    if not isinstance(cfg, Mapping):
        return cfg
    validate_optim_wrapper_cfg(cfg)
    if is_multi_optim_cfg(cfg):
        return _build_wrapper_dict(model, cfg)
    cfg = dict(cfg)
    cfg.pop("constructor", None)
    optimizer_cfg = dict(cfg.pop("optimizer"))
    paramwise_cfg = cfg.pop("paramwise_cfg", None)
    clip_grad = cfg.pop("clip_grad", None)
    cfg.setdefault("type", "OptimWrapper")
    if paramwise_cfg:
        base_lr = _optimizer_default(optimizer_cfg, "lr")
        base_wd = _optimizer_default(optimizer_cfg, "weight_decay")
        params: Any = paramwise_groups(model, base_lr, base_wd, paramwise_cfg)
        for group in params:
            del group["param_names"]  # torch rejects unknown keys in some optimizers' state checks
    else:
        params = list(model.parameters())
    optimizer = build(optimizer_cfg, OPTIMIZERS, params=params)
    return build(cfg, OPTIM_WRAPPERS, optimizer=optimizer, clip_grad=clip_grad)


def _build_wrapper_dict(model: nn.Module, cfg: Mapping[str, Any]) -> OptimWrapperDict:
    """One wrapper per child module named in the config (MMEngine's ``MultiOptimWrapperConstructor``)."""
    children = dict(model.named_children())
    wrappers = {}
    for name, sub_cfg in _sub_wrapper_cfgs(cfg).items():
        if name not in children:
            raise ConfigError(
                f"optim_wrapper.{name}: the model ({type(model).__name__}) has no sub-module {name!r}; one "
                f"wrapper per sub-module, named after it (its sub-modules: {', '.join(children) or 'none'})"
            )
        wrappers[name] = build_optim_wrapper(children[name], sub_cfg)
    return OptimWrapperDict(**wrappers)


def enable_amp(cfg: MutableMapping[str, Any], dtype: str | None = None) -> MutableMapping[str, Any]:
    """Switch a runner config to mixed precision (what ``visionstack train --amp`` does).

    The ``optim_wrapper`` type becomes ``AmpOptimWrapper`` (its other settings are kept); ``dtype``
    ("bfloat16"/"float16") is set when given. Returns ``cfg`` (changed in place).
    """
    if "optim_wrapper" not in cfg or cfg["optim_wrapper"] is None:
        raise ConfigError("--amp needs an `optim_wrapper` in the config (it is a training option)")
    if is_multi_optim_cfg(cfg["optim_wrapper"]):
        optim_cfg = copy.copy(cfg["optim_wrapper"])
        for name, sub_cfg in _sub_wrapper_cfgs(optim_cfg).items():
            optim_cfg[name] = enable_amp({"optim_wrapper": sub_cfg}, dtype)["optim_wrapper"]
        cfg["optim_wrapper"] = optim_cfg
        return cfg
    optim_cfg = copy.copy(cfg["optim_wrapper"])
    current = optim_cfg.get("type", "OptimWrapper")
    if current not in ("OptimWrapper", OptimWrapper, "AmpOptimWrapper") and not (
        isinstance(current, type) and current.__name__ == "AmpOptimWrapper"
    ):
        raise ConfigError(f"optim_wrapper.type: --amp replaces OptimWrapper, not {current!r}")
    optim_cfg["type"] = "AmpOptimWrapper"
    if dtype is not None:
        optim_cfg["dtype"] = dtype
    cfg["optim_wrapper"] = optim_cfg
    return cfg
