"""OpenMMLab (MMDetection) key names of the single-stage detection heads.

MMDetection builds a dense head's towers (``cls_convs``, ``reg_convs``) as lists of ``ConvModule``:
tower conv ``i`` is ``cls_convs.i.conv`` with its norm at ``cls_convs.i.gn`` (or ``.bn``) and the
activation inside the module. visionstack's :func:`conv_tower` is one ``nn.Sequential`` of
``conv, [norm,] ReLU`` per stage, so conv ``i`` sits at index ``2 i`` (``3 i`` with a norm, the norm
one after it). The prediction convs (``retina_cls``/``retina_reg``, ``conv_cls``/``conv_reg``/
``conv_centerness``) and FCOS's ``scales.i.scale`` have the same names on both sides, and
``RTMDetSepBNHead`` follows MMDetection's names already (no converter needed): so do the detectors
themselves (``backbone``, ``neck``, ``bbox_head``).
"""

from __future__ import annotations

import re

from torch import nn

from ...models.openmmlab_keys import Conversion, StateDict, register_openmmlab_converter, rename_keys

__all__ = ["convert_dense_head_towers", "tower_rules"]

_NORMS = (nn.BatchNorm2d, nn.GroupNorm, nn.SyncBatchNorm, nn.LayerNorm, nn.InstanceNorm2d)
_NORM_NAMES = r"(?:bn|gn|ln|in|norm)"


def tower_rules(name: str, tower: nn.Sequential) -> list[tuple[str, str]]:
    """Rename rules from MMDetection's ``name.i.conv`` / ``name.i.<norm>`` onto a :func:`conv_tower`."""
    rules: list[tuple[str, str]] = []
    layers = list(tower)
    conv_index = 0
    for position, layer in enumerate(layers):
        if not isinstance(layer, nn.Conv2d):
            continue
        head = rf"{re.escape(name)}\.{conv_index}"
        rules.append((rf"{head}\.conv\.(.*)", rf"{name}.{position}.\1"))
        following = layers[position + 1] if position + 1 < len(layers) else None
        if isinstance(following, _NORMS):
            rules.append((rf"{head}\.{_NORM_NAMES}\.(.*)", rf"{name}.{position + 1}.\1"))
        conv_index += 1
    return rules


@register_openmmlab_converter("RetinaHead", "FCOSHead")
def convert_dense_head_towers(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """RetinaNet's and FCOS's heads: the ``cls_convs``/``reg_convs`` ConvModule lists onto the towers."""
    rules: list[tuple[str, str]] = []
    for name in ("cls_convs", "reg_convs"):
        tower = getattr(module, name, None)
        if isinstance(tower, nn.Sequential):
            rules += tower_rules(name, tower)
    return rename_keys(sd, rules)
