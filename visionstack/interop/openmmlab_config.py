"""OpenMMLab config files turned into visionstack configs, with a report of what did not map.

:func:`~.openmmlab_config_files.load_openmmlab_config` reads the OpenMMLab file with its ``_base_``
chain and package references, as MMEngine merges them, without importing OpenMMLab.

:func:`convert_openmmlab_config` then walks the merged config. For each ``type`` it decides, through
tables: the same name registered in visionstack (the registry of that part of the config first, as
:func:`visionstack.registry.build` resolves it), a renamed type, or nothing (the node is left out).
Each argument is kept when visionstack's constructor accepts it (:func:`inspect.signature`, as
:func:`visionstack.registry.validate` checks it), renamed, converted (``norm_cfg`` and ``act_cfg`` to
``norm_layer`` and ``act_layer`` factories, (h, w) pairs to (w, h) ...), dropped because its value
is what visionstack does anyway, or left out with the reason. The runtime keys go the same way
(hooks, loops, optimiser wrapper, schedulers, ``env_cfg``); keys with no visionstack meaning
(``default_scope``, ``visualizer``, ``log_processor``, ``auto_scale_lr``, pretrained downloads ...)
go to the report.

The tables shared by every OpenMMLab package (MMEngine's runtime, MMCV's transforms and layers,
backbones and losses that visionstack keeps outside the tasks) are here. What belongs to one task
lives in that task's folder, in a module named ``openmmlab_config`` (for example
``visionstack/tasks/segmentation/openmmlab_config.py``), found by name and imported by string, so
this module stays task-agnostic. Such a module may define (all optional):

- ``SCOPES``: the OpenMMLab scopes (``default_scope``, package names) it describes, e.g. ``("mmseg",)``;
- ``MODEL_TYPES``: top-level model types that identify the scope when ``default_scope`` is missing;
- ``TYPE_RENAMES`` ``{om_type: vs_type}``, ``ARG_RENAMES`` ``{om_type: {om_arg: vs_arg}}``;
- ``OM_DEFAULTS`` ``{om_type: {om_arg: value}}``: OpenMMLab's defaults where visionstack's differ,
  written out when the config does not set them;
- ``EQUIVALENT`` ``{om_type: {om_arg: (value, reason)}}``: values that mean visionstack's behaviour;
- ``LEFT_OUT`` ``{om_type: {om_arg: reason}}`` and ``TYPE_REASONS`` ``{om_type: reason}``: better
  reasons than the generic ones for what cannot map;
- ``VALUE_MAPS`` ``{om_type: {om_arg: fn(value) -> value}}``;
- ``NODE_HOOKS`` ``{om_type: fn(node, path, conversion) -> node | None}``: rewrites that depend on
  values (None leaves the node out; the hook reports why);
- ``restructure(cfg, conversion)`` before the walk and ``finish(cfg, conversion)`` after it, for
  moves across the tree (MMDetection's ``model.train_cfg`` into the heads, say).

The ``conversion`` handed to hooks has ``leave_out(path, value, reason)``, ``same(path, value,
reason)`` and ``moved(path, value, where)`` (see :class:`ConfigConversion`).
"""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.util
import inspect
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import format_python
from .openmmlab_config_files import (
    PACKAGE_SEPARATOR,
    SCOPE_KEY,
    OpenMMLabConfigError,
    find_package_configs,
    load_openmmlab_config,
)

__all__ = [
    "ConfigConversion",
    "OpenMMLabConfigError",
    "ReportEntry",
    "convert_config_file",
    "convert_openmmlab_config",
    "find_package_configs",
    "load_openmmlab_config",
    "load_task_tables",
    "write_report",
]


# ==== the conversion record =======================================================================
@dataclass
class ReportEntry:
    """One key of the OpenMMLab config that the written config does not hold as it was."""

    path: str
    value: Any
    reason: str


_DROP = object()  # a converted value that is left out (already reported)


@dataclass
class ConfigConversion:
    """What a conversion did besides copying: keys left out, dropped as equivalent, moved or renamed.

    Task hooks receive it and report through :meth:`leave_out`, :meth:`same` and :meth:`moved`.
    """

    scope: str | None = None
    left_out: list[ReportEntry] = field(default_factory=list)
    equivalent: list[ReportEntry] = field(default_factory=list)
    changed: list[ReportEntry] = field(default_factory=list)
    problems: list[ReportEntry] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)

    def leave_out(self, path: str, value: Any, reason: str) -> None:
        """``path`` has no counterpart in the written config; the run may differ where it mattered."""
        self.left_out.append(ReportEntry(path, value, reason))

    def same(self, path: str, value: Any, reason: str) -> None:
        """``path`` is dropped because its value is what visionstack does anyway."""
        self.equivalent.append(ReportEntry(path, value, reason))

    def moved(self, path: str, value: Any, where: str) -> None:
        """``path`` is written elsewhere or in another form (``where`` says how)."""
        self.changed.append(ReportEntry(path, value, where))

    def problem(self, path: str, value: Any, reason: str) -> None:
        """Something the written config lacks to build (a required argument OpenMMLab left to a default)."""
        self.problems.append(ReportEntry(path, value, reason))


