"""Speed options of a model, set in the config: ``channels_last`` and ``compile``.

They change how the arithmetic is laid out and run, never what is computed: the losses and outputs
agree with the default to float rounding (channels-last convolutions sum in another order).

- ``channels_last=True``: the model's 4-d weights and the batches the data preprocessor hands over
  are stored (N, H, W, C), the layout oneDNN's CPU convolutions and cuDNN's tensor-core kernels
  prefer.
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

__all__ = ["COMPILE_KEYS", "apply_speed_options"]

COMPILE_KEYS = ("modules", "mode", "dynamic", "backend", "fullgraph", "options")


def apply_speed_options(
    model: nn.Module, channels_last: bool = False, compile: bool | Mapping[str, Any] = False
) -> nn.Module:
    """Apply the config's ``channels_last`` and ``compile`` to ``model`` in place; returns it.

    Raises:
        ConfigError: for an unknown ``compile`` key or a ``modules`` entry the model does not have.
    """
    if channels_last:
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
