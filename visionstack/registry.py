"""Registries and the bottom-up builder.

One registry per kind of object (models, datasets, transforms, ...), without scopes. A config node
is a dict with a ``type`` key naming a registered class (or holding the class itself). ``build``
instantiates nested ``type`` dicts first, so constructors receive built objects; a node with
``_partial_=True`` arrives as a :func:`functools.partial` (a factory, e.g. for norm layers).

Before anything is built, :func:`validate` walks the whole tree and checks every ``type`` and every
keyword against the constructor's signature, so a typo fails at start with its dotted key path and
close matches.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from .utils.suggest import did_you_mean

__all__ = [
    "Registry",
    "ConfigError",
    "build",
    "validate",
    "locate",
    "MODELS",
    "DATASETS",
    "TRANSFORMS",
    "DATA_SAMPLERS",
    "FUNCTIONS",
    "METRICS",
    "HOOKS",
    "LOOPS",
    "OPTIMIZERS",
    "OPTIM_WRAPPERS",
    "PARAM_SCHEDULERS",
    "VISUALIZERS",
    "TASKS",
    "ALL_REGISTRIES",
    "KEYPOINT_CODECS",
]


class ConfigError(KeyError):
    """A config node names an unknown type or key; the message holds the dotted path and hints."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class Registry:
    """A mapping from names to classes or functions of one kind.

    Args:
        name: the kind, used in error messages ("model", "transform", ...).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[str, Any] = {}

    @property
    def _objects(self) -> dict[str, Any]:
        """The entries, after every registering module of the package has been imported."""
        load_registering_modules()
        return self._entries

    def register(self, obj: Any = None, *, name: str | None = None) -> Any:
        """Register ``obj`` under ``name`` (default: its ``__name__``).

        Works as ``@REG.register()``, ``@REG.register(name="X")`` or ``REG.register(cls, name="X")``.
        Registering a second object under a taken name is an error naming both.
        """
        if obj is None:
            return functools.partial(self.register, name=name)
        key = name or obj.__name__
        existing = self._entries.get(key)
        if existing is not None and existing is not obj:
            raise KeyError(
                f"{self.name} registry: {key!r} is already registered by {_where(existing)}; "
                f"cannot register {_where(obj)} under the same name"
            )
        self._entries[key] = obj
        return obj

    def get(self, name: str) -> Any:
        """Return the object registered as ``name`` (or importable as ``module.Name``)."""
        if name in self._objects:
            return self._objects[name]
        if "." in name:
            return locate(name)
        raise ConfigError(
            f"{name!r} is not a registered {self.name}.{did_you_mean(name, self._objects)} "
            f"({len(self._objects)} {self.name}s are registered; `visionstack.registry.{_var_name(self)}"
            f".keys()` lists them)"
        )

    def __contains__(self, name: object) -> bool:
        return name in self._objects

    def __len__(self) -> int:
        return len(self._objects)

    def keys(self) -> list[str]:
        return sorted(self._objects)

    def items(self) -> list[tuple[str, Any]]:
        return sorted(self._objects.items())

    def name_of(self, obj: Any) -> str | None:
        """The registered name of ``obj``, or None."""
        for key, value in self._objects.items():
            if value is obj:
                return key
        return None

    def build(self, cfg: Mapping[str, Any] | Any, **extra: Any) -> Any:
        """Build ``cfg`` with this registry first in the lookup order (see :func:`build`)."""
        return build(cfg, self, **extra)

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {len(self)} entries)"


_REGISTERING_MODULES = (
    "data",
    "engine",
    "evaluation",
    "models",
    "structures",
    "tasks",
    "testing",
    "visualization",
)
_loading = False


def load_registering_modules() -> None:
    """Import every subpackage that registers something, once, on the first registry lookup.

    ``import visionstack`` stays light (``visionstack.deploy`` and ``visionstack.foundations`` need
    no PyTorch); a lookup by name must still find classes of modules the caller never imported.
    """
    global _loading
    if _loading:
        return
    _loading = True
    for name in _REGISTERING_MODULES:
        module = importlib.import_module(f"visionstack.{name}")
        import_all = getattr(module, "import_all", None)  # packages whose modules load lazily (tasks)
        if import_all is not None:
            import_all()


def _where(obj: Any) -> str:
    module = getattr(obj, "__module__", "?")
    return f"{module}.{getattr(obj, '__qualname__', repr(obj))}"


def locate(path: str) -> Any:
    """Import ``package.module.Name`` (or ``package.module:Name``) and return ``Name``."""
    module_name, _, attr = path.replace(":", ".").rpartition(".")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"cannot import {path!r}: {error}") from error


class TaskRegistry(Registry):
    """The registry of task adapters. A lookup imports only the task folders' ``adapter`` modules
    (no PyTorch), so the deploy runtime can find a task's post-processing without the models."""

    @property
    def _objects(self) -> dict[str, Any]:
        importlib.import_module("visionstack.tasks").import_adapters()
        return self._entries


