"""Config files: Python, JSON or YAML; ``_base_`` inheritance; overrides; dump.

A config is a set of top-level variables holding plain dicts and lists. ``_base_`` (a path or a
list of paths, relative to the file) is loaded first and the child's variables merge into it
recursively; a child dict with ``_delete_=True`` replaces the base dict instead.

References survive inheritance: when a base file uses one of its variables inside another
(``train_dataloader = dict(dataset=dict(pipeline=train_pipeline))``) and a child redefines that
variable, the new value appears everywhere the base used it, unless the child set that place
explicitly. The places are found by object identity when the base file is executed (containers
and strings; numbers cannot be told apart from equal literals). MMDetection users hit the
opposite behaviour (mmdet#10891).
"""

from __future__ import annotations

import ast
import copy
import json
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .utils.suggest import did_you_mean

__all__ = [
    "Config",
    "ConfigDict",
    "ConfigFileError",
    "apply_overrides",
    "format_python",
    "strip_delete",
    "to_plain",
]

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"
Path_ = tuple  # a key path inside the config: ("train_dataloader", "dataset", "pipeline")


class ConfigFileError(ValueError):
    """A config file cannot be read, parsed or merged; the message names the file."""


class ConfigDict(dict):
    """A dict whose keys are also attributes (``cfg.model.backbone.depth``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            hint = did_you_mean(name, self, cutoff=0.6, quote=False)
            raise AttributeError(f"config has no key {name!r}.{hint}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, _wrap(value))

    def __deepcopy__(self, memo: dict) -> ConfigDict:
        return type(self)({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def to_dict(self) -> dict:
        """Plain nested dicts and lists (a deep copy)."""
        return to_plain(self)


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, ConfigDict):
        return ConfigDict({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


def to_plain(value: Any) -> Any:
    """Plain dicts, lists and tuples: any Mapping (ConfigDicts, other tools' config dicts) unwrapped."""
    if isinstance(value, Mapping):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    return value


class Config(ConfigDict):
    """A loaded config: a :class:`ConfigDict` that remembers its file.

    Example:
        >>> cfg = Config.fromfile("configs/classification/resnet18_digits.py", ["train_cfg.max_epochs=2"])
        >>> cfg.model.backbone.type
        'ResNet'
    """

    def __init__(self, data: Mapping | None = None, filename: str | None = None) -> None:
        super().__init__()
        for key, value in (data or {}).items():
            self[key] = value
        object.__setattr__(self, "filename", filename)

    def __deepcopy__(self, memo: dict) -> Config:
        return Config({k: copy.deepcopy(v, memo) for k, v in self.items()}, self.filename)

    @classmethod
    def fromfile(cls, path: str | Path, overrides: Iterable[str] = ()) -> Config:
        """Load ``path`` with its bases, then apply ``key.sub=value`` overrides."""
        variables, references = _load(Path(path).resolve(), chain=())
        cfg = cls(variables, filename=str(path))
        apply_overrides(cfg, overrides, references)
        return cfg

    @property
    def pretty_text(self) -> str:
        """The resolved config as a Python file that loads back to the same values."""
        return format_python(self)

    def dump(self, path: str | Path) -> None:
        """Write the resolved config as ``.py``, ``.json`` or ``.yaml`` (by suffix)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        plain = _serializable(self)
        if path.suffix == ".json":
            text = json.dumps(plain, indent=2)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            text = yaml.safe_dump(plain, sort_keys=False)
        else:
            text = self.pretty_text
        path.write_text(text)


# ---- loading ------------------------------------------------------------------------------------
def _load(path: Path, chain: tuple[Path, ...]) -> tuple[dict, list[tuple[str, Path_]]]:
    """Load one file and its bases. Returns (variables, references).

    A reference ``(name, place)`` says that the value of top-level variable ``name`` sits at the
    key path ``place`` of another variable.
    """
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ConfigFileError(f"circular _base_ inheritance: {cycle}")
    if not path.is_file():
        where = f" (a _base_ of {chain[-1]})" if chain else ""
        raise ConfigFileError(f"config file not found: {path}{where}")
    variables, bases = _read_file(path)
    own_refs = _find_references(variables)
    if not bases:
        return variables, own_refs
    base_vars: dict = {}
    base_refs: list[tuple[str, Path_]] = []
    for base in bases:
        loaded, refs = _load((path.parent / base).resolve(), (*chain, path))
        base_vars = _merge(base_vars, loaded, f"{path}")
        base_refs += refs
    merged = _merge(base_vars, variables, str(path))
    _propagate_redefinitions(merged, variables, base_refs)
    return merged, base_refs + own_refs


def _read_file(path: Path) -> tuple[dict, list[str]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".py":
            variables = _exec_python(path)
        elif suffix == ".json":
            variables = json.loads(path.read_text())
        elif suffix in (".yaml", ".yml"):
            import yaml

            variables = yaml.safe_load(path.read_text()) or {}
        else:
            raise ConfigFileError(f"{path}: unknown config format {suffix!r} (use .py, .json or .yaml)")
    except ConfigFileError:
        raise
    except SyntaxError as error:
        raise ConfigFileError(f"{path}:{error.lineno}: syntax error: {error.msg}") from error
    except Exception as error:
        raise ConfigFileError(f"{path}: cannot be read: {type(error).__name__}: {error}") from error
    if not isinstance(variables, dict):
        raise ConfigFileError(f"{path}: the top level must be a mapping, got {type(variables).__name__}")
    bases = variables.pop(BASE_KEY, [])
    bases = [bases] if isinstance(bases, str) else list(bases)
    return variables, bases


def _exec_python(path: Path) -> dict:
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": f"visionstack_config_{path.stem}"}
    code = compile(path.read_text(), str(path), "exec")
    exec(code, namespace)  # noqa: S102 - configs are Python by design
    return {
        name: value
        for name, value in namespace.items()
        if not (name.startswith("__") or isinstance(value, types.ModuleType) or _is_imported(name, value))
    }


def _is_imported(name: str, value: Any) -> bool:
    """Top-level classes and functions are imports or helpers, not config values."""
    return isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType))


def _find_references(variables: dict) -> list[tuple[str, Path_]]:
    trackable = {name: value for name, value in variables.items() if isinstance(value, (dict, list, str))}
    refs = []
    for owner, value in variables.items():
        for place, node in [((owner,), value), *_walk(value, (owner,))]:
            for name, candidate in trackable.items():
                if node is candidate and name != owner:
                    refs.append((name, place))
    return refs


def _walk(value: Any, place: Path_):
    """Yield (key path, node) for every node below ``value`` (not ``value`` itself)."""
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield (*place, key), child
        yield from _walk(child, (*place, key))


def _merge(base: Any, child: Any, where: str) -> Any:
    """Merge ``child`` into a copy of ``base`` (dicts recursively; ``_delete_`` replaces)."""
    if isinstance(child, Mapping) and isinstance(base, Mapping) and not child.get(DELETE_KEY, False):
        merged = {k: v for k, v in base.items()}
        for key, value in child.items():
            merged[key] = _merge(base[key], value, where) if key in base else strip_delete(value)
        return merged
    return strip_delete(child)


def strip_delete(value: Any) -> Any:
    """``value`` without the ``_delete_`` markers of its dicts (after a merge has obeyed them)."""
    if isinstance(value, Mapping):
        return {k: strip_delete(v) for k, v in value.items() if k != DELETE_KEY}
    if isinstance(value, (list, tuple)):
        return type(value)(strip_delete(v) for v in value)
    return value


def _propagate_redefinitions(merged: dict, child: dict, base_refs: list[tuple[str, Path_]]) -> None:
    """Put the child's new value of a base variable everywhere the base used that variable.

    Deeper places go first so that a whole-variable alias (``test_dataloader = val_dataloader``)
    applied later wins over the places inside it.
    """
    for name, place in sorted(base_refs, key=lambda ref: -len(ref[1])):
        if name not in child or _set_by_child(child, place):
            continue
        _set_path(merged, place, copy.deepcopy(merged[name]))


def _set_by_child(child: dict, place: Path_) -> bool:
    """True when the child wrote ``place`` itself, or replaced a dict or list that holds it."""
    node: Any = child
    for key in place:
        if isinstance(node, Mapping):
            if node.get(DELETE_KEY, False):
                return True
            if key not in node:
                return False
            node = node[key]
        else:  # a list or value the child wrote replaces the base's whole subtree
            return True
    return True


def _has_path(tree: Any, place: Path_) -> bool:
    node = tree
    for key in place:
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, (list, tuple)) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return False
    return True


def _set_path(tree: Any, place: Path_, value: Any) -> None:
    node = tree
    for key in place[:-1]:
        node = node[key]
    if isinstance(node, tuple):
        raise ConfigFileError(f"cannot set {'.'.join(map(str, place))}: it is inside a tuple")
    node[place[-1]] = value


# ---- overrides ----------------------------------------------------------------------------------
def _parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in ("none", "null"):
            return None
        return text


def _check_new_top_level_key(cfg: dict, key: str, dotted: str) -> None:
    """An override that adds a top-level key next to a near-identical one is a typo."""
    if key in cfg:
        return
    hint = did_you_mean(key, cfg, cutoff=0.8, quote=False)
    if hint:
        raise ConfigFileError(
            f"override {dotted}: the config has no key {key!r}.{hint} "
            f"(to add a new top-level key, pick a name that is not a near-miss of an existing one)"
        )


def apply_overrides(
    cfg: dict, overrides: Iterable[str], references: Iterable[tuple[str, Path_]] = ()
) -> None:
    """Apply ``a.b.c=value`` overrides in place; values are Python literals (else strings).

    Integer path parts index lists (``train_dataloader.dataset.pipeline.1.scale=64``). A
    top-level variable that the config file used elsewhere (``data_root``) changes there too,
    as a child config's redefinition would.
    """
    overrides = list(overrides)
    for item in overrides:
        if "=" not in item:
            raise ConfigFileError(f"override {item!r} must look like key.sub=value")
        dotted, text = item.split("=", 1)
        keys = dotted.strip().split(".")
        _check_new_top_level_key(cfg, keys[0], dotted)
        node: Any = cfg
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            where = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                if not key.lstrip("-").isdigit() or not -len(node) <= int(key) < len(node):
                    raise ConfigFileError(
                        f"override {dotted}: {where} is not an index of a list of {len(node)}"
                    )
                if last:
                    node[int(key)] = _wrap(_parse_value(text))
                else:
                    node = node[int(key)]
            elif isinstance(node, dict):
                if last:
                    node[key] = _wrap(_parse_value(text))
                elif key not in node:
                    node[key] = ConfigDict()
                    node = node[key]
                else:
                    node = node[key]
            else:
                raise ConfigFileError(
                    f"override {dotted}: {'.'.join(keys[:depth])} is a {type(node).__name__}"
                )
    explicit = {tuple(item.split("=", 1)[0].strip().split(".")) for item in overrides}
    changed = {keys[0] for keys in explicit if len(keys) == 1}
    refs = [(name, place) for name, place in references if name in changed]
    for name, place in sorted(refs, key=lambda ref: -len(ref[1])):
        if tuple(map(str, place)) not in explicit and _has_path(cfg, place):
            _set_path(cfg, place, _wrap(copy.deepcopy(cfg[name])))


# ---- dumping ------------------------------------------------------------------------------------
def _type_name(value: Any) -> str:
    from . import registry

    for reg in registry.ALL_REGISTRIES:
        name = reg.name_of(value)
        if name is not None:
            return name
    qualname = getattr(value, "__qualname__", None)
    if qualname is None:  # a built object (e.g. an nn.Module) placed in a config
        return repr(value)
    return f"{value.__module__}.{qualname}"


def _serializable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _serializable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_serializable(v) for v in value]
    if isinstance(value, type) or callable(value):
        return _type_name(value)
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _format(value: Any, indent: int, width: int = 100) -> str:
    """Python source for ``value``: on one line when it fits, else one item per line."""
    inline = _format_inline(value)
    if indent + len(inline) <= width:
        return inline
    pad = " " * (indent + 4)
    if isinstance(value, Mapping):
        if not value:
            return "dict()"
        if all(isinstance(k, str) and k.isidentifier() for k in value):
            body = ",\n".join(f"{pad}{k}={_format(v, indent + 4)}" for k, v in value.items())
            return f"dict(\n{body},\n{' ' * indent})"
        body = ",\n".join(f"{pad}{k!r}: {_format(v, indent + 4)}" for k, v in value.items())
        return f"{{\n{body},\n{' ' * indent}}}"
    if isinstance(value, (list, tuple)):
        open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
        if not value:
            return open_ + close
        simple = all(isinstance(v, (int, float, str, bool, type(None))) for v in value)
        if simple:
            inner = ", ".join(repr(v) for v in value)
            return f"{open_}{inner}{',' if len(value) == 1 and close == ')' else ''}{close}"
        body = ",\n".join(f"{pad}{_format(v, indent + 4)}" for v in value)
        return f"{open_}\n{body},\n{' ' * indent}{close}"
    if isinstance(value, type) or callable(value):
        return repr(_type_name(value))
    return repr(value)


def _format_inline(value: Any) -> str:
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and k.isidentifier() for k in value):
            return "dict(" + ", ".join(f"{k}={_format_inline(v)}" for k, v in value.items()) + ")"
        return "{" + ", ".join(f"{k!r}: {_format_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_format_inline(v) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, type) or callable(value):
        return repr(_type_name(value))
    return repr(value)


def format_python(cfg: Mapping) -> str:
    """Format a config as Python source (``name = value`` lines)."""
    return "\n".join(f"{key} = {_format(value, 0)}" for key, value in cfg.items()) + "\n"