# ==== tables ======================================================================================
@dataclass
class Tables:
    """The mapping tables of one scope: the common ones updated with a task module's."""

    type_renames: dict[str, str] = field(default_factory=dict)
    arg_renames: dict[str, dict[str, str]] = field(default_factory=dict)
    om_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    equivalent: dict[str, dict[str, tuple[Any, str]]] = field(default_factory=dict)
    left_out: dict[str, dict[str, str]] = field(default_factory=dict)
    type_reasons: dict[str, str] = field(default_factory=dict)
    value_maps: dict[str, dict[str, Callable[[Any], Any]]] = field(default_factory=dict)
    node_hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)
    restructure: list[Callable[[dict, ConfigConversion], None]] = field(default_factory=list)
    finish: list[Callable[[dict, ConfigConversion], None]] = field(default_factory=list)

    def add(self, module: Any) -> None:
        """Add a task module's tables (its entries win over the common ones)."""
        self.type_renames.update(getattr(module, "TYPE_RENAMES", {}))
        for name in ("arg_renames", "om_defaults", "equivalent", "left_out", "value_maps"):
            for om_type, entries in getattr(module, name.upper(), {}).items():
                getattr(self, name).setdefault(om_type, {}).update(entries)
        self.type_reasons.update(getattr(module, "TYPE_REASONS", {}))
        self.node_hooks.update(getattr(module, "NODE_HOOKS", {}))
        for name in ("restructure", "finish"):
            if callable(getattr(module, name, None)):
                getattr(self, name).append(getattr(module, name))

    def for_type(self, table: str, om_type: str) -> dict:
        """``table``'s entries for ``om_type``, with those for every type (``"*"``) under them."""
        entries = getattr(self, table)
        return {**entries.get("*", {}), **entries.get(om_type, {})}


_NO_DOWNLOAD = (
    "visionstack downloads nothing: put the weights in a local file and give it to the backbone's "
    "`pretrained` argument (an OpenMMLab checkpoint through `visionstack convert checkpoint` first)"
)
_SAME_IO = "visionstack reads local files only (no storage backends)"

COMMON_TYPE_RENAMES = {"LoadImageFromFile": "LoadImage"}
COMMON_EQUIVALENT: dict[str, dict[str, tuple[Any, str]]] = {
    "*": {
        "backend_args": (None, _SAME_IO),
        "file_client_args": ({"backend": "disk"}, _SAME_IO),
        "conv_cfg": (None, "plain convolutions, as OpenMMLab's conv_cfg=None"),
        "with_cp": (False, "no activation checkpointing, as OpenMMLab's with_cp=False"),
        "init_cfg": (None, "visionstack's own initialisation"),
        "pretrained": (None, "no pretrained weights, as in OpenMMLab"),
    },
    "LoadImageFromFile": {"imdecode_backend": ("cv2", "visionstack decodes with OpenCV")},
    "ResNet": {
        "style": ("pytorch", "visionstack's default ResNet style (stride on the 3x3 conv); 'caffe' is kept"),
        "num_stages": (4, "visionstack's ResNet has the four stages"),
        "deep_stem": (False, "the 7x7 stem, visionstack's stem='imagenet'"),
        "avg_down": (False, "strided 1x1 shortcut convolutions, as visionstack's ResNet"),
        "dcn": (None, "no deformable convolutions"),
        "stage_with_dcn": ([False, False, False, False], "no deformable convolutions"),
        "plugins": (None, "no plugins"),
        "stem_channels": (None, "stem width = base_channels, as visionstack's"),
    },
    "FocalLoss": {"use_sigmoid": (True, "visionstack's FocalLoss is the sigmoid form")},
    "CrossEntropyLoss": {
        "use_sigmoid": (False, "softmax cross-entropy, visionstack's CrossEntropyLoss"),
        "use_mask": (False, "softmax cross-entropy, visionstack's CrossEntropyLoss"),
    },
    "QualityFocalLoss": {"activated": (False, "logits in, as visionstack's default")},
    "OptimWrapper": {"clip_grad": (None, "no gradient clipping, as OpenMMLab's None")},
    "CheckpointHook": {"file_client_args": (None, _SAME_IO)},
    "EMAHook": {
        "ema_type": ("ExponentialMovingAverage", "a constant-momentum average, visionstack's EMAHook")
    },
}
COMMON_LEFT_OUT: dict[str, dict[str, str]] = {
    "EMAHook": {
        "ema_type": "visionstack's EMAHook keeps the momentum constant; this EMA varies it over training "
        "(MMDetection's ExpMomentumEMA starts higher and decays to `momentum`), so the early averages differ",
    },
    "LoggerHook": {
        "log_metric_by_epoch": "visionstack's LoggerHook chooses epoch or iteration from the loop"
    },
    "EpochBasedTrainLoop": {
        "dynamic_intervals": "visionstack validates every val_interval epochs throughout"
    },
    "IterBasedTrainLoop": {
        "dynamic_intervals": "visionstack validates every val_interval iterations throughout"
    },
}
COMMON_TYPE_REASONS = {
    "LocalVisBackend": "no visualiser backends in visionstack",
    "TensorboardVisBackend": "visionstack's LoggerHook writes TensorBoard itself (tensorboard=True)",
}

