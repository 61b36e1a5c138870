"""MMAction2 state dicts under visionstack's action model names (``visionstack convert checkpoint --from openmmlab``).

- ResNet inside TSN / TSM (:class:`~.models.recognizers.Recognizer2D`): MMAction2's ResNet is built of
  conv-norm modules (``conv1.conv``/``conv1.bn``, ``layer1.0.conv2.conv``/``.bn``, ``downsample.conv``/``.bn``),
  visionstack's has torchvision's names (``conv1``/``bn1``, ``layer1.0.conv2``/``bn2``, ``downsample.0``/``.1``).
  TSM wraps what it shifts in a module of its own (``.net``): the first convolution of each residual branch
  (``shift_place="blockres"``) or the whole block (``"block"``, visionstack's ``.block``), and with
  ``temporal_pool`` the whole ``layer2``. The recognizer renames these before the backbone's own converter
  sees torchvision names.
- R(2+1)D (:class:`~.models.r2plus1d.ResNet2Plus1d`): MMAction2 wraps each factorised convolution and its norm
  in a conv-norm module (``conv1.conv.conv_s``, ``conv1.bn``); visionstack keeps the stem as a Sequential
  (``conv1.0``, ``conv1.1``) and the block norms beside the convolutions (``bn1``, ``bn2``).
- ST-GCN (:class:`~.models.stgcn.STGCN`): MMAction2's blocks ``gcn.{i}`` hold ``gcn`` (the graph convolution,
  its norm, the adjacency ``A`` and the edge importance ``PA``) and ``tcn`` (convolution and norm);
  visionstack's ``blocks.{i}`` keep the norms beside the convolutions, and ``A`` once for all blocks: every
  MMAction2 block holds the same copy of the graph, the first is kept and the others are dropped (reported).
- ``GCNHead``'s classifier is ``fc`` in MMAction2, ``fc_cls`` here; the other heads' names agree.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from ...models.backbones.resnet import ResNet
from ...models.openmmlab_keys import (
    Conversion,
    StateDict,
    convert_children,
    register_openmmlab_converter,
    rename_keys,
    sub_dict,
)

__all__ = [
    "convert_gcn_head",
    "convert_r2plus1d",
    "convert_recognizer",
    "convert_stgcn",
    "mmaction_resnet_keys",
]

_NORM_OF_CONV = {"conv1": "bn1", "conv2": "bn2", "conv3": "bn3"}


def mmaction_resnet_keys(sd: StateDict) -> StateDict:
    """MMAction2 ResNet / ResNetTSM keys (relative to the backbone) -> torchvision's (visionstack's ResNet).

    Keys already in torchvision's naming pass unchanged.
    """
    out: StateDict = {}
    block = re.compile(r"(layer\d+\.\d+)\.(net\.)?(conv\d|downsample)\.(conv|bn)\.(net\.)?(.*)")
    for key, value in sd.items():
        key = re.sub(r"^layer2\.net\.", "layer2.", key)  # TSM's temporal pool wraps layer2
        stem = re.fullmatch(r"conv1\.(conv|bn)\.(.*)", key)
        match = block.fullmatch(key)
        if stem:
            key = f"{'conv1' if stem[1] == 'conv' else 'bn1'}.{stem[2]}"
        elif match:
            head, wrapped, layer, part, _, rest = match.groups()
            if layer == "downsample":
                name = f"downsample.{0 if part == 'conv' else 1}"
            else:
                name = layer if part == "conv" else _NORM_OF_CONV[layer]
            key = f"{head}.{'block.' if wrapped else ''}{name}.{rest}"
        out[key] = value
    return out


@register_openmmlab_converter("Recognizer2D", "Recognizer3D", "RecognizerGCN")
def convert_recognizer(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """An MMAction2 recognizer: its ResNet backbone's keys renamed (see the module docstring), then as usual."""
    if isinstance(module.backbone, ResNet):
        backbone = mmaction_resnet_keys(sub_dict(sd, "backbone"))
        sd = {key: value for key, value in sd.items() if not key.startswith("backbone.")}
        sd.update({f"backbone.{key}": value for key, value in backbone.items()})
    return convert_children(sd, module, conversion)


