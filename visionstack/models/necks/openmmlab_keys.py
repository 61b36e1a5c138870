"""OpenMMLab (MMDetection) key names of the FPN neck.

MMDetection wraps every conv of a neck in a ``ConvModule``: the conv under ``conv.``, its norm under
the norm's abbreviation (``bn.`` for BatchNorm and SyncBatchNorm, ``gn.`` for GroupNorm, ``ln.``,
``in.``). visionstack's FPN keeps a bare ``nn.Conv2d`` (no norm) or an ``nn.Sequential(conv, norm)``
(``0.``/``1.``), and puts the extra stride-2 levels (RetinaNet's P6/P7) in their own ``extra_convs``
list where MMDetection appends them to ``fpn_convs`` after the per-level output convs.
:func:`conv_module_rules` is shared with other converters of ConvModule-built layers.

``CSPNeXtPAFPN`` (and the ``CSPNeXt`` backbone) need no converter: their parameters are named as
MMDetection's (``reduce_layers``, ``top_down_blocks``, ``.conv``/``.bn`` ...).
"""

from __future__ import annotations

import re

from torch import nn

from ..openmmlab_keys import Conversion, StateDict, register_openmmlab_converter, rename_keys

__all__ = ["conv_module_rules", "convert_fpn"]

_NORM_NAMES = r"(?:bn|gn|ln|in|norm)"


def conv_module_rules(prefix: str, target: nn.Module) -> list[tuple[str, str]]:
    """Rename rules for one MMCV ``ConvModule`` at key ``prefix`` onto ``target`` (a conv or conv+norm)."""
    pattern = re.escape(prefix)
    if isinstance(target, nn.Sequential):
        return [
            (rf"{pattern}\.conv\.(.*)", rf"{prefix}.0.\1"),
            (rf"{pattern}\.{_NORM_NAMES}\.(.*)", rf"{prefix}.1.\1"),
        ]
    return [(rf"{pattern}\.conv\.(.*)", rf"{prefix}.\1")]


@register_openmmlab_converter("FPN")
def convert_fpn(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMDetection's ``FPN``: ``lateral_convs.i`` / ``fpn_convs.i`` ConvModules, extras after the outputs."""
    num_used = len(module.fpn_convs)
    # extra levels first: fpn_convs.{num_used + k} -> extra_convs.k
    moved: StateDict = {}
    for key, value in sd.items():
        head, _, rest = key.partition(".")
        index, _, tail = rest.partition(".")
        if head == "fpn_convs" and index.isdigit() and int(index) >= num_used:
            moved[f"extra_convs.{int(index) - num_used}.{tail}"] = value
        else:
            moved[key] = value
    rules: list[tuple[str, str]] = []
    for name in ("lateral_convs", "fpn_convs", "extra_convs"):
        for index, child in enumerate(getattr(module, name)):
            rules += conv_module_rules(f"{name}.{index}", child)
    return rename_keys(moved, rules)