# Top-level keys of MMEngine's runtime with no visionstack meaning.
TOP_LEVEL_LEFT_OUT = {
    "default_scope": "visionstack has one registry per kind, without scopes",
    "visualizer": "no training-time visualiser in visionstack (draw with `visionstack infer` or `data browse`)",
    "vis_backends": "no visualiser backends in visionstack",
    "log_processor": "visionstack's LoggerHook smooths and logs by itself (no LogProcessor)",
    "auto_scale_lr": "visionstack does not rescale the learning rate with the batch size; set the lr for your batch",
    "tta_model": "test-time augmentation is the model's test_cfg in visionstack (no TTA wrapper model)",
    "tta_pipeline": "test-time augmentation is the model's test_cfg in visionstack (no TTA pipeline)",
    "custom_imports": "OpenMMLab plugin modules are not imported by visionstack",
    "model_wrapper_cfg": "OpenMMLab's distributed wrapper options (visionstack: model_wrapper_cfg=dict(type='DistributedModel'))",
    "optimizer_config": "an MMCV 1.x key; MMEngine and visionstack read optim_wrapper",
}
TOP_LEVEL_EQUIVALENT = {"auto_scale_lr": ({"enable": False}, "off in OpenMMLab too (enable=False)")}

NORM_TYPES = {
    "BN": "torch.nn.BatchNorm2d",
    "BN2d": "torch.nn.BatchNorm2d",
    "BN1d": "torch.nn.BatchNorm1d",
    "BN3d": "torch.nn.BatchNorm3d",
    "SyncBN": "torch.nn.SyncBatchNorm",
    "LN": "torch.nn.LayerNorm",
    "IN": "torch.nn.InstanceNorm2d",
    "IN2d": "torch.nn.InstanceNorm2d",
}
ACT_TYPES = {
    "ReLU": "torch.nn.ReLU",
    "ReLU6": "torch.nn.ReLU6",
    "SiLU": "torch.nn.SiLU",
    "Swish": "torch.nn.SiLU",
    "GELU": "torch.nn.GELU",
    "LeakyReLU": "torch.nn.LeakyReLU",
    "PReLU": "torch.nn.PReLU",
    "ELU": "torch.nn.ELU",
    "Sigmoid": "torch.nn.Sigmoid",
    "Tanh": "torch.nn.Tanh",
    "HSwish": "torch.nn.Hardswish",
    "Mish": "torch.nn.Mish",
}
_LAYER_ARGS = {
    "norm_cfg": ("norm_layer", NORM_TYPES, "norm"),
    "act_cfg": ("act_layer", ACT_TYPES, "activation"),
}


def load_task_tables() -> dict[str, Any]:
    """Every task folder's ``openmmlab_config`` module, by task name (imported by string)."""
    tasks = importlib.import_module("visionstack.tasks")
    modules = {}
    for name in tasks.task_packages():
        module_name = f"visionstack.tasks.{name}.openmmlab_config"
        if importlib.util.find_spec(module_name) is not None:
            modules[name] = importlib.import_module(module_name)
    return modules


def _tables_for(scope: str | None, modules: Mapping[str, Any]) -> Tables:
    tables = Tables(
        type_renames=dict(COMMON_TYPE_RENAMES),
        equivalent=copy.deepcopy(COMMON_EQUIVALENT),
        left_out=copy.deepcopy(COMMON_LEFT_OUT),
        type_reasons=dict(COMMON_TYPE_REASONS),
    )
    for module in modules.values():
        if scope is not None and scope in getattr(module, "SCOPES", ()):
            tables.add(module)
    return tables


def _guess_scope(cfg: Mapping, modules: Mapping[str, Any]) -> str | None:
    scope = cfg.get("default_scope")
    if isinstance(scope, str):
        return scope
    model = cfg.get("model")
    if isinstance(model, Mapping):
        if isinstance(model.get(SCOPE_KEY), str):
            return model[SCOPE_KEY]
        for module in modules.values():
            if model.get("type") in getattr(module, "MODEL_TYPES", ()) and getattr(module, "SCOPES", ()):
                return module.SCOPES[0]
    return None


# ==== the walk ====================================================================================
def _normal(value: Any) -> Any:
    """Tuples as lists, for comparing config values."""
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    return value


def _same_value(a: Any, b: Any) -> bool:
    return _normal(a) == _normal(b)


def _registries() -> Any:
    from .. import registry

    return registry


def _resolve(type_name: str, registry: Any) -> tuple[Any, str | None]:
    """The visionstack class ``type_name`` names, looked up as :func:`visionstack.registry.build`
    does (the given registry first, then a unique match in the others), or None and why not."""
    reg = _registries()
    try:
        if type_name.startswith("torch."):
            return reg.locate(type_name), None
        return reg.resolve_type(type_name, registry), None
    except (reg.ConfigError, ImportError) as error:
        ambiguous = "several kinds" in str(error)
        return None, str(error) if ambiguous else None


def _accepted(target: Any) -> tuple[set[str], bool]:
    reg = _registries()
    return reg._accepted_keywords(target)