@register_openmmlab_converter("ResNet2Plus1d")
def convert_r2plus1d(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMAction2's ``ResNet2Plus1d`` conv-norm modules -> visionstack's layout (see the module docstring)."""
    out: StateDict = {}
    for key, value in sd.items():
        stem = re.fullmatch(r"conv1\.(conv|bn)\.(.*)", key)
        block = re.fullmatch(r"(layer\d+\.\d+)\.(conv[12]|downsample)\.(conv|bn)\.(.*)", key)
        if stem:
            key = f"conv1.{0 if stem[1] == 'conv' else 1}.{stem[2]}"
        elif block:
            head, layer, part, rest = block.groups()
            if layer == "downsample":
                key = f"{head}.downsample.{0 if part == 'conv' else 1}.{rest}"
            else:
                key = f"{head}.{layer if part == 'conv' else _NORM_OF_CONV[layer]}.{rest}"
        out[key] = value
    return out


@register_openmmlab_converter("STGCN")
def convert_stgcn(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMAction2's ``STGCN`` (``unit_gcn`` with ``adaptive="importance"``, ``unit_tcn``) -> visionstack's."""
    if not any(key.startswith("gcn.") for key in sd):
        return sd  # visionstack's own names
    unsupported = sorted(
        key
        for key in sd
        if re.fullmatch(r"gcn\.\d+\.gcn\.(down|alpha|conv_[abd]).*|gcn\.\d+\.tcn\.branches.*", key)
    )
    if unsupported:
        raise KeyError(
            f"{conversion.source}: keys {unsupported[:3]} belong to ST-GCN variants (gcn_with_res, MS-TCN, AAGCN) "
            "that visionstack's STGCN does not have"
        )
    rules = [
        (r"gcn\.(\d+)\.gcn\.PA", r"blocks.\1.edge_importance"),
        (r"gcn\.(\d+)\.gcn\.conv\.(.*)", r"blocks.\1.gcn.conv.\2"),
        (r"gcn\.(\d+)\.gcn\.bn\.(.*)", r"blocks.\1.gcn_norm.\2"),
        (r"gcn\.(\d+)\.tcn\.conv\.(.*)", r"blocks.\1.tcn.\2"),
        (r"gcn\.(\d+)\.tcn\.bn\.(.*)", r"blocks.\1.tcn_norm.\2"),
        (r"gcn\.(\d+)\.residual\.conv\.(.*)", r"blocks.\1.residual.0.\2"),
        (r"gcn\.(\d+)\.residual\.bn\.(.*)", r"blocks.\1.residual.1.\2"),
    ]
    adjacency = sorted((key for key in sd if re.fullmatch(r"gcn\.\d+\.gcn\.A", key)), key=_block_index)
    learnable_graph = not any(key.endswith(".gcn.PA") for key in sd)
    if learnable_graph and any(not torch.equal(sd[key], sd[adjacency[0]]) for key in adjacency[1:]):
        raise KeyError(
            f"{conversion.source}: the ST-GCN blocks hold different adjacencies (gcn_adaptive='init' learns one per "
            "block); visionstack's STGCN shares one graph"
        )
    out = dict(sd)
    if adjacency:
        out["A"] = out.pop(adjacency[0])
        conversion.drop(
            out,
            r"gcn\.\d+\.gcn\.A",
            "every MMAction2 ST-GCN block holds the same graph adjacency; visionstack keeps the first once",
        )
    return rename_keys(out, rules)


def _block_index(key: str) -> int:
    return int(key.split(".")[1])


@register_openmmlab_converter("GCNHead")
def convert_gcn_head(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMAction2's ``GCNHead`` classifier ``fc`` is ``fc_cls`` here."""
    return {re.sub(r"^fc\.", "fc_cls.", key): value for key, value in sd.items()}
