"""OpenMMLab state dicts mapped onto visionstack models, strictly.

An OpenMMLab checkpoint (MMPretrain, MMDetection, MMSegmentation, MMPose, MMAction2, MMOCR, MMagic,
MMDetection3D) names its parameters after OpenMMLab's module tree; a visionstack model after its own
(torchvision's and timm's names where a backbone has them). :func:`convert_openmmlab_state_dict`
walks the visionstack model from the top: a module whose class has a converter registered with
:func:`register_openmmlab_converter` turns the OpenMMLab keys under its prefix into its own keys
(renaming, splitting or merging tensors); every other module hands each child the keys under the
child's name. The result must then match the model exactly, every key used and every shape equal,
or :class:`OpenMMLabKeyError` lists everything that did not map, under the checkpoint's own key
names.

Converters live beside the code they describe, in modules whose name ends with ``openmmlab_keys``
(``visionstack/models/backbones/openmmlab_keys.py``, ``visionstack/tasks/detection/openmmlab_keys.py``
...): :func:`load_converters` imports every such module of the package (a plugin search by file
name, as the registries do), so a new family adds its file and nothing else. A converter receives the state dict relative to its
module (keys without the module's prefix) and a :class:`Conversion` to record what it drops on
purpose (an OpenMMLab buffer visionstack computes instead, say) with the reason, which goes into the
report.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = [
    "Conversion",
    "OpenMMLabKeyError",
    "convert_children",
    "convert_module",
    "convert_openmmlab_state_dict",
    "load_converters",
    "openmmlab_converter_for",
    "register_openmmlab_converter",
    "rename_keys",
    "sub_dict",
]

StateDict = dict[str, torch.Tensor]
Converter = Callable[[StateDict, nn.Module, "Conversion"], StateDict]

_CONVERTERS: dict[str, Converter] = {}
_LOADED: list[str] = []


def load_converters() -> list[str]:
    """Import every ``*openmmlab_keys`` module under visionstack.models and .tasks (once); their names."""
    if not _LOADED:
        for package_name in ("visionstack.models", "visionstack.tasks"):
            package = importlib.import_module(package_name)
            for info in pkgutil.walk_packages(package.__path__, package_name + "."):
                if info.name.rsplit(".", 1)[-1].endswith("openmmlab_keys") and info.name != __name__:
                    importlib.import_module(info.name)
                    _LOADED.append(info.name)
        _LOADED.append(__name__)
    return list(_LOADED)


class OpenMMLabKeyError(RuntimeError):
    """An OpenMMLab state dict does not map onto the model: keys left over, missing, or of another shape."""


@dataclass
class Conversion:
    """What one conversion did besides renaming: the keys dropped and filled on purpose, with the reason."""

    source: str = "the given state dict"
    dropped: list[tuple[str, str]] = field(default_factory=list)
    filled: list[tuple[str, str]] = field(default_factory=list)
    prefix: str = ""

    def drop(self, sd: StateDict, pattern: str, reason: str) -> None:
        """Remove the keys of ``sd`` that fully match the regex ``pattern``, recording them with ``reason``."""
        regex = re.compile(pattern)
        for key in [k for k in sd if regex.fullmatch(k)]:
            del sd[key]
            self.dropped.append((self.prefix + key, reason))

    def fill(self, sd: StateDict, key: str, value: torch.Tensor, reason: str) -> None:
        """Put ``value`` at ``key``: a model entry no OpenMMLab checkpoint has, recorded with ``reason``."""
        sd[key] = value
        self.filled.append((self.prefix + key, reason))


def register_openmmlab_converter(*class_names: str) -> Callable[[Converter], Converter]:
    """Register ``fn(state_dict, module, conversion) -> state_dict`` for the visionstack classes named.

    The function gets the keys under the module's prefix (prefix removed, OpenMMLab's names) and
    returns them under the module's own names. It usually renames a few keys and calls
    :func:`convert_children` for the rest.
    """

    def decorate(fn: Converter) -> Converter:
        for name in class_names:
            if name in _CONVERTERS and _CONVERTERS[name] is not fn:
                raise KeyError(f"an OpenMMLab converter for {name!r} is already registered")
            _CONVERTERS[name] = fn
        return fn

    return decorate


def openmmlab_converter_for(module: nn.Module) -> Converter | None:
    """The converter registered for ``module``'s class (by name, most derived first), if any."""
    for cls in type(module).__mro__:
        if cls.__name__ in _CONVERTERS:
            return _CONVERTERS[cls.__name__]
        if cls is nn.Module:
            break
    return None


def sub_dict(sd: Mapping[str, torch.Tensor], prefix: str) -> StateDict:
    """The entries of ``sd`` under ``prefix.``, with the prefix removed."""
    head = prefix + "."
    return {key[len(head) :]: value for key, value in sd.items() if key.startswith(head)}


