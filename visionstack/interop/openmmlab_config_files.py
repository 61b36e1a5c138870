"""Reading OpenMMLab config files without OpenMMLab (the first step of ``visionstack convert config``).

:func:`load_openmmlab_config` reads an MMEngine-style Python config (also ``.json``/``.yaml``) the way
MMEngine does, without importing any OpenMMLab package: the ``_base_`` files first (paths relative to
the file, or ``package::path`` references such as ``mmdet::_base_/models/retinanet_r50_fpn.py``,
found in the package's ``.mim/configs`` through :func:`importlib.util.find_spec`, which does not
import it, or in a folder given in ``package_roots``), then the file's own variables merged in
(``_delete_=True`` replaces), ``{{_base_.name}}`` placeholders and ``_base_.name`` expressions
resolved. Unlike :class:`visionstack.config.Config`, a base variable redefined by a child does not
change the places where the base used it (MMEngine's rule), so the merged values are OpenMMLab's.
"New-style" configs (``with read_base():`` and imported classes as types) are not read.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import os
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import ConfigDict, ConfigFileError, strip_delete, to_plain

__all__ = ["OpenMMLabConfigError", "find_package_configs", "load_openmmlab_config"]

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"
SCOPE_KEY = "_scope_"
PACKAGE_SEPARATOR = "::"


class OpenMMLabConfigError(ConfigFileError):
    """An OpenMMLab config cannot be read: a missing file or package reference, a syntax error ...
    (a :class:`~visionstack.config.ConfigFileError`, so the command line prints it as an error)."""


# ==== loading: MMEngine's semantics, no OpenMMLab import ==========================================
def find_package_configs(package: str, package_roots: Mapping[str, str | os.PathLike] | None = None) -> Path:
    """The folder holding ``package``'s configs: ``package_roots[package]`` or the installed package's
    ``.mim/configs`` (``configs/`` next to it for a source checkout), located without importing it."""
    roots = package_roots or {}
    if package in roots:
        root = Path(roots[package]).expanduser()
        if not root.is_dir():
            raise OpenMMLabConfigError(f"package root for {package!r} is not a folder: {root}")
        return root
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        for candidate in (Path(location) / ".mim" / "configs", Path(location).parent / "configs"):
            if candidate.is_dir():
                return candidate
    where = f"installed at {locations[0]} but without a .mim/configs folder" if locations else "not installed"
    raise OpenMMLabConfigError(
        f"package {package!r} is {where}; give its configs folder with --package-root {package}=DIR"
    )


def _resolve_base(reference: str, parent: Path, package_roots: Mapping[str, Any]) -> tuple[Path, str | None]:
    """The file a ``_base_`` entry names and, for a ``package::path`` reference, the package's scope."""
    if PACKAGE_SEPARATOR in reference:
        package, _, relative = reference.partition(PACKAGE_SEPARATOR)
        try:
            root = find_package_configs(package, package_roots)
        except OpenMMLabConfigError as error:
            raise OpenMMLabConfigError(
                f"cannot resolve {reference!r} (a _base_ of {parent}): {error}"
            ) from None
        path = (root / relative).resolve()
        if not path.is_file():
            raise OpenMMLabConfigError(
                f"cannot resolve {reference!r} (a _base_ of {parent}): no {relative} in {package}'s configs ({root})"
            )
        return path, package
    path = (parent.parent / reference).resolve()
    if not path.is_file():
        raise OpenMMLabConfigError(f"config file not found: {path} (a _base_ of {parent})")
    return path, None


_PREDEFINED = re.compile(r"\{\{\s*(fileDirname|fileBasename|fileBasenameNoExtension|fileExtname)\s*\}\}")
_ENVIRONMENT = re.compile(r"\{\{\s*'?\$(\w+)(?::([^}']*))?'?\s*\}\}")
_BASE_PLACEHOLDER = re.compile(r"\{\{\s*_base_\.([\w.]+)\s*\}\}")
_PLACEHOLDER_PREFIX = "__visionstack_base_ref__"


