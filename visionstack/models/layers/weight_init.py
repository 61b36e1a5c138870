"""Initialisation of one layer's weight and bias, as MMCV's ``normal_init``, ``constant_init`` ... do it.

Each function fills ``module.weight`` and, when the module has one, sets ``module.bias`` to the
constant ``bias``, so an init reads ``normal_init(conv, std=0.01)`` instead of a weight call and a
guarded bias call. Only the weight draws random numbers: the random stream advances exactly as with
the bare ``torch.nn.init`` calls, so seeded models keep their weights. :func:`init_by_type` applies
them by layer type over a model, as a table of rules (MMEngine's ``init_cfg`` with ``layer=``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from torch import nn

__all__ = [
    "InitRule",
    "bias_init_with_prob",
    "constant_init",
    "init_by_type",
    "kaiming_init",
    "normal_init",
    "trunc_normal_init",
    "xavier_init",
]

InitRule = tuple[type[nn.Module] | tuple[type[nn.Module], ...], Callable[[nn.Module], None]]
"""``(layer types, init)``: ``init(module)`` for a module that is an instance of the types."""


def _fill_bias(module: nn.Module, bias: float) -> None:
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def constant_init(module: nn.Module, val: float, bias: float = 0.0) -> None:
    """``weight = val`` and ``bias = bias`` where the module has them (``constant_init(norm, 1)``
    starts a norm layer as the identity); a norm without affine parameters is left alone."""
    if getattr(module, "weight", None) is not None:
        nn.init.constant_(module.weight, val)
    _fill_bias(module, bias)


def normal_init(module: nn.Module, mean: float = 0.0, std: float = 1.0, bias: float = 0.0) -> None:
    """Weight ~ N(mean, std^2); bias constant."""
    nn.init.normal_(module.weight, mean, std)
    _fill_bias(module, bias)


def trunc_normal_init(module: nn.Module, std: float, bias: float = 0.0) -> None:
    """Weight ~ N(0, std^2) truncated to [-2, 2] (absolute bounds, as ``nn.init.trunc_normal_``); bias constant."""
    nn.init.trunc_normal_(module.weight, std=std)
    _fill_bias(module, bias)


def kaiming_init(
    module: nn.Module, mode: str = "fan_out", nonlinearity: str = "relu", bias: float = 0.0
) -> None:
    """He normal weight (He et al., "Delving Deep into Rectifiers", ICCV 2015); bias constant."""
    nn.init.kaiming_normal_(module.weight, mode=mode, nonlinearity=nonlinearity)
    _fill_bias(module, bias)


def xavier_init(module: nn.Module, bias: float = 0.0) -> None:
    """Xavier (Glorot) uniform weight; bias constant."""
    nn.init.xavier_uniform_(module.weight)
    _fill_bias(module, bias)


def bias_init_with_prob(prior_prob: float) -> float:
    """The logit ``-log((1 - p) / p)`` whose sigmoid is ``prior_prob`` (Lin et al., "Focal Loss for
    Dense Object Detection", section 4.1: a rare-foreground prior keeps early training stable)."""
    return -math.log((1 - prior_prob) / prior_prob)


def init_by_type(root: nn.Module, rules: Sequence[InitRule]) -> None:
    """Initialise every module under ``root`` (``root`` included) by the first rule whose types it
    is an instance of; a module that no rule names is left alone.

    The modules are visited in ``root.modules()`` order, the order of a hand-written
    ``for module in root.modules(): if isinstance(...) ... elif ...`` loop, so the random draws are
    the same.
    """
    for module in root.modules():
        for types, init in rules:
            if isinstance(module, types):
                init(module)
                break