def _required(target: Any) -> list[str]:
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _signature_default(target: Any, name: str) -> Any:
    for cls in getattr(target, "__mro__", (target,)):
        init = vars(cls).get("__init__") if isinstance(cls, type) else cls
        if init is None:
            continue
        try:
            parameter = inspect.signature(init).parameters.get(name)
        except (TypeError, ValueError):
            continue
        if parameter is not None:
            return parameter.default
    return inspect.Parameter.empty


def _factory_matches(spec: Mapping, default: Any) -> bool:
    """True when the factory config ``spec`` builds what the constructor's default ``default`` builds."""
    if default is inspect.Parameter.empty or default is None:
        return False
    func, keywords = (
        (default.func, dict(default.keywords)) if isinstance(default, functools.partial) else (default, {})
    )
    reg = _registries()
    try:
        cls = reg.locate(spec["type"])
    except reg.ConfigError:
        return False
    return cls is func and {k: v for k, v in spec.items() if k not in ("type", "_partial_")} == keywords


class _Walker:
    """Converts nodes of one config, reporting into ``conversion``."""

    def __init__(self, conversion: ConfigConversion, modules: Mapping[str, Any]) -> None:
        self.conversion = conversion
        self.modules = modules
        self._tables: dict[str | None, Tables] = {}

    def tables(self, scope: str | None) -> Tables:
        if scope not in self._tables:
            self._tables[scope] = _tables_for(scope, self.modules)
        return self._tables[scope]

    # -- values ------------------------------------------------------------------------------------
    def value(self, value: Any, registry: Any, path: str, scope: str | None) -> Any:
        """Convert ``value`` (a node, a list of them, a plain dict ...); ``_DROP`` when left out."""
        if isinstance(value, Mapping):
            if "type" in value:
                return self.node(value, registry, path, scope)
            out = {}
            for key, item in value.items():
                if key == SCOPE_KEY:
                    continue
                converted = self.value(item, registry, f"{path}.{key}", scope)
                if converted is not _DROP:
                    out[key] = converted
            return out
        if isinstance(value, (list, tuple)):
            items = [self.value(item, registry, f"{path}.{i}", scope) for i, item in enumerate(value)]
            return type(value)(item for item in items if item is not _DROP)
        return value

    def node(self, node: Mapping, registry: Any, path: str, scope: str | None) -> Any:
        """Convert one ``type`` node: its type through the tables, each argument checked against the
        visionstack constructor."""
        node = dict(node)
        scope = node.pop(SCOPE_KEY, scope)
        tables = self.tables(scope)
        om_type = node["type"]
        if not isinstance(om_type, str):
            self.conversion.leave_out(path, node, f"type {om_type!r} is not a name")
            return _DROP
        hook = tables.node_hooks.get(om_type)
        if hook is not None:
            hooked = hook(node, path, self.conversion)
            if hooked is None:
                return _DROP
            node = dict(hooked)
            if node["type"] != om_type:  # a hook may hand over to another type's tables
                om_type = node["type"]
        for key, default in tables.for_type("om_defaults", om_type).items():
            if key not in node:
                node[key] = copy.deepcopy(default)
        vs_type = tables.type_renames.get(om_type, om_type)
        target, why_not = _resolve(vs_type, registry)
        if target is None:
            kind = getattr(registry, "name", "type")
            reason = (
                tables.type_reasons.get(om_type) or why_not or f"visionstack has no {kind} named {vs_type!r}"
            )
            self.conversion.leave_out(path, node, reason)
            return _DROP
        if vs_type != om_type:
            self.conversion.moved(f"{path}.type", om_type, f"visionstack's {vs_type!r}")
        accepted, any_keyword = _accepted(target)
        accepted |= _EXTRA_ACCEPTED.get(getattr(registry, "name", ""), set())
        renames = tables.for_type("arg_renames", om_type)
        equivalent = tables.for_type("equivalent", om_type)
        left_out = tables.for_type("left_out", om_type)
        value_maps = tables.for_type("value_maps", om_type)
        out: dict[str, Any] = {"type": vs_type}
        for key, value in node.items():
            if key == "type":
                continue
            where = f"{path}.{key}"
            if key in equivalent and _same_value(value, equivalent[key][0]):
                self.conversion.same(where, value, equivalent[key][1])
                continue
            if key in ("init_cfg", "pretrained") and key not in renames and _is_weights_source(key, value):
                self.conversion.leave_out(where, value, _init_reason(value))
                continue
            if key in _LAYER_ARGS and key not in renames:
                self._layer_arg(key, value, target, accepted, out, where)
                continue
            if key in left_out:
                self.conversion.leave_out(where, value, left_out[key])
                continue
            vs_key = renames.get(key, key)
            if vs_key not in accepted and not any_keyword:
                self.conversion.leave_out(where, value, f"visionstack's {vs_type} has no argument {vs_key!r}")
                continue
            if key in value_maps:
                mapped = value_maps[key](value)
                if not _same_value(mapped, value):
                    self.conversion.moved(where, value, f"{vs_key}={mapped!r}")
                value = mapped
            elif vs_key != key:
                self.conversion.moved(where, value, f"argument {vs_key!r}")
            converted = self.value(value, _child_registry(vs_key, registry), where, scope)
            if converted is not _DROP:
                out[vs_key] = converted
        injected = _INJECTED.get(getattr(registry, "name", ""), set())
        for name in _required(target):
            if name not in out and name not in injected:
                self.conversion.problem(
                    f"{path}.{name}",
                    None,
                    f"visionstack's {vs_type} needs {name!r}; the OpenMMLab config leaves it to a default",
                )
        return out

    def _layer_arg(
        self, key: str, value: Any, target: Any, accepted: set[str], out: dict, where: str
    ) -> None:
        """``norm_cfg``/``act_cfg`` as visionstack's ``norm_layer``/``act_layer`` factory."""
        vs_key, types_, what = _LAYER_ARGS[key]
        if vs_key not in accepted:
            if value is None or (isinstance(value, Mapping) and value.get("type") in ("BN", "ReLU")):
                self.conversion.same(where, value, f"visionstack's {target.__name__} fixes its {what} layers")
            else:
                self.conversion.leave_out(where, value, f"visionstack's {target.__name__} has no {vs_key!r}")
            return
        default = _signature_default(target, vs_key)
        if value is None:
            if default is None:
                self.conversion.same(where, value, f"no {what} layer, visionstack's default")
            else:
                out[vs_key] = None
                self.conversion.moved(where, value, f"{vs_key}=None")
            return
        spec = dict(value)
        om_type = spec.pop("type", None)
        if om_type not in types_:
            self.conversion.leave_out(where, value, f"no visionstack {what} layer for {om_type!r}")
            return
        factory: dict[str, Any] = {"type": types_[om_type], "_partial_": True}
        for arg, arg_value in spec.items():
            if key == "norm_cfg" and arg == "requires_grad":
                if not arg_value:
                    self.conversion.leave_out(
                        f"{where}.requires_grad",
                        arg_value,
                        "visionstack trains norm weights (freeze them with frozen_stages)",
                    )
                continue
            if key == "act_cfg" and arg == "inplace":
                continue  # the same numbers either way
            if key == "norm_cfg" and arg in ("eps", "momentum") or key == "act_cfg":
                factory[arg] = arg_value
            else:
                self.conversion.leave_out(
                    f"{where}.{arg}", arg_value, f"not an argument of visionstack's {what} factory"
                )
        if _factory_matches(factory, default):
            self.conversion.same(where, value, f"visionstack's default {what} layer ({types_[om_type]})")
            return
        out[vs_key] = factory
        self.conversion.moved(where, value, f"{vs_key}={factory!r}")