class PackageRegistry(Registry):
    """A registry filled by importing the one package that registers in it (light, e.g. NumPy only), so a
    lookup does not import every registering package of visionstack (and PyTorch) as the shared ones do."""

    @property
    def _objects(self) -> dict[str, Any]:
        return self._entries


MODELS = Registry("model")
DATASETS = Registry("dataset")
TRANSFORMS = Registry("transform")
DATA_SAMPLERS = Registry("data sampler")
FUNCTIONS = Registry("function")
METRICS = Registry("metric")
HOOKS = Registry("hook")
LOOPS = Registry("loop")
OPTIMIZERS = Registry("optimizer")
OPTIM_WRAPPERS = Registry("optim wrapper")
PARAM_SCHEDULERS = Registry("parameter scheduler")
VISUALIZERS = Registry("visualizer")
# keypoint codecs (tasks/pose/codecs): keypoints <-> training targets; nested in heads and GenerateTarget configs
KEYPOINT_CODECS = PackageRegistry("keypoint codec")
TASKS = TaskRegistry("task")  # not in ALL_REGISTRIES: configs never build an adapter

ALL_REGISTRIES: tuple[Registry, ...] = (
    MODELS,
    DATASETS,
    TRANSFORMS,
    DATA_SAMPLERS,
    FUNCTIONS,
    METRICS,
    HOOKS,
    LOOPS,
    OPTIMIZERS,
    OPTIM_WRAPPERS,
    PARAM_SCHEDULERS,
    VISUALIZERS,
    KEYPOINT_CODECS,
)


def _var_name(registry: Registry) -> str:
    for key, value in globals().items():
        if value is registry:
            return key
    return registry.name


RESERVED_KEYS = ("type", "_partial_")


def resolve_type(type_: Any, registry: Registry | None, path: str = "type") -> Any:
    """Turn a node's ``type`` (a name or the class itself) into the class.

    The given registry is searched first, then every other registry; a name found in several
    other registries (and not in the given one) is ambiguous.
    """
    if not isinstance(type_, str):
        if callable(type_):
            return type_
        raise ConfigError(f"{path}: `type` must be a registered name or a class, got {type_!r}")
    if registry is not None and type_ in registry:
        return registry.get(type_)
    found = [reg for reg in ALL_REGISTRIES if type_ in reg]
    if len(found) == 1:
        return found[0].get(type_)
    if len(found) > 1:
        kinds = ", ".join(reg.name for reg in found)
        raise ConfigError(f"{path}: {type_!r} is registered as several kinds ({kinds}); build it explicitly")
    if "." in type_:
        return locate(type_)
    pool = list(registry.keys()) if registry is not None else []
    pool += [key for reg in ALL_REGISTRIES for key in reg.keys()]
    pool = list(dict.fromkeys(pool))  # unique, the given registry's names first
    kind = f"{registry.name} (nor any other registered type)" if registry is not None else "type"
    raise ConfigError(f"{path}: {type_!r} is not a registered {kind}.{did_you_mean(type_, pool)}")


def is_node(value: Any) -> bool:
    """True when ``value`` is a config dict describing an object (it has a ``type``)."""
    return isinstance(value, Mapping) and "type" in value