def _substitute_text(text: str, path: Path) -> tuple[str, dict[str, str]]:
    """MMEngine's text substitutions: ``{{ fileDirname }}`` & co., ``{{$ENV:default}}``, and
    ``{{_base_.a.b}}`` (replaced by a placeholder string resolved after the file runs)."""
    names = {
        "fileDirname": str(path.parent),
        "fileBasename": path.name,
        "fileBasenameNoExtension": path.stem,
        "fileExtname": path.suffix,
    }
    text = _PREDEFINED.sub(lambda m: names[m.group(1)].replace("\\", "/"), text)

    def environment(match: re.Match) -> str:
        value = os.environ.get(match.group(1), match.group(2))
        if value is None:
            raise OpenMMLabConfigError(
                f"{path}: environment variable {match.group(1)} is not set and has no default"
            )
        return value

    text = _ENVIRONMENT.sub(environment, text)
    placeholders: dict[str, str] = {}

    def base_reference(match: re.Match) -> str:
        key = f"{_PLACEHOLDER_PREFIX}{len(placeholders)}"
        placeholders[key] = match.group(1)
        return repr(key)

    return _BASE_PLACEHOLDER.sub(base_reference, text), placeholders


def _base_files(tree: ast.Module, path: Path) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == BASE_KEY for t in node.targets
        ):
            value = eval(compile(ast.Expression(node.value), str(path), "eval"), {})  # noqa: S307 - config code
            return [value] if isinstance(value, str) else list(value)
    return []


def _check_classic(tree: ast.Module, path: Path) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and any(
            isinstance(item.context_expr, ast.Call)
            and getattr(item.context_expr.func, "id", "") == "read_base"
            for item in node.items
        ):
            raise OpenMMLabConfigError(
                f"{path}: a new-style (pure Python, `with read_base():`) config; only classic `_base_` configs "
                "are converted (OpenMMLab ships the classic form of every model config)"
            )


def _lookup(tree: Mapping, dotted: str, path: Path) -> Any:
    node: Any = tree
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            raise OpenMMLabConfigError(f"{path}: _base_.{dotted} is not defined by the base files")
        node = node[key]
    return node


def _fill_placeholders(value: Any, placeholders: Mapping[str, str], bases: Mapping, path: Path) -> Any:
    if isinstance(value, str) and value in placeholders:
        return copy.deepcopy(_lookup(bases, placeholders[value], path))
    if isinstance(value, Mapping):
        return {k: _fill_placeholders(v, placeholders, bases, path) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_fill_placeholders(v, placeholders, bases, path) for v in value)
    return value


def _merge_into(child: Mapping, base: Mapping) -> dict:
    """MMEngine's merge: dicts recursively, ``_delete_=True`` (or a non-dict base) replaces, else the child wins."""
    merged = dict(base)
    for key, value in child.items():
        if isinstance(value, Mapping):
            value = dict(value)
            delete = value.pop(DELETE_KEY, False)
            if key in merged and not delete and isinstance(merged[key], Mapping):
                merged[key] = _merge_into(value, merged[key])
            else:
                merged[key] = strip_delete(value)
        else:
            merged[key] = value
    return merged


def _set_scope(value: Any, scope: str, outer: bool = True) -> Any:
    """Mark the outermost typed dicts with ``_scope_`` (a variable of another package's base file)."""
    if isinstance(value, Mapping):
        value = dict(value)
        if outer and "type" in value:
            value.setdefault(SCOPE_KEY, scope)
            outer = False
        return {k: _set_scope(v, scope, outer) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_set_scope(v, scope, outer) for v in value)
    return value