def _is_weights_source(key: str, value: Any) -> bool:
    """An ``init_cfg`` (any), or a ``pretrained`` that names a download rather than a local file."""
    if key == "init_cfg":
        return value is not None
    return isinstance(value, str) and "://" in value


def _init_reason(value: Any) -> str:
    specs = value if isinstance(value, (list, tuple)) else [value]
    if any(isinstance(s, Mapping) and s.get("type") == "Pretrained" or isinstance(s, str) for s in specs):
        return _NO_DOWNLOAD
    return "visionstack initialises each module its own way (init_cfg is not read)"


# Arguments the runner passes when it builds an object of that registry (not config keys).
_INJECTED = {
    "optimizer": {"params"},
    "parameter scheduler": {"optimizer"},
    "optim wrapper": {"optimizer"},
    "loop": {"runner", "dataloader", "evaluator"},
    "data sampler": {"dataset"},
}
_EXTRA_ACCEPTED = {
    "hook": {"priority"},  # the runner reads it before building a hook
    "parameter scheduler": {"convert_to_iter_based"},  # the runner reads it before building a scheduler
}


def _child_registry(key: str, registry: Any) -> Any:
    reg = _registries()
    return {
        "pipeline": reg.TRANSFORMS,
        "transforms": reg.TRANSFORMS,
        "switch_pipeline": reg.TRANSFORMS,
        "dataset": reg.DATASETS,
        "datasets": reg.DATASETS,
    }.get(key, registry)


# ==== top level ===================================================================================
def _convert_dataloader(walker: _Walker, value: Any, name: str, scope: str | None) -> Any:
    from ..engine.data_loading import DATALOADER_KEYS

    reg = _registries()
    if not isinstance(value, Mapping):
        return value
    out = {}
    for key, item in value.items():
        where = f"{name}.{key}"
        if key not in DATALOADER_KEYS:
            walker.conversion.leave_out(where, item, "not a visionstack dataloader option")
            continue
        if key == "batch_sampler" and item is None:
            walker.conversion.same(
                where, item, "batches of batch_size from the sampler, visionstack's default"
            )
            continue
        registry = {"dataset": reg.DATASETS, "sampler": reg.DATA_SAMPLERS, "collate_fn": reg.FUNCTIONS}.get(
            key, reg.DATA_SAMPLERS
        )
        converted = walker.value(item, registry, where, scope)
        if converted is not _DROP:
            out[key] = converted
    return out


