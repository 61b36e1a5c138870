"""Speed options of a model, set in the config: ``channels_last`` and ``compile``.

They change how the arithmetic is laid out and run, never what is computed: the losses and outputs
agree with the default to float rounding (channels-last convolutions sum in another order).

- ``channels_last=True``: the model's 4-d weights and the batches the data preprocessor hands over
  are stored (N, H, W, C), the layout oneDNN's CPU convolutions and cuDNN's tensor-core kernels
  prefer. ``channels_last="inference"`` does so only where the model only predicts (``test``,
  ``infer``, the inferencer; not ``train`` nor its validation): for models whose inference gains and
  whose training loses (GroupNorm heads train slower channels-last on CPU).
- ``compile=True`` or ``compile=dict(...)``: each child module of the model (backbone, neck, heads;
  not the data preprocessor, whose batches change size) is compiled in place by
  ``nn.Module.compile``, so checkpoints keep their keys. The dict takes ``torch.compile``'s keyword
  arguments (``mode``, ``dynamic``, ``backend``, ``fullgraph``, ``options``) and ``modules``, the
  names of the children to compile. Only a module's ``forward`` is compiled; losses, assigners and
  post-processing stay eager. On CPUs the default backend (Inductor) needs a C++ compiler.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..registry import ConfigError

__all__ = ["CHANNELS_LAST_VALUES", "COMPILE_KEYS", "apply_speed_options", "channels_last_for"]

COMPILE_KEYS = ("modules", "mode", "dynamic", "backend", "fullgraph", "options")
CHANNELS_LAST_VALUES = (False, True, "inference")


def channels_last_for(value: bool | str, inference: bool) -> bool:
    """Whether the config's ``channels_last`` ``value`` applies to a run that only predicts
    (``inference``) or trains.

    Raises:
        ConfigError: for a value other than False, True and "inference".
    """
    if value is None or value is False or value == 0:
        return False
    if value is True or value == 1:
        return True
    if value == "inference":
        return inference
    raise ConfigError(f"channels_last: expected one of {list(CHANNELS_LAST_VALUES)}, got {value!r}")


def apply_speed_options(
    model: nn.Module,
    channels_last: bool | str = False,
    compile: bool | Mapping[str, Any] = False,
    inference: bool = False,
) -> nn.Module:
    """Apply the config's ``channels_last`` and ``compile`` to ``model`` in place; returns it.
    ``inference``: the model will only predict (``channels_last="inference"`` applies).

    Raises:
        ConfigError: for an unknown ``compile`` key, a ``modules`` entry the model does not have, or
            a ``channels_last`` value other than False, True and "inference".
    """
    if channels_last_for(channels_last, inference):
        model.to(memory_format=torch.channels_last)
        preprocessor = getattr(model, "data_preprocessor", None)
        if preprocessor is not None:
            preprocessor.channels_last = True
    if compile:
        options = dict(compile) if isinstance(compile, Mapping) else {}
        unknown = sorted(set(options) - set(COMPILE_KEYS))
        if unknown:
            raise ConfigError(f"compile: unknown key(s) {unknown}; expected some of {list(COMPILE_KEYS)}")
        children = dict(model.named_children())
        names = options.pop("modules", None) or [name for name in children if name != "data_preprocessor"]
        missing = [name for name in names if name not in children]
        if missing:
            raise ConfigError(
                f"compile.modules: the model has no {missing}; its modules are {sorted(children)}"
            )
        for name in names:
            children[name].compile(**options)
    return model