def _load_file(
    path: Path, package_roots: Mapping[str, Any], chain: tuple[Path, ...], files: list[str]
) -> dict:
    if path in chain:
        raise OpenMMLabConfigError(
            "circular _base_ inheritance: " + " -> ".join(str(p) for p in (*chain, path))
        )
    files.append(str(path))
    suffix = path.suffix.lower()
    if suffix in (".json", ".yaml", ".yml"):
        text = path.read_text(encoding="utf-8")
        if suffix == ".json":
            variables = json.loads(text)
        else:
            import yaml

            variables = yaml.safe_load(text) or {}
        raw_bases = variables.pop(BASE_KEY, [])
        bases_list = [raw_bases] if isinstance(raw_bases, str) else list(raw_bases)
        placeholders: dict[str, str] = {}
        code = None
    elif suffix == ".py":
        text, placeholders = _substitute_text(path.read_text(encoding="utf-8"), path)
        try:
            tree = ast.parse(text, str(path))
        except SyntaxError as error:
            raise OpenMMLabConfigError(f"{path}:{error.lineno}: syntax error: {error.msg}") from error
        _check_classic(tree, path)
        bases_list = _base_files(tree, path)
        tree.body = [
            node
            for node in tree.body
            if not (
                isinstance(node, ast.Assign) and any(getattr(t, "id", None) == BASE_KEY for t in node.targets)
            )
        ]
        code = compile(tree, str(path), "exec")
        variables = {}
    else:
        raise OpenMMLabConfigError(f"{path}: unknown config format {suffix!r} (.py, .json or .yaml)")

    bases: dict = {}
    for reference in bases_list:
        base_path, scope = _resolve_base(reference, path, package_roots)
        loaded = _load_file(base_path, package_roots, (*chain, path), files)
        if scope is not None:
            loaded = {k: _set_scope(v, scope) for k, v in loaded.items()}
        duplicates = sorted(set(bases) & set(loaded))
        if duplicates:
            raise OpenMMLabConfigError(f"{path}: the _base_ files define {duplicates} more than once")
        bases.update(loaded)

    if code is not None:
        base_view = (
            ConfigDict()
        )  # attribute access for `_base_.name` expressions (setitem wraps nested dicts)
        for key, value in copy.deepcopy(bases).items():
            base_view[key] = value
        namespace: dict[str, Any] = {BASE_KEY: base_view, "__file__": str(path)}
        try:
            exec(code, namespace)  # noqa: S102 - OpenMMLab configs are Python by design
        except OpenMMLabConfigError:
            raise
        except Exception as error:
            raise OpenMMLabConfigError(f"{path}: cannot be run: {type(error).__name__}: {error}") from error
        variables = {
            name: to_plain(value)
            for name, value in namespace.items()
            if name != BASE_KEY
            and not name.startswith("__")
            and not isinstance(value, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType))
        }
    variables = _fill_placeholders(variables, placeholders, bases, path)
    return _merge_into(variables, bases)


def load_openmmlab_config(
    path: str | os.PathLike, package_roots: Mapping[str, str | os.PathLike] | None = None
) -> tuple[dict, list[str]]:
    """Read an OpenMMLab config with its ``_base_`` chain resolved; returns (variables, files read).

    ``path`` may itself be a package reference (``mmdet::retinanet/retinanet_r50_fpn_1x_coco.py``).
    """
    roots = dict(package_roots or {})
    text = os.fspath(path)
    scope = None
    if PACKAGE_SEPARATOR in text:
        scope, _, relative = text.partition(PACKAGE_SEPARATOR)
        file = (find_package_configs(scope, roots) / relative).resolve()
        if not file.is_file():
            raise OpenMMLabConfigError(f"cannot resolve {text!r}: no {relative} in {scope}'s configs")
    else:
        file = Path(text).expanduser().resolve()
        if not file.is_file():
            raise OpenMMLabConfigError(f"config file not found: {file}")
    files: list[str] = []
    variables = _load_file(file, roots, (), files)
    if scope is not None and "default_scope" not in variables:
        variables["default_scope"] = scope
    return variables, files