def _convert_optim_wrapper(walker: _Walker, value: Any, scope: str | None) -> Any:
    from ..engine.optimizer_builder import PARAMWISE_KEYS

    reg = _registries()
    if not isinstance(value, Mapping):
        return value
    value = dict(value)
    paramwise = value.pop("paramwise_cfg", None)
    optimizer = value.pop("optimizer", None)
    constructor = value.pop("constructor", None)
    value.setdefault("type", "OptimWrapper")
    out = walker.node(value, reg.OPTIM_WRAPPERS, "optim_wrapper", scope)
    if out is _DROP:
        return _DROP
    if optimizer is not None:
        converted = walker.value(optimizer, reg.OPTIMIZERS, "optim_wrapper.optimizer", scope)
        if converted is not _DROP:
            out["optimizer"] = converted
    if constructor not in (None, "DefaultOptimWrapperConstructor"):
        walker.conversion.leave_out(
            "optim_wrapper.constructor",
            constructor,
            "visionstack builds parameter groups with its default constructor",
        )
    if paramwise:
        kept = {}
        for key, item in paramwise.items():
            if key in PARAMWISE_KEYS:
                kept[key] = item
            elif key == "bypass_duplicate" and item:
                walker.conversion.same(
                    f"optim_wrapper.paramwise_cfg.{key}",
                    item,
                    "visionstack puts a shared parameter in one group only",
                )
            else:
                walker.conversion.leave_out(
                    f"optim_wrapper.paramwise_cfg.{key}", item, "not a visionstack paramwise option"
                )
        if kept:
            out["paramwise_cfg"] = kept
    return out


def _convert_env(walker: _Walker, value: Any) -> Any:
    from ..engine.config_check import ENV_KEYS

    if not isinstance(value, Mapping):
        return value
    out = {}
    for key, item in value.items():
        where = f"env_cfg.{key}"
        if key == "mp_cfg" and isinstance(item, Mapping):
            for sub, sub_value in item.items():
                if sub == "mp_start_method":
                    out["mp_start_method"] = sub_value
                    walker.conversion.moved(f"{where}.{sub}", sub_value, "env_cfg.mp_start_method")
                else:
                    walker.conversion.leave_out(
                        f"{where}.{sub}", sub_value, "visionstack leaves this to the libraries' defaults"
                    )
        elif key in ENV_KEYS:
            out[key] = item
        else:
            walker.conversion.leave_out(where, item, "not a visionstack env_cfg option")
    return out


def _convert_hooks(walker: _Walker, value: Any, name: str, scope: str | None) -> Any:
    reg = _registries()
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            converted = item if item is None else walker.value(item, reg.HOOKS, f"{name}.{key}", scope)
            if converted is not _DROP:
                out[key] = converted
        return out
    return walker.value(value, reg.HOOKS, name, scope)


def _convert_loop(walker: _Walker, value: Any, name: str, scope: str | None) -> Any:
    reg = _registries()
    if isinstance(value, Mapping) and "type" not in value and "by_epoch" in value:
        # MMEngine picks the training loop from by_epoch; visionstack from the presence of max_iters
        value = dict(value)
        by_epoch = value.pop("by_epoch")
        value["type"] = "EpochBasedTrainLoop" if by_epoch else "IterBasedTrainLoop"
        walker.conversion.moved(f"{name}.by_epoch", by_epoch, f"type={value['type']!r}")
    if not isinstance(value, Mapping) or "type" not in value:
        return walker.value(value, reg.LOOPS, name, scope)
    return walker.node(value, reg.LOOPS, name, scope)