def rename_keys(sd: Mapping[str, torch.Tensor], rules: Iterable[tuple[str, str]]) -> StateDict:
    """Rename each key by the first rule ``(regex, replacement)`` that fully matches it; others stay."""
    compiled = [(re.compile(pattern), repl) for pattern, repl in rules]
    out: StateDict = {}
    for key, value in sd.items():
        for regex, repl in compiled:
            if regex.fullmatch(key):
                key = regex.sub(repl, key)
                break
        out[key] = value
    return out


def convert_module(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """``sd`` (keys relative to ``module``, OpenMMLab's names) under ``module``'s own names."""
    converter = openmmlab_converter_for(module)
    if converter is not None:
        return converter(dict(sd), module, conversion)
    return convert_children(sd, module, conversion)


def convert_children(
    sd: StateDict,
    module: nn.Module,
    conversion: Conversion,
    prefixes: Mapping[str, str] | None = None,
) -> StateDict:
    """Hand each child of ``module`` the keys under its OpenMMLab prefix, converted; keep the rest.

    Args:
        prefixes: OpenMMLab's prefix for a child whose name differs (``{"blocks": "layers"}``);
            others use the child's own name.
    """
    out: StateDict = {}
    rest = dict(sd)
    for name, child in module.named_children():
        om_name = (prefixes or {}).get(name, name)
        head = om_name + "."
        sub = {key[len(head) :]: rest.pop(key) for key in [k for k in rest if k.startswith(head)]}
        if not sub:
            continue
        outer = conversion.prefix
        conversion.prefix = f"{outer}{om_name}."
        try:
            converted = convert_module(sub, child, conversion)
        finally:
            conversion.prefix = outer
        out.update({f"{name}.{key}": value for key, value in converted.items()})
    out.update(rest)  # the module's own parameters and buffers, and anything that did not map
    return out


def _unwrap(checkpoint: Mapping[str, object]) -> StateDict:
    """The state dict of an MMEngine checkpoint (``{"state_dict": ..., "meta": ...}``) or a bare one."""
    sd = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, Mapping) else checkpoint
    if not isinstance(sd, Mapping):
        raise OpenMMLabKeyError(f"no state dict found: got {type(checkpoint).__name__}")
    out: StateDict = {}
    for key, value in sd.items():
        if not isinstance(value, torch.Tensor):
            continue  # MMEngine keeps a few non-tensor extras (_metadata, version tags)
        out[key[len("module.") :] if key.startswith("module.") else key] = value
    return out


def convert_openmmlab_state_dict(
    model: nn.Module,
    checkpoint: Mapping[str, object],
    source: str = "the given state dict",
    limit: int = 40,
) -> tuple[StateDict, Conversion]:
    """Map an OpenMMLab checkpoint onto ``model``; every key used and every shape equal, or an error.

    Args:
        model: the visionstack model the weights are for (built from the matching config).
        checkpoint: an MMEngine checkpoint dict or a bare state dict.
        source: the checkpoint's name, for messages.
        limit: how many keys of each kind the error lists before it only counts.

    Returns:
        the state dict under the model's names (load it with ``strict=True``) and the
        :class:`Conversion` (what was dropped on purpose, and why).

    Raises:
        OpenMMLabKeyError: listing the checkpoint keys that did not map (under their OpenMMLab names
            where a key was only renamed), the model keys nothing mapped to, and shape mismatches.
    """
    load_converters()
    original = _unwrap(checkpoint)
    conversion = Conversion(source=source)
    converted = convert_module(original, model, conversion)
    origin = {id(value): key for key, value in original.items()}
    own = model.state_dict()
    unexpected = [
        key if origin.get(id(value), key) == key else f"{origin[id(value)]} (as {key})"
        for key, value in converted.items()
        if key not in own
    ]
    missing = [key for key in own if key not in converted]
    mismatched = [
        f"{key}: checkpoint {tuple(converted[key].shape)} vs model {tuple(own[key].shape)}"
        for key in own
        if key in converted and converted[key].shape != own[key].shape
    ]
    if unexpected or missing or mismatched:

        def listed(items: list[str]) -> str:
            more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
            return "\n    ".join(items[:limit]) + more

        parts = [f"cannot map {source} onto {type(model).__name__} strictly:"]
        if unexpected:
            parts.append(f"  {len(unexpected)} checkpoint keys did not map:\n    {listed(unexpected)}")
        if missing:
            parts.append(f"  {len(missing)} model keys got no value:\n    {listed(missing)}")
        if mismatched:
            parts.append(f"  {len(mismatched)} shapes differ:\n    {listed(mismatched)}")
        parts.append("  (is the config the one the checkpoint was trained with? depth, channels, classes)")
        raise OpenMMLabKeyError("\n".join(parts))
    return {key: converted[key] for key in own}, conversion