def _accepted_keywords(target: Any) -> tuple[set[str], bool]:
    """Keyword names ``target`` accepts and whether it takes any keyword at all.

    A class whose ``__init__`` takes ``**kwargs`` is taken to hand them to its parent's ``__init__``
    (``super().__init__(**kwargs)``), so the named arguments of the constructors up its bases (MRO)
    count too, until one without ``**kwargs``; a misspelt key is then still rejected with a
    suggestion. Only a chain that ends in ``**kwargs`` (e.g. ``object.__init__``) accepts any key.
    """
    names, var_keyword = _signature_keywords(target)
    if var_keyword and inspect.isclass(target):
        inits = [vars(base)["__init__"] for base in target.__mro__ if "__init__" in vars(base)]
        for init in inits[1:]:
            parent_names, var_keyword = _signature_keywords(init, skip_self=True)
            names |= parent_names
            if not var_keyword:
                break
    return names, var_keyword


def _signature_keywords(target: Any, skip_self: bool = False) -> tuple[set[str], bool]:
    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature
        return set(), True
    names, var_keyword = set(), False
    for parameter in parameters[1:] if skip_self else parameters:
        if parameter.kind == parameter.VAR_KEYWORD:
            var_keyword = True
        elif parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            names.add(parameter.name)
    return names, var_keyword


def validate(cfg: Any, registry: Registry | None = None, path: str = "") -> None:
    """Check every ``type`` and keyword in ``cfg`` without building anything.

    Raises:
        ConfigError: naming the dotted path of the first bad key or type and close matches.
    """
    if isinstance(cfg, Mapping):
        if "type" in cfg:
            target = resolve_type(cfg["type"], registry, f"{path}.type" if path else "type")
            accepted, var_keyword = _accepted_keywords(target)
            for key in cfg:
                if key in RESERVED_KEYS or var_keyword or key in accepted:
                    continue
                where = f"{path}.{key}" if path else key
                raise ConfigError(
                    f"{where}: {_where(target)} has no argument {key!r}.{did_you_mean(key, accepted)}"
                )
        for key, value in cfg.items():
            if key not in RESERVED_KEYS:
                validate(value, registry, f"{path}.{key}" if path else str(key))
    elif isinstance(cfg, (list, tuple)):
        for index, value in enumerate(cfg):
            validate(value, registry, f"{path}.{index}" if path else str(index))


def _build_value(value: Any, registry: Registry | None, path: str) -> Any:
    if is_node(value):
        return _build_node(value, registry, path, {})
    if isinstance(value, Mapping):
        return {k: _build_value(v, registry, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_build_value(v, registry, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return tuple(_build_value(v, registry, f"{path}.{i}") for i, v in enumerate(value))
    return value


def _build_node(cfg: Mapping[str, Any], registry: Registry | None, path: str, extra: dict) -> Any:
    target = resolve_type(cfg["type"], registry, f"{path}.type" if path else "type")
    kwargs = {
        key: _build_value(value, registry, f"{path}.{key}" if path else key)
        for key, value in cfg.items()
        if key not in RESERVED_KEYS
    }
    kwargs.update(extra)
    if cfg.get("_partial_", False):
        return functools.partial(target, **kwargs)
    try:
        return target(**kwargs)
    except TypeError as error:
        accepted, var_keyword = _accepted_keywords(target)
        unknown = [] if var_keyword else [k for k in kwargs if k not in accepted]
        if unknown:
            where = f"{path}.{unknown[0]}" if path else unknown[0]
            hint = did_you_mean(unknown[0], accepted)
            raise ConfigError(f"{where}: {_where(target)} has no argument {unknown[0]!r}.{hint}") from error
        raise TypeError(f"building {path or 'config'} ({_where(target)}): {error}") from error


def build(cfg: Any, registry: Registry | None = None, **extra: Any) -> Any:
    """Build ``cfg`` bottom-up.

    Args:
        cfg: a dict with ``type`` (a registered name or a class) and keyword arguments; nested
            dicts and lists with ``type`` are built first. Anything that is not such a dict (an
            already-built object) is returned unchanged.
        registry: searched first when resolving names.
        **extra: keyword arguments added to the top-level call (e.g. ``params=`` for optimizers).
    """
    if not is_node(cfg):
        if extra:
            raise ConfigError(f"cannot build {cfg!r}: expected a dict with a `type` key")
        return cfg
    validate(cfg, registry)
    return _build_node(cfg, registry, "", extra)