class _Variable:
    """A top-level variable of the written config, used by name where its value would be repeated."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:  # what format_python writes
        return self.name


def _references(cfg: dict, variables: Mapping) -> dict:
    """The converted config with ``data_root`` and pipeline values that equal a top-level variable
    written as that variable, so that ``--set data_root=...`` reaches every dataset."""

    def replace(value: Any, key: Any = None) -> Any:
        if isinstance(value, Mapping):
            return {k: replace(v, k) for k, v in value.items()}
        if isinstance(value, list) and key != "pipeline":
            return [replace(v) for v in value]
        if isinstance(value, tuple):
            return tuple(replace(v) for v in value)
        if key == "data_root" and "data_root" in variables and value == variables["data_root"]:
            return _Variable("data_root")
        if key == "pipeline":
            for var in ("train_pipeline", "test_pipeline"):
                if var in variables and _same_value(value, variables[var]):
                    return _Variable(var)
            return [replace(v) for v in value]
        return value

    return {key: (value if key in variables else replace(value)) for key, value in cfg.items()}


RUNTIME_COPIED = (
    "load_from",
    "resume",
    "log_level",
    "work_dir",
    "experiment_name",
    "randomness",
    "channels_last",
)


def convert_openmmlab_config(
    variables: Mapping[str, Any], modules: Mapping[str, Any] | None = None
) -> tuple[dict, ConfigConversion]:
    """Convert a merged OpenMMLab config (from :func:`load_openmmlab_config`); returns the visionstack
    config (plain dicts) and what the conversion left out, dropped or moved."""
    reg = _registries()
    modules = load_task_tables() if modules is None else modules
    cfg = copy.deepcopy(dict(variables))
    scope = _guess_scope(cfg, modules)
    conversion = ConfigConversion(scope=scope)
    walker = _Walker(conversion, modules)
    tables = walker.tables(scope)
    model = cfg.get("model")
    if (
        isinstance(model, dict)
        and isinstance(cfg.get("data_preprocessor"), Mapping)
        and "data_preprocessor" not in model
    ):
        # MMEngine's runner hands a top-level data_preprocessor to a model config that has none
        model["data_preprocessor"] = copy.deepcopy(cfg["data_preprocessor"])
        conversion.moved("data_preprocessor", cfg.pop("data_preprocessor"), "model.data_preprocessor")
    for step in tables.restructure:
        step(cfg, conversion)

    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if key in TOP_LEVEL_EQUIVALENT and _same_value(
            {k: value.get(k) for k in TOP_LEVEL_EQUIVALENT[key][0]} if isinstance(value, Mapping) else value,
            TOP_LEVEL_EQUIVALENT[key][0],
        ):
            conversion.same(key, value, TOP_LEVEL_EQUIVALENT[key][1])
        elif key in TOP_LEVEL_LEFT_OUT:
            conversion.leave_out(key, value, TOP_LEVEL_LEFT_OUT[key])
        elif key == "model":
            converted = walker.value(value, reg.MODELS, "model", scope)
            if converted is not _DROP:
                out["model"] = converted
        elif key in ("train_dataloader", "val_dataloader", "test_dataloader"):
            out[key] = _convert_dataloader(walker, value, key, scope)
        elif key in ("train_cfg", "val_cfg", "test_cfg"):
            converted = _convert_loop(walker, value, key, scope)
            if converted is not _DROP:
                out[key] = converted
        elif key == "optim_wrapper":
            converted = _convert_optim_wrapper(walker, value, scope)
            if converted is not _DROP:
                out[key] = converted
        elif key == "param_scheduler":
            out[key] = walker.value(value, reg.PARAM_SCHEDULERS, key, scope)
        elif key in ("val_evaluator", "test_evaluator"):
            converted = walker.value(value, reg.METRICS, key, scope)
            out[key] = [] if converted is _DROP else converted
        elif key in ("default_hooks", "custom_hooks"):
            out[key] = _convert_hooks(walker, value, key, scope)
        elif key == "env_cfg":
            out[key] = _convert_env(walker, value)
        elif key == "launcher":
            if value in ("none", "pytorch"):
                out[key] = value
            else:
                conversion.leave_out(
                    key, value, "visionstack launches with torchrun (launcher 'pytorch') or none"
                )
        elif key in RUNTIME_COPIED:
            out[key] = value
        else:
            conversion.helpers.append(key)
    for step in tables.finish:
        step(out, conversion)
    variables_out = {}
    if "data_root" in cfg and isinstance(cfg["data_root"], str):
        variables_out["data_root"] = cfg["data_root"]
    pipelines = {
        "train_pipeline": _get(out, "train_dataloader", "dataset", "pipeline"),
        "test_pipeline": _get(out, "test_dataloader", "dataset", "pipeline"),
    }
    for name, pipeline in pipelines.items():
        if name in cfg and pipeline is not None:
            variables_out[name] = pipeline
    return {**variables_out, **_references(out, variables_out)}, conversion


def _get(tree: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(tree, Mapping) or key not in tree:
            return None
        tree = tree[key]
    return tree


# ==== writing =====================================================================================
SECTIONS = (
    ("Paths and pipelines", ("data_root", "train_pipeline", "test_pipeline")),
    ("Model", ("model",)),
    (
        "Data",
        ("train_dataloader", "val_dataloader", "test_dataloader", "val_evaluator", "test_evaluator"),
    ),
    ("Schedule", ("train_cfg", "val_cfg", "test_cfg", "optim_wrapper", "param_scheduler")),
)


def _config_text(cfg: Mapping, source: str, report: str, conversion: ConfigConversion) -> str:
    lines = [
        f"# Converted from the OpenMMLab config {source} by `visionstack convert config`.",
        f"# {len(conversion.left_out)} keys were left out and {len(conversion.equivalent)} dropped as equivalent; "
        f"see {report}.",
        "# Pretrained weights are not downloaded: give a local file to the backbone's `pretrained` argument.",
    ]
    if "data_root" in cfg:
        lines.append(
            "# `--set data_root=DIR` moves every dataset; evaluators' ann_file paths are written in full."
        )
    lines.append("")
    for title, keys in (
        *SECTIONS,
        ("Runtime", tuple(k for k in cfg if k not in {x for _, ks in SECTIONS for x in ks})),
    ):
        present = {k: cfg[k] for k in keys if k in cfg}
        if not present:
            continue
        lines.append(f"# ---- {title} " + "-" * (94 - len(title)))
        lines.append(format_python(present).rstrip("\n"))
        lines.append("")
    return "\n".join(lines)


def _without_scope(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_scope(v) for k, v in value.items() if k != SCOPE_KEY}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_scope(v) for v in value)
    return value


def _short(value: Any, limit: int = 140) -> str:
    text = repr(_without_scope(value))
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _grouped(entries: list[ReportEntry]) -> list[tuple[str, str, str]]:
    """Rows with identical value and reason under ``val_``/``test_`` twins merged into one."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    for entry in entries:
        match = re.match(r"^(val|test)_(\w+)(.*)$", entry.path)
        key = (
            f"{{val,test}}_{match.group(2)}{match.group(3)}" if match else entry.path,
            _short(entry.value),
            entry.reason,
        )
        rows.setdefault(key, []).append(entry.path)
    out = []
    for (merged, value, reason), paths in rows.items():
        out.append((merged if len(paths) > 1 else paths[0], value, reason))
    return out


def write_report(
    path: str | os.PathLike,
    conversion: ConfigConversion,
    source: str,
    out: str,
    files: list[str],
    check: str,
) -> None:
    """Write the Markdown report: what was left out (with reasons), dropped as equivalent, moved."""
    text = [
        f"# `visionstack convert config` report: {Path(source).name}",
        "",
        f"- OpenMMLab config: `{source}` (scope `{conversion.scope}`; {len(files)} files with its `_base_` chain)",
        f"- visionstack config: `{out}`",
        f"- visionstack's config check: {check}",
        "",
    ]
    sections = (
        (
            "Left out",
            conversion.left_out,
            "Keys with no counterpart in the written config. Where the value mattered, a run differs from "
            "OpenMMLab's.",
        ),
        ("Needs attention", conversion.problems, "What the written config may lack to build."),
        (
            "Changed in form",
            conversion.changed,
            "Keys written elsewhere or in another form (third column: how).",
        ),
        ("Dropped as equivalent", conversion.equivalent, "Keys whose value is what visionstack does anyway."),
    )
    for title, entries, intro in sections:
        if not entries and title == "Needs attention":
            continue
        rows = _grouped(entries)
        text += [f"## {title} ({len(rows)})", "", intro, ""]
        if rows:
            third = "visionstack" if title == "Changed in form" else "reason"
            text += [f"| key path | OpenMMLab value | {third} |", "|---|---|---|"]
            text += [f"| `{p}` | `{v}` | {r.replace('|', '/')} |" for p, v, r in rows]
            text.append("")
    if conversion.helpers:
        text += [
            "## Helper variables",
            "",
            "Top-level variables used inside the config; their values are written where they were used: "
            + ", ".join(f"`{h}`" for h in conversion.helpers)
            + ".",
            "",
        ]
    text += ["## Files read", "", *[f"- `{f}`" for f in files], ""]
    Path(path).write_text("\n".join(text))


def _check(cfg: Mapping) -> str:
    from ..engine.config_check import validate_runner_config

    try:
        validate_runner_config({"work_dir": "work_dirs/check", **cfg})
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return f"fails: {type(error).__name__}: {error}"
    return "passes (types and arguments of every part)"


def convert_config_file(
    input: str | os.PathLike,
    out: str | os.PathLike | None = None,
    report: str | os.PathLike | None = None,
    package_roots: Mapping[str, str | os.PathLike] | None = None,
) -> dict[str, Any]:
    """Convert an OpenMMLab config file and write the visionstack config and its report.

    Args:
        input: the OpenMMLab config (a path, or a ``package::path`` reference).
        out: the visionstack config to write; default ``<input stem>_visionstack.py`` in the current
            folder (not next to the input, which is often inside an installed package).
        report: the Markdown report; default ``<out stem>.report.md`` next to ``out``.
        package_roots: configs folders of packages, for ``package::`` references (``{"mmdet": DIR}``).

    Returns:
        ``out``, ``report``, ``unmapped`` (the number of keys left out), ``check`` (visionstack's
        config check of the result), ``config`` (the converted dict) and ``conversion``.
    """
    variables, files = load_openmmlab_config(input, package_roots)
    stem = Path(os.fspath(input).rpartition(PACKAGE_SEPARATOR)[2]).stem
    out_path = Path(out) if out is not None else Path.cwd() / f"{stem}_visionstack.py"
    report_path = Path(report) if report is not None else out_path.with_suffix(".report.md")
    cfg, conversion = convert_openmmlab_config(variables)
    check = _check(_strip_names(cfg))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(_config_text(cfg, os.fspath(input), report_path.name, conversion))
    write_report(report_path, conversion, os.fspath(input), str(out_path), files, check)
    return {
        "out": str(out_path),
        "report": str(report_path),
        "unmapped": len(conversion.left_out),
        "check": check,
        "config": _strip_names(cfg),
        "conversion": conversion,
    }


def _strip_names(value: Any) -> Any:
    """The config with variable references (``data_root``) replaced by their values."""
    names = {k: v for k, v in value.items() if k in ("data_root", "train_pipeline", "test_pipeline")}

    def resolve(item: Any) -> Any:
        if isinstance(item, _Variable):
            return copy.deepcopy(names[item.name])
        if isinstance(item, Mapping):
            return {k: resolve(v) for k, v in item.items()}
        if isinstance(item, list):
            return [resolve(v) for v in item]
        if isinstance(item, tuple):
            return tuple(resolve(v) for v in item)
        return item

    return {k: resolve(v) for k, v in value.items()}
